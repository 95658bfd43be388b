"""Validation of raw calls against the catalog (tool-calls.md §6, §12.3)."""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway import client_schema
from gateway.neutral.model import ToolChoice, ToolSpec
from gateway.neutral.toolcalls import (
    NO_JSON_BODY,
    TOO_LARGE,
    UNBALANCED,
    WRONG_MARKER,
    InvalidCall,
    RawCall,
    ValidCall,
)
from gateway.tools.validate import CallValidator, new_call_id, reason_text


def spec(name: str, schema: dict[str, object], *, strict: bool = False) -> ToolSpec:
    return ToolSpec(name, "", schema, json.dumps(schema, separators=(",", ":")), strict)


EDIT = spec(
    "edit_file",
    {
        "type": "object",
        "properties": {
            "file_path": {"type": "string"},
            "old_string": {"type": "string"},
            "new_string": {"type": "string"},
            "line": {"type": "integer"},
            "ratio": {"type": "number"},
            "dry_run": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "options": {"type": "object"},
            "mode": {"enum": ["Fast", "Careful", "careful"]},
            "label": {"type": "string"},
            "note": {"type": "string"},
        },
        "required": ["file_path"],
        "additionalProperties": False,
    },
)
READ = spec("read_file", {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})
TOOLS = (EDIT, READ)
AUTO = ToolChoice()


def check(
    body: object,
    *,
    tools: tuple[ToolSpec, ...] = TOOLS,
    choice: ToolChoice = AUTO,
    flags: frozenset[str] = frozenset(),
) -> ValidCall | InvalidCall:
    text = body if isinstance(body, str) else json.dumps(body)
    return CallValidator(tools, choice).validate(RawCall(body=text, flags=flags))


def args(result: ValidCall | InvalidCall) -> dict[str, object]:
    assert isinstance(result, ValidCall), result
    return json.loads(result.arguments)


def kinds(result: ValidCall | InvalidCall) -> list[str]:
    assert isinstance(result, InvalidCall), result
    return [kind for kind, _ in result.reasons]


# ---------------------------------------------------------------- envelope (V1, V2)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "read_file", "arguments": {"path": "a"}},
        {"tool": "read_file", "parameters": {"path": "a"}},
        {"tool_name": "read_file", "input": {"path": "a"}},
        {"function": "read_file", "args": {"path": "a"}},
        {"function": {"name": "read_file", "arguments": '{"path": "a"}'}},
        {"name": "read_file", "arguments": '{"path": "a"}', "id": "call_from_model"},
    ],
)
def test_envelope_variants_v2(body: object) -> None:
    result = check(body)
    assert isinstance(result, ValidCall) and result.name == "read_file" and args(result) == {"path": "a"}


def test_absent_or_null_arguments_mean_an_empty_object() -> None:
    tools = (spec("now", {"type": "object", "properties": {}}),)
    assert args(check({"name": "now"}, tools=tools)) == {}
    assert args(check({"name": "now", "arguments": None}, tools=tools)) == {}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("[1, 2]", "not_an_object"),
        ("not json at all", "bad_json"),
        ({"arguments": {}}, "missing_name"),
        ({"name": "read_file", "arguments": [1]}, "arguments_not_object"),
        ({"name": "delete_everything", "arguments": {}}, "unknown_tool"),
    ],
)
def test_envelope_failures(body: object, kind: str) -> None:
    assert kinds(check(body)) == [kind]


@pytest.mark.parametrize(
    ("flag", "kind"),
    [(WRONG_MARKER, "wrong_marker"), (NO_JSON_BODY, "no_json_body"), (TOO_LARGE, "too_large")],
)
def test_parser_flags_make_a_call_invalid(flag: str, kind: str) -> None:
    assert kinds(check({"name": "read_file", "arguments": {"path": "a"}}, flags=frozenset({flag}))) == [kind]


def test_an_unbalanced_body_may_be_closed_r7() -> None:
    body = '{"name":"read_file","arguments":{"path":"a"'
    assert args(check(body, flags=frozenset({UNBALANCED}))) == {"path": "a"}
    assert kinds(check(body)) == ["bad_json"]


def test_repaired_calls_are_marked() -> None:
    result = check("{'name': 'read_file', 'arguments': {'path': 'a',}}")
    assert isinstance(result, ValidCall) and result.repaired and args(result) == {"path": "a"}


# ---------------------------------------------------------------- names (V5-V8)


