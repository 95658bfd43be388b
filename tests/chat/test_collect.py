"""Collecting a whole answer from the events of its choices."""

from __future__ import annotations

from gateway.chat.collect import CollectedCall, collect
from gateway.neutral.model import (
    Finish,
    TextDelta,
    ThinkingDelta,
    Timing,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)


async def _pairs(items):
    for item in items:
        yield item


async def test_interleaved_choices_are_gathered_each_in_order():
    timing = Timing(received=0.0)
    answers = await collect(
        _pairs(
            [
                (1, ThinkingDelta("hm")),
                (0, TextDelta("a")),
                (1, TextDelta("x")),
                (0, TextDelta("b")),
                (1, ToolCallStart(0, "call_1", "read")),
                (1, ToolCallArgs(0, '{"p"')),
                (1, ToolCallEnd(0, '{"p":1}')),
                (0, Usage(3, 1)),
                (0, Finish("length")),
                (1, Usage(3, 4)),
                (1, Finish("tool_calls")),
            ]
        ),
        2,
        timing,
    )
    first, second = answers
    assert (first.text, first.thinking, first.tool_calls, first.finish) == ("ab", "", [], "length")
    assert first.usage == Usage(3, 1)
    assert (second.text, second.thinking, second.finish) == ("x", "hm", "tool_calls")
    assert second.tool_calls == [CollectedCall("call_1", "read", '{"p":1}')]
    assert timing.upstream_answer is not None


async def test_an_answer_without_events_is_empty_and_stops():
    (answer,) = await collect(_pairs([]), 1)
    assert (answer.text, answer.tool_calls, answer.finish, answer.usage.total_tokens) == ("", [], "stop", 0)
