"""Client JSON Schemas: what `check()` accepts runs, in linear-time regular expressions and in bounded time."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator

from gateway import client_schema
from gateway.client_schema import SchemaProblem, Unchecked, check, errors, first_error, time_budget, validator

# Patterns that take exponential time on a backtracking engine for the input after them.
EVIL = ["^(a+)+$", "^(a|aa)+$", "^(a|a?)+$", "(x+x+)+y", "^(\\w+\\s?)*$"]
EVIL_INPUT = "a" * 64 + "!"


def evil_schemas(pattern: str) -> list[dict]:
    """Every place a pattern can stand, in the drafts that treat them differently."""
    return [
        {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}},
        {"type": "object", "patternProperties": {pattern: {"type": "integer"}}},
        {"type": "object", "patternProperties": {pattern: {}}, "additionalProperties": False},
        {"type": "object", "propertyNames": {"pattern": pattern}},
        {"type": "object", "$defs": {"p": {"pattern": pattern}}, "properties": {"a": {"$ref": "#/$defs/p"}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "integer"}, {"pattern": pattern}]}}},
        {"type": "object", "properties": {"a": {"type": "array", "items": {"pattern": pattern}}}},
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "definitions": {"p": {"pattern": pattern}},
            "properties": {"a": {"$ref": "#/definitions/p"}},
            "patternProperties": {pattern: {}},
            "additionalProperties": False,
        },
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "patternProperties": {pattern: {"type": "string", "pattern": pattern}},
        },
        {  # jsonschema picks a subschema's class from the `$schema` of what a reference lands on
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": ["object", "string"],
            "pattern": pattern,
            "properties": {"a": {"$ref": "#"}},
        },
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": ["object", "string"],
            "pattern": pattern,
            "additionalProperties": {"$ref": "#"},
        },
    ]


def evil_instances() -> list[object]:
    return [
        {"a": EVIL_INPUT},
        {EVIL_INPUT: EVIL_INPUT},
        {"a": [EVIL_INPUT, EVIL_INPUT]},
    ]


@pytest.fixture
def backtracking_engine_forbidden(monkeypatch):
    """Python's `re` must never see a client pattern: any call with one fails the test at once."""

    def guard(name):
        original = getattr(re, name)

        def call(pattern, *args, **kwargs):
            text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
            if isinstance(text, str) and any(evil in text for evil in EVIL):
                raise AssertionError(f"re.{name} ran a client pattern: {text!r}")
            return original(pattern, *args, **kwargs)

        return call

    for name in ("search", "match", "fullmatch", "compile", "finditer", "findall", "sub", "split"):
        monkeypatch.setattr(re, name, guard(name))


@pytest.mark.parametrize("pattern", EVIL)
def test_evil_patterns_run_in_linear_time_wherever_they_stand(pattern, backtracking_engine_forbidden):
    for schema in evil_schemas(pattern):
        check(schema, object_root=True)
        for instance in evil_instances():
            found = errors(validator(schema), instance)  # a backtracking engine would not return
            assert all(error.message for error in found)


def test_the_issue_case_takes_no_time_at_any_length():
    schema = check({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}})
    with time_budget(1.0):  # the shared budget would turn a slow check into Unchecked, not a hang
        for length in (27, 1_000, 1_000_000):
            error = first_error(validator(schema), {"a": "a" * length + "!"})
            assert error is not None and error.validator == "pattern"
            assert len(error.message) < 200  # a 1 MB value is not repeated in the message


