"""Anthropic Messages request validation: every bad field is a 400 naming its path; good bodies parse."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice
from gateway.schemas.anthropic import (
    MAX_STOP_SEQUENCES,
    ResultBlock,
    Thinking,
    Turn,
    parse_messages_body,
)
from gateway.schemas.common import MAX_TOOLS, ImageRef

PNG = "iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"name": "get_weather", "description": "Weather now", "input_schema": SCHEMA}


def base(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    body.update(fields)
    return body


def tool_round(result: object = None, **block: object) -> list[object]:
    """A user turn, an assistant tool_use, a user turn with its result."""
    answer = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny", **block}
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [answer if result is None else result]},
    ]


def parse(body: object, **kwargs: bool):
    return parse_messages_body(orjson.dumps(body), **kwargs)


def image(source: object) -> list[object]:
    return [{"role": "user", "content": [{"type": "image", "source": source}]}]


def with_block(block: object, role: str = "user") -> list[object]:
    messages: list[object] = [{"role": "user", "content": "Hi"}] if role == "assistant" else []
    return [*messages, {"role": role, "content": [block]}]


BAD: list[tuple[str, dict[str, object], str, str]] = [
    # (case, body, param, code)
    ("model missing", {"max_tokens": 1, "messages": []}, "model", "missing_required_parameter"),
    ("model not a string", base(model=3), "model", "invalid_type"),
    ("max_tokens missing", {"model": "m", "messages": []}, "max_tokens", "missing_required_parameter"),
    ("max_tokens zero", base(max_tokens=0), "max_tokens", "invalid_value"),
    ("max_tokens a string", base(max_tokens="9"), "max_tokens", "invalid_type"),
    ("messages missing", {"model": "m", "max_tokens": 1}, "messages", "missing_required_parameter"),
    ("messages an object", base(messages={}), "messages", "invalid_type"),
    ("messages empty", base(messages=[]), "messages", "empty_messages"),
    ("message not an object", base(messages=["hi"]), "messages[0]", "invalid_type"),
    ("unknown role", base(messages=[{"role": "tool", "content": "x"}]), "messages[0].role", "invalid_role"),
    (
        "content missing",
        base(messages=[{"role": "user"}]),
        "messages[0].content",
        "missing_required_parameter",
    ),
    (
        "content a number",
        base(messages=[{"role": "user", "content": 5}]),
        "messages[0].content",
        "invalid_type",
    ),
    (
        "block not an object",
        base(messages=[{"role": "user", "content": [5]}]),
        "messages[0].content[0]",
        "invalid_type",
    ),
    (
        "text block without text",
        base(messages=with_block({"type": "text"})),
        "messages[0].content[0].text",
        "missing_required_parameter",
    ),
    (
        "block without type",
        base(messages=with_block({"text": "x"})),
        "messages[0].content[0].type",
        "invalid_content_block",
    ),
    (
        "unknown block type",
        base(messages=with_block({"type": "video"})),
        "messages[0].content[0].type",
        "unsupported_content",
    ),
    (
        "server tool block",
        base(messages=with_block({"type": "server_tool_use", "id": "s", "name": "web_search"}, "assistant")),
        "messages[1].content[0].type",
        "unsupported_content",
    ),
    (
        "web search result block",
        base(messages=with_block({"type": "web_search_tool_result", "tool_use_id": "s"}, "assistant")),
        "messages[1].content[0].type",
        "unsupported_content",
    ),
    (
        "image in an assistant message",
        base(messages=with_block({"type": "image", "source": {}}, "assistant")),
        "messages[1].content[0].type",
        "invalid_content_block",
    ),
    (
        "tool_result in an assistant message",
        base(messages=with_block({"type": "tool_result", "tool_use_id": "x"}, "assistant")),
        "messages[1].content[0].type",
        "invalid_content_block",
    ),
    (
        "image without source",
        base(messages=with_block({"type": "image"})),
        "messages[0].content[0].source",
        "missing_required_parameter",
    ),
    (
        "image media type",
        base(messages=image({"type": "base64", "media_type": "image/bmp", "data": PNG})),
        "messages[0].content[0].source.media_type",
        "invalid_value",
    ),
    (
        "image without data",
        base(messages=image({"type": "base64", "media_type": "image/png"})),
        "messages[0].content[0].source.data",
        "missing_required_parameter",
    ),
    (
        "image file source",
        base(messages=image({"type": "file", "file_id": "file_1"})),
        "messages[0].content[0].source.type",
        "unsupported_content",
    ),
    (
        "image source type",
        base(messages=image({"type": "zip"})),
        "messages[0].content[0].source.type",
        "invalid_value",
    ),
    (
        "image url missing",
        base(messages=image({"type": "url"})),
        "messages[0].content[0].source.url",
        "missing_required_parameter",
    ),
    (
        "pdf document",
        base(messages=with_block({"type": "document", "source": {"type": "base64", "data": "x"}})),
        "messages[0].content[0].source.type",
        "unsupported_content",
    ),
    (
        "tool_use without id",
        base(messages=with_block({"type": "tool_use", "name": "f", "input": {}}, "assistant")),
        "messages[1].content[0].id",
        "invalid_tool_call_history",
    ),
    (
        "tool_use input not an object",
        base(messages=with_block({"type": "tool_use", "id": "t", "name": "f", "input": "{}"}, "assistant")),
        "messages[1].content[0].input",
        "invalid_tool_call_history",
    ),
    (
        "tool_use without a result",
        base(messages=[*tool_round()[:2], {"role": "user", "content": "and?"}]),
        "messages[1].content[0].id",
        "missing_tool_result",
    ),
    (
        "result for an unknown call",
        base(messages=tool_round(tool_use_id="toolu_2")),
        "messages[2].content[0].tool_use_id",
        "unknown_tool_call_id",
    ),
    (
        "result without a call before it",
        base(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]),
        "messages[0].content[0].tool_use_id",
        "unknown_tool_call_id",
    ),
    (
        "two results for one call",
        base(
            messages=[
                *tool_round()[:2],
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1"},
                        {"type": "tool_result", "tool_use_id": "toolu_1"},
                    ],
                },
            ]
        ),
        "messages[2].content[1].tool_use_id",
        "duplicate_tool_result",
    ),
    (
        "two calls with one id",
        base(
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
            ]
        ),
        "messages[1].content[1].id",
        "duplicate_tool_call_id",
    ),
    (
        "result is_error",
        base(messages=tool_round(is_error="yes")),
        "messages[2].content[0].is_error",
        "invalid_type",
    ),
    (
        "result content",
        base(messages=tool_round(content=5)),
        "messages[2].content[0].content",
        "invalid_type",
    ),
    (
        "result content block without type",
        base(messages=tool_round(content=[{"text": "x"}])),
        "messages[2].content[0].content[0]",
        "invalid_content_block",
    ),
    ("system a number", base(system=5), "system", "invalid_type"),
    ("system block type", base(system=[{"type": "image"}]), "system[0].type", "invalid_content_block"),
    ("system block text", base(system=[{"type": "text"}]), "system[0].text", "missing_required_parameter"),
    (
        "system message content",
        base(messages=[{"role": "system", "content": 5}, {"role": "user", "content": "x"}]),
        "messages[0].content",
        "invalid_type",
    ),
    ("stop_sequences a string", base(stop_sequences="END"), "stop_sequences", "invalid_type"),
    (
        "too many stop_sequences",
        base(stop_sequences=["x"] * (MAX_STOP_SEQUENCES + 1)),
        "stop_sequences",
        "invalid_type",
    ),
    ("temperature", base(temperature=1.5), "temperature", "invalid_value"),
    ("top_p", base(top_p=-0.1), "top_p", "invalid_value"),
    ("top_k a float", base(top_k=1.5), "top_k", "invalid_type"),
    ("top_k negative", base(top_k=-1), "top_k", "invalid_value"),
    ("stream", base(stream="yes"), "stream", "invalid_type"),
    ("metadata", base(metadata=[]), "metadata", "invalid_type"),
    ("metadata.user_id", base(metadata={"user_id": 5}), "metadata.user_id", "invalid_type"),
    ("service_tier", base(service_tier="fast"), "service_tier", "invalid_value"),
    ("tools an object", base(tools={}), "tools", "invalid_tools"),
    (
        "too many tools",
        base(tools=[{**TOOL, "name": f"t{i}"} for i in range(MAX_TOOLS + 1)]),
        "tools",
        "too_many_tools",
    ),
    ("tool not an object", base(tools=[5]), "tools[0]", "invalid_tools"),
    ("tool name", base(tools=[{**TOOL, "name": "no spaces"}]), "tools[0].name", "invalid_tool_name"),
    ("tool without name", base(tools=[{"input_schema": SCHEMA}]), "tools[0].name", "invalid_tool_name"),
    ("tool without schema", base(tools=[{"name": "f"}]), "tools[0].input_schema", "invalid_tool_schema"),
    (
        "tool schema not an object schema",
        base(tools=[{"name": "f", "input_schema": {"type": "string"}}]),
        "tools[0].input_schema",
        "invalid_tool_schema",
    ),
    (
        "tool schema invalid",
        base(tools=[{"name": "f", "input_schema": {"type": "object", "properties": 5}}]),
        "tools[0].input_schema",
        "invalid_tool_schema",
    ),
    (
        "tool schema with a remote $ref",
        base(tools=[{"name": "f", "input_schema": {"type": "object", "$ref": "https://example.com/s.json"}}]),
        "tools[0].input_schema",
        "invalid_tool_schema",
    ),
    ("tool description", base(tools=[{**TOOL, "description": 5}]), "tools[0].description", "invalid_tools"),
    ("tool strict", base(tools=[{**TOOL, "strict": "yes"}]), "tools[0].strict", "invalid_tools"),
    (
        "tool defer_loading",
        base(tools=[{**TOOL, "defer_loading": 1}]),
        "tools[0].defer_loading",
        "invalid_tools",
    ),
    (
        "server tool",
        base(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        "tools[0].type",
        "unsupported_tool_type",
    ),
    (
        "bash tool",
        base(tools=[{"type": "bash_20250124", "name": "bash"}]),
        "tools[0].type",
        "unsupported_tool_type",
    ),
    (
        "text editor tool",
        base(tools=[{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]),
        "tools[0].type",
        "unsupported_tool_type",
    ),
    (
        "computer tool",
        base(tools=[{"type": "computer_20250124", "name": "computer", "display_width_px": 800}]),
        "tools[0].type",
        "unsupported_tool_type",
    ),
    ("duplicate tool names", base(tools=[TOOL, TOOL]), "tools[1].name", "duplicate_tool_name"),
    ("tool_choice a string", base(tools=[TOOL], tool_choice="auto"), "tool_choice", "invalid_type"),
    (
        "tool_choice type",
        base(tools=[TOOL], tool_choice={"type": "required"}),
        "tool_choice.type",
        "invalid_tool_choice",
    ),
    (
        "tool_choice tool without name",
        base(tools=[TOOL], tool_choice={"type": "tool"}),
        "tool_choice.name",
        "missing_required_parameter",
    ),
    (
        "tool_choice names an unknown tool",
        base(tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}),
        "tool_choice.name",
        "tool_choice_not_found",
    ),
    ("tool_choice any without tools", base(tool_choice={"type": "any"}), "tool_choice", "missing_tools"),
    (
        "disable_parallel_tool_use",
        base(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": "yes"}),
        "tool_choice.disable_parallel_tool_use",
        "invalid_type",
    ),
    ("thinking", base(thinking=True), "thinking", "invalid_type"),
    ("thinking type", base(thinking={"type": "on"}), "thinking.type", "invalid_value"),
    (
        "thinking budget missing",
        base(thinking={"type": "enabled"}),
        "thinking.budget_tokens",
        "missing_required_parameter",
    ),
    (
        "thinking budget small",
        base(thinking={"type": "enabled", "budget_tokens": 1023}),
        "thinking.budget_tokens",
        "invalid_value",
    ),
    (
        "thinking budget over max_tokens",
        base(max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2000}),
        "thinking.budget_tokens",
        "invalid_value",
    ),
    (
        "thinking display",
        base(thinking={"type": "adaptive", "display": "full"}),
        "thinking.display",
        "invalid_value",
    ),
    ("output_config", base(output_config=5), "output_config", "invalid_type"),
    ("effort", base(output_config={"effort": "extreme"}), "output_config.effort", "invalid_value"),
    (
        "format type",
        base(output_config={"format": {"type": "json_object"}}),
        "output_config.format.type",
        "invalid_value",
    ),
    (
        "format without schema",
        base(output_config={"format": {"type": "json_schema"}}),
        "output_config.format.schema",
        "missing_required_parameter",
    ),
    (
        "format schema invalid",
        base(output_config={"format": {"type": "json_schema", "schema": {"type": 5}}}),
        "output_config.format.schema",
        "invalid_value",
    ),
    ("container", base(container="container_1"), "container", "unsupported_parameter"),
    (
        "mcp_servers",
        base(mcp_servers=[{"type": "url", "url": "https://x", "name": "x"}]),
        "mcp_servers",
        "unsupported_parameter",
    ),
]


@pytest.mark.parametrize(("body", "param", "code"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_every_bad_field_is_a_400_naming_its_path(body, param, code):
    with pytest.raises(InvalidRequest) as info:
        parse(body)
    error = info.value
    assert (error.status, error.param, error.code) == (400, param, code)
    assert param in error.message  # Anthropic's envelope has no param: the message names the field


@pytest.mark.parametrize(
    "raw", [b"", b"   ", b"{", b"[1]", b'"x"', b'{"model": "m", "max_tokens": 1, "messages": [}']
)
def test_a_body_that_is_not_a_json_object_is_a_400(raw):
    with pytest.raises(InvalidRequest) as info:
        parse_messages_body(raw)
    assert info.value.status == 400 and info.value.code == "invalid_json"


def test_a_plain_body():
    body = parse(
        base(stream=True, stop_sequences=["END", ""], temperature=0.5, top_k=5, metadata={"user_id": "u"})
    )
    assert body.model == "claude-sonnet-4-5-20250929" and body.max_tokens == 1000 and body.stream
    assert body.turns == (Turn("user", "Hello"),)
    assert body.stop_sequences == ("END",) and body.system == ""
    assert body.tools == () and body.tool_choice is None and body.parallel_tool_calls
    assert body.thinking is None and body.effort is None and body.response_format is None


def test_count_tokens_takes_no_max_tokens_and_never_streams():
    body = parse(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}, count_tokens=True
    )
    assert body.max_tokens is None and not body.stream


def test_system_text_blocks_and_system_messages_join_in_order():
    body = parse(
        base(
            system=[
                {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "two"},
            ],
            messages=[
                {"role": "system", "content": "three"},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": [{"type": "text", "text": "four"}]},
            ],
        )
    )
    assert body.system == "one\ntwo\nthree\nfour"
    assert body.turns == (Turn("user", "hi"),)
    assert parse(base(system="plain")).system == "plain"


def test_consecutive_messages_of_one_role_form_one_turn_and_thinking_is_dropped():
    body = parse(
        base(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hidden", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "text", "text": "d"},
                    ],
                },
                {"role": "assistant", "content": "e"},
                {"role": "user", "content": "f"},
            ]
        )
    )
    assert body.turns == (Turn("user", "a\nb\nc"), Turn("assistant", "d\ne"), Turn("user", "f"))


def test_tool_use_and_tool_result_blocks():
    messages = tool_round()
    messages[1]["content"].insert(0, {"type": "text", "text": "Let me look."})  # type: ignore[index]
    messages[1]["content"][1]["input"] = {"city": "Paris", "days": [1, 2]}  # type: ignore[index]
    messages[2]["content"] = [  # type: ignore[index]
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "is_error": True,
            "content": [
                {"type": "text", "text": "timeout"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ],
        },
        {"type": "text", "text": "Try again?"},
    ]
    body = parse(base(messages=messages, tools=[TOOL]))
    assert body.turns[1] == Turn(
        "assistant",
        "Let me look.",
        tool_calls=(ToolCall("toolu_1", "get_weather", '{"city":"Paris","days":[1,2]}'),),
    )
    assert body.turns[2] == Turn(
        "user",
        "Try again?",
        results=(ResultBlock("toolu_1", "timeout\n[image content omitted]", True, "messages[2].content[0]"),),
    )


def test_a_string_result_and_an_empty_one():
    assert parse(base(messages=tool_round())).turns[2].results[0].content == "sunny"
    empty = {"type": "tool_result", "tool_use_id": "toolu_1"}
    result = parse(base(messages=tool_round(empty))).turns[2].results[0]
    assert (result.content, result.is_error) == ("", False)


def test_images_are_references_with_the_field_to_blame():
    body = parse(
        base(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    ],
                }
            ]
        )
    )
    assert body.turns[0].text == "What is this?"
    assert body.image_refs == (
        ImageRef(
            f"data:image/png;base64,{PNG}", "messages[0].content[1]", "messages[0].content[1].source.data"
        ),
        ImageRef("https://example.com/a.jpg", "messages[0].content[2]", "messages[0].content[2].source.url"),
    )


def test_too_many_images_in_one_turn():
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    with pytest.raises(InvalidRequest) as info:
        parse(base(messages=[{"role": "user", "content": [block] * 21}]))
    assert info.value.code == "too_many_images" and info.value.param == "messages[0].content[20]"


def test_a_plain_text_document_is_text():
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}
    assert parse(base(messages=with_block(document))).turns[0].text == "notes"


def test_tools_and_tool_choice():
    body = parse(
        base(
            tools=[{**TOOL, "cache_control": {"type": "ephemeral"}, "strict": True, "type": "custom"}],
            tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        )
    )
    [tool] = body.tools
    assert (tool.name, tool.description, tool.parameters, tool.strict) == (
        "get_weather",
        "Weather now",
        SCHEMA,
        True,
    )
    assert body.tool_choice == ToolChoice("named", "get_weather") and not body.parallel_tool_calls
    for kind, mode in (("auto", "auto"), ("any", "required"), ("none", "none")):
        parsed = parse(base(tools=[TOOL], tool_choice={"type": kind}))
        assert parsed.tool_choice == ToolChoice(mode) and parsed.parallel_tool_calls  # type: ignore[arg-type]


def test_a_deferred_tool_is_offered_once_a_tool_reference_loads_it():
    deferred = {"name": "cron_create", "input_schema": {"type": "object"}, "defer_loading": True}
    search = {"name": "tool_search", "input_schema": {"type": "object"}}
    assert [t.name for t in parse(base(tools=[search, deferred])).tools] == ["tool_search"]
    reference = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "tool_reference", "tool_name": "cron_create"}],
    }
    body = parse(base(tools=[search, deferred], messages=tool_round(reference)))
    assert [t.name for t in body.tools] == ["tool_search", "cron_create"]
    assert body.turns[2].results[0].content == "[tool_reference: cron_create]"


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, Thinking("enabled", 1024)),
        (
            {"type": "enabled", "budget_tokens": 4096, "display": "omitted"},
            Thinking("enabled", 4096, "omitted"),
        ),
        ({"type": "adaptive"}, Thinking("adaptive")),
        ({"type": "between_tools"}, Thinking("between_tools")),
        ({"type": "disabled"}, Thinking("disabled")),
    ],
)
def test_thinking(thinking, expected):
    parsed = parse(base(max_tokens=8000, thinking=thinking)).thinking
    assert parsed == expected
    assert parsed.shown == (thinking["type"] != "disabled")


def test_output_config():
    body = parse(base(output_config={"effort": "max", "format": {"type": "json_schema", "schema": SCHEMA}}))
    assert body.effort == "max"
    assert body.response_format == ResponseFormat("json_schema", name="output", schema=SCHEMA)


def test_unknown_and_beta_fields_are_ignored():
    body = base(
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        inference_geo="us",
        speed="fast",
        something_new={"x": 1},
        container=None,
        mcp_servers=[],
    )
    assert parse(body).turns == (Turn("user", "Hello"),)


# ---------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
FIELDS = (
    "model",
    "max_tokens",
    "messages",
    "system",
    "stream",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    "temperature",
    "metadata",
)


def _valid_body() -> dict[str, object]:
    return base(
        system=[{"type": "text", "text": "sys"}],
        tools=[TOOL],
        tool_choice={"type": "auto"},
        messages=tool_round(),
        thinking={"type": "enabled", "budget_tokens": 1024},
    )


@given(st.sampled_from(FIELDS), json_values, st.data())
def test_any_value_anywhere_parses_or_is_a_400(field, value, data):
    """Replacing a field, or a value deep inside the messages, never raises anything but InvalidRequest."""
    body = _valid_body()
    if data.draw(st.booleans()):
        body[field] = value
    else:
        messages = copy.deepcopy(body["messages"])
        message = messages[data.draw(st.integers(0, 2))]
        content = message["content"]
        if isinstance(content, list):
            block = content[0]
            block[data.draw(st.sampled_from(sorted(block)))] = value
        else:
            message["content"] = value
        body["messages"] = messages
    try:
        parse(body)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.param is not None


@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_are_a_400(raw):
    try:
        parse_messages_body(raw)
    except InvalidRequest as exc:
        assert exc.status == 400
