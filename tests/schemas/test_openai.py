"""Request validation: every client mistake is a 400 naming the parameter, never a crash."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidRequest
from gateway.schemas.openai import parse_chat_body


def body(**fields):
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def rejects(raw: bytes, param, code=None):
    with pytest.raises(InvalidRequest) as info:
        parse_chat_body(raw)
    assert info.value.status == 400
    assert info.value.param == param
    if code:
        assert info.value.code == code
    return info.value


def test_minimal_body():
    parsed = parse_chat_body(body())
    assert parsed.model == "gpt-4o"
    assert [(m.role, m.text) for m in parsed.messages] == [("user", "hi")]
    assert parsed.stream is False and parsed.include_usage is False


def test_roles_aliases_and_parts():
    parsed = parse_chat_body(
        body(
            messages=[
                {"role": "developer", "content": "dev"},
                {"role": "human", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "ai", "content": None},
            ]
        )
    )
    assert [(m.role, m.text) for m in parsed.messages] == [
        ("developer", "dev"),
        ("user", "a\nb"),
        ("assistant", ""),
    ]


def test_include_usage_only_when_streaming():
    assert parse_chat_body(body(stream=True, stream_options={"include_usage": True})).include_usage
    assert not parse_chat_body(body(stream_options={"include_usage": True})).include_usage


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"", "invalid_json"), (b"{", "invalid_json"), (b"[1]", "invalid_json"), (b"\xff\xfe", "invalid_json")],
)
def test_invalid_json(raw, code):
    rejects(raw, None, code)


def test_lone_surrogate_is_a_clear_400():
    error = rejects(
        b'{"model":"gpt-4o","messages":[{"role":"user","content":"\\ud83d"}]}', None, "invalid_json"
    )
    assert "surrogate" in error.message


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"model": ...}, "model", "missing_required_parameter"),
        ({"model": 5}, "model", "invalid_type"),
        ({"model": " "}, "model", "invalid_type"),
        ({"messages": ...}, "messages", "missing_required_parameter"),
        ({"messages": []}, "messages", "empty_messages"),
        ({"messages": "hi"}, "messages", "invalid_type"),
        ({"messages": [5]}, "messages[0]", "invalid_type"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "invalid_type"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "invalid_role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "invalid_type"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
            None,
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "nope"}]}]},
            "messages[0].content[0].type",
            None,
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": ["text"]}]}]},
            "messages[0].content[0].type",
            "invalid_type",
        ),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": 5}]},
            "messages[0].tool_call_id",
            "invalid_type",
        ),
        ({"messages": [{"role": "assistant", "tool_calls": {}}]}, "messages[0].tool_calls", "invalid_type"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]},
            "messages[0].tool_calls[0].id",
            "invalid_tool_call_history",
        ),
        ({"temperature": 3}, "temperature", "invalid_value"),
        ({"temperature": "hot"}, "temperature", "invalid_type"),
        ({"top_p": -1}, "top_p", "invalid_value"),
        ({"max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"max_tokens": 1.5}, "max_tokens", "invalid_type"),
        ({"n": 9}, "n", "invalid_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_type"),
        ({"stop": 7}, "stop", "invalid_type"),
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        ({"presence_penalty": 5}, "presence_penalty", "invalid_value"),
        ({"response_format": {"type": "yaml"}}, "response_format.type", "invalid_value"),
        ({"logit_bias": {"1": 500}}, "logit_bias.1", "invalid_value"),
        ({"stream_options": []}, "stream_options", "invalid_type"),
        ({"stream_options": {"include_usage": "y"}}, "stream_options.include_usage", "invalid_type"),
        ({"tool_choice": "required"}, "tool_choice", "missing_tools"),
        ({"functions": []}, "functions", "unsupported_parameter"),
    ],
)
def test_bad_fields_name_the_parameter(fields, param, code):
    rejects(body(**fields), param, code)


def test_accepted_parameters_without_upstream_effect():
    parsed = parse_chat_body(
        body(temperature=0.2, top_p=1, seed=1, user="u", stop="END", tool_choice="auto", tools=[], n=1)
    )
    assert parsed.stop == ("END",)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["model", "messages", "stream", "temperature", "stop", "n", "tools", "stream_options"]
        ),
        json_values,
    )
)
def test_arbitrary_json_is_parsed_or_rejected_with_400(data):
    try:
        parse_chat_body(orjson.dumps(data))
    except InvalidRequest as exc:
        assert exc.status == 400
        assert exc.body()["error"]["type"] == "invalid_request_error"


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(raw):
    try:
        parse_chat_body(raw)
    except InvalidRequest as exc:
        assert exc.status == 400


def test_tool_history_is_kept_as_structure():
    parsed = parse_chat_body(
        body(
            messages=[
                {"role": "user", "content": "read a.txt"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "hello"},
            ]
        )
    )
    user, assistant, tool = parsed.messages
    assert (user.role, user.text) == ("user", "read a.txt")
    assert (assistant.role, assistant.text) == ("assistant", "")
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [("call_1", "read", "{}")]
    assert (tool.role, tool.text, tool.tool_call_id) == ("tool", "hello", "call_1")


def test_tools_with_tool_choice_none_count_as_no_tools():
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert parse_chat_body(body(tools=tools, tool_choice="none")).model == "gpt-4o"


# ---------------------------------------------------------------- every OpenAI parameter (issue 3, item 6)

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"temperature": -0.1}, "temperature", "invalid_value"),
        ({"temperature": 2.01}, "temperature", "invalid_value"),
        ({"temperature": True}, "temperature", "invalid_type"),
        ({"top_p": 1.5}, "top_p", "invalid_value"),
        ({"top_p": "1"}, "top_p", "invalid_type"),
        ({"presence_penalty": -2.5}, "presence_penalty", "invalid_value"),
        ({"frequency_penalty": 2.5}, "frequency_penalty", "invalid_value"),
        ({"frequency_penalty": []}, "frequency_penalty", "invalid_type"),
        ({"max_tokens": -1}, "max_tokens", "invalid_value"),
        ({"max_tokens": "10"}, "max_tokens", "invalid_type"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "invalid_value"),
        ({"max_completion_tokens": 2.5}, "max_completion_tokens", "invalid_type"),
        ({"n": 0}, "n", "invalid_value"),
        ({"n": 9}, "n", "invalid_value"),
        ({"n": 1.0}, "n", "invalid_type"),
        ({"n": True}, "n", "invalid_type"),
        ({"seed": 1.5}, "seed", "invalid_type"),
        ({"seed": 2**63}, "seed", "invalid_value"),
        ({"user": 5}, "user", "invalid_type"),
        ({"user": "u" * 257}, "user", "invalid_value"),
        ({"logit_bias": []}, "logit_bias", "invalid_type"),
        ({"logit_bias": {"50256": -101}}, "logit_bias.50256", "invalid_value"),
        ({"logit_bias": {"abc": 1}}, "logit_bias.abc", "invalid_value"),
        ({"logit_bias": {"12": "1"}}, "logit_bias.12", "invalid_value"),
        ({"logprobs": "yes"}, "logprobs", "invalid_type"),
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        ({"top_logprobs": 21}, "top_logprobs", "invalid_value"),
        ({"top_logprobs": -1}, "top_logprobs", "invalid_value"),
        ({"top_logprobs": 3}, "top_logprobs", "unsupported_parameter"),
        ({"stop": [1]}, "stop", "invalid_type"),
        ({"stop": {"a": 1}}, "stop", "invalid_type"),
        ({"reasoning_effort": 3}, "reasoning_effort", "invalid_type"),
        ({"stream_options": "x"}, "stream_options", "invalid_type"),
        ({"response_format": "json"}, "response_format", "invalid_type"),
        ({"response_format": {"type": 1}}, "response_format", "invalid_type"),
        (
            {"response_format": {"type": "json_schema"}},
            "response_format.json_schema",
            "missing_required_parameter",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": []}},
            "response_format.json_schema",
            "invalid_type",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
            "response_format.json_schema.name",
            "missing_required_parameter",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": SCHEMA}}},
            "response_format.json_schema.name",
            "invalid_value",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x" * 65}}},
            "response_format.json_schema.name",
            "invalid_value",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": []}}},
            "response_format.json_schema.schema",
            "invalid_type",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": 5}}}},
            "response_format.json_schema.schema",
            "invalid_value",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": "yes"}}},
            "response_format.json_schema.strict",
            "invalid_type",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "description": 1}}},
            "response_format.json_schema.description",
            "invalid_type",
        ),
    ],
)
def test_out_of_range_parameters_are_a_400_naming_them(fields, param, code):
    rejects(body(**fields), param, code)


def test_n_is_bounded_by_the_max_n_setting():
    assert parse_chat_body(body(n=3), max_n=3).n == 3
    with pytest.raises(InvalidRequest) as info:
        parse_chat_body(body(n=4), max_n=3)
    assert (info.value.param, info.value.code) == ("n", "invalid_value")


def test_boundary_values_are_accepted():
    parsed = parse_chat_body(
        body(
            temperature=2,
            top_p=0,
            presence_penalty=-2,
            frequency_penalty=2,
            seed=-(2**63),
            user="u" * 256,
            logit_bias={"50256": -100, "1": 100},
            logprobs=False,
            top_logprobs=0,
            n=8,
            max_tokens=1,
            parallel_tool_calls=False,
        )
    )
    assert parsed.n == 8 and parsed.max_tokens == 1


@given(st.integers(min_value=1, max_value=2**64 - 1))
def test_any_positive_max_tokens_is_accepted(value):
    assert parse_chat_body(body(max_tokens=value)).max_tokens == value


def test_max_completion_tokens_wins_over_max_tokens():
    assert parse_chat_body(body(max_tokens=5, max_completion_tokens=7)).max_tokens == 7
    assert parse_chat_body(body(max_tokens=5, max_completion_tokens=None)).max_tokens == 5


def test_stream_options_without_stream_is_accepted_and_ignored():
    parsed = parse_chat_body(body(stream=False, stream_options={"include_usage": True}))
    assert parsed.include_usage is False


def test_response_format_shapes():
    assert parse_chat_body(body(response_format={"type": "text"})).response_format is None
    json_object = parse_chat_body(body(response_format={"type": "json_object"})).response_format
    assert json_object is not None and json_object.kind == "json_object" and json_object.schema is None
    fmt = parse_chat_body(
        body(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Answer_1", "description": "d", "schema": SCHEMA, "strict": True},
            }
        )
    ).response_format
    assert fmt is not None
    assert (fmt.kind, fmt.name, fmt.description, fmt.schema, fmt.strict) == (
        "json_schema",
        "Answer_1",
        "d",
        SCHEMA,
        True,
    )


def test_reasoning_effort_is_carried_as_sent():
    assert parse_chat_body(body(reasoning_effort="low")).reasoning_effort == "low"
    assert parse_chat_body(body()).reasoning_effort is None


def json_schema_format(schema):
    return {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "http://127.0.0.1:9/remote.json"},
        {"properties": {"a": {"$ref": "other.json#/x"}}},
        {"$defs": {"a": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/missing"}}},
        {"items": [{"$ref": "#/items/5"}]},
    ],
)
def test_response_schema_references_must_stay_inside_the_schema(schema):
    rejects(
        body(response_format=json_schema_format(schema)),
        "response_format.json_schema.schema",
        "invalid_value",
    )


def test_local_references_are_accepted():
    schema = {
        "$defs": {"a~b/c": {"type": "string"}, "list": {"prefixItems": [{"type": "integer"}]}},
        "properties": {
            "x": {"$ref": "#/$defs/a~0b~1c"},
            "y": {"$ref": "#/$defs/list/prefixItems/0"},
            "z": {"$ref": "#"},
        },
    }
    fmt = parse_chat_body(body(response_format=json_schema_format(schema))).response_format
    assert fmt is not None and fmt.schema == schema


def test_a_deeply_nested_schema_is_a_400_not_a_crash():
    depth = 300  # within orjson's nesting limit, past what the schema checker can recurse through
    schema = b'{"properties":{"a":' * depth + b'{"type":"object"}' + b"}}" * depth
    raw = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":'
    raw += b'{"type":"json_schema","json_schema":{"name":"n","schema":' + schema + b"}}}"
    rejects(raw, "response_format.json_schema.schema", "invalid_value")


@given(json_values)
def test_arbitrary_response_schemas_are_accepted_or_a_400(schema):
    try:
        parse_chat_body(body(response_format=json_schema_format(schema)))
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.param is not None and exc.param.startswith("response_format")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "n",
                "user",
                "seed",
                "logit_bias",
                "top_logprobs",
                "logprobs",
                "response_format",
                "reasoning_effort",
                "max_tokens",
                "max_completion_tokens",
                "presence_penalty",
            ]
        ),
        json_values,
    )
)
def test_arbitrary_parameter_values_are_accepted_or_a_400_naming_them(params):
    try:
        parse_chat_body(body(**params))
    except InvalidRequest as exc:
        assert exc.status == 400
        assert exc.param is not None and exc.param.split(".")[0] in params


@pytest.mark.parametrize("kind", [[], {}, 3, None, True])
def test_a_content_part_type_that_is_not_a_string_is_a_400_naming_it(kind):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": kind}]}]}
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_body(orjson.dumps(body), max_n=8)
    assert (caught.value.code, caught.value.param) == ("invalid_type", "messages[0].content[0].type")
