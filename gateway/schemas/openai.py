"""OpenAI Chat Completions request: parse the JSON body and validate it, naming the failing field.

`parse_chat_body(raw)` is the only entry point. It returns a typed `ChatBody` or raises
`InvalidRequest` whose `param` is the JSON path of the problem (`messages[2].content`). Nothing
past this module sees untyped JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

import orjson
from jsonschema import Draft202012Validator, SchemaError, validators

from gateway.chat.model import ResponseFormat
from gateway.errors import InvalidRequest

Role = Literal["system", "developer", "user", "assistant"]

# Client role names and their canonical role; `human`/`ai` are aliases some clients send.
ROLE_ALIASES: Final[dict[str, Role]] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}
MAX_MESSAGES: Final = 10_000
MAX_STOP: Final = 4
DEFAULT_MAX_N: Final = 8  # the MAX_N setting's default
MAX_USER_LENGTH: Final = 256
SCHEMA_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class ChatBody:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]
    max_tokens: int | None
    n: int
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None


def parse_chat_body(raw: bytes, *, max_n: int = DEFAULT_MAX_N) -> ChatBody:
    """Parse and validate a `/v1/chat/completions` body; `n` may be at most `max_n` (MAX_N)."""
    data = _load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = data.get("model")
    if model is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model", code="invalid_type")
    messages = _messages(data.get("messages"))
    _check_tools(data)
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
        model=model.strip(),
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        stop=_stop_list(data.get("stop")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        n=n,
        response_format=_response_format(data.get("response_format"), "response_format"),
        reasoning_effort=effort if isinstance(effort, str) else None,
    )


def _load_json(raw: bytes) -> object:
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "surrogate" in reason.lower():
            reason = "the body contains an unpaired UTF-16 surrogate escape (a cut emoji?)"
        elif "utf-8" in reason.lower():
            reason = "the body is not valid UTF-8"
        raise InvalidRequest(f"Invalid JSON body: {reason}", code="invalid_json") from None


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
    return tuple(_message(item, f"messages[{i}]") for i, item in enumerate(value))


def _message(item: object, path: str) -> ChatMessage:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    role_value = item.get("role")
    if not isinstance(role_value, str):
        raise InvalidRequest(f"'{path}.role' must be a string.", param=f"{path}.role", code="invalid_type")
    if role_value in ("tool", "function"):
        # Without tool support a result is kept as text, so nothing the client sent is lost (§8.2).
        ident = item.get("tool_call_id", item.get("name"))
        if ident is not None and not isinstance(ident, str):
            raise InvalidRequest(
                f"'{path}.tool_call_id' must be a string.", param=f"{path}.tool_call_id", code="invalid_type"
            )
        text = _content(item.get("content"), f"{path}.content", allow_null=True)
        return ChatMessage("user", f"[tool result {ident or 'unknown'}]\n{text}")
    role = ROLE_ALIASES.get(role_value)
    if role is None:
        allowed = ", ".join(sorted({*ROLE_ALIASES, "tool"}))
        raise InvalidRequest(
            f"Invalid role {role_value!r} in '{path}.role'; expected one of: {allowed}.",
            param=f"{path}.role",
            code="invalid_role",
        )
    text = _content(item.get("content"), f"{path}.content", allow_null=role == "assistant")
    if role == "assistant" and item.get("tool_calls") is not None:
        text = "\n".join(filter(None, [text, *_tool_call_lines(item["tool_calls"], f"{path}.tool_calls")]))
    return ChatMessage(role, text)


def _tool_call_lines(calls: object, path: str) -> list[str]:
    """Earlier tool calls of an assistant turn, kept as text lines for the model's context."""
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{path}' must be an array.", param=path, code="invalid_type")
    lines = []
    for i, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(
                f"'{path}[{i}].function.name' must be a string.",
                param=f"{path}[{i}].function.name",
                code="invalid_type",
            )
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            raise InvalidRequest(
                f"'{path}[{i}].function.arguments' must be a string.",
                param=f"{path}[{i}].function.arguments",
                code="invalid_type",
            )
        lines.append(f"[tool call {call.get('id') or i}] {function['name']}({arguments})")
    return lines


