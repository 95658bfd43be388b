"""Tool request validation (tool-calls.md §7.1, §12.4): every row, H1-H3 and H9; fuzzed for 500s."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import client_schema
from gateway.chat.catalog import resolve
from gateway.chat.from_openai import to_chat_request
from gateway.errors import InvalidRequest
from gateway.neutral.model import ToolCall, ToolChoice
from gateway.schemas.common import ToolDef
from gateway.schemas.openai import parse_chat_body
from gateway.tools.encode import emulated_prompt, native_prompt
from gateway.tools.grammar import Delimiters
from gateway.upstream.chatservice.request import build_message

FN = {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}


def tool(name="read_file", **function):
    return {"type": "function", "function": {"name": name, **function}}


def body(**fields):
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def rejects(raw: bytes, param: str, code: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_chat_body(raw)
    error = info.value
    assert (error.status, error.type, error.code, error.param) == (400, "invalid_request_error", code, param)
    return error


def nested(depth: int) -> dict:
    """A schema whose JSON nesting is exactly `depth` levels (the schema object is level 1)."""
    value: dict = {}
    for _ in range(depth - 2):
        value = {"x": value}
    return {"type": "object", "default": value}


SEVEN_ONE = [
    ({"tools": {"a": 1}}, "tools", "invalid_tools"),
    ({"tools": "read_file"}, "tools", "invalid_tools"),
    ({"tools": [FN, 5]}, "tools[1]", "invalid_tools"),
    (
        {"tools": [{"type": "web_search", "function": {"name": "x"}}]},
        "tools[0].type",
        "unsupported_tool_type",
    ),
    ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type", "unsupported_tool_type"),
    ({"tools": [{"type": "function"}]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name=None)]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name="")]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name="read file")]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name="x" * 129)]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name="lire_é")]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name="a\n")]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [tool(name=7)]}, "tools[0].function.name", "invalid_tool_name"),
    ({"tools": [FN, tool("b"), FN]}, "tools[2].function.name", "duplicate_tool_name"),
    ({"tools": [tool(parameters=[])]}, "tools[0].function.parameters", "invalid_tool_schema"),
    ({"tools": [tool(parameters="{}")]}, "tools[0].function.parameters", "invalid_tool_schema"),
    ({"tools": [tool(parameters={"type": "objekt"})]}, "tools[0].function.parameters", "invalid_tool_schema"),
    (
        {"tools": [tool(parameters={"type": "object", "properties": {"a": {"minLength": -1}}})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    (
        {"tools": [tool(parameters={"type": "object", "properties": {"a": {"pattern": "("}}})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    (
        {"tools": [tool(parameters={"$schema": "http://json-schema.org/draft-04/schema#", "type": 5})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    (
        {"tools": [tool(parameters={"$ref": "https://example.com/schema.json"})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    (
        {"tools": [tool(parameters={"properties": {"a": {"$ref": "other.json#/x"}}})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    ({"tools": [tool(parameters=nested(33))]}, "tools[0].function.parameters", "invalid_tool_schema"),
    ({"tools": [tool(parameters={"$schema": []})]}, "tools[0].function.parameters", "invalid_tool_schema"),
    ({"tools": [tool(parameters={"$schema": 5})]}, "tools[0].function.parameters", "invalid_tool_schema"),
    (
        {"tools": [tool(parameters={"$schema": "http://json-schema.org/draft-03/schema#"})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    (
        {"tools": [tool(parameters={"type": "object", "description": "x" * 65_536})]},
        "tools[0].function.parameters",
        "invalid_tool_schema",
    ),
    *(
        ({"tools": [tool(parameters=schema)]}, "tools[0].function.parameters", "invalid_tool_schema")
        for schema in (
            {"type": "string"},  # a function takes an object of arguments
            {"type": ["array", "null"]},
            {"$ref": "#"},  # refers to itself without descending: validation would never end
            {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}},
            {"type": "object", "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"},
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            {"type": "object", "properties": {"a": {"$ref": "#nowhere"}}},
            {"type": "object", "properties": {"a": {"$ref": "#/required"}}, "required": ["a"]},
            {"type": "object", "patternProperties": {"(a)\\1": {}}},
        )
    ),
    ({"tools": [tool(f"t{i}") for i in range(129)]}, "tools", "too_many_tools"),
    ({"tools": [FN], "tool_choice": "any"}, "tool_choice", "invalid_tool_choice"),
    ({"tools": [FN], "tool_choice": 1}, "tool_choice", "invalid_tool_choice"),
    ({"tools": [FN], "tool_choice": {"type": "function"}}, "tool_choice", "invalid_tool_choice"),
    (
        {"tools": [FN], "tool_choice": {"type": "function", "name": "read_file"}},
        "tool_choice",
        "invalid_tool_choice",
    ),
    (
        {"tools": [FN], "tool_choice": {"type": "tool", "name": "read_file"}},
        "tool_choice",
        "invalid_tool_choice",
    ),
    (
        {
            "tools": [FN],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
        },
        "tool_choice",
        "unsupported_tool_choice",
    ),
    (
        {"tools": [FN], "tool_choice": {"type": "custom", "custom": {"name": "x"}}},
        "tool_choice",
        "unsupported_tool_choice",
    ),
    (
        {"tools": [FN], "tool_choice": {"type": "function", "function": {"name": "write_file"}}},
        "tool_choice.function.name",
        "tool_choice_not_found",
    ),
    ({"tool_choice": "required"}, "tool_choice", "missing_tools"),
    ({"tools": [], "tool_choice": "required"}, "tool_choice", "missing_tools"),
    (
        {"tool_choice": {"type": "function", "function": {"name": "read_file"}}},
        "tool_choice",
        "missing_tools",
    ),
    ({"tools": [FN], "parallel_tool_calls": "false"}, "parallel_tool_calls", "invalid_type"),
    ({"tools": [FN], "parallel_tool_calls": 0}, "parallel_tool_calls", "invalid_type"),
    ({"functions": [{"name": "f"}]}, "functions", "unsupported_parameter"),
    ({"function_call": "auto"}, "function_call", "unsupported_parameter"),
    ({"function_call": None}, "function_call", "unsupported_parameter"),
]


@pytest.mark.parametrize(("fields", "param", "code"), SEVEN_ONE)
def test_every_row_of_7_1(fields, param, code):
    rejects(body(**fields), param, code)


def test_valid_tools_are_kept_in_client_order():
    parsed = parse_chat_body(
        body(
            tools=[
                tool(
                    "write_file",
                    description="Write.",
                    strict=True,
                    parameters={"type": "object", "b": 1, "a": 2},
                ),
                {"function": {"name": "read_file"}},
            ],
            tool_choice={"type": "function", "function": {"name": "read_file"}},
            parallel_tool_calls=False,
        )
    )
    assert parsed.tools == (
        ToolDef("write_file", "Write.", {"type": "object", "b": 1, "a": 2}, strict=True),
        ToolDef("read_file", "", None, strict=False),
    )
    assert list(parsed.tools[0].parameters or {}) == ["type", "b", "a"]
    assert parsed.tool_choice == ToolChoice("named", "read_file")
    assert parsed.parallel_tool_calls is False


@pytest.mark.parametrize(
    "schema",
    [
        nested(32),
        {"type": "object", "$defs": {"p": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/p"}}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "definitions": {}},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": ["a"]},
        {"type": "object", "description": "x" * 60_000},
        {"type": "object", "properties": {"$ref": {"type": "string"}}},
    ],
)
def test_acceptable_schemas(schema):
    assert parse_chat_body(body(tools=[tool(parameters=schema)])).tools[0].parameters == schema


def test_limits_are_inclusive():
    assert len(parse_chat_body(body(tools=[tool(f"t{i}") for i in range(128)])).tools) == 128
    assert parse_chat_body(body(tools=[tool("x" * 128)])).tools[0].name == "x" * 128
    assert parse_chat_body(body(tools=[tool("ns.tool:v-1_a")])).tools[0].name == "ns.tool:v-1_a"


@pytest.mark.parametrize("choice", ["auto", "none", None])
def test_auto_or_none_without_tools_is_accepted(choice):
    parsed = parse_chat_body(body(tools=[], tool_choice=choice))
    assert parsed.tools == ()
    assert parsed.tool_choice == (ToolChoice(choice) if choice else None)


def test_required_with_tools():
    assert parse_chat_body(body(tools=[FN], tool_choice="required")).tool_choice == ToolChoice("required")
    assert parse_chat_body(body(tools=[FN])).parallel_tool_calls is True


# ---------------------------------------------------------------- history: H1-H3


def call(ident="call_1", name="read_file", arguments='{"path":"a"}', **extra):
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}, **extra}


def assistant(*calls, content=None):
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def result(ident="call_1", content="ok"):
    return {"role": "tool", "tool_call_id": ident, "content": content}


USER = {"role": "user", "content": "go"}

HISTORY = [
    # H1
    (
        [USER, assistant({"type": "function", "function": {"name": "f", "arguments": ""}})],
        "messages[1].tool_calls[0].id",
        "invalid_tool_call_history",
    ),
    (
        [USER, assistant(call(ident="")), result("")],
        "messages[1].tool_calls[0].id",
        "invalid_tool_call_history",
    ),
    ([USER, assistant(call(ident=5))], "messages[1].tool_calls[0].id", "invalid_tool_call_history"),
    (
        [USER, assistant({"id": "c", "function": {"name": "f", "arguments": ""}})],
        "messages[1].tool_calls[0].type",
        "invalid_tool_call_history",
    ),
    ([USER, assistant(call(type="custom"))], "messages[1].tool_calls[0].type", "invalid_tool_call_history"),
    (
        [USER, assistant({"id": "c", "type": "function"})],
        "messages[1].tool_calls[0].function",
        "invalid_tool_call_history",
    ),
    (
        [USER, assistant(call(name=None))],
        "messages[1].tool_calls[0].function.name",
        "invalid_tool_call_history",
    ),
    (
        [USER, assistant(call(arguments={"a": 1}))],
        "messages[1].tool_calls[0].function.arguments",
        "invalid_tool_call_history",
    ),
    (
        [USER, assistant({"id": "c", "type": "function", "function": {"name": "f"}})],
        "messages[1].tool_calls[0].function.arguments",
        "invalid_tool_call_history",
    ),
    ([USER, assistant(call(), "x")], "messages[1].tool_calls[1]", "invalid_tool_call_history"),
    # H2
    ([USER, result()], "messages[1].tool_call_id", "unknown_tool_call_id"),
    ([USER, assistant(call()), result("call_2")], "messages[2].tool_call_id", "unknown_tool_call_id"),
    ([USER, assistant(call()), result(), USER, result()], "messages[4].tool_call_id", "unknown_tool_call_id"),
    (
        [USER, assistant(call()), {"role": "assistant", "content": "x"}, result()],
        "messages[1].tool_calls[0].id",
        "missing_tool_result",
    ),
    ([USER, assistant(call()), result(), result()], "messages[3].tool_call_id", "duplicate_tool_result"),
    (
        [USER, assistant(call()), {"role": "tool", "content": "x"}],
        "messages[2].tool_call_id",
        "missing_required_parameter",
    ),
    # H3
    ([USER, assistant(call()), USER], "messages[1].tool_calls[0].id", "missing_tool_result"),
    ([USER, assistant(call())], "messages[1].tool_calls[0].id", "missing_tool_result"),
    (
        [USER, assistant(call(), call("call_2")), result("call_2")],
        "messages[1].tool_calls[0].id",
        "missing_tool_result",
    ),
    ([USER, assistant(call(), call())], "messages[1].tool_calls[1].id", "duplicate_tool_call_id"),
]


@pytest.mark.parametrize(("messages", "param", "code"), HISTORY)
def test_history_rules(messages, param, code):
    rejects(body(messages=messages), param, code)


def test_valid_history_with_interleaved_system_and_bad_json_arguments():
    """H1 accepts arguments that are not JSON (H5); H4: calls may name tools not in the catalog."""
    parsed = parse_chat_body(
        body(
            messages=[
                USER,
                assistant(call(), call("call_2", "gone_tool", "{not json"), content="Reading."),
                {"role": "system", "content": "S"},
                result(
                    "call_2",
                    [{"type": "text", "text": "b"}, {"type": "image_url", "image_url": {"url": "x"}}],
                ),
                result("call_1", None),
                USER,
            ],
            tools=[FN],
        )
    )
    a = parsed.messages[1]
    assert a.tool_calls == (
        ToolCall("call_1", "read_file", '{"path":"a"}'),
        ToolCall("call_2", "gone_tool", "{not json"),
    )
    assert [(m.role, m.tool_call_id, m.text) for m in parsed.messages[3:5]] == [
        ("tool", "call_2", "b\n[image_url content omitted]"),
        ("tool", "call_1", ""),
    ]


def test_legacy_function_role_reads_like_tool():
    parsed = parse_chat_body(
        body(messages=[USER, assistant(call("f1")), {"role": "function", "name": "f1", "content": "x"}])
    )
    assert parsed.messages[2].role == "tool" and parsed.messages[2].tool_call_id == "f1"


# ---------------------------------------------------------------- H9


def test_h9_inbound_thinking_is_accepted_and_dropped():
    parsed = parse_chat_body(
        body(
            messages=[
                USER,
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "xx"},
                        {"type": "reasoning", "text": "r"},
                        {"type": "text", "text": "Answer."},
                    ],
                    "reasoning_content": "long thoughts",
                    "reasoning": {"summary": 1},
                    "thinking": ["any", "shape"],
                },
                {
                    "role": "assistant",
                    "content": " \n<think>plan\n<b>x</b>\n</think>\n\nVisible <think>kept</think>",
                },
                {"role": "assistant", "content": "<think>unclosed"},
                {"role": "user", "content": "<think>users are never rewritten</think>"},
            ]
        )
    )
    texts = [m.text for m in parsed.messages]
    assert texts == [
        "go",
        "Answer.",
        "Visible <think>kept</think>",
        "<think>unclosed",
        "<think>users are never rewritten</think>",
    ]


# ---------------------------------------------------------------- fuzz (§12.4)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
names = st.sampled_from(["read_file", "write_file", "a.b", "x y", "", "read_file"]) | st.text(max_size=6)
schemas = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["object", "string", "nope", 3])},
        optional={
            "properties": st.dictionaries(st.text(max_size=4), json_values, max_size=3),
            "required": json_values,
            "$ref": st.sampled_from(["#", "#/x", "http://e/x", "y.json"]),
            "$schema": st.sampled_from(
                [
                    "http://json-schema.org/draft-07/schema#",
                    "https://json-schema.org/draft/2020-12/schema",
                    "http://json-schema.org/draft-03/schema#",
                    "x",
                ]
            )
            | json_values,
        },
    ),
)
tools = st.one_of(
    json_values,
    st.lists(
        st.one_of(
            json_values,
            st.fixed_dictionaries(
                {
                    "function": st.fixed_dictionaries(
                        {"name": names},
                        optional={"parameters": schemas, "description": json_values, "strict": json_values},
                    )
                },
                optional={"type": st.sampled_from(["function", "custom", None])},
            ),
        ),
        max_size=4,
    ),
)
choices = st.one_of(
    json_values,
    st.sampled_from(["auto", "none", "required", "any"]),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["function", "allowed_tools", "custom", "x"]),
            "function": st.fixed_dictionaries({"name": names}),
        }
    ),
)
texts = st.text(max_size=10) | st.sampled_from(["<<call:0123abcd>>", "<think>x</think>y", "0123abcd"])
content = (
    texts
    | texts
    | st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "thinking", 1]), "text": texts}),
        max_size=2,
    )
    | json_values
)
call_ids = st.sampled_from(["call_1", "call_2", "call_3", "call_4", "bad id\n", "id/é", ""])
calls = st.lists(
    st.one_of(
        st.just({"id": "call_9", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}),
        st.fixed_dictionaries(
            {
                "id": call_ids,
                "type": st.sampled_from(["function"] * 5 + ["x"]),
                "function": st.fixed_dictionaries(
                    {"name": names, "arguments": texts | st.just('{"b":1,"a":[2]}') | json_values}
                ),
            }
        ),
    ),
    max_size=3,
)


@st.composite
def conversations(draw):
    """Mostly well-formed histories (calls answered by results), with random damage."""
    out: list[object] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["user"] * 3 + ["round"] * 4 + ["system", "assistant", "junk", "tool"]))
        if kind in ("user", "system"):
            out.append({"role": kind, "content": draw(content)})
        elif kind == "assistant":
            out.append(
                {
                    "role": "assistant",
                    "content": draw(st.none() | texts),
                    "reasoning_content": draw(json_values),
                }
            )
        elif kind == "tool":
            out.append(
                {"role": "tool", "tool_call_id": draw(call_ids | json_values), "content": draw(content)}
            )
        elif kind == "junk":
            out.append(draw(json_values))
        else:
            made = draw(calls)
            out.append({"role": "assistant", "content": draw(st.none() | texts), "tool_calls": made})
            ids = [c.get("id") for c in made if isinstance(c, dict)]
            for ident in draw(st.permutations(ids)):
                out.append({"role": "tool", "tool_call_id": ident, "content": draw(content)})
    return out


messages = conversations()


@given(
    st.fixed_dictionaries(
        {"model": st.just("gpt-4o"), "messages": messages},
        optional={"tools": tools, "tool_choice": choices, "parallel_tool_calls": st.booleans() | json_values},
    )
)
def test_fuzz_tools_choice_and_history_never_500(data):
    """Every random request is either accepted all the way to the protobuf, or a 400."""
    try:
        parsed = parse_chat_body(orjson.dumps(data))
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.type == "invalid_request_error" and exc.code
        return
    chat = to_chat_request(parsed, resolve("gpt-4o"), inject="", max_input_length=1_000_000)
    choice = chat.tool_choice
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for prompt in (
        emulated_prompt(chat, Delimiters("0123abcd"), choice, thinking=True),
        native_prompt(chat, choice),
    ):
        message = build_message(chat, prompt, client_version="2.6.21", now=now)
        assert message.SerializeToString()


KEYWORDS = [
    "$schema",
    "$id",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "definitions",
    "$vocabulary",
    "$recursiveRef",
    "id",
    "type",
    "properties",
    "required",
    "items",
    "prefixItems",
    "additionalProperties",
    "pattern",
    "patternProperties",
    "format",
    "enum",
    "const",
    "minLength",
    "maximum",
    "exclusiveMaximum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "contentMediaType",
    "propertyNames",
    "contains",
    "minContains",
]


@given(
    st.recursive(
        st.dictionaries(st.sampled_from(KEYWORDS), json_values, max_size=4),
        lambda inner: st.dictionaries(
            st.sampled_from(KEYWORDS), inner | st.lists(inner, max_size=2), max_size=4
        ),
        max_leaves=12,
    )
)
def test_fuzz_schema_keywords_are_accepted_or_a_400(schema):
    try:
        parsed = parse_chat_body(body(tools=[tool(parameters=schema)]))
    except InvalidRequest as exc:
        assert (exc.status, exc.code, exc.param) == (
            400,
            "invalid_tool_schema",
            "tools[0].function.parameters",
        )
        return
    assert parsed.tools[0].parameters == schema


def test_the_schemas_of_one_request_share_one_time_budget(monkeypatch) -> None:
    """Meta-checking is slow (~0.5 s for 64 KiB): 128 such tools must not take a minute."""
    monkeypatch.setattr(client_schema, "BUDGET_SECONDS", 0.05)
    monkeypatch.setattr(client_schema, "_CHECKED", client_schema.OrderedDict())
    props = {f"p{j}": {"type": "string", "pattern": f"^[a-z]{{{j}}}$"} for j in range(400)}
    tools = [
        tool(f"t{i}", parameters={"type": "object", "properties": props, "title": str(i)}) for i in range(128)
    ]
    with pytest.raises(InvalidRequest) as info:
        parse_chat_body(body(tools=tools))
    assert info.value.code == "invalid_tool_schema" and "took too long" in info.value.message
    assert info.value.param is not None and info.value.param.startswith("tools[")


def test_tool_and_response_schemas_are_checked_alike() -> None:
    """One checker: a schema refused for a tool is refused for response_format, and the other way."""
    for schema in (
        {"$ref": "#"},
        {"properties": {"a": {"$ref": "#/nope"}}},
        {"patternProperties": {"(?=a)": {}}},
    ):
        rejects(body(tools=[tool(parameters=schema)]), "tools[0].function.parameters", "invalid_tool_schema")
        fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
        rejects(body(response_format=fmt), "response_format.json_schema.schema", "invalid_value")


@given(schema=st.dictionaries(st.sampled_from(KEYWORDS), json_values, max_size=4))
def test_tool_and_response_schema_strictness_is_the_same(schema) -> None:
    def accepted(raw: bytes) -> bool:
        try:
            parse_chat_body(raw)
        except InvalidRequest:
            return False
        return True

    fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    as_response = accepted(body(response_format=fmt))
    as_tool = accepted(body(tools=[tool(parameters=schema)]))
    object_root = (
        schema.get("type") is None
        or schema.get("type") == "object"
        or (isinstance(schema.get("type"), list) and "object" in schema["type"])
    )
    assert as_tool == (as_response and object_root)
