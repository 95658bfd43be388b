"""JSON Schemas written by clients (tool `parameters`, `response_format`): checked once, run safely.

A client's schema is code the gateway runs against model output, so it is held to three rules:

- `check(schema)` accepts it only when every part of it can run: an object, at most
  `MAX_DEPTH` levels and `MAX_BYTES` of JSON, valid for its draft (draft-04 to 2020-12), every
  `$ref` local and pointing at a schema inside it, no reference cycle that never descends into the
  value (it would recurse until the interpreter gives up), and every `patternProperties` key
  compilable by RE2. A `pattern` RE2 cannot run (look-around, backreferences: zod 4 writes one
  for every `z.email()`) is accepted and not checked, if it is a regular expression at all; the client's own validation still sees
  the value. Otherwise `SchemaProblem` says what
  and where (a JSON pointer). Schemas that passed are remembered (agents send the same catalog
  every turn).
- `validator(schema)` runs `pattern`, `patternProperties` and `additionalProperties` on RE2,
  which matches in time linear in the input whatever the pattern (no catastrophic backtracking),
  and `uniqueItems` in linear time. `unevaluatedProperties` would consult `patternProperties`
  through the backtracking engine, so `check` refuses a schema that has both.
- `time_budget()` bounds a whole check: every keyword looks at the clock, and past the budget
  (or on a value nested too deeply to walk) `Unchecked` is raised instead of an answer. Checking
  a schema itself runs in a budget too (a schema that takes longer is refused), and nested
  budgets keep the earliest end, so a caller can bound the schemas of a whole request.

Pure: no I/O. Callers run checks of model output in a worker thread (see `chat/turn.py`,
`chat/response_format.py`), so even a slow check never holds the event loop.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final, Protocol

import orjson
import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
from jsonschema import Draft3Validator, Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

MAX_DEPTH: Final = 32
MAX_BYTES: Final = 64 * 1024
BUDGET_SECONDS: Final = 2.0
CHECKED_MAX: Final = 1024
PATTERNS_MAX: Final = 256
REGEX_MEMORY: Final = 2 * 1024 * 1024  # RE2's own memory budget per compiled pattern
SHORT: Final = 80
REF_KEYS: Final = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose subschemas apply to the same value as their parent (a cycle through these and
# references never ends); every other applicator descends into a part of the value.
IN_PLACE_LISTS: Final = ("allOf", "anyOf", "oneOf")
IN_PLACE_VALUES: Final = ("not", "if", "then", "else")
IN_PLACE_MAPS: Final = ("dependentSchemas", "dependencies")


class SchemaProblem(ValueError):
    """A client schema the gateway will not run; `where` is a JSON pointer inside it."""

    def __init__(self, reason: str, where: str = "") -> None:
        super().__init__(f"{reason} (at {where or '/'})")
        self.reason = reason
        self.where = where or "/"


class Unchecked(Exception):
    """A value could not be checked within the time budget, or is nested too deeply to walk."""


# ---------------------------------------------------------------- regular expressions (RE2)


class _Regex(Protocol):
    def search(self, text: str) -> object | None: ...


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors come back as exceptions; RE2 would also print them
    options.max_mem = REGEX_MEMORY
    return options


_OPTIONS: Final = _options()


@functools.lru_cache(maxsize=PATTERNS_MAX)
def compile_pattern(pattern: str) -> _Regex:
    """`pattern` compiled by RE2; `re2.error` when RE2 cannot run it."""
    compiled: _Regex = re2.compile(pattern, _OPTIONS)
    return compiled


@functools.lru_cache(maxsize=PATTERNS_MAX)
def pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot run `pattern`, or None when it can."""
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return f"{reason}; patterns run on a linear-time engine (RE2), without look-around or backreferences"
    return None


def _is_regex(pattern: str) -> bool:
    """Whether `pattern` is a regular expression at all (compiling it only; nothing is matched)."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


# Meta-schemas check no formats: the walk of `check()` compiles every pattern itself and says where.
_META_FORMATS: Final = FormatChecker(formats=())


# ---------------------------------------------------------------- the time budget

_DEADLINE: Final[ContextVar[float | None]] = ContextVar("schema_deadline", default=None)


@contextlib.contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Checks inside must end within `seconds` (default `BUDGET_SECONDS`; a budget already running
    keeps its earlier end).

    Raises `Unchecked` when they do not, when a value is too deeply nested to walk, or when the
    schema has a reference that cannot be resolved or a pattern RE2 cannot run (`check()`
    refuses both; nothing is ever fetched or run on another engine).
    """
    end = time.monotonic() + (BUDGET_SECONDS if seconds is None else seconds)
    current = _DEADLINE.get()
    token = _DEADLINE.set(end if current is None else min(current, end))
    try:
        yield
    except RecursionError:
        raise Unchecked("it is nested too deeply to be checked") from None
    except Unresolvable as exc:
        raise Unchecked(f"the schema has a reference that cannot be resolved ({exc})") from None
    except re2.error:
        raise Unchecked("the schema has a regular expression RE2 cannot run") from None
    finally:
        _DEADLINE.reset(token)


