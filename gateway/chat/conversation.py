"""What every translator into the neutral request shares: the system context, the conversation
trimmed to `MAX_INPUT_LENGTH`, message sizes, tool specs, and the `max_tokens` clamp.

Trimming: when the conversation is longer than the budget, the oldest units are dropped first. A
unit is one message, or an assistant message with tool calls together with its results (H4). The
last user message and the newest unit (the latest results the model is to act on) are never
dropped; if they alone do not fit, the request is refused with 400 `context_length_exceeded`. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from gateway.chat.response_format import instruction
from gateway.errors import ContextTooLong
from gateway.neutral.model import Message, ResponseFormat, ToolSpec
from gateway.schemas.common import ToolDef


def system_context(client_parts: Sequence[str], inject: str, response_format: ResponseFormat | None) -> str:
    """The client's system text, then `SYSTEM_PROMPT_INJECT`, then the structured-output instruction,
    joined by blank lines."""
    parts = [part for part in client_parts if part]
    if inject.strip():
        parts.append(inject)
    if response_format is not None:
        parts.append(instruction(response_format))
    return "\n\n".join(parts)


def clamp_max_tokens(requested: int | None, limit: int | None) -> int | None:
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


def fitted(
    turns: Sequence[Message],
    system: str,
    tools: Sequence[ToolSpec],
    max_input_length: int,
    *,
    param: str = "messages",
) -> tuple[Message, ...]:
    """`turns` trimmed to what `MAX_INPUT_LENGTH` leaves after the system context and the tools;
    `param` is the dialect's name for the conversation, for the error when it cannot fit."""
    fixed = len(system) + sum(len(t.name) + len(t.description) + len(t.parameters_json) for t in tools)
    return trim(turns, max_input_length - fixed, param=param)


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
