"""What the request schemas of every dialect share: JSON loading, tool catalogs and their JSON
Schemas (checked by `client_schema`, the one checker), image references, and checks of plain
parameter values.

Each check raises `InvalidRequest` whose `param` is the JSON path of the problem, in the path style
the dialect modules use (`tools[0].input_schema`). Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from gateway import client_schema
from gateway.errors import InvalidRequest
from gateway.neutral.model import ToolChoice

# tool-calls.md §7.1 limits (a schema's own limits are those of `client_schema`).
MAX_TOOLS: Final = 128
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_IMAGES: Final = 20  # per message
MAX_MODEL_LENGTH: Final = 256

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
    with client_schema.time_budget():  # one budget for the schemas of all tools together
        parsed = [parse(item, f"tools[{i}]") for i, item in enumerate(value)]
    for i, tool in enumerate(parsed):
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


def check_tool_schema(schema: object, path: str) -> None:
    """A tool's parameters: a JSON Schema the one checker (`client_schema.check`) accepts, describing
    an object; else a 400 `invalid_tool_schema` at `path`."""
    _client_schema(schema, path, code="invalid_tool_schema", object_root=True)


# ---------------------------------------------------------------- structured output


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
