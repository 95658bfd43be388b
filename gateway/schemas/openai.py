"""OpenAI Chat Completions request: parse the JSON body and validate it, naming the failing field.

`parse_chat_body(raw)` is the only entry point. It returns a typed `ChatBody` or raises
`InvalidRequest` whose `param` is the JSON path of the problem (`messages[2].content`). Nothing
past this module sees untyped JSON.

Tools (tool-calls.md §7.1) and tool history (§4.1, H1-H3) are validated here; inbound thinking is
accepted and dropped (H9).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice
from gateway.schemas.common import (
    MAX_IMAGES,
    SAMPLING_CHECKS,
    Check,
    ImageRef,
    ToolDef,
    check_history,
    check_parameters,
    checked_choice,
    choices,
    function_tool,
    integer,
    load_object,
    of_type,
    required_model,
    response_format,
    stop_list,
    stream_usage,
    tool_catalog,
    unsupported,
)

Role = Literal["system", "developer", "user", "assistant", "tool"]

# Client role names and their canonical role; `human`/`ai` are aliases some clients send, and the
# legacy `function` role is read like `tool`.
ROLE_ALIASES: Final[dict[str, Role]] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "tool": "tool",
    "function": "tool",
}
MAX_MESSAGES: Final = 10_000
DEFAULT_MAX_N: Final = 8  # the MAX_N setting's default
# H9: thinking the client sends back is dropped, never an error.
THINKING_FIELDS: Final = ("reasoning_content", "reasoning", "thinking")
THINKING_PARTS: Final = frozenset({"thinking", "reasoning", "redacted_thinking"})
LEADING_THINK_RE: Final = re.compile(r"\s*<think>.*?</think>\s*", re.DOTALL)
TEXT_PARTS: Final = frozenset({"text", "input_text"})


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One client message. `tool` messages carry `tool_call_id`; assistant messages their calls;
    user messages their images."""

    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatBody:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]
    max_tokens: int | None
    n: int
    tools: tuple[ToolDef, ...] = ()
    tool_choice: ToolChoice | None = None  # None: the client sent none
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None

    @property
    def image_refs(self) -> tuple[ImageRef, ...]:
        return tuple(ref for m in self.messages for ref in m.images)


