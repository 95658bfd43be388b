"""Hostile request documents for any JSON API: every field of a sample body, at any depth, replaced.

`mutations(sample)` draws one change to a valid sample body: the value at some path (every key
and array element of the sample, however deep) replaced by a hostile value of any JSON type,
removed, or given an unknown sibling. Dialects reuse it with their own route and sample body
(see `tests/test_hostile_http.py`). `encode()` writes documents the way hostile clients do:
numbers no float can hold, NaN, lone surrogates (escaped, or raw as CESU-8 bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Raw:
    """A JSON literal written as is: numbers json.dumps cannot spell, NaN, Infinity."""

    text: str


def dump(value: object, ascii_only: bool) -> str:
    """JSON text; with ascii_only=False, lone surrogates are written raw (CESU-8, not UTF-8).

    Iterative, so documents nested thousands deep can be written too.
    """
    out: list[str] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif isinstance(item, Raw):
            out.append(item.text)
        elif isinstance(item, dict):
            parts: list[object] = [_Text("{")]
            for i, (key, child) in enumerate(item.items()):
                parts += [_Text(("," if i else "") + json.dumps(key, ensure_ascii=ascii_only) + ":"), child]
            stack.extend(reversed([*parts, _Text("}")]))
        elif isinstance(item, list):
            parts = [_Text("[")]
            for i, child in enumerate(item):
                parts += [_Text(","), child] if i else [child]
            stack.extend(reversed([*parts, _Text("]")]))
        else:
            out.append(json.dumps(item, ensure_ascii=ascii_only, allow_nan=True))
    return "".join(out)


class _Text(str):
    """Punctuation already written as JSON."""


def encode(value: object, ascii_only: bool = True) -> bytes:
    return dump(value, ascii_only).encode("utf-8", "surrogatepass")


def field_paths(document: object) -> list[Path]:
    """The path of every value inside `document` (not the document itself), parents first."""
    found: list[Path] = []
    stack: list[tuple[object, Path]] = [(document, ())]
    while stack:
        node, path = stack.pop(0)
        children: list[tuple[str | int, object]] = []
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        for key, child in children:
            found.append((*path, key))
            stack.append((child, (*path, key)))
    return found


def nested(depth: int, leaf: object = 0, *, key: str | None = None) -> object:
    value = leaf
    for _ in range(depth):
        value = {key: value} if key is not None else [value]
    return value


HUGE_TEXT = 300_000
NUMBERS = [
    0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, 1e308, -1e308, 5e-324, -0.0, 0.5,
    Raw("1e400"), Raw("-1e400"), Raw("1" * 400), Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1E-400"),
]  # fmt: skip
STRINGS = [
    "", " ", "NaN", "Infinity", "-0", "1e999", "0x10", "null", "true", "[]", "{}", "\x00", "\u202e\u2066",
    "\ud800", "\udfff", "a\ud83d", "\ufeff", "%0a\r\nX-Injected: 1", "<script>alert(1)</script>", "../../etc/passwd",
    "x" * HUGE_TEXT, "\U0001f600" * (HUGE_TEXT // 4), "\n" * 10_000, "é" * 70_000,
    "^(a+)+$", "(a|aa)+!", "^(\\w+\\s?)*$", "(?=a)", "\\1", "[", "#", "#/", "#/$defs", "object", "string",
]  # fmt: skip
CONTAINERS = [
    [], {}, [None], {"": None}, [[]], {"unknown": {}},
    nested(100), nested(100, key="a"), nested(2_000), nested(2_000, key="a"),
    list(range(20_000)), {f"k{i}": i for i in range(5_000)}, ["x"] * 5_000,
]  # fmt: skip

hostile_values = st.one_of(
    st.sampled_from([None, True, False]),
    st.sampled_from(NUMBERS),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.sampled_from(STRINGS),
    st.text(max_size=20),
    st.sampled_from(CONTAINERS),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
        max_leaves=10,
    ),
)


def replaced(document: Any, path: Path, change: str, value: object) -> Any:
    """A copy of `document` with the value at `path` replaced or removed, or a sibling added."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(document) if isinstance(document, dict) else list(document)
    if rest:
        copy[head] = replaced(document[head], rest, change, value)  # type: ignore[index]
    elif change == "replace":
        copy[head] = value  # type: ignore[index]
    elif change == "remove":
        del copy[head]  # type: ignore[arg-type]
    elif isinstance(copy, dict):
        copy["x-unknown-field"] = value
    else:
        copy.append(value)
    return copy


@dataclass(frozen=True)
class Mutation:
    path: Path
    change: str  # replace | remove | add
    value: object
    document: Any

    def describe(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path).lstrip(".")
        return f"{self.change} {where}"


def mutations(sample: Any) -> st.SearchStrategy[Mutation]:
    """One hostile change to `sample` at a path drawn from all of its fields."""
    paths = field_paths(sample)

    @st.composite
    def draw(data: st.DrawFn) -> Mutation:
        path = data(st.sampled_from(paths))
        change = data(st.sampled_from(["replace", "replace", "replace", "remove", "add"]))
        value = data(hostile_values)
        return Mutation(path, change, value, replaced(sample, path, change, value))

    return draw()