def _content(value: object, path: str, *, allow_null: bool) -> str:
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
        if kind in ("text", "input_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest(
                    f"'{part_path}.text' must be a string.", param=f"{part_path}.text", code="invalid_type"
                )
            texts.append(text)
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


def _check_tools(data: Mapping[str, object]) -> None:
    for name in ("functions", "function_call"):
        if name in data:
            raise InvalidRequest(
                f"'{name}' is the legacy function-calling API and is not supported.",
                param=name,
                code="unsupported_parameter",
            )
    tools = data.get("tools")
    if tools in (None, []) or data.get("tool_choice") == "none":
        tool_choice = data.get("tool_choice")
        if tool_choice not in (None, "auto", "none"):
            raise InvalidRequest("'tool_choice' requires 'tools'.", param="tool_choice", code="missing_tools")
        return
    raise InvalidRequest(
        "Tool calling is not supported by this version of the gateway.",
        param="tools",
        code="unsupported_parameter",
    )


# ---------------------------------------------------------------- sampling parameters


def _number(low: float, high: float) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidRequest(f"'{name}' must be a number.", param=name, code="invalid_type")
        if not low <= value <= high:
            raise InvalidRequest(
                f"'{name}' must be between {low:g} and {high:g}, got {value}.",
                param=name,
                code="invalid_value",
            )

    return check


def _integer(low: int, high: int) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"'{name}' must be an integer.", param=name, code="invalid_type")
        if not low <= value <= high:
            raise InvalidRequest(
                f"'{name}' must be between {low} and {high}, got {value}.", param=name, code="invalid_value"
            )

    return check


def _choices(value: object, max_n: int) -> int:
    if value is None:
        return 1
    _integer(1, max_n)("n", value)
    return value if isinstance(value, int) else 1


def _of_type(kind: type, label: str) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise InvalidRequest(f"'{name}' must be {label}.", param=name, code="invalid_type")

    return check


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
        if not isinstance(schema, dict):
            raise InvalidRequest(
                f"'{path}.schema' must be an object.", param=f"{path}.schema", code="invalid_type"
            )
        try:
            validators.validator_for(schema, default=Draft202012Validator).check_schema(schema)
            _check_refs(schema, schema, f"{path}.schema")
        except SchemaError as exc:
            raise InvalidRequest(
                f"'{path}.schema' is not a valid JSON Schema: {exc.message}",
                param=f"{path}.schema",
                code="invalid_value",
            ) from None
        except RecursionError:
            raise InvalidRequest(
                f"'{path}.schema' is nested too deeply.", param=f"{path}.schema", code="invalid_value"
            ) from None
    return ResponseFormat(
        "json_schema",
        name=schema_name,
        description=description or "",
        schema=schema,
        strict=bool(strict),
    )


def _check_refs(node: object, root: dict[str, object], path: str) -> None:
    """Every `$ref` of a response schema points inside it: nothing is ever fetched from elsewhere."""
    if isinstance(node, list):
        for item in node:
            _check_refs(item, root, path)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("$ref", "$dynamicRef") and isinstance(value, str):
            if not value.startswith("#") or (value.startswith("#/") and not _pointer_exists(root, value)):
                raise InvalidRequest(
                    f"'{path}' has a reference {value!r} that does not point inside the schema.",
                    param=path,
                    code="invalid_value",
                )
        else:
            _check_refs(value, root, path)


def _pointer_exists(root: object, ref: str) -> bool:
    node = root
    for raw in unquote(ref[2:]).split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


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


_PARAMETER_CHECKS: Final[dict[str, Callable[[str, object], None]]] = {
    "stream": _of_type(bool, "a boolean"),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "max_tokens": _integer(1, 10_000_000),
    "max_completion_tokens": _integer(1, 10_000_000),
    "seed": _integer(-(2**63), 2**63 - 1),
    "user": _check_user,
    "logprobs": _of_type(bool, "a boolean"),
    "top_logprobs": _integer(0, 20),
    "parallel_tool_calls": _of_type(bool, "a boolean"),
    "stop": _check_stop,
    "response_format": _check_response_format,
    "logit_bias": _check_logit_bias,
    "reasoning_effort": _of_type(str, "a string"),
    "metadata": _of_type(dict, "an object"),
    "store": _of_type(bool, "a boolean"),
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
