"""Legacy Completions request -> one `ChatRequest` per choice. Pure.

Each prompt is a conversation of one user turn; everything else (system context injection, `stop`,
`max_tokens` and its clamping, trimming) is `from_openai.to_chat_request`, with errors naming
`prompt`. The requests are in OpenAI's choice order: `n` for the first prompt, then `n` for the
next, …
"""

from __future__ import annotations

from gateway.chat.from_openai import to_chat_request
from gateway.neutral.model import ChatRequest, ModelInfo, ThinkingLevel
from gateway.schemas.completions import CompletionsBody
from gateway.schemas.openai import ChatBody, ChatMessage


def completions_chat_requests(
    body: CompletionsBody,
    model: ModelInfo,
    *,
    inject: str,
    max_input_length: int,
    default_thinking_level: ThinkingLevel = "high",
) -> list[ChatRequest]:
    requests: list[ChatRequest] = []
    for prompt in body.prompts:
        chat = ChatBody(
            model=body.model,
            messages=(ChatMessage("user", prompt),),
            stream=body.stream,
            include_usage=body.include_usage,
            stop=body.stop,
            max_tokens=body.max_tokens,
            n=1,
        )
        request = to_chat_request(
            chat,
            model,
            inject=inject,
            max_input_length=max_input_length,
            default_thinking_level=default_thinking_level,
            messages_param="prompt",
        )
        requests.extend([request] * body.n)
    return requests
