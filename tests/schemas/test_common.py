"""The validators every dialect's schema shares."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.neutral.model import ToolCall
from gateway.schemas import common as schemas
from gateway.schemas.common import check_history
from gateway.schemas.openai import ChatMessage


def test_checked_schema_cache_is_bounded_and_skips_known_schemas(monkeypatch) -> None:
    monkeypatch.setattr(schemas, "CHECKED_SCHEMAS_MAX", 4)
    monkeypatch.setattr(schemas, "_CHECKED_SCHEMAS", schemas.OrderedDict())
    for i in range(10):
        schemas.check_tool_schema({"type": "object", "properties": {f"p{i}": {"type": "string"}}}, "tools[0]")
    assert len(schemas._CHECKED_SCHEMAS) == 4
    calls = []
    monkeypatch.setattr(
        schemas.Draft202012Validator, "check_schema", classmethod(lambda cls, s: calls.append(s))
    )
    schemas.check_tool_schema({"type": "object", "properties": {"p9": {"type": "string"}}}, "tools[0]")
    assert calls == []  # known: not meta-validated again
    schemas.check_tool_schema({"type": "object", "properties": {"new": {"type": "string"}}}, "tools[0]")
    assert len(calls) == 1


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
