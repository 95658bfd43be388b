"""OpenAI request -> `ChatRequest` (cursor-protocol.md §8.1-8.2, tool-calls.md §4).

System and developer messages, wherever they appear, become the system context (joined by a
blank line), followed by `SYSTEM_PROMPT_INJECT` and the `response_format` instruction. Turns are kept one per client message (the
encoders merge, H7); the `tool` messages answering one assistant message become one `tool`
`Message` whose results take their names from the paired calls.

`MAX_INPUT_LENGTH` trimming: when the conversation is longer, the oldest units are dropped first.
A unit is one message, or an assistant message with tool calls together with its results (H4).
The system context and the tool catalog count against the limit and are never dropped, nor are the
last user message and the newest unit (the latest results the model is to act on); if these
alone do not fit, the request is refused with 400 `context_length_exceeded`.

`max_tokens` is clamped to the model's limit; a thinking twin's level comes from `THINKING_LEVEL`
or the request's `reasoning_effort` (tool-calls.md K2). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from gateway.chat.response_format import instruction
from gateway.errors import ContextTooLong, InvalidRequest
from gateway.neutral.model import (
    ChatRequest,
    Message,
    ModelInfo,
    ThinkingLevel,
    ToolChoice,
    ToolResult,
    ToolSpec,
)
from gateway.schemas.common import ChatMessage, ToolDef
from gateway.schemas.openai import ChatBody

# reasoning_effort on a thinking twin -> upstream thinking level (K2).
EFFORT_LEVELS: Final[dict[str, ThinkingLevel]] = {
    "minimal": "medium",
    "low": "medium",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


def thinking_level(
    effort: str | None, model: ModelInfo, default: ThinkingLevel, *, param: str = "reasoning_effort"
) -> ThinkingLevel:
    """K2: a twin asks for `default` unless the effort (`param`) says otherwise; a base model ignores it."""
    if not model.thinking or effort is None:
        return default
    level = EFFORT_LEVELS.get(effort.strip().lower())
    if level is None:
        allowed = ", ".join(EFFORT_LEVELS)
        raise InvalidRequest(
            f"Invalid {param} {effort!r} for a thinking model; expected one of: {allowed}.",
            param=param,
            code="invalid_reasoning_effort",
        )
    return level


def to_chat_request(
    body: ChatBody,
    model: ModelInfo,
    *,
    inject: str,
    max_input_length: int,
    default_thinking_level: ThinkingLevel = "high",
    effort_param: str = "reasoning_effort",
    messages_param: str = "messages",
) -> ChatRequest:
    """The neutral request of a validated body. Errors name `effort_param` and `messages_param`,
    the body's own names for the reasoning effort and the conversation."""
    level = thinking_level(body.reasoning_effort, model, default_thinking_level, param=effort_param)
    system_parts = [m.text for m in body.messages if m.role in ("system", "developer") and m.text]
    if inject.strip():
        system_parts.append(inject)
    if body.response_format is not None:
        system_parts.append(instruction(body.response_format))
    system = "\n\n".join(system_parts)
    tools = tuple(tool_spec(t) for t in body.tools)
    fixed = len(system) + sum(len(t.name) + len(t.description) + len(t.parameters_json) for t in tools)
    return ChatRequest(
        model=model,
        system=system,
        messages=trim(_turns(body.messages), max_input_length - fixed, param=messages_param),
        stream=body.stream,
        include_usage=body.include_usage,
        stop=body.stop,
        tools=tools,
        tool_choice=body.tool_choice or ToolChoice(),
        parallel_tool_calls=body.parallel_tool_calls,
        max_tokens=_clamp(body.max_tokens, model.max_tokens),
        response_format=body.response_format,
        thinking_level=level,
    )


def _clamp(requested: int | None, limit: int | None) -> int | None:
    """`max_tokens` above the model's output limit means the limit."""
    if requested is None or limit is None:
        return requested
    return min(requested, limit)


def tool_spec(tool: ToolDef) -> ToolSpec:
    """`parameters_json` is compact JSON in the client's key order; a tool without a schema gets
    `{"type":"object","properties":{}}` (§3.4)."""
    parameters: dict[str, object] = (
        tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
    )
    return ToolSpec(tool.name, tool.description, parameters, orjson.dumps(parameters).decode(), tool.strict)


def _turns(messages: Sequence[ChatMessage]) -> list[Message]:
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
            turns.append(Message("user", m.text, images=tuple(ref.image for ref in m.images if ref.image)))
    return turns


def message_size(m: Message) -> int:
    """Characters a message contributes to the conversation: text, calls and results."""
    size = len(m.text)
    size += sum(len(c.id) + len(c.name) + len(c.arguments) for c in m.tool_calls)
    size += sum(len(r.call_id) + len(r.name) + len(r.content) for r in m.results)
    return size


def _units(turns: Sequence[Message]) -> list[tuple[Message, ...]]:
    """Trimming units: an assistant message with calls and its results stay together (H4)."""
    units: list[tuple[Message, ...]] = []
    for m in turns:
        if m.role == "tool" and units and units[-1][-1].role == "assistant" and units[-1][-1].tool_calls:
            units[-1] = (*units[-1], m)
        else:
            units.append((m,))
    return units


def trim(turns: Sequence[Message], budget: int, *, param: str = "messages") -> tuple[Message, ...]:
    """Drop the oldest units until the conversation fits `budget` characters (module docstring)."""
    units = _units(turns)
    sizes = [sum(message_size(m) for m in unit) for unit in units]
    total = sum(sizes)
    if total <= budget:
        return tuple(turns)
    last_user = max((i for i, u in enumerate(units) if u[0].role == "user"), default=-1)
    keep = [True] * len(units)
    for i in range(len(units)):
        if total <= budget:
            break
        if i in (last_user, len(units) - 1):
            continue
        keep[i] = False
        total -= sizes[i]
    if total > budget:
        raise ContextTooLong(
            f"The conversation needs {total} characters even after dropping its oldest turns, over this "
            f"gateway's limit (MAX_INPUT_LENGTH, less the system context and tools). Shorten the latest messages.",
            param=param,
        )
    return tuple(m for unit, kept in zip(units, keep, strict=True) if kept for m in unit)
