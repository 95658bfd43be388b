"""Responses API bodies -> ChatRequest: instructions, tools, history, output parameters, thinking."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.chat.from_responses import responses_chat_request
from gateway.errors import ContextTooLong, InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice, ToolResult
from gateway.schemas.responses import parse_responses_body
from gateway.tools.encode import native_prompt

MODEL = resolve("claude-sonnet-4-5-20250929")
THINKING = resolve("claude-sonnet-4-5-20250929-thinking")
READ = {
    "type": "function",
    "name": "read_file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
}


def convert(model=MODEL, limit=1_000_000, inject="", **fields):
    body = parse_responses_body(orjson.dumps({"model": "m", "input": "hi", **fields}))
    return responses_chat_request(body, model, inject=inject, max_input_length=limit)


def test_instructions_come_before_system_and_developer_messages() -> None:
    chat = convert(
        instructions="I",
        inject="INJ",
        input=[{"role": "developer", "content": "D"}, {"role": "user", "content": "u"}],
    )
    assert chat.system == "I\n\nD\n\nINJ"
    assert [(m.role, m.text) for m in chat.messages] == [("user", "u")]


def test_the_output_parameters() -> None:
    chat = convert(
        max_output_tokens=10**6,
        text={"format": {"type": "json_object"}},
        parallel_tool_calls=False,
        stream=True,
    )
    assert chat.max_tokens == MODEL.max_tokens  # clamped to the model's limit
    assert chat.response_format == ResponseFormat("json_object")
    assert "JSON" in chat.system  # the response_format instruction
    assert chat.parallel_tool_calls is False and chat.stream is True and chat.stop == ()


def test_a_tool_loop_history_is_replayed_with_names_from_the_calls() -> None:
    chat = convert(
        tools=[READ],
        tool_choice="required",
        input=[
            {"role": "user", "content": "Read a"},
            {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": '{"path":"a"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "A"},
        ],
    )
    assert chat.tool_choice == ToolChoice("required")
    assert [t.name for t in chat.tools] == ["read_file"]
    _, assistant, results = chat.messages
    assert assistant.tool_calls == (ToolCall("c1", "read_file", '{"path":"a"}'),)
    assert results.results == (ToolResult("c1", "read_file", "A"),)
    prompt = native_prompt(chat, chat.tool_choice)
    assert prompt.messages[-1].tool_results[0].content == "A"


def test_a_custom_tool_is_a_function_with_one_text_input() -> None:
    chat = convert(tools=[{"type": "custom", "name": "apply_patch", "description": "Patch files."}])
    [tool] = chat.tools
    assert tool.description == "Patch files." and tool.strict is True
    assert orjson.loads(tool.parameters_json)["required"] == ["input"]


def test_reasoning_effort_sets_a_thinking_models_level() -> None:
    assert convert(THINKING, reasoning={"effort": "low"}).thinking_level == "medium"
    assert convert(THINKING, reasoning={"effort": "high"}).thinking_level == "high"
    assert convert(MODEL, reasoning={"effort": "whatever"}).thinking_level == "high"  # ignored
    assert convert(THINKING, reasoning={"effort": "none"}).model.thinking is False  # answers as its base
    with pytest.raises(InvalidRequest) as caught:
        convert(THINKING, reasoning={"effort": "extreme"})
    assert (caught.value.code, caught.value.param) == ("invalid_reasoning_effort", "reasoning.effort")


def test_a_conversation_too_long_names_input() -> None:
    with pytest.raises(ContextTooLong) as caught:
        convert(limit=10, input="x" * 100)
    assert caught.value.param == "input"


# ---------------------------------------------------------------- hostile bodies never get past a 400

WORDS = [
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "message",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "item_reference",
    "input_text",
    "output_text",
    "input_image",
    "function",
    "custom",
    "namespace",
    "read_file",
    "c1",
    "auto",
    "required",
    "",
]
strings = st.sampled_from(WORDS) | st.text(max_size=8)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-3, 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | strings
)
anything = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=10,
)


def maybe(valid):
    return valid | valid | valid | anything


part = st.fixed_dictionaries(
    {}, optional={"type": maybe(strings), "text": maybe(strings), "image_url": anything}
)
item = st.fixed_dictionaries(
    {},
    optional={
        "type": maybe(strings),
        "role": maybe(strings),
        "content": maybe(strings | st.lists(maybe(part), max_size=3)),
        "call_id": maybe(st.sampled_from(["c1", "c2"])),
        "name": maybe(st.sampled_from(["read_file", "patch", "spawn"])),
        "namespace": maybe(st.sampled_from(["agents"])),
        "arguments": maybe(st.sampled_from(["{}", '{"path":"a"}', "not json"])),
        "input": maybe(strings),
        "output": maybe(strings | st.lists(maybe(part), max_size=2)),
        "id": maybe(strings),
    },
)
tool = st.sampled_from(
    [
        READ,
        {"type": "custom", "name": "patch"},
        {
            "type": "namespace",
            "name": "agents",
            "description": "",
            "tools": [{"type": "function", "name": "spawn"}],
        },
    ]
) | maybe(
    st.fixed_dictionaries(
        {}, optional={"type": maybe(strings), "name": maybe(strings), "parameters": anything}
    )
)
documents = st.fixed_dictionaries(
    {"model": st.just("m"), "input": maybe(strings | st.lists(maybe(item), max_size=5))},
    optional={
        "instructions": maybe(strings),
        "tools": maybe(st.lists(tool, max_size=3)),
        "tool_choice": maybe(
            st.sampled_from(["auto", "required", {"type": "function", "name": "read_file"}])
        ),
        "max_output_tokens": maybe(st.integers(-1, 10**9)),
        "text": maybe(st.fixed_dictionaries({}, optional={"format": anything})),
        "reasoning": maybe(st.fixed_dictionaries({}, optional={"effort": maybe(strings)})),
    },
)


@given(documents, st.booleans())
@example({"model": "m", "input": [{"type": []}]}, False)
@example({"model": "m", "input": [{"role": "user", "content": [{"type": ["input_text"]}]}]}, True)
def test_any_body_is_a_chat_request_and_a_prompt_or_a_400(document, thinking) -> None:
    try:
        body = parse_responses_body(orjson.dumps(document))
        chat = responses_chat_request(
            body, THINKING if thinking else MODEL, inject="", max_input_length=10_000
        )
    except InvalidRequest as exc:
        assert exc.status == 400
        return
    prompt = native_prompt(chat, chat.tool_choice)
    assert len(prompt.messages) <= len(chat.messages)