def _tick() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise Unchecked("checking it took too long")


# ---------------------------------------------------------------- keywords run safely


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def _pattern(validator: Any, pattern: str, instance: object, schema: object) -> Iterator[ValidationError]:
    if not isinstance(instance, str) or pattern_problem(pattern) is not None:
        return  # a pattern RE2 cannot run constrains nothing here (see `check`)
    if compile_pattern(pattern).search(instance) is None:
        yield ValidationError(f"{_short(instance)} does not match {_short(pattern)}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, object], instance: object, schema: object
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for pattern, subschema in patterns.items():
        regex = compile_pattern(pattern)
        for key, value in instance.items():
            _tick()
            if regex.search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _declared(key: str, schema: Mapping[str, Any]) -> bool:
    properties = schema.get("properties")
    if isinstance(properties, dict) and key in properties:
        return True
    patterns = schema.get("patternProperties")
    if not isinstance(patterns, dict):
        return False
    for pattern in patterns:
        _tick()
        if compile_pattern(pattern).search(key) is not None:
            return True
    return False


def _additional_properties(
    validator: Any, extra: object, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    extras = []
    for key in instance:
        _tick()
        if not _declared(key, schema):
            extras.append(key)
    if isinstance(extra, dict):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False and extras:
        names = ", ".join(_short(key) for key in sorted(extras)[:5])
        more = f" and {len(extras) - 5} more" if len(extras) > 5 else ""
        yield ValidationError(f"Additional properties are not allowed ({names}{more} unexpected)")


def _canonical(value: object) -> object:
    """A hashable form that is equal exactly when JSON Schema calls two values equal."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _canonical(item)) for key, item in value.items()))
    return ("v", value)  # strings, numbers (1 == 1.0) and null


def _unique_items(
    validator: Any, unique: object, instance: object, schema: object
) -> Iterator[ValidationError]:
    if unique is not True or not isinstance(instance, list):
        return
    seen: set[object] = set()
    for item in instance:
        _tick()
        key = _canonical(item)
        if key in seen:
            yield ValidationError(f"{_short(instance)} has non-unique elements")
            return
        seen.add(key)


_SAFE_KEYWORDS: Final = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
}


def _timed(keyword: Any) -> Any:
    def run(validator: Any, value: object, instance: object, schema: object) -> Any:
        _tick()
        return keyword(validator, value, instance, schema)

    return run


_SAFE_CLASSES: dict[type[Validator], type[Validator]] = {}


def _safe_class(cls: type[Validator]) -> type[Validator]:
    """`cls` with the RE2 keywords and a clock check before every keyword."""
    safe = _SAFE_CLASSES.get(cls)
    if safe is None:
        keywords = {**cls.VALIDATORS, **_SAFE_KEYWORDS}
        timed = {name: _timed(run) for name, run in keywords.items()}
        safe = validators.extend(cls, timed)  # type: ignore[no-untyped-call]  # untyped in jsonschema
        _SAFE_CLASSES[cls] = safe
    return safe


def validator(schema: Mapping[str, Any]) -> Validator:
    """A validator for a schema `check()` accepted; references resolve inside it, never elsewhere.

    jsonschema picks the class of every subschema it enters from that subschema's `$schema`, which
    would be the stock class, with backtracking patterns: so the root's `$schema` only chooses the
    draft here and is left out of what is validated, and `check()` refuses `$schema` below the root.
    """
    cls = validators.validator_for(schema, default=Draft202012Validator)
    body = {key: value for key, value in schema.items() if key != "$schema"}
    return _safe_class(cls)(body, registry=Registry())


def errors(checker: Validator, instance: Any) -> list[ValidationError]:
    """Every error of `instance`, within the time budget (`Unchecked` past it)."""
    with time_budget():
        return list(checker.iter_errors(instance))


def first_error(checker: Validator, instance: Any) -> ValidationError | None:
    """The most relevant error of `instance` (None when valid), within the time budget."""
    with time_budget():
        error: ValidationError | None = best_match(checker.iter_errors(instance))
        return error


# ---------------------------------------------------------------- checking a schema once

_CHECKED: OrderedDict[bytes, None] = OrderedDict()
_CHECKED_LOCK: Final = threading.Lock()


def check(schema: object, *, object_root: bool = False) -> dict[str, Any]:
    """`schema` when it is a usable JSON Schema, else `SchemaProblem`.

    With `object_root`, a `type` at the root must allow an object (a function's parameters).
    """
    if not isinstance(schema, dict):
        raise SchemaProblem("it must be a JSON object")
    if _depth(schema) > MAX_DEPTH:
        raise SchemaProblem(f"it is nested deeper than {MAX_DEPTH} levels")
    if object_root:
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if kind is not None and "object" not in kinds:
            raise SchemaProblem(f'it must describe an object ("type": "object"), not {_short(kind)}', "/type")
    try:
        key = orjson.dumps(schema)
    except orjson.JSONEncodeError as exc:
        raise SchemaProblem(str(exc)) from None
    if len(key) > MAX_BYTES:
        raise SchemaProblem(f"it is {len(key)} bytes of JSON; at most {MAX_BYTES} are allowed")
    with _CHECKED_LOCK:
        if key in _CHECKED:
            _CHECKED.move_to_end(key)
            return schema
    try:
        with time_budget():
            _tick()  # a request's budget for all its schemas may be spent already
            _check_unseen(schema)
    except Unchecked as exc:
        raise SchemaProblem(f"it could not be checked: {exc}") from None
    with _CHECKED_LOCK:
        _CHECKED[key] = None
        if len(_CHECKED) > CHECKED_MAX:
            _CHECKED.popitem(last=False)
    return schema


def _check_unseen(schema: dict[str, Any]) -> None:
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        raise SchemaProblem("'$schema' must be a string", "/$schema")
    cls = validators.validator_for(schema, default=Draft202012Validator)
    if cls is Draft3Validator:
        raise SchemaProblem("draft-03 schemas are not supported; use draft-04 or later", "/$schema")
    _meta_check(cls, schema, "")
    _Walk(cls, schema).run()


def _meta_check(cls: type[Validator], schema: Any, where: str) -> None:
    """`schema` against its draft's meta-schema, with regular expressions checked by RE2."""
    meta = validators.validator_for(cls.META_SCHEMA, default=cls)
    # The first error, not the best: ranking thousands of errors of a hostile schema takes seconds.
    error = next(meta(cls.META_SCHEMA, format_checker=_META_FORMATS).iter_errors(schema), None)
    if error is not None:
        raise SchemaProblem(error.message[:300], where + _pointer(error.absolute_path))


class _Walk:
    """Every subschema the validator can reach, structurally and through references."""

    def __init__(self, cls: type[Validator], schema: dict[str, Any]) -> None:
        self.cls = cls
        self.spec = specification_with(str(cls.META_SCHEMA.get("$schema", "")), default=DRAFT202012)
        self.root = self.spec.create_resource(schema)
        self.pointers = _pointers(schema)
        self.nodes: dict[int, dict[str, Any]] = {}
        self.same_value: dict[int, list[int]] = {}  # schema -> schemas applied to the same value
        self.anchors: dict[str, list[int]] = {}  # $dynamicAnchor -> schemas
        self.recursive: list[int] = [id(schema)]  # the root and every `$recursiveAnchor: true`
        self.pattern_properties: str | None = None
        self.unevaluated_properties: str | None = None

    def where(self, node: object) -> str:
        return self.pointers.get(id(node), "")

    def run(self) -> None:
        structural = {id(r.contents) for r in _resources(self.root)}
        stack: list[tuple[Resource[Any], Any]] = [(self.root, Registry().resolver_with_root(self.root))]
        references: list[tuple[dict[str, Any], str, Any]] = []
        while stack:
            resource, resolver = stack.pop()
            node = resource.contents
            if not isinstance(node, dict) or id(node) in self.nodes:
                continue
            self.nodes[id(node)] = node
            self._look_at(node)
            for key in REF_KEYS:
                ref = node.get(key)
                if isinstance(ref, str):
                    target, target_resolver = self._resolve(ref, key, node, resolver)
                    references.append((node, key, target))
                    if isinstance(target, dict):
                        if id(target) not in structural:
                            _meta_check(self.cls, target, self.where(target))
                        stack.append((self.spec.create_resource(target), target_resolver))
            for sub in resource.subresources():
                stack.append((sub, resolver.in_subresource(sub)))
        for node, key, target in references:
            self._link(node, key, target)
        if self.pattern_properties is not None and self.unevaluated_properties is not None:
            raise SchemaProblem(
                "unevaluatedProperties cannot be checked in a schema that also uses patternProperties "
                f"(at {self.pattern_properties or '/'}); drop one of them",
                self.unevaluated_properties,
            )
        self._refuse_cycles()

    def _look_at(self, node: dict[str, Any]) -> None:
        where = self.where(node)
        if "$schema" in node and node is not self.root.contents:
            raise SchemaProblem("'$schema' is allowed only at the root of the schema", f"{where}/$schema")
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict):
            for key in patterns:
                self._regex(key, f"{where}/patternProperties/{_escape(key)}")
            if patterns and self.pattern_properties is None:
                self.pattern_properties = f"{where}/patternProperties"
        if "unevaluatedProperties" in node and self.unevaluated_properties is None:
            self.unevaluated_properties = f"{where}/unevaluatedProperties"
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern_problem(pattern) is not None and not _is_regex(pattern):
            raise SchemaProblem(f"{_short(pattern)} is not a regular expression", f"{where}/pattern")
        anchor = node.get("$dynamicAnchor")
        if isinstance(anchor, str):
            self.anchors.setdefault(anchor, []).append(id(node))
        if node.get("$recursiveAnchor") is True:
            self.recursive.append(id(node))
        children: list[object] = []
        for key in IN_PLACE_LISTS:
            if isinstance(node.get(key), list):
                children.extend(node[key])
        children.extend(node.get(key) for key in IN_PLACE_VALUES)
        for key in IN_PLACE_MAPS:
            if isinstance(node.get(key), dict):
                children.extend(node[key].values())
        self.same_value[id(node)] = [id(child) for child in children if isinstance(child, dict)]

    def _regex(self, pattern: str, where: str) -> None:
        problem = pattern_problem(pattern)
        if problem is not None:
            raise SchemaProblem(f"the regular expression {_short(pattern)} cannot be used: {problem}", where)

    def _resolve(self, ref: str, key: str, node: dict[str, Any], resolver: Any) -> tuple[object, Any]:
        where = f"{self.where(node)}/{key}"
        if not ref.startswith("#"):
            raise SchemaProblem(
                f"the reference {_short(ref)} is not local; only '#…' references are allowed", where
            )
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable:
            raise SchemaProblem(f"the reference {_short(ref)} points nowhere in the schema", where) from None
        if not isinstance(resolved.contents, dict | bool):
            raise SchemaProblem(f"the reference {_short(ref)} does not point at a schema", where)
        return resolved.contents, resolved.resolver

    def _link(self, node: dict[str, Any], key: str, target: object) -> None:
        edges = self.same_value[id(node)]
        if isinstance(target, dict):
            edges.append(id(target))
        if key == "$dynamicRef":  # may land on any schema with the same dynamic anchor
            _, _, name = str(node[key]).partition("#")
            edges.extend(self.anchors.get(name, []))
        elif key == "$recursiveRef":
            edges.extend(self.recursive)

    def _refuse_cycles(self) -> None:
        state: dict[int, int] = {}  # 1: on the current path, 2: done
        for start in self.same_value:
            if state.get(start):
                continue
            path: list[tuple[int, Iterator[int]]] = [(start, iter(self.same_value.get(start, ())))]
            state[start] = 1
            while path:
                node, successors = path[-1]
                following = next(successors, None)
                if following is None:
                    state[node] = 2
                    path.pop()
                elif state.get(following) == 1:
                    raise SchemaProblem(
                        "the schema refers back to itself without descending into the value, so checking "
                        "a value would never end",
                        self.where(self.nodes.get(following)),
                    )
                elif not state.get(following):
                    state[following] = 1
                    path.append((following, iter(self.same_value.get(following, ()))))


def _resources(root: Resource[Any]) -> Iterator[Resource[Any]]:
    stack = [root]
    while stack:
        resource = stack.pop()
        yield resource
        stack.extend(resource.subresources())


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[object]) -> str:
    return "".join(f"/{_escape(str(part))}" for part in path)


def _pointers(schema: object) -> dict[int, str]:
    """The JSON pointer of every object inside `schema`, by identity."""
    found: dict[int, str] = {}
    stack: list[tuple[object, str]] = [(schema, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            found.setdefault(id(node), where)
            stack.extend((value, f"{where}/{_escape(str(key))}") for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, f"{where}/{i}") for i, value in enumerate(node))
    return found


def _depth(value: object) -> int:
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest
