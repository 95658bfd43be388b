"""Validation of raw tool calls against the request's catalog (tool-calls.md §6). Pure.

`CallValidator(tools, choice).validate(raw)` turns a `RawCall` (emulated or native) into a
`ValidCall` with canonical compact JSON arguments, or an `InvalidCall` with reasons. Names are
matched exactly, then by a normalised key (V5-V7); argument keys may be renamed to absent schema
properties (V9); the schema is enforced with jsonschema and a few safe coercions are tried at the
failing locations only (V10, V11). Nothing is invented: no defaults, no guessed values.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote

import jsonschema
from jsonschema.protocols import Validator

from gateway import client_schema
from gateway.neutral.model import ToolChoice, ToolSpec
from gateway.neutral.toolcalls import (
    MISSING_END,
    NO_JSON_BODY,
    TOO_LARGE,
    UNBALANCED,
    WRONG_MARKER,
    InvalidCall,
    InvalidKind,
    RawCall,
    ValidCall,
)
from gateway.tools.repair import RepairFailed, parse_json_lenient

ID_ALPHABET: Final = string.ascii_letters + string.digits
MAX_SCHEMA_DETAILS: Final = 5
COERCION_ROUNDS: Final = 3
MAX_NAMES_IN_REASON: Final = 20
NAME_KEYS: Final = ("name", "tool", "tool_name")
ARGUMENT_KEYS: Final = ("arguments", "parameters", "input", "args")
ALIAS_GROUPS: Final = (
    frozenset({"path", "file_path", "filepath"}),
    frozenset({"old_string", "old_str"}),
    frozenset({"new_string", "new_str"}),
    frozenset({"command", "cmd"}),
    frozenset({"content", "contents"}),
)
_NUMBER: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME_PREFIXES: Final = ("functions.", "function.", "tools.")
MAX_REF_HOPS: Final = 8


def new_call_id(rng: random.Random | None = None) -> str:
    """`call_` + 24 characters of [A-Za-z0-9] from a CSPRNG (or an injected source, for tests)."""
    if rng is None:
        return "call_" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))
    return "call_" + "".join(rng.choice(ID_ALPHABET) for _ in range(24))


def name_key(name: str) -> str:
    """V6: NFKC, casefold, trimmed of whitespace and quotes, no `functions.` prefix, `-`/space -> `_`."""
    key = unicodedata.normalize("NFKC", name).casefold().strip().strip("\"'`").strip()
    for prefix in _NAME_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.replace("-", "_").replace(" ", "_")


def dumps(value: object) -> str:
    """V13: compact JSON, non-ASCII kept, key order kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Invalid(Exception):
    def __init__(self, kind: InvalidKind, detail: str = "") -> None:
        super().__init__(detail)
        self.kind: InvalidKind = kind
        self.detail = detail


