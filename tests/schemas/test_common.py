"""The validators every dialect's schema shares."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.neutral.model import ToolCall
from gateway.schemas.common import (
    MAX_MODEL_LENGTH,
    check_history,
    check_tool_schema,
    required_model,
    response_schema,
)
from gateway.schemas.openai import ChatMessage


@pytest.mark.parametrize(
    "schema",
    [{"$ref": "#"}, {"properties": {"a": {"$ref": "#/nope"}}}, {"patternProperties": {"(?<=a)": {}}}],
)
def test_tool_and_response_schemas_share_one_checker(schema) -> None:
    with pytest.raises(InvalidRequest) as tool:
        check_tool_schema(schema, "tools[0].input_schema")
    with pytest.raises(InvalidRequest) as answer:
        response_schema(schema, "output_config.format.schema")
    assert (tool.value.code, tool.value.param) == ("invalid_tool_schema", "tools[0].input_schema")
    assert (answer.value.code, answer.value.param) == ("invalid_value", "output_config.format.schema")
    assert tool.value.message.split(": ", 1)[1] == answer.value.message.split(": ", 1)[1]  # the same reason


def test_only_a_tool_schema_must_describe_an_object() -> None:
    assert response_schema({"type": "string"}, "s") == {"type": "string"}
    with pytest.raises(InvalidRequest):
        check_tool_schema({"type": "string"}, "tools[0].input_schema")


def test_the_model_name_is_bounded() -> None:
    assert required_model({"model": " m " + "x" * (MAX_MODEL_LENGTH - 4)}).startswith("m")
    with pytest.raises(InvalidRequest) as info:
        required_model({"model": "m" * (MAX_MODEL_LENGTH + 1)})
    assert (info.value.param, info.value.code) == ("model", "invalid_value")


def _pairs(messages):
    check_history(messages, call_param=lambda i, j: f"m{i}c{j}", result_param=lambda i: f"r{i}")


@pytest.mark.parametrize(
    ("messages", "code", "param"),
    [
        (
            [ChatMessage("assistant", "", (ToolCall("a", "f", "{}"),)), ChatMessage("user", "x")],
            "missing_tool_result",
            "m0c0",
        ),
        (
            [ChatMessage("user", "x"), ChatMessage("tool", "r", tool_call_id="a")],
            "unknown_tool_call_id",
            "r1",
        ),
        (
            [
                ChatMessage("assistant", "", (ToolCall("a", "f", "{}"),)),
                ChatMessage("tool", "r", tool_call_id="a"),
                ChatMessage("tool", "r", tool_call_id="a"),
            ],
            "duplicate_tool_result",
            "r2",
        ),
    ],
)
def test_history_errors_name_the_dialects_own_params(messages, code, param) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _pairs(messages)
    assert (caught.value.code, caught.value.param) == (code, param)


def test_system_messages_neither_open_nor_close_a_group() -> None:
    _pairs(
        [
            ChatMessage("assistant", "", (ToolCall("a", "f", "{}"), ToolCall("b", "f", "{}"))),
            ChatMessage("tool", "r", tool_call_id="b"),
            ChatMessage("system", "note"),
            ChatMessage("tool", "r", tool_call_id="a"),
            ChatMessage("user", "next"),
        ]
    )
