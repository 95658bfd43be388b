"""The conversation trimmed to MAX_INPUT_LENGTH (H4): oldest units first, calls with their results."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.conversation import message_size, trim
from gateway.errors import ContextTooLong
from gateway.neutral.model import Message, ToolCall, ToolResult


def u(text):
    return Message("user", text)


def a(text, *calls):
    return Message("assistant", text, tool_calls=tuple(ToolCall(c, "f", "{}") for c in calls))


def t(*ids):
    return Message("tool", "", results=tuple(ToolResult(i, "f", "r" * 10) for i in ids))


def test_trim_keeps_everything_that_fits():
    turns = (u("a" * 10), a("b" * 10), u("c" * 10))
    assert trim(turns, 30) == turns


def test_trim_drops_oldest_turns_first():
    turns = (u("1" * 10), a("2" * 10), u("3" * 10), a("4" * 10), u("5" * 10))
    assert trim(turns, 30) == turns[2:]
    assert trim(turns, 39) == turns[2:]
    assert trim(turns, 40) == turns[1:]


def test_trim_never_separates_calls_from_their_results():
    """H4: an assistant message with calls and its results are dropped together."""
    turns = (u("q" * 5), a("", "c1"), t("c1"), a("", "c2"), t("c2"), u("last"))
    kept = trim(turns, sum(message_size(m) for m in turns) - 1)
    assert kept == (turns[1], turns[2], turns[3], turns[4], turns[5])
    kept = trim(turns, sum(message_size(m) for m in turns) - 6)
    assert kept == (turns[3], turns[4], turns[5])


def test_trim_keeps_the_last_user_message_and_the_newest_unit():
    turns = (u("x" * 100), a("", "c1"), t("c1"), a("", "c2"), t("c2"))
    newest = message_size(turns[3]) + message_size(turns[4])
    assert trim(turns, 100 + newest) == (turns[0], turns[3], turns[4])
    with pytest.raises(ContextTooLong) as info:
        trim(turns, 99 + newest)
    assert info.value.code == "context_length_exceeded" and info.value.status == 400


@st.composite
def conversations(draw):
    turns = []
    n = 0
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["user", "assistant", "round"]))
        size = draw(st.integers(0, 40))
        if kind == "user":
            turns.append(u("u" * size))
        elif kind == "assistant":
            turns.append(a("a" * size))
        else:
            ids = [f"c{n + i}" for i in range(draw(st.integers(1, 3)))]
            n += len(ids)
            turns.append(a("a" * size, *ids))
            turns.append(t(*ids))
    return tuple(turns)


def units_of(turns):
    """Independent grouping: a `tool` message belongs to the assistant message before it."""
    units = []
    for i, m in enumerate(turns):
        if m.role == "tool":
            units[-1].append(i)
        else:
            units.append([i])
    return units


@given(conversations(), st.integers(0, 400))
def test_trim_properties(turns, budget):
    """The dropped units are the oldest droppable ones, as few as needed; calls keep their results
    (H4); the last user message and the newest unit stay; otherwise 400 context_length_exceeded."""
    units = units_of(turns)
    size = [sum(message_size(turns[i]) for i in unit) for unit in units]
    last_user = max((k for k, unit in enumerate(units) if turns[unit[0]].role == "user"), default=None)
    protected = {len(units) - 1, last_user} - {None}
    droppable = [k for k in range(len(units)) if k not in protected]
    try:
        kept = trim(turns, budget)
    except ContextTooLong:
        assert sum(size[k] for k in protected) > budget
        return
    kept_ids = {id(m) for m in kept}
    kept_units = [k for k, unit in enumerate(units) if all(id(turns[i]) in kept_ids for i in unit)]
    # whole units only, in order
    assert [turns[i] for k in kept_units for i in units[k]] == list(kept)
    dropped = [k for k in range(len(units)) if k not in kept_units]
    assert protected <= set(kept_units)
    assert dropped == droppable[: len(dropped)]
    assert sum(size[k] for k in kept_units) <= budget
    if dropped:
        assert sum(size) - sum(size[k] for k in dropped[:-1]) > budget