class CallValidator:
    def __init__(self, tools: Sequence[ToolSpec], choice: ToolChoice) -> None:
        self._tools = {t.name: t for t in tools}
        self._choice = choice
        keys: dict[str, list[str]] = {}
        for t in tools:
            keys.setdefault(name_key(t.name), []).append(t.name)
        self._by_key = {key: names[0] for key, names in keys.items() if len(names) == 1}
        self._validators = {t.name: client_schema.validator(t.parameters) for t in tools}

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def validate(self, raw: RawCall) -> ValidCall | InvalidCall:
        name: str | None = None
        arguments: str | None = None
        try:
            for flag, kind in (
                (WRONG_MARKER, "wrong_marker"),
                (NO_JSON_BODY, "no_json_body"),
                (TOO_LARGE, "too_large"),
            ):
                if flag in raw.flags:
                    raise _Invalid(kind)  # type: ignore[arg-type]
            allow_close = bool(raw.flags & {UNBALANCED, MISSING_END})
            repaired = False
            if raw.native:
                name_value: object = raw.name
                args_value, repaired = _arguments_value(raw.body, allow_close)
            else:
                envelope, passes = _parse(raw.body, allow_close)
                if not isinstance(envelope, dict):
                    raise _Invalid("not_an_object", "the call body is not a JSON object")
                repaired = bool(passes)
                name_value = _envelope_name(envelope)
                args_value, args_repaired = _envelope_arguments(envelope, allow_close)
                repaired = repaired or args_repaired
            if not isinstance(name_value, str) or not name_value.strip():
                raise _Invalid("missing_name")
            name = self._match(name_value)
            if not isinstance(args_value, dict):
                raise _Invalid("arguments_not_object")
            self._check_choice(name)
            args = self._rename_keys(name, args_value)
            args, coerced, errors = self._check_schema(name, args)
            arguments = dumps(args)
            if errors:
                return InvalidCall(
                    reasons=tuple(("schema", e) for e in errors), raw=raw, name=name, arguments=arguments
                )
            return ValidCall(name=name, arguments=arguments, repaired=repaired, coerced=coerced)
        except _Invalid as exc:
            return InvalidCall(reasons=((exc.kind, exc.detail),), raw=raw, name=name, arguments=None)

    # ------------------------------------------------------------ steps

    def _match(self, name: str) -> str:
        if name in self._tools:
            return name
        canonical = self._by_key.get(name_key(name))
        if canonical is None:
            raise _Invalid("unknown_tool", name)
        return canonical

    def _check_choice(self, name: str) -> None:
        if self._choice.mode == "none":
            raise _Invalid("tools_disabled", name)
        if self._choice.mode == "named" and name != self._choice.name:
            raise _Invalid("not_allowed", name)

    def _rename_keys(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """V9: a key that is not a property becomes the one absent property it clearly means."""
        properties = self._tools[name].parameters.get("properties")
        if not isinstance(properties, dict) or not properties:
            return args
        renamed: dict[str, Any] = {}
        for key, value in args.items():
            target = key
            if key not in properties:
                absent = [p for p in properties if p not in args and p not in renamed]
                matches = [p for p in absent if _same_key(key, p)]
                if len(matches) == 1:
                    target = matches[0]
            renamed[target] = value
        return renamed

    def _check_schema(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], bool, list[str]]:
        """V10, V11: validate, coerce at the failing places, validate again (all in one time budget)."""
        validator = self._validators[name]
        coerced = False
        try:
            with client_schema.time_budget():
                for _ in range(COERCION_ROUNDS):
                    errors = client_schema.errors(validator, args)
                    if not errors:
                        return args, coerced, []
                    changed = False
                    for error in errors:
                        changed |= _coerce(args, error, self._tools[name].parameters, validator)
                    if not changed:
                        break
                    coerced = True
                errors = sorted(
                    client_schema.errors(validator, args), key=lambda e: _path_key(e.absolute_path)
                )
        except client_schema.Unchecked as exc:
            return args, coerced, [f"/: {exc}"]
        details = [f"{_pointer(e.absolute_path)}: {e.message}" for e in errors[:MAX_SCHEMA_DETAILS]]
        return args, coerced, details


# ---------------------------------------------------------------- envelope (V1, V2)


def _parse(text: str, allow_close: bool) -> tuple[object, tuple[str, ...]]:
    try:
        return parse_json_lenient(text, allow_close=allow_close)
    except RepairFailed as exc:
        raise _Invalid("bad_json", str(exc)) from None


def _envelope_name(envelope: Mapping[str, Any]) -> object:
    for key in NAME_KEYS:
        if key in envelope and envelope[key] is not None:
            return envelope[key]
    function = envelope.get("function")
    if isinstance(function, str):
        return function
    if isinstance(function, dict):
        return function.get("name")
    return None


def _envelope_arguments(envelope: Mapping[str, Any], allow_close: bool) -> tuple[object, bool]:
    value: object = None
    for key in ARGUMENT_KEYS:
        if key in envelope:
            value = envelope[key]
            break
    else:
        function = envelope.get("function")
        if isinstance(function, dict):
            value = function.get("arguments")
    if isinstance(value, str):
        return _arguments_value(value, allow_close)
    return ({} if value is None else value), False


def _arguments_value(text: str, allow_close: bool) -> tuple[object, bool]:
    if not text.strip():
        return {}, False
    value, passes = _parse(text, allow_close)
    return ({} if value is None else value), bool(passes)


def _same_key(key: str, prop: str) -> bool:
    def squash(k: str) -> str:
        return k.casefold().replace("_", "").replace("-", "")

    if squash(key) == squash(prop):
        return True
    return any(key in group and prop in group for group in ALIAS_GROUPS)


# ---------------------------------------------------------------- coercions (V11)


