"""The Responses API body: every accepted shape, and every bad field a 400 naming it in `param`."""

from __future__ import annotations

import copy
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice
from gateway.schemas.openai import ChatMessage
from gateway.schemas.responses import parse_responses_body

FN = {
    "type": "function",
    "name": "read_file",
    "description": "Read a file.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    "strict": True,
}
PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" LF'},
}
SPACE = {
    "type": "namespace",
    "name": "agents",
    "description": "Sub-agents.",
    "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}],
}


def parse(**fields):
    body = {"model": "m", "input": "hi", **fields}
    return parse_responses_body(orjson.dumps(body))


def refused(body: dict) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_responses_body(orjson.dumps(body))
    return caught.value


def test_a_string_input_is_one_user_message() -> None:
    body = parse(instructions="Be brief.")
    assert body.messages == (ChatMessage("user", "hi"),)
    assert body.instructions == "Be brief."
    assert body.stream is False and body.tools == () and body.tool_choice is None


def test_messages_of_every_role_and_part() -> None:
    body = parse(
        input=[
            {"role": "developer", "content": "Rules."},
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "More rules."}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "A cat.", "annotations": []}],
            },
            {"role": "user", "content": "Thanks"},
        ]
    )
    roles = [(m.role, m.text) for m in body.messages]
    assert roles == [
        ("developer", "Rules."),
        ("system", "More rules."),
        ("user", "Look:"),
        ("assistant", "A cat."),
        ("user", "Thanks"),
    ]
    [image] = body.messages[2].images
    assert image.url == "data:image/png;base64,AAAA"
    assert image.url_path == "input[2].content[1].image_url"


def test_calls_and_outputs_become_one_assistant_turn_and_its_results() -> None:
    body = parse(
        tools=[FN, PATCH],
        input=[
            {"role": "user", "content": "Go"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hm"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Reading."}],
            },
            {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": '{"path":"a"}'},
            {
                "type": "custom_tool_call",
                "call_id": "c2",
                "name": "apply_patch",
                "input": "*** Begin Patch\n",
            },
            {"type": "function_call_output", "call_id": "c2", "output": "patched"},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "text"}, {"type": "input_image", "image_url": "x"}],
            },
        ],
    )
    _, assistant, first, second = body.messages
    assert assistant == ChatMessage(
        "assistant",
        "Reading.",
        (
            ToolCall("c1", "read_file", '{"path":"a"}'),
            ToolCall("c2", "apply_patch", '{"input":"*** Begin Patch\\n"}'),
        ),
    )
    assert (first.role, first.tool_call_id, first.text) == ("tool", "c2", "patched")
    assert (second.tool_call_id, second.text) == ("c1", "text\n[input_image content omitted]")


def test_interleaved_calls_and_outputs_are_separate_turns() -> None:
    body = parse(
        tools=[FN],
        input=[
            {"role": "user", "content": "Go"},
            {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "1"},
            {"type": "function_call", "call_id": "c2", "name": "read_file", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": "2"},
        ],
    )
    assert [m.role for m in body.messages] == ["user", "assistant", "tool", "assistant", "tool"]


def test_function_custom_and_namespace_tools() -> None:
    body = parse(tools=[FN, PATCH, SPACE], tool_choice={"type": "custom", "name": "apply_patch"})
    names = [t.name for t in body.tools]
    assert names == ["read_file", "apply_patch", "agents__spawn"]
    assert body.tools[0].strict is True
    patch = body.tools[1]
    assert patch.parameters is not None and patch.parameters["required"] == ["input"]
    description = patch.parameters["properties"]["input"]["description"]  # type: ignore[index]
    assert "lark grammar" in description and "*** Begin Patch" in description
    assert body.kinds.custom == frozenset({"apply_patch"})
    assert body.kinds.namespaced == {"agents__spawn": ("agents", "spawn")}
    assert body.tool_choice == ToolChoice("named", "apply_patch")


def test_a_namespaced_call_in_history_uses_the_flattened_name() -> None:
    body = parse(
        tools=[SPACE],
        input=[
            {"role": "user", "content": "Go"},
            {
                "type": "function_call",
                "call_id": "c1",
                "namespace": "agents",
                "name": "spawn",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    )
    assert body.messages[1].tool_calls == (ToolCall("c1", "agents__spawn", "{}"),)


def test_parameters_the_response_repeats() -> None:
    body = parse(
        tools=[FN],
        tool_choice={"type": "function", "name": "read_file"},
        temperature=0.2,
        top_p=0.9,
        metadata={"k": "v"},
        user="u",
        truncation="auto",
        service_tier="flex",
        store=True,
        max_output_tokens=50,
        reasoning={"effort": "low", "summary": "auto"},
        text={"format": {"type": "json_object"}, "verbosity": "low"},
        parallel_tool_calls=False,
    )
    assert body.tool_choice == ToolChoice("named", "read_file")
    assert body.max_output_tokens == 50 and body.reasoning_effort == "low"
    assert body.response_format == ResponseFormat("json_object") and body.parallel_tool_calls is False
    echo = body.echo
    assert echo["tools"] == [FN] and echo["tool_choice"] == {"type": "function", "name": "read_file"}
    assert (echo["temperature"], echo["top_p"], echo["metadata"], echo["user"]) == (0.2, 0.9, {"k": "v"}, "u")
    assert (echo["truncation"], echo["service_tier"], echo["max_output_tokens"]) == ("auto", "flex", 50)
    assert echo["store"] is True and body.store is True
    assert echo["reasoning"] == {"effort": "low", "summary": "auto"}
    assert echo["text"] == {"format": {"type": "json_object"}, "verbosity": "low"}


def test_item_references_read_the_items_the_gateway_kept() -> None:
    kept = {
        "msg_1": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "I'll read it.", "annotations": [], "logprobs": []}],
        },
        "rs_1": {"id": "rs_1", "type": "reasoning", "summary": []},
    }
    items = [
        {"role": "user", "content": "Read a"},
        {"type": "item_reference", "id": "rs_1"},
        {"type": "item_reference", "id": "msg_1"},
        CALL,
        OUT,
    ]
    body = {"model": "m", "input": items, "tools": [FN], "store": False}
    parsed = parse_responses_body(orjson.dumps(body), kept.get)
    assert [(m.role, m.text) for m in parsed.messages] == [
        ("user", "Read a"),
        ("assistant", "I'll read it."),
        ("tool", "x"),
    ]
    assert parsed.messages[1].tool_calls == (ToolCall("c1", "read_file", "{}"),)
    assert parsed.store is False and parsed.echo["store"] is False


