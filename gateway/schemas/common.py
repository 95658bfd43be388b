"""What the request schemas of every dialect share: JSON loading, tool catalogs and their JSON
Schemas (checked by `client_schema`, the one checker), image references, structured-output formats,
the pairing of historical tool calls with their results (H2-H3), and checks of plain parameter
values (with the sampling parameters OpenAI's chat and legacy completions have in common).

Each check raises `InvalidRequest` whose `param` is the JSON path of the problem, in the path style
the dialect modules use (`tools[0].input_schema`). Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import orjson

from gateway import client_schema
from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice

# tool-calls.md §7.1 limits (a schema's own limits are those of `client_schema`).
MAX_TOOLS: Final = 128
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_IMAGES: Final = 20  # per message
MAX_MODEL_LENGTH: Final = 256
MAX_STOP: Final = 4
MAX_USER_LENGTH: Final = 256
SCHEMA_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

Check = Callable[[str, object], None]


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image a client sent: its URL (a data URL for inline bytes), where the image is in the
    body (`path`), and the field to name when the URL or its data cannot be used (`url_path`)."""

    url: str
    path: str
    url_path: str


@dataclass(frozen=True, slots=True)
class ToolDef:
    """One validated tool of the request's catalog; `parameters` is None when the client sent none."""

    name: str
    description: str
    parameters: dict[str, object] | None
    strict: bool = False


def load_json(raw: bytes) -> object:
    """The parsed body; an empty or malformed body is a 400 `invalid_json`."""
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


def load_object(raw: bytes) -> dict[str, object]:
    """The parsed body, which must be a JSON object."""
    data = load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


def required_model(data: dict[str, object]) -> str:
    """The body's `model`: a non-empty string of at most `MAX_MODEL_LENGTH` characters, trimmed."""
    model = data.get("model")
    if model is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model", code="invalid_type")
    if len(model) > MAX_MODEL_LENGTH:
        raise InvalidRequest(
            f"'model' must be at most {MAX_MODEL_LENGTH} characters.", param="model", code="invalid_value"
        )
    return model.strip()


# ---------------------------------------------------------------- tools (§7.1)


def tool_catalog(
    value: object, parse: Callable[[object, str], ToolDef], name_field: str
) -> tuple[ToolDef, ...]:
    """The `tools` array: at most MAX_TOOLS entries, each parsed by `parse(item, path)`, names unique;
    checking all their schemas shares one time budget.

    `name_field` is where an entry keeps its name (`.function.name`, `.name`), for the duplicate error.
    """
    if value is None:
        return ()
    items = tool_array(value)
    tools: list[ToolDef] = []
    names: set[str] = set()
    with client_schema.time_budget():  # one budget for the schemas of all tools together
        parsed = [parse(item, f"tools[{i}]") for i, item in enumerate(items)]
    for i, tool in enumerate(parsed):
        tools.append(unique_tool(tool, names, f"tools[{i}]{name_field}"))
    return tuple(tools)


def tool_array(value: object, count: int | None = None) -> list[object]:
    """The `tools` array, at most MAX_TOOLS long (`count`: how many tools it makes, when not one an entry)."""
    if not isinstance(value, list):
        raise InvalidRequest("'tools' must be an array.", param="tools", code="invalid_tools")
    total = len(value) if count is None else count
    if total > MAX_TOOLS:
        raise InvalidRequest(
            f"'tools' has {total} tools; at most {MAX_TOOLS} are supported.",
            param="tools",
            code="too_many_tools",
        )
    return value


def unique_tool(tool: ToolDef, names: set[str], at: str) -> ToolDef:
    """`tool`, whose name must not be in `names` yet (it is added); `at` is where its name is."""
    if tool.name in names:
        raise InvalidRequest(
            f"'{at}': two tools are named {tool.name!r}.", param=at, code="duplicate_tool_name"
        )
    names.add(tool.name)
    return tool


def function_tool(spec: Mapping[str, object], path: str) -> ToolDef:
    """A function tool from the object holding its `name`, `description`, `parameters` and `strict`
    (`tools[i].function` in chat, `tools[i]` in the Responses API)."""
    name = tool_name(spec.get("name"), f"{path}.name")
    description = optional(spec, "description", str, path, "invalid_tools")
    strict = optional(spec, "strict", bool, path, "invalid_tools")
    parameters = spec.get("parameters")
    if parameters is not None:
        check_tool_schema(parameters, f"{path}.parameters")
    return ToolDef(
        name=name,
        description=str(description or ""),
        parameters=parameters if isinstance(parameters, dict) else None,
        strict=strict is True,
    )


