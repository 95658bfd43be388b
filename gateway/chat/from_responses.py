"""Responses API request -> `ChatRequest`. Pure.

A Responses body is the chat request in another envelope: `instructions` is a system message
placed first (before the system and developer messages of `input`), `max_output_tokens` is
`max_tokens`, `text.format` is `response_format` and `reasoning.effort` is `reasoning_effort`;
everything else (system context, tools, trimming to `MAX_INPUT_LENGTH`, the thinking level) is
`from_openai.to_chat_request`, with errors naming the Responses fields.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.chat.from_openai import to_chat_request
from gateway.neutral.model import ChatRequest, Image, ModelInfo, ThinkingLevel
from gateway.schemas.openai import ChatBody, ChatMessage
from gateway.schemas.responses import ResponsesBody


def responses_chat_request(
    body: ResponsesBody,
    model: ModelInfo,
    *,
    inject: str,
    max_input_length: int,
    default_thinking_level: ThinkingLevel = "high",
    images: Mapping[str, Image] | None = None,
) -> ChatRequest:
    messages = body.messages
    if body.instructions:
        messages = (ChatMessage("system", body.instructions), *messages)
    chat = ChatBody(
        model=body.model,
        messages=messages,
        stream=body.stream,
        include_usage=False,
        stop=(),
        max_tokens=body.max_output_tokens,
        n=1,
        tools=body.tools,
        tool_choice=body.tool_choice,
        parallel_tool_calls=body.parallel_tool_calls,
        response_format=body.response_format,
        reasoning_effort=body.reasoning_effort,
    )
    return to_chat_request(
        chat,
        model,
        inject=inject,
        max_input_length=max_input_length,
        default_thinking_level=default_thinking_level,
        images=images,
        effort_param="reasoning.effort",
        messages_param="input",
    )