@pytest.mark.parametrize(
    "name",
    [
        "read_file",
        "Read-File",
        " `read_file` ",
        "functions.read_file",
        "READ FILE",
        "\uff52\uff45\uff41\uff44_\uff46\uff49\uff4c\uff45",
    ],
)
def test_names_are_matched_after_normalisation_v6(name: str) -> None:
    result = check({"name": name, "arguments": {"path": "a"}})
    assert isinstance(result, ValidCall) and result.name == "read_file"


def test_colliding_normalised_names_match_only_exactly() -> None:
    tools = (spec("get-item", {"type": "object"}), spec("get_item", {"type": "object"}))
    assert check({"name": "get-item"}, tools=tools).name == "get-item"  # type: ignore[union-attr]
    assert kinds(check({"name": "GET_ITEM"}, tools=tools)) == ["unknown_tool"]


def test_choice_restricts_calls_v8() -> None:
    assert kinds(check({"name": "read_file", "arguments": {"path": "a"}}, choice=ToolChoice("none"))) == [
        "tools_disabled"
    ]
    named = ToolChoice("named", "edit_file")
    assert kinds(check({"name": "read_file", "arguments": {"path": "a"}}, choice=named)) == ["not_allowed"]
    assert isinstance(check({"name": "edit_file", "arguments": {"file_path": "a"}}, choice=named), ValidCall)


# ---------------------------------------------------------------- keys (V9)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"filePath": "a"}, {"file_path": "a"}),
        ({"path": "a"}, {"file_path": "a"}),
        (
            {"file_path": "a", "old_str": "x", "new_str": "y"},
            {"file_path": "a", "old_string": "x", "new_string": "y"},
        ),
    ],
)
def test_keys_are_renamed_to_absent_properties(given: dict[str, object], expected: dict[str, object]) -> None:
    assert args(check({"name": "edit_file", "arguments": given})) == expected


def test_renames_keep_position_and_never_drop_a_key() -> None:
    result = check({"name": "edit_file", "arguments": {"line": 3, "filePath": "a", "surprise": 1}})
    assert isinstance(result, InvalidCall) and result.arguments is not None
    assert list(json.loads(result.arguments)) == [
        "line",
        "file_path",
        "surprise",
    ]  # not dropped, still invalid
    assert kinds(result) == ["schema"]


def test_no_rename_onto_a_property_that_is_present() -> None:
    result = check({"name": "edit_file", "arguments": {"file_path": "a", "path": "b"}})
    assert isinstance(result, InvalidCall) and "path" in json.loads(result.arguments or "{}")


# ---------------------------------------------------------------- schema and coercions (V10, V11)


@pytest.mark.parametrize(
    ("value_in", "key", "value_out"),
    [
        ("3", "line", 3),  # C1
        ("2.5", "ratio", 2.5),  # C1
        ("TRUE", "dry_run", True),  # C2
        (7, "label", "7"),  # C3
        (True, "note", "true"),  # C3
        ("tag", "tags", ["tag"]),  # C5
        ('{"deep": 1}', "options", {"deep": 1}),  # C6
        ("fast", "mode", "Fast"),  # C8
    ],
)
def test_safe_coercions(value_in: object, key: str, value_out: object) -> None:
    result = check({"name": "edit_file", "arguments": {"file_path": "a", key: value_in}})
    assert isinstance(result, ValidCall) and result.coerced
    assert args(result)[key] == value_out


def test_a_whole_float_is_an_integer_already() -> None:
    result = check({"name": "edit_file", "arguments": {"file_path": "a", "line": 4.0}})
    assert isinstance(result, ValidCall) and args(result)["line"] == 4


def test_null_for_an_optional_property_is_removed_c7() -> None:
    assert args(check({"name": "edit_file", "arguments": {"file_path": "a", "note": None}})) == {
        "file_path": "a"
    }
    assert kinds(check({"name": "edit_file", "arguments": {"file_path": None}})) == ["schema"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("line", "3a"),
        ("line", ""),
        ("dry_run", "yes"),
        ("mode", "CAREFUL"),
        ("line", 2.5),
        ("options", "[1]"),
    ],
)
def test_unsafe_values_are_not_coerced(key: str, value: object) -> None:
    result = check({"name": "edit_file", "arguments": {"file_path": "a", key: value}})
    assert kinds(result) == ["schema"]
    assert isinstance(result, InvalidCall) and json.loads(result.arguments or "{}")[key] == value


