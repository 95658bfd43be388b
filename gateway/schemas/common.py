"""Validation every client dialect shares, naming the failing field in `param`.

JSON loading, scalar parameter checks (the sampling parameters OpenAI's chat and legacy
completions have in common), the validated message and tool types the translators read, function
tool definitions with their JSON Schemas (tool-calls.md §7.1), the `json_schema` structured-output
format, and the pairing of historical tool calls with their results (§4.1, H2-H3). Each dialect's
module (`openai.py`, `responses.py`, `completions.py`) maps its own wire shape onto these.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

import orjson
from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft3Validator, Draft202012Validator, validator_for

from gateway.errors import InvalidRequest
from gateway.neutral.model import Image, ResponseFormat, ToolCall, ToolChoice

Role = Literal["system", "developer", "user", "assistant", "tool"]
Check = Callable[[str, object], None]

MAX_MESSAGES: Final = 10_000
MAX_IMAGES: Final = 20
MAX_STOP: Final = 4
MAX_USER_LENGTH: Final = 256
SCHEMA_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

# §7.1 limits.
MAX_TOOLS: Final = 128
MAX_SCHEMA_DEPTH: Final = 32
MAX_SCHEMA_BYTES: Final = 64 * 1024
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
REF_KEYS: Final = ("$ref", "$dynamicRef", "$recursiveRef")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image of a user message: its URL, where its part was, and (once loaded) the image.

    Errors about the image itself name `url_param`: `<path>.url` (chat's `image_url.url`) unless
    the dialect puts the URL elsewhere (`url_at`).
    """

    url: str
    path: str
    image: Image | None = None
    url_at: str = ""

    @property
    def url_param(self) -> str:
        return self.url_at or f"{self.path}.url"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One validated message, whatever the dialect. `tool` messages carry `tool_call_id`; assistant
    messages their calls; user messages their images."""

    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolDef:
    """One validated function tool; `parameters` is None when the client sent none."""

    name: str
    description: str
    parameters: dict[str, object] | None
    strict: bool = False


# ---------------------------------------------------------------- JSON


def load_json(raw: bytes) -> object:
    """The parsed body; a 400 `invalid_json` that says what is wrong with it."""
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
    data = load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


def required_model(data: Mapping[str, object]) -> str:
    """The stripped `model`, which every dialect requires."""
    model = data.get("model")
    if model is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model", code="invalid_type")
    return model.strip()


# ---------------------------------------------------------------- scalar parameters


def number(low: float, high: float) -> Check:
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
    def check(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"'{name}' must be an integer.", param=name, code="invalid_type")
        if not low <= value <= high:
            raise InvalidRequest(
                f"'{name}' must be between {low} and {high}, got {value}.", param=name, code="invalid_value"
            )

    return check


def of_type(kind: type, label: str) -> Check:
    def check(name: str, value: object) -> None:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise InvalidRequest(f"'{name}' must be {label}.", param=name, code="invalid_type")

    return check


def one_of(*allowed: str) -> Check:
    def check(name: str, value: object) -> None:
        if value not in allowed:
            raise InvalidRequest(
                f"'{name}' must be one of: {', '.join(allowed)}; got {value!r}.",
                param=name,
                code="invalid_value",
            )

    return check


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


def check_parameters(data: Mapping[str, object], checks: Mapping[str, Check], prefix: str = "") -> None:
    """Run each check on its parameter when the client sent it (null counts as not sent); `prefix`
    is the path of `data` in the body (`reasoning.`)."""
    for name, check in checks.items():
        value = data.get(name)
        if value is not None:
            check(f"{prefix}{name}", value)


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


def unsupported(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="unsupported_parameter")


# ---------------------------------------------------------------- function tools (§7.1)


def check_tool_count(value: object, param: str) -> list[object]:
    """The tools array, at most `MAX_TOOLS` long."""
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be an array.", param=param, code="invalid_tools")
    if len(value) > MAX_TOOLS:
        raise InvalidRequest(
            f"'{param}' has {len(value)} entries; at most {MAX_TOOLS} are supported.",
            param=param,
            code="too_many_tools",
        )
    return value


def function_def(spec: Mapping[str, object], path: str) -> ToolDef:
    """A function tool from the object holding its `name`, `description`, `parameters` and `strict`
    (`tools[i].function` in chat, `tools[i]` in the Responses API)."""
    name = tool_name(spec.get("name"), f"{path}.name")
    description = optional(spec, "description", str, path, "invalid_tools")
    strict = optional(spec, "strict", bool, path, "invalid_tools")
    parameters = spec.get("parameters")
    if parameters is not None:
        check_schema(parameters, f"{path}.parameters")
    return ToolDef(
        name=name,
        description=str(description or ""),
        parameters=parameters if isinstance(parameters, dict) else None,
        strict=strict is True,
    )


def tool_name(value: object, param: str) -> str:
    """A tool (or namespace) name: 1-128 letters, digits, `_`, `.`, `:` or `-`."""
    if not isinstance(value, str) or TOOL_NAME_RE.fullmatch(value) is None:
        raise InvalidRequest(
            f"'{param}' must be 1-128 characters of letters, digits, '_', '.', ':' or '-'.",
            param=param,
            code="invalid_tool_name",
        )
    return value


def optional(
    spec: Mapping[str, object], key: str, kind: type[str] | type[bool], path: str, code: str
) -> object:
    """`spec[key]` when it is absent, null or a `kind` (str or bool); else a 400 naming `<path>.<key>`."""
    value = spec.get(key)
    if value is not None and not isinstance(value, kind):
        label = "a boolean" if kind is bool else "a string"
        raise InvalidRequest(f"'{path}.{key}' must be {label}.", param=f"{path}.{key}", code=code)
    return value


def duplicate_tool(name: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"Two tools are named {name!r}.", param=param, code="duplicate_tool_name")


def check_choice_target(choice: ToolChoice, tools: Sequence[ToolDef], name_param: str) -> ToolChoice:
    """`required` and a named tool need tools; a named tool must be one of them."""
    if choice.mode in ("required", "named") and not tools:
        raise InvalidRequest(
            f"tool_choice {choice.mode!r} needs a non-empty 'tools' list.",
            param="tool_choice",
            code="missing_tools",
        )
    if choice.mode == "named" and all(t.name != choice.name for t in tools):
        raise InvalidRequest(
            f"tool_choice names {choice.name!r}, which is not in 'tools'.",
            param=name_param,
            code="tool_choice_not_found",
        )
    return choice


def _schema_error(path: str, reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"'{path}' is not a usable JSON Schema: {reason}", param=path, code="invalid_tool_schema"
    )


# Schemas (as compact JSON) that passed `check_schema`, most recently used last: a bounded cache.
CHECKED_SCHEMAS_MAX: Final = 1024
_CHECKED_SCHEMAS: OrderedDict[bytes, None] = OrderedDict()


def check_schema(schema: object, path: str) -> None:
    """An object, at most 32 levels deep and 64 KiB of JSON, no remote `$ref`, valid for its draft."""
    if not isinstance(schema, dict):
        raise _schema_error(path, "it must be a JSON object.")
    if _depth(schema) > MAX_SCHEMA_DEPTH:
        raise _schema_error(path, f"it is nested deeper than {MAX_SCHEMA_DEPTH} levels.")
    try:
        key = orjson.dumps(schema)
    except orjson.JSONEncodeError as exc:
        raise _schema_error(path, str(exc)) from None
    if len(key) > MAX_SCHEMA_BYTES:
        raise _schema_error(path, f"it is {len(key)} bytes of JSON; at most {MAX_SCHEMA_BYTES} are allowed.")
    if key in _CHECKED_SCHEMAS:  # agents send the same catalog every turn; meta-validation is slow
        _CHECKED_SCHEMAS.move_to_end(key)
        return
    remote = _remote_ref(schema)
    if remote is not None:
        raise _schema_error(
            path, f"the reference {remote!r} is not local; only '#...' references are allowed."
        )
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        raise _schema_error(path, "'$schema' must be a string.")
    cls = validator_for(schema, default=Draft202012Validator)
    if cls is Draft3Validator:
        raise _schema_error(path, "draft-03 schemas are not supported; use draft-04 or later.")
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise _schema_error(path, f"{exc.message} (at /{where})") from None
    _CHECKED_SCHEMAS[key] = None
    if len(_CHECKED_SCHEMAS) > CHECKED_SCHEMAS_MAX:
        _CHECKED_SCHEMAS.popitem(last=False)


def _depth(value: object) -> int:
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_SCHEMA_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _remote_ref(value: object) -> str | None:
    stack: list[object] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in REF_KEYS:
                ref = node.get(key)
                if isinstance(ref, str) and not ref.startswith("#"):
                    return ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


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
        return json_schema_format(value, name)
    spec = value.get("json_schema")
    path = f"{name}.json_schema"
    if spec is None:
        raise InvalidRequest(
            f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter"
        )
    if not isinstance(spec, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    return json_schema_format(spec, path)


def json_schema_format(spec: Mapping[str, object], path: str) -> ResponseFormat:
    """A `json_schema` format from the object holding `name`, `description`, `schema` and `strict`
    (`response_format.json_schema` in chat, `text.format` in the Responses API)."""
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
        if not isinstance(schema, dict):
            raise InvalidRequest(
                f"'{path}.schema' must be an object.", param=f"{path}.schema", code="invalid_type"
            )
        try:
            validator_for(schema, default=Draft202012Validator).check_schema(schema)
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
        description=str(description or ""),
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


# ---------------------------------------------------------------- tool history (H2, H3)


def check_history(
    messages: Sequence[ChatMessage],
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
