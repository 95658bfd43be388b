"""Anthropic Messages request -> `ChatRequest` (the neutral request every upstream takes). Pure.

The system context is `system` with the `system`-role messages, then `SYSTEM_PROMPT_INJECT`, then
the `output_config.format` instruction. An assistant turn is one `assistant` message with its
`tool_use` calls; a user turn with `tool_result` blocks becomes one `tool` message (the results,
named after their calls) followed, when the turn also has text or images, by a `user` message.
The conversation is trimmed to `MAX_INPUT_LENGTH` (`chat/conversation.py`); `max_tokens` is
clamped to the model's limit; `stop_sequences` are the stop strings.

Thinking (tool-calls.md K2): with `thinking` enabled (`enabled`, `adaptive` or `between_tools`) the
request goes to the model's `-thinking` twin (a 400 when the model has none). A twin's level is
`output_config.effort` when given (`low`, `medium` → medium; `high`, `xhigh`, `max` → high), else
the budget (`budget_tokens` below `HIGH_BUDGET` → medium, from it → high), else `THINKING_LEVEL`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from gateway.chat.catalog import THINKING_SUFFIX
from gateway.chat.conversation import clamp_max_tokens, fitted, system_context, tool_spec
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.neutral.model import (
    ChatRequest,
    Image,
    Message,
    ModelInfo,
    ThinkingLevel,
    ToolChoice,
    ToolResult,
)
from gateway.schemas.anthropic import MessagesBody, Turn

HIGH_BUDGET: Final = 16_384
EFFORT_LEVELS: Final[dict[str, ThinkingLevel]] = {
    "low": "medium",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


def pick_model(body: MessagesBody, catalog: Mapping[str, ModelInfo]) -> ModelInfo:
    """The offered model the body names, or its thinking twin when thinking is enabled."""
    model = catalog.get(body.model)
    if model is None:
        raise ModelNotFound(body.model)
    if body.thinking is None or not body.thinking.shown or model.thinking:
        return model
    twin = catalog.get(model.id + THINKING_SUFFIX)
    if twin is None:
        raise InvalidRequest(
            f"The model {body.model} cannot think (it has no {THINKING_SUFFIX} variant); leave out "
            '\'thinking\' or set it to {"type": "disabled"}.',
            param="thinking",
            code="thinking_not_supported",
        )
    return twin


def thinking_level(body: MessagesBody, model: ModelInfo, default: ThinkingLevel) -> ThinkingLevel:
    """K2 for Anthropic requests (module docstring); a base model ignores it."""
    if not model.thinking:
        return default
    if body.effort is not None:
        return EFFORT_LEVELS[body.effort]
    if body.thinking is not None and body.thinking.budget is not None:
        return "high" if body.thinking.budget >= HIGH_BUDGET else "medium"
    return default


def to_chat_request(
    body: MessagesBody,
    model: ModelInfo,
    *,
    inject: str,
    max_input_length: int,
    default_thinking_level: ThinkingLevel = "high",
    images: Mapping[str, Image] | None = None,
) -> ChatRequest:
    """`images` holds the loaded images by path; images not loaded (count_tokens) are left out."""
    system = system_context([body.system], inject, body.response_format)
    tools = tuple(tool_spec(t) for t in body.tools)
    return ChatRequest(
        model=model,
        system=system,
        messages=fitted(_messages(body.turns, images or {}), system, tools, max_input_length),
        stream=body.stream,
        stop=body.stop_sequences,
        tools=tools,
        tool_choice=body.tool_choice or ToolChoice(),
        parallel_tool_calls=body.parallel_tool_calls,
        max_tokens=clamp_max_tokens(body.max_tokens, model.max_tokens),
        response_format=body.response_format,
        thinking_level=thinking_level(body, model, default_thinking_level),
    )


def _messages(turns: Sequence[Turn], images: Mapping[str, Image]) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}  # call id -> tool name, of the latest assistant turn
    for turn in turns:
        if turn.role == "assistant":
            names = {call.id: call.name for call in turn.tool_calls}
            messages.append(Message("assistant", turn.text, tool_calls=turn.tool_calls))
            continue
        if turn.results:
            results = tuple(
                ToolResult(r.call_id, names.get(r.call_id, ""), r.content, r.is_error) for r in turn.results
            )
            messages.append(Message("tool", "", results=results))
        if turn.text or turn.images or not turn.results:
            loaded = tuple(images[ref.path] for ref in turn.images if ref.path in images)
            messages.append(Message("user", turn.text, images=loaded))
    return messages
