"""Anthropic Messages body -> ChatRequest: model and thinking twin, system, turns, tools, images."""

from __future__ import annotations

import orjson
import pytest

from gateway.chat.catalog import CATALOG, resolve
from gateway.chat.from_anthropic import HIGH_BUDGET, pick_model, thinking_level, to_chat_request
from gateway.errors import ContextTooLong, InvalidRequest, ModelNotFound
from gateway.neutral.model import Image, Message, ModelInfo, ResponseFormat, ToolCall, ToolChoice, ToolResult
from gateway.schemas.anthropic import parse_messages_body

BASE = "claude-sonnet-4-5-20250929"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOL = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}
PNG = "iVBORw0KGgo="


def body(**fields: object):
    data: dict[str, object] = {
        "model": BASE,
        "max_tokens": 20000,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    data.update(fields)
    return parse_messages_body(orjson.dumps(data))


def convert(parsed, model: ModelInfo | None = None, **kwargs: object):
    options: dict[str, object] = {"inject": "", "max_input_length": 1_000_000}
    options.update(kwargs)
    return to_chat_request(parsed, model or pick_model(parsed, CATALOG), **options)  # type: ignore[arg-type]


def test_the_named_model_without_thinking():
    assert pick_model(body(), CATALOG).id == BASE
    assert pick_model(body(thinking={"type": "disabled"}), CATALOG).id == BASE
    # A -thinking id thinks (hidden) whatever the request says.
    assert pick_model(body(model=BASE + "-thinking"), CATALOG).thinking


@pytest.mark.parametrize(
    "thinking", [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}, {"type": "between_tools"}]
)
def test_enabled_thinking_picks_the_thinking_twin(thinking):
    model = pick_model(body(thinking=thinking), CATALOG)
    assert model.id == BASE + "-thinking" and model.thinking


def test_unknown_model_and_a_model_that_cannot_think():
    with pytest.raises(ModelNotFound):
        pick_model(body(model="no-such-model"), CATALOG)
    catalog = {BASE: CATALOG[BASE]}  # no twin: Cursor says it cannot think
    with pytest.raises(InvalidRequest) as info:
        pick_model(body(thinking={"type": "adaptive"}), catalog)
    assert info.value.param == "thinking" and info.value.code == "thinking_not_supported"


TWIN = resolve(BASE + "-thinking")
PLAIN = resolve(BASE)


@pytest.mark.parametrize(
    ("fields", "default", "level"),
    [
        ({}, "high", "high"),
        ({}, "medium", "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": HIGH_BUDGET - 1}}, "high", "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": HIGH_BUDGET}}, "medium", "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}, "max_tokens": 32000}, "medium", "high"),
        ({"thinking": {"type": "adaptive"}}, "medium", "medium"),
        ({"output_config": {"effort": "low"}}, "high", "medium"),
        ({"output_config": {"effort": "max"}}, "medium", "high"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}, "output_config": {"effort": "xhigh"}},
            "medium",
            "high",
        ),
    ],
)
def test_thinking_level(fields, default, level):
    assert TWIN is not None and PLAIN is not None
    assert thinking_level(body(**fields), TWIN, default) == level
    assert thinking_level(body(**fields), PLAIN, default) == default  # a base model ignores it
    assert convert(body(**fields), TWIN, default_thinking_level=default).thinking_level == level


def test_system_inject_and_output_format_instruction():
    chat = convert(
        body(
            system="Be brief.",
            messages=[{"role": "system", "content": "Use metric units."}, {"role": "user", "content": "Hi"}],
            output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
        ),
        inject="Injected.",
    )
    parts = chat.system.split("\n\n")
    assert parts[0] == "Be brief.\nUse metric units." and parts[1] == "Injected."
    assert '"city"' in parts[2]  # the response_format instruction carries the schema
    assert chat.response_format == ResponseFormat("json_schema", name="output", schema=SCHEMA)


def test_tool_rounds_become_assistant_tool_and_user_messages():
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "two calls", "signature": "s"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "down", "is_error": True},
                {"type": "text", "text": "Thanks."},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_3", "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3", "content": "sun"}]},
    ]
    chat = convert(
        body(messages=messages, tools=[TOOL], tool_choice={"type": "any", "disable_parallel_tool_use": True})
    )
    assert chat.messages == (
        Message("user", "Weather in Paris and Rome?"),
        Message(
            "assistant",
            "Checking.",
            tool_calls=(
                ToolCall("toolu_1", "get_weather", '{"city":"Paris"}'),
                ToolCall("toolu_2", "get_weather", '{"city":"Rome"}'),
            ),
        ),
        Message(
            "tool",
            "",
            results=(
                ToolResult("toolu_2", "get_weather", "rain"),
                ToolResult("toolu_1", "get_weather", "down", is_error=True),
            ),
        ),
        Message("user", "Thanks."),
        Message("assistant", "", tool_calls=(ToolCall("toolu_3", "get_weather", "{}"),)),
        Message("tool", "", results=(ToolResult("toolu_3", "get_weather", "sun"),)),
    )
    assert chat.has_tool_history
    [spec] = chat.tools
    assert (spec.name, spec.parameters_json) == (
        "get_weather",
        '{"type":"object","properties":{"city":{"type":"string"}}}',
    )
    assert chat.tool_choice == ToolChoice("required") and not chat.parallel_tool_calls


def test_output_parameters():
    chat = convert(body(stream=True, stop_sequences=["END", "STOP"], max_tokens=10_000_000))
    assert chat.stream and chat.stop == ("END", "STOP")
    assert chat.max_tokens == CATALOG[BASE].max_tokens  # clamped to the model's limit
    assert convert(body()).tool_choice == ToolChoice("auto") and convert(body()).max_tokens == 20000


def test_images_are_placed_by_path_and_left_out_when_not_loaded():
    parsed = body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "text", "text": "What is it?"},
                ],
            }
        ]
    )
    picture = Image(b"png", "image/png", 1, 1)
    chat = convert(parsed, images={"messages[0].content[0]": picture})
    assert chat.messages == (Message("user", "What is it?", images=(picture,)),)
    assert convert(parsed).messages == (Message("user", "What is it?"),)


def test_the_conversation_is_trimmed_to_max_input_length():
    messages = [
        {"role": "user", "content": "1" * 40},
        {"role": "assistant", "content": "2" * 40},
        {"role": "user", "content": "3" * 40},
    ]
    chat = convert(body(system="s" * 10, messages=messages), max_input_length=100)
    assert [m.text for m in chat.messages] == ["2" * 40, "3" * 40]
    with pytest.raises(ContextTooLong):
        convert(body(system="s" * 10, messages=messages), max_input_length=49)