# ---------------------------------------------------------------- what check() refuses, and where


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"patternProperties": {"(?<!x)y": {}}}, "/patternProperties/(?<!x)y"),
        ({"patternProperties": {"a/b(?=c)": {}}}, "/patternProperties/a~1b(?=c)"),
        (
            {"$schema": "http://json-schema.org/draft-04/schema#", "patternProperties": {"(?!x)": {}}},
            "/patternProperties/(?!x)",
        ),
        ({"$ref": "#"}, "/"),
        ({"allOf": [{"$ref": "#"}]}, "/"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}}}, "/$defs/"),
        ({"$defs": {"a": {"if": {"$ref": "#/$defs/a"}}}}, "/$defs/a"),
        ({"dependentSchemas": {"x": {"$ref": "#"}}}, "/"),
        ({"$dynamicAnchor": "m", "anyOf": [{"$dynamicRef": "#m"}]}, "/"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": {"a": {"$ref": "#/definitions/a"}},
            },
            "/definitions/a",
        ),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "/properties/a/$ref"),
        ({"properties": {"a": {"$ref": "#missing"}}}, "/properties/a/$ref"),
        ({"properties": {"a": {"$ref": "#/required"}}, "required": ["a"]}, "/properties/a/$ref"),
        ({"properties": {"a": {"$ref": "#/properties/a/type"}}}, "/properties/a/$ref"),
        ({"properties": {"a": {"$ref": "https://example.com/s.json"}}}, "/properties/a/$ref"),
        ({"default": {"type": 5}, "properties": {"a": {"$ref": "#/default"}}}, "/default/type"),
        ({"unevaluatedProperties": False, "patternProperties": {"x": {}}}, "/unevaluatedProperties"),
        ({"properties": {"a": {"minLength": -1}}}, "/properties/a/minLength"),
        ({"$schema": 5}, "/$schema"),
        (
            {"properties": {"a": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}},
            "/properties/a/$schema",
        ),
        ({"properties": {"a": {"type": "string"}, "b": {"$schema": "x"}}}, "/properties/b/$schema"),
        ({"$schema": "http://json-schema.org/draft-03/schema#"}, "/$schema"),
    ],
)
def test_a_schema_that_cannot_run_is_refused_naming_the_place(schema, where):
    with pytest.raises(SchemaProblem) as info:
        check(schema)
    assert info.value.where.startswith(where), info.value


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}},
        {"$defs": {"n": {"properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
        {"properties": {"a": {"$ref": "#a"}}, "$defs": {"x": {"$anchor": "a", "type": "string"}}},
        {"$id": "https://example.com/root", "properties": {"a": {"$ref": "#/$defs/s"}}, "$defs": {"s": {}}},
        {"properties": {"a": {"$ref": "#/$defs/a~0b~1c"}}, "$defs": {"a~b/c": {"type": "string"}}},
        {"properties": {"a": {"pattern": "^[\\p{L}\\d _-]{1,64}$"}}, "patternProperties": {"^x-": {}}},
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"a": {}},
            "$ref": "#/definitions/a",
        },
        {"allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}], "$defs": {"a": {"type": "object"}}},
    ],
)
def test_recursive_and_shared_schemas_that_descend_are_accepted(schema):
    assert check(schema) is schema
    assert errors(validator(schema), {"kids": [{"kids": []}], "next": {"next": {}}, "a": "x"}) is not None


def test_object_root_is_required_only_where_asked():
    check({"type": "string"})
    check({"type": ["object", "null"]}, object_root=True)
    check({"properties": {}}, object_root=True)
    with pytest.raises(SchemaProblem) as info:
        check({"type": "integer"}, object_root=True)
    assert info.value.where == "/type"


def test_a_property_named_like_a_keyword_is_only_a_name():
    schema = {"properties": {"$schema": {"type": "string"}, "$ref": {"type": "integer"}}}
    assert check(schema) is schema
    assert [e.validator for e in errors(validator(schema), {"$schema": 1, "$ref": 1})] == ["type"]


def test_a_hostile_schema_is_refused_within_the_budget(monkeypatch):
    """Thousands of invalid subschemas: the first error is enough (ranking them took seconds)."""
    schema = {"type": "object", "properties": {f"k{i}": i for i in range(5_000)}}
    with pytest.raises(SchemaProblem) as info:
        check(schema)
    assert info.value.where.startswith("/properties/k")


def test_a_request_budget_spent_refuses_the_next_schema():
    with pytest.raises(SchemaProblem, match="took too long"), time_budget(0.0):
        check({"properties": {"fresh": {"type": "string", "title": "never seen before"}}})


def test_the_checked_cache_is_bounded_and_skips_known_schemas(monkeypatch):
    monkeypatch.setattr(client_schema, "CHECKED_MAX", 4)
    monkeypatch.setattr(client_schema, "_CHECKED", client_schema.OrderedDict())
    calls = []
    real = client_schema._check_unseen
    monkeypatch.setattr(client_schema, "_check_unseen", lambda s: (calls.append(s), real(s)))
    for i in range(10):
        check({"properties": {f"p{i}": {"type": "string"}}})
    assert len(client_schema._CHECKED) == 4 and len(calls) == 10
    check({"properties": {"p9": {"type": "string"}}})
    assert len(calls) == 10  # known: not walked again
    check({"properties": {"p0": {"type": "string"}}})
    assert len(calls) == 11  # pushed out: walked again


# ---------------------------------------------------------------- bounded time


def test_an_exponential_schema_is_cut_by_the_time_budget():
    schema = check({"allOf": [{"items": {"$ref": "#"}}, {"items": {"$ref": "#"}}], "type": "array"})
    value: list = []
    for _ in range(40):
        value = [value]  # 2^40 keyword runs without the budget
    with pytest.raises(Unchecked), time_budget(0.1):
        errors(validator(schema), value)