def parse_chat_body(raw: bytes, *, max_n: int = DEFAULT_MAX_N) -> ChatBody:
    """Parse and validate a `/v1/chat/completions` body; `n` may be at most `max_n` (MAX_N)."""
    data = load_object(raw)
    model = required_model(data)
    messages = _messages(data.get("messages"))
    tools, tool_choice = _check_tools(data)
    check_parameters(data, _PARAMETER_CHECKS)
    stream = data.get("stream") is True
    include_usage = stream_usage(data, stream)
    if data.get("logprobs") is True:
        raise unsupported(
            "logprobs are not available: Cursor does not return token probabilities.", "logprobs"
        )
    top_logprobs = data.get("top_logprobs")
    if isinstance(top_logprobs, int) and top_logprobs > 0:
        # OpenAI requires logprobs: true with top_logprobs, and logprobs: true is refused above.
        raise unsupported(
            "'top_logprobs' requires 'logprobs': true, and logprobs are not available: Cursor does not "
            "return token probabilities.",
            "top_logprobs",
        )
    n = choices(data.get("n"), max_n)
    max_tokens = data.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = data.get("max_tokens")
    effort = data.get("reasoning_effort")
    return ChatBody(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        stop=stop_list(data.get("stop")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        n=n,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=data.get("parallel_tool_calls") is not False,
        response_format=response_format(data.get("response_format"), "response_format"),
        reasoning_effort=effort if isinstance(effort, str) else None,
    )


def _messages(value: object) -> tuple[ChatMessage, ...]:
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(value, list):
        raise InvalidRequest("'messages' must be an array.", param="messages", code="invalid_type")
    if not value:
        raise InvalidRequest(
            "'messages' must contain at least one message.", param="messages", code="empty_messages"
        )
    if len(value) > MAX_MESSAGES:
        raise InvalidRequest(
            f"'messages' has more than {MAX_MESSAGES} entries.", param="messages", code="too_many_messages"
        )
    messages = tuple(_message(item, f"messages[{i}]") for i, item in enumerate(value))
    _check_history(messages)
    return messages


def _message(item: object, path: str) -> ChatMessage:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    role_value = item.get("role")
    if not isinstance(role_value, str):
        raise InvalidRequest(f"'{path}.role' must be a string.", param=f"{path}.role", code="invalid_type")
    role = ROLE_ALIASES.get(role_value)
    if role is None:
        allowed = ", ".join(sorted(ROLE_ALIASES))
        raise InvalidRequest(
            f"Invalid role {role_value!r} in '{path}.role'; expected one of: {allowed}.",
            param=f"{path}.role",
            code="invalid_role",
        )
    if role == "tool":
        key = "tool_call_id" if role_value == "tool" or "tool_call_id" in item else "name"
        ident = item.get(key)
        if ident is None:
            raise InvalidRequest(
                f"'{path}.{key}' is required.", param=f"{path}.{key}", code="missing_required_parameter"
            )
        if not isinstance(ident, str):
            raise InvalidRequest(
                f"'{path}.{key}' must be a string.", param=f"{path}.{key}", code="invalid_type"
            )
        return ChatMessage(
            "tool", _content(item.get("content"), f"{path}.content", tool=True), tool_call_id=ident
        )
    content = item.get("content")
    text = _content(content, f"{path}.content", allow_null=role == "assistant", images=role == "user")
    if role == "user":
        return ChatMessage(role, text, images=_image_refs(content, f"{path}.content"))
    if role != "assistant":
        return ChatMessage(role, text)
    # H9: reasoning_content / reasoning / thinking fields are simply not read.
    match = LEADING_THINK_RE.match(text)
    if match is not None:
        text = text[match.end() :]
    calls = item.get("tool_calls")
    if calls is None:
        return ChatMessage(role, text)
    return ChatMessage(role, text, tool_calls=_tool_calls(calls, f"{path}.tool_calls"))


def _history_error(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_tool_call_history")


def _tool_calls(calls: object, path: str) -> tuple[ToolCall, ...]:
    """H1: the calls of an assistant message, structurally checked; arguments stay raw text (H5)."""
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{path}' must be an array.", param=path, code="invalid_type")
    parsed: list[ToolCall] = []
    seen: set[str] = set()
    for i, call in enumerate(calls):
        at = f"{path}[{i}]"
        if not isinstance(call, dict):
            raise _history_error(f"'{at}' must be an object.", at)
        ident = call.get("id")
        if not isinstance(ident, str) or not ident:
            raise _history_error(f"'{at}.id' must be a non-empty string.", f"{at}.id")
        if call.get("type") != "function":
            raise _history_error(f"'{at}.type' must be \"function\".", f"{at}.type")
        function = call.get("function")
        if not isinstance(function, dict):
            raise _history_error(f"'{at}.function' must be an object.", f"{at}.function")
        name = function.get("name")
        if not isinstance(name, str):
            raise _history_error(f"'{at}.function.name' must be a string.", f"{at}.function.name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            raise _history_error(f"'{at}.function.arguments' must be a string.", f"{at}.function.arguments")
        if ident in seen:
            raise InvalidRequest(
                f"'{at}.id' repeats the id {ident!r} of an earlier call in this message.",
                param=f"{at}.id",
                code="duplicate_tool_call_id",
            )
        seen.add(ident)
        parsed.append(ToolCall(ident, name, arguments))
    return tuple(parsed)


def _check_history(messages: Sequence[ChatMessage]) -> None:
    """H2, H3 (`schemas/common.py`), naming chat's fields."""
    check_history(
        messages,
        call_param=lambda i, j: f"messages[{i}].tool_calls[{j}].id",
        result_param=lambda i: f"messages[{i}].tool_call_id",
    )


def _image_refs(value: object, path: str) -> tuple[ImageRef, ...]:
    """The `image_url` parts of a user message (`_content` has checked the parts already)."""
    if not isinstance(value, list):
        return ()
    refs: list[ImageRef] = []
    for i, part in enumerate(value):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        at = f"{path}[{i}].image_url"
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        if not isinstance(url, str) or not url:
            raise InvalidRequest(
                f"'{at}.url' must be a non-empty string.", param=f"{at}.url", code="invalid_type"
            )
        refs.append(ImageRef(url, at, f"{at}.url"))
        if len(refs) > MAX_IMAGES:
            raise InvalidRequest(
                f"A message may carry at most {MAX_IMAGES} images.", param=at, code="too_many_images"
            )
    return tuple(refs)


def _content(
    value: object, path: str, *, allow_null: bool = True, tool: bool = False, images: bool = False
) -> str:
    """Text of a message: a string or text parts joined by "\\n"; thinking parts are dropped (H9).

    In `tool` messages a non-text part becomes the line `[TYPE content omitted]` (H6).
    """
    if isinstance(value, str):
        return value
    if value is None:
        if allow_null:
            return ""
        raise InvalidRequest(f"'{path}' is required.", param=path, code="missing_required_parameter")
    if not isinstance(value, list):
        raise InvalidRequest(
            f"'{path}' must be a string or an array of parts.", param=path, code="invalid_type"
        )
    texts: list[str] = []
    for i, part in enumerate(value):
        part_path = f"{path}[{i}]"
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise InvalidRequest(f"'{part_path}' must be an object.", param=part_path, code="invalid_type")
        kind = part.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest(
                f"'{part_path}.type' must be a string.", param=f"{part_path}.type", code="invalid_type"
            )
        if kind in TEXT_PARTS:
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest(
                    f"'{part_path}.text' must be a string.", param=f"{part_path}.text", code="invalid_type"
                )
            texts.append(text)
        elif kind in THINKING_PARTS:
            continue
        elif tool:
            texts.append(f"[{kind} content omitted]")
        elif kind == "image_url" and images:
            continue  # collected by `_image_refs`
        elif kind in ("image_url", "input_image", "image", "input_audio", "file"):
            raise InvalidRequest(
                f"Content parts of type {kind!r} are not supported by this version of the gateway.",
                param=f"{part_path}.type",
                code="unsupported_content",
            )
        else:
            raise InvalidRequest(
                f"Unknown content part type {kind!r}.", param=f"{part_path}.type", code="invalid_content_part"
            )
    return "\n".join(texts)


# ---------------------------------------------------------------- tools (§7.1)


def _check_tools(data: Mapping[str, object]) -> tuple[tuple[ToolDef, ...], ToolChoice | None]:
    for name in ("functions", "function_call"):
        if name in data:
            raise InvalidRequest(
                f"'{name}' is the legacy function-calling API and is not supported; use 'tools'.",
                param=name,
                code="unsupported_parameter",
            )
    tools = _tools(data.get("tools"))
    choice = _tool_choice(data.get("tool_choice"), tools)
    return tools, choice


def _tools(value: object) -> tuple[ToolDef, ...]:
    return tool_catalog(value, _tool, ".function.name")


def _tool(item: object, path: str) -> ToolDef:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_tools")
    kind = item.get("type")
    if kind is not None and kind != "function":
        raise InvalidRequest(
            f'Tools of type {kind!r} are not supported; only "function".',
            param=f"{path}.type",
            code="unsupported_tool_type",
        )
    function = item.get("function")
    if not isinstance(function, dict):
        if function is None:
            raise InvalidRequest(
                f"'{path}.function.name' is required.",
                param=f"{path}.function.name",
                code="invalid_tool_name",
            )
        raise InvalidRequest(
            f"'{path}.function' must be an object.", param=f"{path}.function", code="invalid_tools"
        )
    return function_tool(function, f"{path}.function")


def _tool_choice(value: object, tools: Sequence[ToolDef]) -> ToolChoice | None:
    if value is None:
        return None
    choice: ToolChoice
    if value in ("none", "auto", "required"):
        choice = ToolChoice(value)
    elif isinstance(value, dict) and value.get("type") in ("allowed_tools", "custom"):
        raise InvalidRequest(
            f"tool_choice of type {value['type']!r} is not supported.",
            param="tool_choice",
            code="unsupported_tool_choice",
        )
    elif (
        isinstance(value, dict)
        and value.get("type") == "function"
        and isinstance(value.get("function"), dict)
        and isinstance(value["function"].get("name"), str)
    ):
        choice = ToolChoice("named", value["function"]["name"])
    else:
        raise InvalidRequest(
            '\'tool_choice\' must be "none", "auto", "required" or '
            '{"type":"function","function":{"name":...}}.',
            param="tool_choice",
            code="invalid_tool_choice",
        )
    return checked_choice(choice, tools, label=choice.mode, name_param="tool_choice.function.name")


# ---------------------------------------------------------------- sampling parameters


def _check_response_format(name: str, value: object) -> None:
    response_format(value, name)


_PARAMETER_CHECKS: Final[dict[str, Check]] = {
    **SAMPLING_CHECKS,
    # Any positive integer: a value above the model's output limit is lowered to it (from_openai).
    "max_tokens": integer(1, 2**64),
    "max_completion_tokens": integer(1, 2**64),
    "logprobs": of_type(bool, "a boolean"),
    "top_logprobs": integer(0, 20),
    "parallel_tool_calls": of_type(bool, "a boolean"),
    "response_format": _check_response_format,
    "reasoning_effort": of_type(str, "a string"),
    "metadata": of_type(dict, "an object"),
    "store": of_type(bool, "a boolean"),
}