def tool_name(value: object, path: str) -> str:
    """A tool name: 1-128 letters, digits, `_`, `.`, `:` or `-`."""
    if not isinstance(value, str) or TOOL_NAME_RE.fullmatch(value) is None:
        raise InvalidRequest(
            f"'{path}' must be 1-128 characters of letters, digits, '_', '.', ':' or '-'.",
            param=path,
            code="invalid_tool_name",
        )
    return value


def checked_choice(
    choice: ToolChoice, tools: Sequence[ToolDef], *, label: str, name_param: str
) -> ToolChoice:
    """A choice that requires a call needs tools; a named tool must be one of them.

    `label` is the choice as the client wrote it, `name_param` the field holding a named tool.
    """
    if choice.mode in ("required", "named") and not tools:
        raise InvalidRequest(
            f"tool_choice {label!r} needs a non-empty 'tools' list.",
            param="tool_choice",
            code="missing_tools",
        )
    if choice.mode == "named" and all(t.name != choice.name for t in tools):
        raise InvalidRequest(
            f"'{name_param}' names {choice.name!r}, which is not in 'tools'.",
            param=name_param,
            code="tool_choice_not_found",
        )
    return choice


def check_tool_schema(schema: object, path: str) -> None:
    """A tool's parameters: a JSON Schema the one checker (`client_schema.check`) accepts, describing
    an object; else a 400 `invalid_tool_schema` at `path`."""
    _client_schema(schema, path, code="invalid_tool_schema", object_root=True)


# ---------------------------------------------------------------- structured output


def response_format(value: object, name: str, *, nested: bool = True) -> ResponseFormat | None:
    """`text` (or absent) is no constraint; `json_object`; `json_schema` with a valid JSON Schema.

    `nested`: the schema's fields are under `json_schema` (chat's `response_format`), else beside
    `type` (the Responses API's `text.format`).
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidRequest(
            f"'{name}' must be an object with a string 'type'.", param=name, code="invalid_type"
        )
    kind = value["type"]
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise InvalidRequest(f"Unknown {name} type {kind!r}.", param=f"{name}.type", code="invalid_value")
    if not nested:
        return _json_schema_format(value, name)
    spec = value.get("json_schema")
    path = f"{name}.json_schema"
    if spec is None:
        raise InvalidRequest(
            f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter"
        )
    if not isinstance(spec, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    return _json_schema_format(spec, path)


def _json_schema_format(spec: Mapping[str, object], path: str) -> ResponseFormat:
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
    description = optional(spec, "description", str, path, "invalid_type")
    strict = optional(spec, "strict", bool, path, "invalid_type")
    schema = spec.get("schema")
    if schema is not None:
        schema = response_schema(schema, f"{path}.schema")
    return ResponseFormat(
        "json_schema",
        name=schema_name,
        description=str(description or ""),
        schema=schema,
        strict=bool(strict),
    )


def response_schema(schema: object, path: str) -> dict[str, object]:
    """The JSON Schema an answer must satisfy, checked exactly as tool schemas are (any root type)."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    return _client_schema(schema, path, code="invalid_value", object_root=False)


def _client_schema(schema: object, path: str, *, code: str, object_root: bool) -> dict[str, object]:
    try:
        return client_schema.check(schema, object_root=object_root)
    except client_schema.SchemaProblem as exc:
        raise InvalidRequest(f"'{path}' is not a usable JSON Schema: {exc}.", param=path, code=code) from None


# ---------------------------------------------------------------- plain parameter values


def number(low: float, high: float) -> Check:
    """A finite number in [low, high]."""

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


def integer(low: int, high: int) -> Check:
    """An integer (not a boolean) in [low, high]."""

    def check(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"'{name}' must be an integer.", param=name, code="invalid_type")
        if not low <= value <= high:
            raise InvalidRequest(
                f"'{name}' must be between {low} and {high}, got {value}.", param=name, code="invalid_value"
            )

    return check


def of_type(kind: type, label: str) -> Check:
    """A value of `kind` (`label` says it in words: "a boolean", "an object")."""

    def check(name: str, value: object) -> None:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise InvalidRequest(f"'{name}' must be {label}.", param=name, code="invalid_type")

    return check


def one_of(*allowed: str) -> Check:
    """One of the `allowed` strings."""

    def check(name: str, value: object) -> None:
        if value not in allowed:
            raise InvalidRequest(
                f"'{name}' must be one of: {', '.join(allowed)}; got {value!r}.",
                param=name,
                code="invalid_value",
            )

    return check