def test_missing_required_is_never_invented() -> None:
    result = check({"name": "edit_file", "arguments": {"line": 1}})
    assert isinstance(result, InvalidCall) and json.loads(result.arguments or "{}") == {"line": 1}
    assert "'file_path' is a required property" in result.reasons[0][1]


def test_schema_details_are_pointers_and_at_most_five() -> None:
    bad = {"file_path": 1, "line": "x", "ratio": "y", "dry_run": 2, "tags": 3, "mode": "z", "label": []}
    result = check({"name": "edit_file", "arguments": bad})
    assert isinstance(result, InvalidCall) and len(result.reasons) == 5
    assert all(re.match(r"/\w+: ", detail) for _, detail in result.reasons)


def test_draft_follows_dollar_schema_v10() -> None:
    # exclusiveMinimum is a boolean modifier in draft-04 and a number from draft-06 on.
    draft4 = spec(
        "n4",
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"n": {"minimum": 1, "exclusiveMinimum": True}},
        },
    )
    modern = spec("n7", {"type": "object", "properties": {"n": {"exclusiveMinimum": 1}}})
    assert kinds(check({"name": "n4", "arguments": {"n": 1}}, tools=(draft4,))) == ["schema"]
    assert kinds(check({"name": "n7", "arguments": {"n": 1}}, tools=(modern,))) == ["schema"]
    assert isinstance(check({"name": "n7", "arguments": {"n": 2}}, tools=(modern,)), ValidCall)


def test_output_is_compact_json_in_the_models_key_order_v13() -> None:
    result = check('{"name":"edit_file","arguments":{"note":"ünïcode 😀","file_path":"a"}}')
    assert isinstance(result, ValidCall)
    assert result.arguments == '{"note":"ünïcode 😀","file_path":"a"}'


# ---------------------------------------------------------------- ids and reasons


def test_call_ids() -> None:
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", new_call_id())
    assert new_call_id() != new_call_id()
    assert new_call_id(random.Random(3)) == new_call_id(random.Random(3))


def test_reason_texts_t7() -> None:
    names = ["edit_file", "read_file"]

    def reason(body: object, **kwargs: object) -> str:
        result = check(body, **kwargs)  # type: ignore[arg-type]
        assert isinstance(result, InvalidCall)
        return reason_text(result, names, "0a1b2c3d", 1024)

    assert reason({"name": "nope"}) == 'unknown tool "nope"; available tools: edit_file, read_file'
    assert reason("{oops").startswith("not valid JSON (")
    assert reason({"name": "read_file", "arguments": [1]}) == "arguments must be a JSON object"
    assert reason({"arguments": {}}) == 'the call has no "name"'
    assert reason({"name": "read_file", "arguments": {}}).startswith(
        'arguments do not match the schema of "read_file": /: '
    )
    assert (
        reason({"name": "read_file", "arguments": {"path": "a"}}, choice=ToolChoice("none"))
        == 'tool "read_file" may not be called in this reply'
    )
    assert (
        reason({"name": "read_file"}, flags=frozenset({WRONG_MARKER}))
        == "wrong marker, use exactly <<call:0a1b2c3d>>"
    )
    assert (
        reason({"name": "read_file"}, flags=frozenset({TOO_LARGE}))
        == "the call is larger than 1024 bytes; make smaller calls"
    )


# ---------------------------------------------------------------- malformed, truncated and unicode bodies


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "read_file", "arguments": {"path": "a"}',  # one closer short
        '{"name": "read_file" "arguments": {"path": "a"}}',  # missing comma
        '{"name": read_file, "arguments": {}}',  # unquoted value
        "{name: 'read_file'}",  # unquoted key
    ],
)
def test_malformed_bodies_are_invalid_not_guessed(body: str) -> None:
    assert kinds(check(body)) == ["bad_json"]


@pytest.mark.parametrize("path", ["日本語/ファイル.txt", "emoji-😀.md", "rtl-שלום.txt", "nul-\u0000-char"])
def test_unicode_arguments_survive(path: str) -> None:
    assert args(check({"name": "read_file", "arguments": {"path": path}})) == {"path": path}


# ---------------------------------------------------------------- coercion never raises (V11)


def test_several_nulls_for_optional_properties_are_all_removed() -> None:
    """Two errors at one place (type and enum for the same null) once made the second coercion fail."""
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "enum": ["x", "y"]},
            "b": {"type": "string"},
            "c": {"type": "integer", "minimum": 1},
            "d": {"type": "object", "properties": {"e": {"type": "string", "enum": ["z"]}}},
        },
        "required": ["b"],
    }
    tool = spec("t", schema)
    result = check(
        {"name": "t", "arguments": {"a": None, "b": "k", "c": None, "d": {"e": None}}}, tools=(tool,)
    )
    assert args(result) == {"b": "k", "d": {}}