def _pointer(path: Iterable[object]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def _types(schema: object) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    wanted = schema.get("type")
    if isinstance(wanted, str):
        return {wanted}
    if isinstance(wanted, list):
        return {t for t in wanted if isinstance(t, str)}
    return set()


def _path_key(path: Iterable[object]) -> list[tuple[int, int, str]]:
    """A sort key for instance paths, whose steps mix array indexes and property names."""
    return [(0, step, "") if isinstance(step, int) else (1, 0, str(step)) for step in path]


def _coerce(
    root: dict[str, Any],
    error: jsonschema.ValidationError,
    root_schema: Mapping[str, Any],
    validator: Validator,
) -> bool:
    """Apply one safe coercion at the error's location; True when the value changed.

    The errors of one round were all found before any coercion, so an earlier one may already have
    changed or removed this location: then there is nothing left to do here.
    """
    path = list(error.absolute_path)
    if not path:
        return False
    parent: Any = root
    for step in path[:-1]:
        parent = _child(parent, step)
    key = path[-1]
    value = _child(parent, key)
    if value is _MISSING:
        return False
    schema = error.schema if isinstance(error.schema, dict) else {}
    wanted = _types(schema)
    new: object = _MISSING
    if error.validator == "type":
        new = _coerce_type(value, wanted, schema, validator)
        if (
            new is _MISSING
            and value is None
            and isinstance(parent, dict)
            and not _required(root_schema, path)
        ):
            del parent[key]  # C7
            return True
    elif error.validator == "enum" and isinstance(value, str):
        members = [
            m for m in schema.get("enum", []) if isinstance(m, str) and m.casefold() == value.casefold()
        ]
        if len(members) == 1:  # C8
            new = members[0]
    if new is _MISSING or (new == value and type(new) is type(value)):
        return False
    parent[key] = new
    return True


def _child(container: object, step: object) -> object:
    """`container[step]`, or `_MISSING` when the container no longer has it."""
    if isinstance(container, dict) and step in container:
        return container[step]
    if isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container):
        return container[step]
    return _MISSING


_MISSING: Final[object] = object()


def _coerce_type(value: Any, wanted: set[str], schema: Mapping[str, Any], validator: Validator) -> object:
    numeric = wanted & {"integer", "number"}
    if isinstance(value, str) and numeric and "string" not in wanted and _NUMBER.fullmatch(value):  # C1
        number = json.loads(value)
        if "integer" in wanted and "number" not in wanted:
            if isinstance(number, float) and number.is_integer():
                return int(number)
            return number if isinstance(number, int) else _MISSING
        return number
    if isinstance(value, str) and "boolean" in wanted and "string" not in wanted:  # C2
        lowered = value.casefold()
        if lowered in ("true", "false"):
            return lowered == "true"
    if isinstance(value, bool | int | float) and wanted == {"string"}:  # C3
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer() and "integer" in wanted:  # C4
        return int(value)
    if isinstance(value, str) and wanted & {"object", "array"}:  # C6
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if (isinstance(parsed, dict) and "object" in wanted) or (
            isinstance(parsed, list) and "array" in wanted
        ):
            return parsed
    if "array" in wanted and not isinstance(value, list):  # C5
        items = schema.get("items")
        if items is None or items is True:
            return [value]
        if isinstance(items, dict) and validator.evolve(schema=items).is_valid(value):
            return [value]
    return _MISSING


def _required(root_schema: Mapping[str, Any], path: Sequence[object]) -> bool:
    """Whether the property at `path` is listed in its object's `required`, walking `properties`
    and `items` (and local `$ref`s); a level that cannot be followed counts as required."""
    schema: Any = _followed(root_schema, root_schema)
    for step in path[:-1]:
        if not isinstance(schema, dict):
            return True
        if isinstance(step, int):
            schema = schema.get("items", {})
        else:
            properties = schema.get("properties", {})
            schema = properties.get(step, {}) if isinstance(properties, dict) else None
        schema = _followed(schema, root_schema)
    if not isinstance(schema, dict):
        return True
    required = schema.get("required", [])
    return not isinstance(required, list) or path[-1] in required


def _followed(schema: object, root_schema: Mapping[str, Any]) -> object:
    """`schema`, or what its local `$ref` (`#` or `#/a/b`) points at; None when it cannot be followed."""
    for _ in range(MAX_REF_HOPS):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str):
            return schema
        if ref != "#" and not ref.startswith("#/"):
            return None
        target: object = root_schema
        for raw in ref[2:].split("/") if ref != "#" else ():
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        schema = target
    return None


# ---------------------------------------------------------------- corrective-note reasons (T7)


def reason_text(call: InvalidCall, catalog: Sequence[str], nonce: str, max_bytes: int) -> str:
    """The REASON of one `- call K: REASON` line."""
    kind, detail = call.reasons[0]
    name = call.name or detail
    if kind == "unknown_tool":
        names = ", ".join(sorted(catalog)[:MAX_NAMES_IN_REASON])
        return f'unknown tool "{detail}"; available tools: {names}'
    if kind in ("bad_json", "no_json_body"):
        return f"not valid JSON ({detail or 'no JSON object between the markers'})"
    if kind in ("not_an_object", "arguments_not_object"):
        return "arguments must be a JSON object"
    if kind == "missing_name":
        return 'the call has no "name"'
    if kind == "schema":
        details = "; ".join(d for _, d in call.reasons)
        return f'arguments do not match the schema of "{call.name}": {details}'
    if kind in ("tools_disabled", "not_allowed"):
        return f'tool "{name}" may not be called in this reply'
    if kind == "wrong_marker":
        return f"wrong marker, use exactly <<call:{nonce}>>"
    return f"the call is larger than {max_bytes} bytes; make smaller calls"
