"""Legacy prompts -> one ChatRequest per choice, in OpenAI's choice order."""

from __future__ import annotations

import orjson
import pytest

from gateway.chat.catalog import resolve
from gateway.chat.from_completions import completions_chat_requests
from gateway.errors import ContextTooLong
from gateway.schemas.completions import parse_completions_body

MODEL = resolve("gpt-4o")


def convert(limit=1_000_000, **fields):
    body = parse_completions_body(orjson.dumps({"model": "gpt-4o", "prompt": "p", **fields}))
    return completions_chat_requests(body, MODEL, inject="INJ", max_input_length=limit)


def test_each_prompt_is_a_user_turn_with_n_choices_each() -> None:
    chats = convert(prompt=["one", "two"], n=2, stop="END", max_tokens=7)
    assert [c.messages[0].text for c in chats] == ["one", "one", "two", "two"]
    assert all(c.messages[0].role == "user" and len(c.messages) == 1 for c in chats)
    assert all(c.stop == ("END",) and c.max_tokens == 7 and c.system == "INJ" and not c.tools for c in chats)


def test_a_prompt_too_long_names_prompt() -> None:
    with pytest.raises(ContextTooLong) as caught:
        convert(limit=20, prompt="x" * 100)
    assert caught.value.param == "prompt"