def test_an_unknown_reference_says_how_to_send_the_item() -> None:
    error = refused({"model": "m", "input": [{"type": "item_reference", "id": "msg_9"}]})
    assert "RESPONSES_ITEM_STORE_BYTES" in error.message and "store = false" in error.message


def test_text_format_json_schema_is_flat() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = parse(text={"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}})
    assert body.response_format == ResponseFormat("json_schema", name="out", schema=schema, strict=True)


def test_what_codex_sends_is_accepted() -> None:
    """The top-level fields Codex adds (recorded from `codex exec` 0.171.0) are accepted or ignored."""
    body = parse(
        tools=[FN, SPACE],
        tool_choice="auto",
        parallel_tool_calls=True,
        reasoning={"summary": "auto"},
        store=False,
        stream=True,
        include=["reasoning.encrypted_content"],
        prompt_cache_key="01a2",
        client_metadata={"session_id": "x"},
        text={"verbosity": "low"},
    )
    assert body.stream is True and body.response_format is None


USER = {"role": "user", "content": "Go"}
CALL = {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": "{}"}
OUT = {"type": "function_call_output", "call_id": "c1", "output": "x"}

BAD = [
    ({"model": None}, "missing_required_parameter", "model"),
    ({"input": None}, "missing_required_parameter", "input"),
    ({"input": 3}, "invalid_type", "input"),
    ({"input": []}, "empty_messages", "input"),
    ({"input": [{"role": "developer", "content": "x"}]}, "empty_messages", "input"),
    ({"input": ["hi"]}, "invalid_type", "input[0]"),
    ({"input": [{"role": "tool", "content": "x"}]}, "invalid_role", "input[0].role"),
    ({"input": [{"role": "user", "content": 5}]}, "invalid_type", "input[0].content"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "invalid_type",
        "input[0].content[0].text",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "video"}]}]},
        "invalid_content_part",
        "input[0].content[0].type",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
        "invalid_type",
        "input[0].content[0].image_url",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        "unsupported_content",
        "input[0].content[0].file_id",
    ),
    (
        {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "x"}]}]},
        "unsupported_content",
        "input[0].content[0].type",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "unsupported_content",
        "input[0].content[0].type",
    ),
    (
        {"input": [{"role": "assistant", "content": [{"type": "input_image"}]}, USER]},
        "invalid_content_part",
        "input[0].content[0].type",
    ),
    ({"input": [{"type": "web_search_call", "id": "ws"}]}, "unsupported_item_type", "input[0].type"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item_not_found", "input[0].id"),
    ({"input": [{"id": "msg_1"}]}, "item_not_found", "input[0].id"),
    ({"input": [{"type": "item_reference"}]}, "invalid_type", "input[0].id"),
    ({"input": [{"type": 4}]}, "invalid_type", "input[0].type"),
    ({"input": [{"type": []}]}, "invalid_type", "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": []}]}]}, "invalid_type", "input[0].content[0]"),
    (
        {"input": [{"role": "assistant", "content": [{"type": {}}]}, USER]},
        "invalid_type",
        "input[0].content[0]",
    ),
    ({"input": [USER, {**CALL, "call_id": ""}]}, "invalid_type", "input[1].call_id"),
    ({"input": [USER, {**CALL, "arguments": {}}]}, "invalid_type", "input[1].arguments"),
    ({"input": [USER, {**CALL, "namespace": 1}]}, "invalid_type", "input[1].namespace"),
    (
        {"input": [USER, {"type": "custom_tool_call", "call_id": "c", "name": "p", "input": 1}]},
        "invalid_type",
        "input[1].input",
    ),
    ({"input": [USER, CALL]}, "missing_tool_result", "input[1].call_id"),
    ({"input": [USER, CALL, USER, OUT]}, "missing_tool_result", "input[1].call_id"),
    ({"input": [USER, OUT]}, "unknown_tool_call_id", "input[1].call_id"),
    ({"input": [USER, CALL, OUT, OUT]}, "duplicate_tool_result", "input[3].call_id"),
    ({"input": [USER, CALL, CALL, OUT]}, "duplicate_tool_call_id", "input[2].call_id"),
    ({"input": [USER, CALL, {**OUT, "output": 3}]}, "invalid_type", "input[2].output"),
    ({"input": [USER, CALL, {**OUT, "output": [{"text": "x"}]}]}, "invalid_type", "input[2].output[0]"),
    ({"previous_response_id": "resp_1"}, "unsupported_parameter", "previous_response_id"),
    ({"conversation": "conv_1"}, "unsupported_parameter", "conversation"),
    ({"prompt": {"id": "pmpt_1"}}, "unsupported_parameter", "prompt"),
    ({"background": True}, "unsupported_parameter", "background"),
    ({"top_logprobs": 2}, "unsupported_parameter", "top_logprobs"),
    ({"include": ["message.output_text.logprobs"]}, "unsupported_parameter", "include"),
    ({"include": "x"}, "invalid_type", "include"),
    ({"instructions": 3}, "invalid_type", "instructions"),
    ({"stream": "yes"}, "invalid_type", "stream"),
    ({"max_output_tokens": 0}, "invalid_value", "max_output_tokens"),
    ({"max_output_tokens": "9"}, "invalid_type", "max_output_tokens"),
    ({"temperature": 3}, "invalid_value", "temperature"),
    ({"top_p": -1}, "invalid_value", "top_p"),
    ({"metadata": []}, "invalid_type", "metadata"),
    ({"metadata": {"k": 1}}, "invalid_value", "metadata.k"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "invalid_value", "metadata"),
    ({"user": "u" * 300}, "invalid_value", "user"),
    ({"truncation": "sometimes"}, "invalid_value", "truncation"),
    ({"service_tier": "gold"}, "invalid_value", "service_tier"),
    ({"parallel_tool_calls": 1}, "invalid_type", "parallel_tool_calls"),
    ({"store": "no"}, "invalid_type", "store"),
    ({"reasoning": "high"}, "invalid_type", "reasoning"),
    ({"reasoning": {"effort": 1}}, "invalid_type", "reasoning.effort"),
    ({"reasoning": {"summary": "long"}}, "invalid_value", "reasoning.summary"),
    ({"text": {"verbosity": "loud"}}, "invalid_value", "text.verbosity"),
    ({"text": {"format": {"type": "xml"}}}, "invalid_value", "text.format.type"),
    ({"text": {"format": {"type": "json_schema"}}}, "missing_required_parameter", "text.format.name"),
    (
        {"text": {"format": {"type": "json_schema", "name": "o", "schema": {"type": 3}}}},
        "invalid_value",
        "text.format.schema",
    ),
    ({"tools": {}}, "invalid_tools", "tools"),
    ({"tools": [{"type": "web_search"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [FN, {"type": "file_search"}]}, "unsupported_tool_type", "tools[1].type"),
    ({"tools": [{"type": "computer_use_preview"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [{"type": "code_interpreter"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [{"type": "image_generation"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [{"type": "mcp", "server_label": "x"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [{"type": "local_shell"}]}, "unsupported_tool_type", "tools[0].type"),
    ({"tools": [{"name": "f"}]}, "invalid_tools", "tools[0].type"),
    ({"tools": [{**FN, "name": "bad name"}]}, "invalid_tool_name", "tools[0].name"),
    ({"tools": [{**FN, "parameters": {"type": 5}}]}, "invalid_tool_schema", "tools[0].parameters"),
    ({"tools": [{**FN, "strict": "yes"}]}, "invalid_tools", "tools[0].strict"),
    ({"tools": [FN, FN]}, "duplicate_tool_name", "tools[1].name"),
    ({"tools": [{**PATCH, "format": {"type": "xml"}}]}, "invalid_tools", "tools[0].format"),
    (
        {"tools": [{**PATCH, "format": {"type": "grammar", "syntax": "ebnf", "definition": "x"}}]},
        "invalid_tools",
        "tools[0].format.syntax",
    ),
    (
        {"tools": [{**PATCH, "format": {"type": "grammar", "syntax": "lark", "definition": ""}}]},
        "invalid_tools",
        "tools[0].format.definition",
    ),
    ({"tools": [{**SPACE, "tools": []}]}, "invalid_tools", "tools[0].tools"),
    ({"tools": [{**SPACE, "name": ""}]}, "invalid_tool_name", "tools[0].name"),
    ({"tools": [{**SPACE, "description": None}]}, "invalid_tools", "tools[0].description"),
    (
        {"tools": [{**SPACE, "tools": [{"type": "web_search"}]}]},
        "unsupported_tool_type",
        "tools[0].tools[0].type",
    ),
    (
        {"tools": [{**SPACE, "tools": [{"type": "namespace", "name": "n", "tools": []}]}]},
        "unsupported_tool_type",
        "tools[0].tools[0].type",
    ),
    (
        {"tools": [{**SPACE, "tools": [{"type": "function", "name": "x" * 127}]}]},
        "invalid_tool_name",
        "tools[0].tools[0].name",
    ),
    ({"tools": [{**FN, "name": "agents__spawn"}, SPACE]}, "duplicate_tool_name", "tools[1].tools[0].name"),
    ({"tools": [FN], "tool_choice": "any"}, "invalid_tool_choice", "tool_choice"),
    ({"tool_choice": "required"}, "missing_tools", "tool_choice"),
    (
        {"tools": [FN], "tool_choice": {"type": "function", "name": "nope"}},
        "tool_choice_not_found",
        "tool_choice.name",
    ),
    (
        {"tools": [FN], "tool_choice": {"type": "custom", "name": "read_file"}},
        "tool_choice_not_found",
        "tool_choice.name",
    ),
    ({"tools": [FN], "tool_choice": {"type": "function"}}, "invalid_tool_choice", "tool_choice.name"),
    (
        {"tools": [FN], "tool_choice": {"type": "web_search_preview"}},
        "unsupported_tool_choice",
        "tool_choice.type",
    ),
    (
        {"tools": [FN], "tool_choice": {"type": "allowed_tools"}},
        "unsupported_tool_choice",
        "tool_choice.type",
    ),
]


@pytest.mark.parametrize(("change", "code", "param"), BAD, ids=[f"{p}:{c}" for _, c, p in BAD])
def test_bad_fields_are_a_400_naming_them(change, code, param) -> None:
    body = {"model": "m", "input": "hi", **change}
    body = {k: v for k, v in body.items() if v is not None or k not in ("model", "input")}
    error = refused(body)
    assert (error.status, error.code, error.param) == (400, code, param), error.message


def test_built_in_tool_errors_say_why() -> None:
    error = refused({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]})
    assert "built-in" in error.message and "function" in error.message


def test_previous_response_id_says_to_send_the_conversation() -> None:
    error = refused({"model": "m", "input": "hi", "previous_response_id": "resp_1"})
    assert "does not store responses" in error.message and "'input'" in error.message


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["input", "tools", "tool_choice", "text", "reasoning", "metadata", "instructions", "include"]
)


@given(st.dictionaries(KEYS, JSON, max_size=4))
def test_arbitrary_bodies_parse_or_are_a_400(fields) -> None:
    body = {"model": "m", "input": "hi", **fields}
    try:
        parse_responses_body(orjson.dumps(body))
    except InvalidRequest as exc:
        assert exc.status == 400
        assert exc.param is None or isinstance(exc.param, str)


@given(
    st.lists(
        st.sampled_from([USER, CALL, OUT, {"type": "reasoning", "id": "r", "summary": []}]),
        min_size=1,
        max_size=6,
    )
)
def test_arbitrary_histories_pair_or_name_the_item(items) -> None:
    body = {"model": "m", "input": copy.deepcopy(items), "tools": [FN]}
    try:
        parsed = parse_responses_body(json.dumps(body).encode())
    except InvalidRequest as exc:
        assert exc.param is not None and exc.param.startswith("input")
        return
    calls = [c.id for m in parsed.messages for c in m.tool_calls]
    results = [m.tool_call_id for m in parsed.messages if m.role == "tool"]
    assert sorted(calls) == sorted(results)
