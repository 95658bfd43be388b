"""What the request schemas of every dialect share: JSON loading, tool catalogs and their JSON
Schemas, image references, and checks of plain parameter values.

Each check raises `InvalidRequest` whose `param` is the JSON path of the problem, in the path style
the dialect modules use (`tools[0].input_schema`). Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

import orjson
from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft3Validator, Draft202012Validator, validator_for

from gateway.errors import InvalidRequest
from gateway.neutral.model import ToolChoice

# tool-calls.md §7.1 limits.
MAX_TOOLS: Final = 128
MAX_SCHEMA_DEPTH: Final = 32
MAX_SCHEMA_BYTES: Final = 64 * 1024
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
REF_KEYS: Final = ("$ref", "$dynamicRef", "$recursiveRef")
MAX_IMAGES: Final = 20  # per message

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


def required_model(data: dict[str, object]) -> str:
    """The body's `model`: a non-empty string, trimmed."""
    model = data.get("model")
    if model is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model", code="invalid_type")
    return model.strip()


# ---------------------------------------------------------------- tools (§7.1)


def tool_catalog(
    value: object, parse: Callable[[object, str], ToolDef], name_field: str
) -> tuple[ToolDef, ...]:
    """The `tools` array: at most MAX_TOOLS entries, each parsed by `parse(item, path)`, names unique.

    `name_field` is where an entry keeps its name (`.function.name`, `.name`), for the duplicate error.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequest("'tools' must be an array.", param="tools", code="invalid_tools")
    if len(value) > MAX_TOOLS:
        raise InvalidRequest(
            f"'tools' has {len(value)} entries; at most {MAX_TOOLS} are supported.",
            param="tools",
            code="too_many_tools",
        )
    tools: list[ToolDef] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        tool = parse(item, f"tools[{i}]")
        if tool.name in names:
            at = f"tools[{i}]{name_field}"
            raise InvalidRequest(
                f"'{at}': two tools are named {tool.name!r}.", param=at, code="duplicate_tool_name"
            )
        names.add(tool.name)
        tools.append(tool)
    return tuple(tools)


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


def _schema_error(path: str, reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"'{path}' is not a usable JSON Schema: {reason}", param=path, code="invalid_tool_schema"
    )


# Schemas (as compact JSON) that passed `check_tool_schema`, most recently used last: a bounded cache.
CHECKED_SCHEMAS_MAX: Final = 1024
_CHECKED_SCHEMAS: OrderedDict[bytes, None] = OrderedDict()


def check_tool_schema(schema: object, path: str) -> None:
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


def response_schema(schema: object, path: str) -> dict[str, object]:
    """The JSON Schema an answer must satisfy: valid for its draft, every `$ref` pointing inside it."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
        _check_refs(schema, schema, path)
    except SchemaError as exc:
        raise InvalidRequest(
            f"'{path}' is not a valid JSON Schema: {exc.message}", param=path, code="invalid_value"
        ) from None
    except RecursionError:
        raise InvalidRequest(f"'{path}' is nested too deeply.", param=path, code="invalid_value") from None
    return schema


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
