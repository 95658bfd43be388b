"""OpenAI messages -> ChatRequest: system extraction, tools, tool history, injection, trimming."""

from __future__ import annotations

import typing

import orjson
import pytest

from gateway.chat.catalog import resolve
from gateway.chat.from_openai import EFFORT_LEVELS, to_chat_request
from gateway.errors import ContextTooLong, InvalidRequest
from gateway.neutral.model import Message, ToolCall, ToolChoice, ToolResult
from gateway.schemas.openai import parse_chat_body
from gateway.tools.encode import plain_prompt

MODEL = resolve("gpt-4o")


def convert(messages, inject="", limit=1_000_000):
    parsed = parse_chat_body(orjson.dumps({"model": "gpt-4o", "messages": messages}))
    return to_chat_request(parsed, MODEL, inject=inject, max_input_length=limit)


def test_system_and_developer_anywhere_join_with_blank_line():
    chat = convert(
        [
            {"role": "system", "content": "S1"},
            {"role": "user", "content": "u1"},
            {"role": "developer", "content": "S2"},
            {"role": "assistant", "content": "a1"},
        ],
        inject="INJ",
    )
    assert chat.system == "S1\n\nS2\n\nINJ"
    assert [(m.role, m.text) for m in chat.messages] == [("user", "u1"), ("assistant", "a1")]


def test_consecutive_same_role_stay_apart_and_the_encoder_merges_them():
    chat = convert(
        [
            {"role": "user", "content": "a"},
            {"role": "human", "content": "b"},
            {"role": "assistant", "content": "c"},
            {"role": "ai", "content": "d"},
        ]
    )
    assert [(m.role, m.text) for m in chat.messages] == [
        ("user", "a"),
        ("user", "b"),
        ("assistant", "c"),
        ("assistant", "d"),
    ]
    merged = plain_prompt(chat).messages
    assert [(m.role, m.text) for m in merged] == [("user", "a\n\nb"), ("assistant", "c\n\nd")]


def test_only_system_leaves_no_turns():
    chat = convert([{"role": "system", "content": "S"}])
    assert chat.messages == () and chat.system == "S"


def test_input_limit():
    with pytest.raises(ContextTooLong) as info:
        convert([{"role": "user", "content": "x" * 2000}], limit=1000)
    assert info.value.code == "context_length_exceeded" and info.value.param == "messages"


# ---------------------------------------------------------------- tools and tool history

READ = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file.",
        "strict": True,
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}


def convert_body(limit=1_000_000, **fields):
    raw = {"model": "gpt-4o", **fields}
    return to_chat_request(parse_chat_body(orjson.dumps(raw)), MODEL, inject="", max_input_length=limit)


def call(ident, name="read_file", arguments='{"path": "a"}'):
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_tools_become_tool_specs_with_compact_json_in_client_key_order():
    chat = convert_body(
        messages=[{"role": "user", "content": "hi"}],
        tools=[READ, {"function": {"name": "ls"}}],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    read, ls = chat.tools
    assert (read.name, read.description, read.strict) == ("read_file", "Read a file.", True)
    assert read.parameters_json == (
        '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}'
    )
    assert (ls.description, ls.strict, ls.parameters_json) == ("", False, '{"type":"object","properties":{}}')
    assert chat.tool_choice == ToolChoice("required") and chat.parallel_tool_calls is False


def test_absent_choice_is_auto():
    chat = convert_body(messages=[{"role": "user", "content": "hi"}], tools=[READ])
    assert chat.tool_choice == ToolChoice("auto") and chat.parallel_tool_calls is True


def test_tool_messages_form_one_message_with_names_from_the_paired_calls():
    chat = convert_body(
        messages=[
            {"role": "user", "content": "read a and b"},
            {"role": "assistant", "content": "Both.", "tool_calls": [call("c1"), call("c2", "stat")]},
            {"role": "tool", "tool_call_id": "c2", "content": "B"},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "A"}]},
            {"role": "user", "content": "thanks"},
        ]
    )
    user, assistant, tool, last = chat.messages
    assert assistant == Message(
        "assistant",
        "Both.",
        tool_calls=(ToolCall("c1", "read_file", '{"path": "a"}'), ToolCall("c2", "stat", '{"path": "a"}')),
    )
    assert tool == Message(
        "tool", "", results=(ToolResult("c2", "stat", "B"), ToolResult("c1", "read_file", "A"))
    )
    assert (user.role, last.role) == ("user", "user")
    assert chat.has_tool_history


# ---------------------------------------------------------------- MAX_INPUT_LENGTH trimming


