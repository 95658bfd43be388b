"""OpenAI request -> `ChatRequest` (cursor-protocol.md §8.1-8.2).

System and developer messages, wherever they appear, become the system context (joined by a
blank line), followed by `SYSTEM_PROMPT_INJECT` and the `response_format` instruction.
Consecutive turns of one role are merged, since Cursor expects alternating turns. `max_tokens` is
clamped to the model's limit; a thinking twin's level comes from `THINKING_LEVEL` or the request's
`reasoning_effort` (tool-calls.md K2). Pure.
"""

from __future__ import annotations

from typing import Final

from gateway.chat.model import ChatRequest, Message, ModelInfo, Role, ThinkingLevel
from gateway.chat.response_format import instruction
from gateway.errors import ContextTooLong, InvalidRequest
from gateway.schemas.openai import ChatBody

# reasoning_effort on a thinking twin -> upstream thinking level (K2).
EFFORT_LEVELS: Final[dict[str, ThinkingLevel]] = {
    "minimal": "medium",
    "low": "medium",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


def thinking_level(body: ChatBody, model: ModelInfo, default: ThinkingLevel) -> ThinkingLevel:
    """K2: a twin asks for `default` unless `reasoning_effort` says otherwise; a base model ignores it."""
    if not model.thinking or body.reasoning_effort is None:
        return default
    level = EFFORT_LEVELS.get(body.reasoning_effort.strip().lower())
    if level is None:
        allowed = ", ".join(EFFORT_LEVELS)
        raise InvalidRequest(
            f"Invalid reasoning_effort {body.reasoning_effort!r} for a thinking model; expected one of: "
            f"{allowed}.",
            param="reasoning_effort",
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
) -> ChatRequest:
    level = thinking_level(body, model, default_thinking_level)
    system_parts = [m.text for m in body.messages if m.role in ("system", "developer") and m.text]
    if inject.strip():
        system_parts.append(inject)
    if body.response_format is not None:
        system_parts.append(instruction(body.response_format))
    turns: list[Message] = []
    for m in body.messages:
        if m.role in ("system", "developer"):
            continue
        role: Role = "user" if m.role == "user" else "assistant"
        if turns and turns[-1].role == role:
            turns[-1] = Message(role, f"{turns[-1].text}\n\n{m.text}")
        else:
            turns.append(Message(role, m.text))
    system = "\n\n".join(system_parts)
    size = len(system) + sum(len(t.text) for t in turns)
    if size > max_input_length:
        raise ContextTooLong(
            f"The conversation has {size} characters, over this gateway's limit of {max_input_length} "
            "(MAX_INPUT_LENGTH). Shorten the history.",
            param="messages",
        )
    return ChatRequest(
        model=model,
        system=system,
        messages=tuple(turns),
        stream=body.stream,
        include_usage=body.include_usage,
        stop=body.stop,
        max_tokens=_clamp(body.max_tokens, model.max_tokens),
        response_format=body.response_format,
        thinking_level=level,
    )


def _clamp(requested: int | None, limit: int | None) -> int | None:
    """`max_tokens` above the model's output limit means the limit."""
    if requested is None or limit is None:
        return requested
    return min(requested, limit)
