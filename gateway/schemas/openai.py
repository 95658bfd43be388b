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
    Check,
    ImageRef,
    ToolDef,
    check_tool_schema,
    checked_choice,
    integer,
    load_json,
    number,
    of_type,
    required_model,
    response_schema,
    tool_catalog,
    tool_name,
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
MAX_STOP: Final = 4
DEFAULT_MAX_N: Final = 8  # the MAX_N setting's default
MAX_USER_LENGTH: Final = 256
SCHEMA_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
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
    data = load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = required_model(data)
    messages = _messages(data.get("messages"))
    tools, tool_choice = _check_tools(data)
    for name, check in _PARAMETER_CHECKS.items():
        if name in data and data[name] is not None:
            check(name, data[name])
    stream = data.get("stream") is True
    include_usage = False
    options = data.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequest(
                "'stream_options' must be an object.", param="stream_options", code="invalid_type"
            )
        usage_flag = options.get("include_usage")
        if usage_flag is not None and not isinstance(usage_flag, bool):
            raise InvalidRequest(
                "'stream_options.include_usage' must be a boolean.",
                param="stream_options.include_usage",
                code="invalid_type",
            )
        include_usage = bool(usage_flag) and stream
    if data.get("logprobs") is True:
        raise InvalidRequest(
            "logprobs are not available: Cursor does not return token probabilities.",
            param="logprobs",
            code="unsupported_parameter",
        )
    top_logprobs = data.get("top_logprobs")
    if isinstance(top_logprobs, int) and top_logprobs > 0:
        # OpenAI requires logprobs: true with top_logprobs, and logprobs: true is refused above.
        raise InvalidRequest(
            "'top_logprobs' requires 'logprobs': true, and logprobs are not available: Cursor does not "
            "return token probabilities.",
            param="top_logprobs",
            code="unsupported_parameter",
        )
    n = _choices(data.get("n"), max_n)
    max_tokens = data.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = data.get("max_tokens")
    effort = data.get("reasoning_effort")
    return ChatBody(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        stop=_stop_list(data.get("stop")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        n=n,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=data.get("parallel_tool_calls") is not False,
        response_format=_response_format(data.get("response_format"), "response_format"),
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
    """H2, H3: results directly follow their calls, each call answered exactly once.

    System and developer messages are taken out of the conversation wherever they appear, so they
    neither open nor close a group of results.
    """
    open_at: int | None = None  # index of the assistant message whose results may follow
    answered: set[str] = set()

    def close() -> None:
        if open_at is None:
            return
        for j, call in enumerate(messages[open_at].tool_calls):
            if call.id not in answered:
                raise InvalidRequest(
                    f"The tool call {call.id!r} of messages[{open_at}] has no result: every call needs a "
                    "'tool' message right after its assistant message.",
                    param=f"messages[{open_at}].tool_calls[{j}].id",
                    code="missing_tool_result",
                )

    for i, m in enumerate(messages):
        if m.role in ("system", "developer"):
            continue
        if m.role == "tool":
            ids = {c.id for c in messages[open_at].tool_calls} if open_at is not None else set()
            if m.tool_call_id not in ids:
                raise InvalidRequest(
                    f"'messages[{i}]' answers {m.tool_call_id!r}, which is not a call of the assistant "
                    "message right before it.",
                    param=f"messages[{i}].tool_call_id",
                    code="unknown_tool_call_id",
                )
            if m.tool_call_id in answered:
                raise InvalidRequest(
                    f"'messages[{i}]' is a second result for the call {m.tool_call_id!r}.",
                    param=f"messages[{i}].tool_call_id",
                    code="duplicate_tool_result",
                )
            answered.add(m.tool_call_id or "")
            continue
        close()
        open_at, answered = (i, set()) if m.tool_calls else (None, set())
    close()


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
    name = tool_name(function.get("name"), f"{path}.function.name")
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(
            f"'{path}.function.description' must be a string.",
            param=f"{path}.function.description",
            code="invalid_tools",
        )
    strict = function.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest(
            f"'{path}.function.strict' must be a boolean.",
            param=f"{path}.function.strict",
            code="invalid_tools",
        )
    parameters = function.get("parameters")
    if parameters is not None:
        check_tool_schema(parameters, f"{path}.function.parameters")
    return ToolDef(
        name=name,
        description=description or "",
        parameters=parameters,
        strict=strict is True,
    )


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


def _choices(value: object, max_n: int) -> int:
    if value is None:
        return 1
    integer(1, max_n)("n", value)
    return value if isinstance(value, int) else 1


def _check_stop(name: str, value: object) -> None:
    _stop_list(value)


def _check_response_format(name: str, value: object) -> None:
    _response_format(value, name)


def _response_format(value: object, name: str) -> ResponseFormat | None:
    """`text` (or absent) is no constraint; `json_object`; `json_schema` with a valid JSON Schema."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidRequest(
            "'response_format' must be an object with a string 'type'.", param=name, code="invalid_type"
        )
    kind = value["type"]
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise InvalidRequest(
            f"Unknown response_format type {kind!r}.", param=f"{name}.type", code="invalid_value"
        )
    spec = value.get("json_schema")
    path = f"{name}.json_schema"
    if spec is None:
        raise InvalidRequest(
            f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter"
        )
    if not isinstance(spec, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    schema_name = spec.get("name")
    if schema_name is None:
        raise InvalidRequest(
            f"Missing required parameter: '{path}.name'.",
            param=f"{path}.name",
            code="missing_required_parameter",
        )
    if not isinstance(schema_name, str) or not SCHEMA_NAME.fullmatch(schema_name):
        raise InvalidRequest(
            f"'{path}.name' must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.",
            param=f"{path}.name",
            code="invalid_value",
        )
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(
            f"'{path}.description' must be a string.", param=f"{path}.description", code="invalid_type"
        )
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest(
            f"'{path}.strict' must be a boolean.", param=f"{path}.strict", code="invalid_type"
        )
    schema = spec.get("schema")
    if schema is not None:
        schema = response_schema(schema, f"{path}.schema")
    return ResponseFormat(
        "json_schema",
        name=schema_name,
        description=description or "",
        schema=schema,
        strict=bool(strict),
    )


def _check_user(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name, code="invalid_type")
    if len(value) > MAX_USER_LENGTH:
        raise InvalidRequest(
            f"'{name}' must be at most {MAX_USER_LENGTH} characters.", param=name, code="invalid_value"
        )


def _check_logit_bias(name: str, value: object) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest("'logit_bias' must be an object.", param=name, code="invalid_type")
    for key, bias in value.items():
        if not (key.isascii() and key.isdigit()):
            raise InvalidRequest(
                f"'logit_bias' keys must be token ids (digits), got {key!r}.",
                param=f"{name}.{key}",
                code="invalid_value",
            )
        if isinstance(bias, bool) or not isinstance(bias, int | float) or not -100 <= bias <= 100:
            raise InvalidRequest(
                f"'logit_bias[{key}]' must be a number between -100 and 100.",
                param=f"{name}.{key}",
                code="invalid_value",
            )


_PARAMETER_CHECKS: Final[dict[str, Check]] = {
    "stream": of_type(bool, "a boolean"),
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "presence_penalty": number(-2, 2),
    "frequency_penalty": number(-2, 2),
    # Any positive integer: a value above the model's output limit is lowered to it (from_openai).
    "max_tokens": integer(1, 2**64),
    "max_completion_tokens": integer(1, 2**64),
    "seed": integer(-(2**63), 2**63 - 1),
    "user": _check_user,
    "logprobs": of_type(bool, "a boolean"),
    "top_logprobs": integer(0, 20),
    "parallel_tool_calls": of_type(bool, "a boolean"),
    "stop": _check_stop,
    "response_format": _check_response_format,
    "logit_bias": _check_logit_bias,
    "reasoning_effort": of_type(str, "a string"),
    "metadata": of_type(dict, "an object"),
    "store": of_type(bool, "a boolean"),
}


def _stop_list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and len(value) <= MAX_STOP and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise InvalidRequest(
        f"'stop' must be a string or an array of at most {MAX_STOP} strings.",
        param="stop",
        code="invalid_type",
    )