def test_system_prompt_counts_and_is_never_dropped():
    messages = [
        {"role": "system", "content": "s" * 50},
        {"role": "user", "content": "1" * 30},
        {"role": "assistant", "content": "2" * 30},
        {"role": "user", "content": "3" * 30},
    ]
    chat = convert(messages, limit=110)
    assert chat.system == "s" * 50 and [m.text for m in chat.messages] == ["2" * 30, "3" * 30]
    with pytest.raises(ContextTooLong):
        convert(messages, limit=79)


def test_the_tool_catalog_counts_against_the_limit():
    tools = [{"type": "function", "function": {"name": "t", "description": "d" * 40}}]
    messages = [
        {"role": "user", "content": "1" * 30},
        {"role": "assistant", "content": "2" * 30},
        {"role": "user", "content": "3" * 30},
    ]
    catalog = 1 + 40 + len('{"type":"object","properties":{}}')
    assert len(convert_body(limit=catalog + 90, messages=messages, tools=tools).messages) == 3
    assert [m.text for m in convert_body(limit=catalog + 89, messages=messages, tools=tools).messages] == [
        "2" * 30,
        "3" * 30,
    ]


# ---------------------------------------------------------------- output parameters and K2


def request_with(model_id="gpt-4o", level="high", **fields):
    model = resolve(model_id)
    assert model is not None
    raw = orjson.dumps({"model": model_id, "messages": [{"role": "user", "content": "hi"}], **fields})
    return to_chat_request(
        parse_chat_body(raw), model, inject="", max_input_length=1_000_000, default_thinking_level=level
    )


def test_max_tokens_is_clamped_to_the_model_limit():
    model = resolve("gpt-4o")
    assert model is not None and model.max_tokens is not None
    assert request_with(max_tokens=model.max_tokens + 1).max_tokens == model.max_tokens
    assert request_with(max_completion_tokens=10_000_000).max_tokens == model.max_tokens
    assert request_with(max_tokens=7).max_tokens == 7
    assert request_with().max_tokens is None


def test_response_format_instruction_follows_the_system_text():
    chat = to_chat_request(
        parse_chat_body(
            orjson.dumps(
                {
                    "model": "gpt-4o",
                    "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}],
                    "response_format": {"type": "json_object"},
                }
            )
        ),
        MODEL,
        inject="INJ",
        max_input_length=1_000_000,
    )
    assert chat.system.startswith("S\n\nINJ\n\nResponse format:")
    assert chat.response_format is not None and chat.response_format.kind == "json_object"
    assert request_with(response_format={"type": "text"}).system == ""


@pytest.mark.parametrize(
    ("effort", "default", "level"),
    [
        (None, "high", "high"),
        (None, "medium", "medium"),
        ("minimal", "high", "medium"),
        ("low", "high", "medium"),
        ("MEDIUM", "high", "medium"),
        ("high", "medium", "high"),
        ("xhigh", "medium", "high"),
        ("max", "medium", "high"),
        (" Max ", "medium", "high"),
    ],
)
def test_k2_reasoning_effort_on_a_twin(effort, default, level):
    extra = {} if effort is None else {"reasoning_effort": effort}
    chat = request_with("gpt-4o-thinking", default, **extra)
    assert chat.thinking_level == level and chat.model.thinking


def test_k2_reasoning_effort_none_asks_the_twin_not_to_think():
    chat = request_with("gpt-4o-thinking", "high", reasoning_effort="none")
    assert (
        chat.model.thinking is False
        and chat.model.upstream_name == request_with("gpt-4o").model.upstream_name
    )


def test_k2_reasoning_effort_is_ignored_on_a_base_model():
    assert request_with("gpt-4o", "high", reasoning_effort="nonsense").thinking_level == "high"


def test_k2_unknown_effort_on_a_twin_is_a_400():
    with pytest.raises(InvalidRequest) as info:
        request_with("gpt-4o-thinking", reasoning_effort="extreme")
    assert (info.value.status, info.value.param, info.value.code) == (
        400,
        "reasoning_effort",
        "invalid_reasoning_effort",
    )


def sdk_reasoning_efforts() -> list[str]:
    """Every `reasoning_effort` the installed OpenAI SDK can send."""
    from openai.types.shared.reasoning_effort import ReasoningEffort

    literal = next(
        arg for arg in typing.get_args(ReasoningEffort) if typing.get_origin(arg) is typing.Literal
    )
    return list(typing.get_args(literal))


@pytest.mark.parametrize("effort", sdk_reasoning_efforts())
def test_k2_every_effort_the_openai_sdk_sends_is_mapped(effort):
    assert effort in EFFORT_LEVELS
    request_with("gpt-4o-thinking", reasoning_effort=effort)  # no 400
