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
        ({"n": 2}, "n", "unsupported_parameter"),
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
