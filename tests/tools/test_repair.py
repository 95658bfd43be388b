"""JSON repair of model-written calls (tool-calls.md §6.2, §12.3): one fixture per pass, and negatives."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.tools.repair import RepairFailed, parse_json_lenient


@pytest.mark.parametrize(
    ("text", "value", "passes"),
    [
        ('\ufeff{"a": 1}', {"a": 1}, ("R1",)),
        ('```json\n{"a": 1}\n```', {"a": 1}, ("R1",)),
        ('json {"a": 1}', {"a": 1}, ("R1",)),
        ('{"a": "line one\nline two\tend"}', {"a": "line one\nline two\tend"}, ("R2",)),
        ('{"a": "she said "hi" to me"}', {"a": 'she said "hi" to me'}, ("R3",)),
        ("{'a': 'it is \"x\"'}", {"a": 'it is "x"'}, ("R3", "R4")),  # R3 escapes, R4 keeps the escapes
        ('{"a": True, "b": None, "c": False}', {"a": True, "b": None, "c": False}, ("R5",)),
        ('{"a": [1, 2,], }', {"a": [1, 2]}, ("R6",)),
        ('{"a": 1} trailing words', {"a": 1}, ("R8",)),
    ],
)
def test_each_pass_repairs_its_fault(text: str, value: object, passes: tuple[str, ...]) -> None:
    assert parse_json_lenient(text) == (value, passes)


def test_r7_closes_what_is_open_only_when_allowed() -> None:
    assert parse_json_lenient('{"a": {"b": [1, 2', allow_close=True) == ({"a": {"b": [1, 2]}}, ("R7",))
    assert parse_json_lenient('{"a": "unterminated', allow_close=True) == ({"a": "unterminated"}, ("R7",))
    # The closing quote goes before the trailing closers that match the open brackets.
    assert parse_json_lenient('{"a": {"b": "xy}}', allow_close=True)[0] == {"a": {"b": "xy"}}
    with pytest.raises(RepairFailed):
        parse_json_lenient('{"a": {"b": [1, 2')  # a truncated body is never completed (V3)


def test_passes_accumulate_in_order() -> None:
    value, passes = parse_json_lenient("```\n{'a': True,}\n```")
    assert value == {"a": True} and passes == ("R1", "R4", "R5", "R6")


def test_lone_surrogates_become_replacement_characters_v4() -> None:
    assert parse_json_lenient('{"a": "x\\ud800y"}') == ({"a": "x\ufffdy"}, ())


@pytest.mark.parametrize("text", ["", "nonsense", "{", '{"a": }', "[1, 2"])
def test_hopeless_text_raises_with_a_reason(text: str) -> None:
    with pytest.raises(RepairFailed) as caught:
        parse_json_lenient(text)
    assert str(caught.value)


def test_nan_is_not_json() -> None:
    with pytest.raises(RepairFailed):
        parse_json_lenient('{"a": NaN}')


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=15,
)


@given(JSON, st.booleans())
def test_valid_json_is_never_changed_v3(value: object, indent: bool) -> None:
    text = json.dumps(value, indent=2 if indent else None, ensure_ascii=False)
    assert parse_json_lenient(text, allow_close=True) == (value, ())


@given(st.text(max_size=80), st.booleans())
def test_any_text_parses_or_raises_repair_failed(text: str, allow_close: bool) -> None:
    with contextlib.suppress(RepairFailed):
        parse_json_lenient(text, allow_close=allow_close)