def test_a_required_property_behind_a_reference_keeps_its_null() -> None:
    schema = {
        "type": "object",
        "$defs": {"cfg": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}},
        "properties": {"cfg": {"$ref": "#/$defs/cfg"}, "y": {"type": "string"}},
    }
    tool = spec("t", schema)
    assert kinds(check({"name": "t", "arguments": {"cfg": {"x": None}}}, tools=(tool,))) == ["schema"]
    assert args(check({"name": "t", "arguments": {"cfg": {"x": "v"}, "y": None}}, tools=(tool,))) == {
        "cfg": {"x": "v"}
    }


def test_an_array_coercion_resolves_references_from_the_root() -> None:
    schema = {
        "type": "object",
        "$defs": {"tag": {"type": "string"}},
        "properties": {"tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}},
    }
    assert args(check({"name": "t", "arguments": {"tags": "a"}}, tools=(spec("t", schema),))) == {
        "tags": ["a"]
    }


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5)
    | st.sampled_from(["", "3", "2.0", "true", "FALSE", "x", "X", '{"a":1}', "[1]", "null"])
)
json_args = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=10,
)
TYPES = ["string", "integer", "number", "boolean", "array", "object", "null"]
leaf_schemas = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(TYPES)
        | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
        "enum": st.lists(json_leaves, min_size=1, max_size=3),
        "minimum": st.integers(-2, 2),
        "minLength": st.integers(0, 2),
        "pattern": st.sampled_from(["^x", "^[0-9]+$", "a|b"]),
        "const": json_leaves,
    },
)
property_schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.fixed_dictionaries(
        {"type": st.sampled_from(["object", "array", ["object", "null"]])},
        optional={
            "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            "required": st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2),
            "items": inner,
            "additionalProperties": st.booleans() | inner,
            "anyOf": st.lists(inner, min_size=1, max_size=2),
            "allOf": st.lists(inner, min_size=1, max_size=2),
        },
    ),
    max_leaves=8,
)


@given(
    properties=st.dictionaries(st.sampled_from(["a", "b", "c"]), property_schemas, max_size=3),
    required=st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2),
    arguments=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), json_args, max_size=4),
)
@example(
    properties={"a": {"type": "string", "enum": ["x"]}, "b": {"type": "string", "enum": ["y"]}},
    required=[],
    arguments={"a": None, "b": None},
)
@example(
    properties={"a": {"type": "object", "properties": {"b": {"type": "string", "minLength": 1}}}},
    required=[],
    arguments={"a": {"b": None}},
)
def test_coercion_never_raises(properties, required, arguments) -> None:
    """Random schemas and arguments: a call is valid or invalid, never an exception (V11)."""
    schema = {"type": "object", "properties": properties, "required": required}
    client_schema.check(schema, object_root=True)
    result = check({"name": "t", "arguments": arguments}, tools=(spec("t", schema),))
    if isinstance(result, ValidCall):
        assert client_schema.errors(client_schema.validator(schema), json.loads(result.arguments)) == []
    else:
        assert result.reasons and all(kind == "schema" for kind, _ in result.reasons)


def test_an_evil_pattern_in_a_tool_schema_is_checked_in_linear_time() -> None:
    schema = {"type": "object", "properties": {"p": {"type": "string", "pattern": "^(a+)+$"}}}
    result = check({"name": "t", "arguments": {"p": "a" * 100_000 + "!"}}, tools=(spec("t", schema),))
    assert kinds(result) == ["schema"]


def test_a_schema_check_past_its_budget_is_an_invalid_call_not_a_hang() -> None:
    schema = {"type": "object", "allOf": [{"$ref": "#/$defs/n"}, {"$ref": "#/$defs/n"}]}
    schema["$defs"] = {
        "n": {"additionalProperties": {"allOf": [{"$ref": "#/$defs/n"}, {"$ref": "#/$defs/n"}]}}
    }
    client_schema.check(schema, object_root=True)
    value: dict = {}
    for _ in range(40):
        value = {"k": value}
    with client_schema.time_budget(0.1):
        result = check({"name": "t", "arguments": value}, tools=(spec("t", schema),))
    assert kinds(result) == ["schema"]
    assert isinstance(result, InvalidCall) and "took too long" in result.reasons[0][1]
