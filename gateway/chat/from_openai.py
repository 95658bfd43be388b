"""OpenAI request -> `ChatRequest` (cursor-protocol.md §8.1-8.2, tool-calls.md §4).

System and developer messages, wherever they appear, become the system context (joined by a
blank line), followed by `SYSTEM_PROMPT_INJECT` and the `response_format` instruction. Turns are
kept one per client message (the encoders merge, H7); the `tool` messages answering one assistant
message become one `tool` `Message` whose results take their names from the paired calls.

The conversation is trimmed to `MAX_INPUT_LENGTH` (`chat/conversation.py`), and `max_tokens` is
clamped to the model's limit; a thinking twin's level comes from `THINKING_LEVEL` or the request's
`reasoning_effort` (tool-calls.md K2), and `reasoning_effort: "none"` asks the twin not to think
at all (it is sent as its base model). Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Final

from gateway.chat.conversation import clamp_max_tokens, fitted, system_context, tool_spec
from gateway.errors import InvalidRequest
from gateway.neutral.model import (
    ChatRequest,
    Image,
    Message,
    ModelInfo,
    ThinkingLevel,
    ToolChoice,
    ToolResult,
)
from gateway.schemas.openai import ChatBody, ChatMessage

# reasoning_effort on a thinking twin -> upstream thinking level (K2); None: no thinking. Every
# value the OpenAI SDKs send is here.
EFFORT_LEVELS: Final[dict[str, ThinkingLevel | None]] = {
    "none": None,
    "minimal": "medium",
    "low": "medium",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


def thinking_level(
    effort: str | None, model: ModelInfo, default: ThinkingLevel, *, param: str = "reasoning_effort"
) -> ThinkingLevel | None:
    """K2: a twin asks for `default` unless the effort (`param`) says otherwise (None: not to think);
    a base model ignores it."""
    if not model.thinking or effort is None:
        return default
    key = effort.strip().lower()
    if key in EFFORT_LEVELS:
        return EFFORT_LEVELS[key]
    allowed = ", ".join(EFFORT_LEVELS)
    raise InvalidRequest(
        f"Invalid {param} {effort[:50]!r} for a thinking model; expected one of: {allowed}.",
        param=param,
        code="invalid_reasoning_effort",
    )


def to_chat_request(
    body: ChatBody,
    model: ModelInfo,
    *,
    inject: str,
    max_input_length: int,
    default_thinking_level: ThinkingLevel = "high",
    images: Mapping[str, Image] | None = None,
    effort_param: str = "reasoning_effort",
    messages_param: str = "messages",
) -> ChatRequest:
    """`images` holds the loaded images of the body by their path (`vision.load_images`). Errors
    name `effort_param` and `messages_param`, the body's own names for the reasoning effort and the
    conversation (the Responses API and legacy completions translate into a `ChatBody`)."""
    level = thinking_level(body.reasoning_effort, model, default_thinking_level, param=effort_param)
    if level is None:  # reasoning effort "none": the twin answers as its base model
        model, level = dataclasses.replace(model, thinking=False), default_thinking_level
    system_parts = [m.text for m in body.messages if m.role in ("system", "developer")]
    system = system_context(system_parts, inject, body.response_format)
    tools = tuple(tool_spec(t) for t in body.tools)
    turns = _turns(body.messages, images or {})
    return ChatRequest(
        model=model,
        system=system,
        messages=fitted(turns, system, tools, max_input_length, param=messages_param),
        stream=body.stream,
        include_usage=body.include_usage,
        stop=body.stop,
        tools=tools,
        tool_choice=body.tool_choice or ToolChoice(),
        parallel_tool_calls=body.parallel_tool_calls,
        max_tokens=clamp_max_tokens(body.max_tokens, model.max_tokens),
        response_format=body.response_format,
        thinking_level=level,
    )


def _turns(messages: Sequence[ChatMessage], images: Mapping[str, Image]) -> list[Message]:
    """One `Message` per user/assistant message; consecutive results form one `tool` message.

    The schema layer already checked H1-H3, so every result pairs with a call of the assistant
    message right before its group.
    """
    turns: list[Message] = []
    calls: dict[str, str] = {}  # call id -> tool name, for the latest assistant message
    for m in messages:
        if m.role in ("system", "developer"):
            continue
        if m.role == "tool":
            call_id = m.tool_call_id or ""
            result = ToolResult(call_id, calls.get(call_id, ""), m.text)
            if turns and turns[-1].role == "tool":
                turns[-1] = Message("tool", "", results=(*turns[-1].results, result))
            else:
                turns.append(Message("tool", "", results=(result,)))
            continue
        if m.role == "assistant":
            calls = {c.id: c.name for c in m.tool_calls}
            turns.append(Message("assistant", m.text, tool_calls=m.tool_calls))
        else:
            turns.append(Message("user", m.text, images=tuple(images[ref.path] for ref in m.images)))
    return turns