def test_unique_items_is_linear_and_within_the_budget():
    schema = check({"type": "array", "uniqueItems": True})
    assert errors(validator(schema), [{"a": i} for i in range(20_000)]) == []
    with pytest.raises(Unchecked), time_budget(0.0):
        errors(validator(schema), [{"a": i} for i in range(20_000)])


def test_a_value_too_deep_to_walk_is_unchecked_not_a_crash():
    schema = check({"$defs": {"n": {"items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"})
    value: list = []
    for _ in range(5_000):
        value = [value]
    with pytest.raises(Unchecked):
        errors(validator(schema), value)


# ---------------------------------------------------------------- the safe keywords agree with jsonschema's

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.text("ab1", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text("ab1_", max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
SAFE_PATTERNS = ["^a", "b$", "^[ab]+$", "a|1", "^$", "^_", "[0-9]", "ab?", "."]
keyword_schemas = st.fixed_dictionaries(
    {},
    optional={
        "pattern": st.sampled_from(SAFE_PATTERNS),
        "patternProperties": st.dictionaries(st.sampled_from(SAFE_PATTERNS), st.booleans(), max_size=3),
        "properties": st.dictionaries(st.text("ab", max_size=2), st.booleans(), max_size=2),
        "additionalProperties": st.booleans() | st.just({"type": "integer"}),
        "uniqueItems": st.booleans(),
    },
)


@given(schema=keyword_schemas, value=json_values)
@example(schema={"uniqueItems": True}, value=[1, 1.0])
@example(schema={"uniqueItems": True}, value=[True, 1])
@example(schema={"uniqueItems": True}, value=[{"a": [1, {}]}, {"a": [1, {}]}])
@example(schema={"uniqueItems": True}, value=[[1], [True]])
def test_the_safe_keywords_judge_like_jsonschema(schema, value):
    for stock in (Draft202012Validator, Draft7Validator):
        safe = validator({**schema, "$schema": stock.META_SCHEMA["$schema"]})
        expected = stock(schema).is_valid(value)
        assert (errors(safe, value) == []) == expected


KEYWORDS = [
    "$ref", "$defs", "definitions", "$anchor", "$dynamicRef", "$dynamicAnchor", "$id", "type", "properties",
    "required", "items", "prefixItems", "additionalProperties", "pattern", "patternProperties", "enum", "const",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies",
    "unevaluatedProperties", "unevaluatedItems", "propertyNames", "contains", "uniqueItems", "minLength",
]  # fmt: skip
REFS = ["#", "#/$defs/a", "#/$defs/b", "#/properties/a", "#/items", "#/allOf/0", "#a", "#/definitions/a"]
schema_values = st.recursive(
    json_values | st.sampled_from(REFS) | st.sampled_from(["object", "array", "string", "^a", "(a+)+"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYWORDS) | st.sampled_from(["a", "b"]), inner, max_size=4)
    ),
    max_leaves=16,
)


@given(schema=st.dictionaries(st.sampled_from(KEYWORDS), schema_values, max_size=5), value=json_values)
@example(schema={"$defs": {"a": {"items": {"$ref": "#"}}}, "$ref": "#/$defs/a"}, value=[[[]]])
@example(schema={"$dynamicAnchor": "a", "items": {"$dynamicRef": "#a"}}, value=[[1]])
def test_an_accepted_schema_always_runs(schema, value):
    """Whatever `check()` accepts validates any value to an answer or `Unchecked`, nothing else."""
    try:
        check(schema)
    except SchemaProblem as exc:
        assert exc.reason and exc.where.startswith("/")
        return
    try:
        with time_budget(0.5):
            errors(validator(schema), value)
            first_error(validator(schema), value)
    except Unchecked:
        pass


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {"$ref": "#/$defs/missing"}}},
        {"patternProperties": {"(?=x)": {}}},
    ],
)
def test_a_schema_that_skipped_the_check_is_unchecked_not_a_crash(schema):
    with pytest.raises(Unchecked):
        errors(validator(schema), {"a": "x"})


ZOD_EMAIL = (
    r"^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
)


@pytest.mark.parametrize("pattern", [ZOD_EMAIL, "(a)\\1", "(?<=x)y"])
def test_a_pattern_re2_cannot_run_is_accepted_and_constrains_nothing(pattern):
    # zod 4 writes a look-ahead pattern for every z.email(): refusing it would refuse real tools.
    schema = check({"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}})
    assert first_error(validator(schema), {"a": "anything at all"}) is None
    assert first_error(validator(schema), {"a": 3}).validator == "type"  # the rest still applies
