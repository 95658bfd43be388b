"""OpenAI messages -> ChatRequest: system extraction, role merging, injection, input limit."""

from __future__ import annotations

import orjson
import pytest

from gateway.chat.catalog import resolve
from gateway.chat.from_openai import to_chat_request
from gateway.errors import ContextTooLong
from gateway.schemas.openai import parse_chat_body

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


def test_consecutive_same_role_merge():
    chat = convert(
        [
            {"role": "user", "content": "a"},
            {"role": "human", "content": "b"},
            {"role": "assistant", "content": "c"},
            {"role": "ai", "content": "d"},
        ]
    )
    assert [(m.role, m.text) for m in chat.messages] == [("user", "a\n\nb"), ("assistant", "c\n\nd")]


def test_only_system_leaves_no_turns():
    chat = convert([{"role": "system", "content": "S"}])
    assert chat.messages == () and chat.system == "S"


def test_input_limit():
    with pytest.raises(ContextTooLong) as info:
        convert([{"role": "user", "content": "x" * 2000}], limit=1000)
    assert info.value.code == "context_length_exceeded" and info.value.param == "messages"