def optional(
    spec: Mapping[str, object], key: str, kind: type[str] | type[bool], path: str, code: str
) -> object:
    """`spec[key]` when it is absent, null or a `kind` (str or bool); else a 400 naming `<path>.<key>`."""
    value = spec.get(key)
    if value is not None and not isinstance(value, kind):
        label = "a boolean" if kind is bool else "a string"
        raise InvalidRequest(f"'{path}.{key}' must be {label}.", param=f"{path}.{key}", code=code)
    return value


def check_parameters(data: Mapping[str, object], checks: Mapping[str, Check], prefix: str = "") -> None:
    """Run each check on its parameter when the client sent it (null counts as not sent); `prefix`
    is the path of `data` in the body (`reasoning.`)."""
    for name, check in checks.items():
        value = data.get(name)
        if value is not None:
            check(f"{prefix}{name}", value)


def unsupported(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="unsupported_parameter")


def check_user(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name, code="invalid_type")
    if len(value) > MAX_USER_LENGTH:
        raise InvalidRequest(
            f"'{name}' must be at most {MAX_USER_LENGTH} characters.", param=name, code="invalid_value"
        )


def check_logit_bias(name: str, value: object) -> None:
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


def stop_list(value: object) -> tuple[str, ...]:
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


def _check_stop(name: str, value: object) -> None:
    stop_list(value)


# The sampling parameters of OpenAI's chat and legacy completions: validated, and (except `stop`
# and `stream`, which the caller reads) accepted without effect (README "OpenAI parameters").
SAMPLING_CHECKS: Final[dict[str, Check]] = {
    "stream": of_type(bool, "a boolean"),
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "presence_penalty": number(-2, 2),
    "frequency_penalty": number(-2, 2),
    "seed": integer(-(2**63), 2**63 - 1),
    "user": check_user,
    "stop": _check_stop,
    "logit_bias": check_logit_bias,
}


def choices(value: object, max_n: int) -> int:
    """`n`: 1 when absent, else 1 to `max_n`."""
    if value is None:
        return 1
    integer(1, max_n)("n", value)
    return value if isinstance(value, int) else 1


def stream_usage(data: Mapping[str, object], stream: bool) -> bool:
    """`stream_options.include_usage`, validated; only meaningful when streaming."""
    options = data.get("stream_options")
    if options is None:
        return False
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
    return bool(usage_flag) and stream


# ---------------------------------------------------------------- tool history (H2, H3)


class HistoryMessage(Protocol):
    """What the pairing check reads of a validated message."""

    @property
    def role(self) -> str: ...

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]: ...

    @property
    def tool_call_id(self) -> str | None: ...


def check_history(
    messages: Sequence[HistoryMessage],
    *,
    call_param: Callable[[int, int], str],
    result_param: Callable[[int], str],
) -> None:
    """H2, H3: results directly follow their calls, each call answered exactly once.

    System and developer messages are taken out of the conversation wherever they appear, so they
    neither open nor close a group of results. `call_param(i, j)` names call `j` of message `i`
    and `result_param(i)` the result message `i` in errors.
    """
    open_at: int | None = None  # index of the assistant message whose results may follow
    answered: set[str] = set()

    def close() -> None:
        if open_at is None:
            return
        for j, call in enumerate(messages[open_at].tool_calls):
            if call.id not in answered:
                raise InvalidRequest(
                    f"The tool call {call.id!r} at '{call_param(open_at, j)}' has no result: every call "
                    "needs its result right after the message that made it.",
                    param=call_param(open_at, j),
                    code="missing_tool_result",
                )

    for i, m in enumerate(messages):
        if m.role in ("system", "developer"):
            continue
        if m.role == "tool":
            ids = {c.id for c in messages[open_at].tool_calls} if open_at is not None else set()
            if m.tool_call_id not in ids:
                raise InvalidRequest(
                    f"'{result_param(i)}' answers {m.tool_call_id!r}, which is not a call of the assistant "
                    "message right before it.",
                    param=result_param(i),
                    code="unknown_tool_call_id",
                )
            if m.tool_call_id in answered:
                raise InvalidRequest(
                    f"'{result_param(i)}' is a second result for the call {m.tool_call_id!r}.",
                    param=result_param(i),
                    code="duplicate_tool_result",
                )
            answered.add(m.tool_call_id or "")
            continue
        close()
        open_at, answered = (i, set()) if m.tool_calls else (None, set())
    close()
