"""Output wrappers: stop and max_tokens cuts, n concurrent choices; producers are fakes."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.chat.params import char_budget, choice_events, cut_output, merge_choices, prompt_tokens
from gateway.errors import UpstreamError
from gateway.neutral.model import (
    ChatRequest,
    Finish,
    Message,
    TextDelta,
    ThinkingDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

MODEL = resolve("claude-3.5-sonnet")
assert MODEL is not None


def chat(**fields) -> ChatRequest:
    return ChatRequest(model=MODEL, system="sys", messages=(Message("user", "hello"),), stream=True, **fields)


class Producer:
    """A fake answer: yields the given events, records how far it got and whether it was closed."""

    def __init__(self, *events, gate: asyncio.Event | None = None) -> None:
        self.events = events
        self.gate = gate
        self.yielded = 0
        self.closed = False

    async def stream(self):
        try:
            for event in self.events:
                if isinstance(event, BaseException):
                    raise event
                if self.gate is not None and isinstance(event, Finish):
                    await self.gate.wait()
                self.yielded += 1
                yield event
        finally:
            self.closed = True


def answer(*texts: str, reason="stop") -> tuple:
    return (*(TextDelta(t) for t in texts), Usage(5, 7), Finish(reason))


async def collect(stream) -> list:
    return [event async for event in stream]


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_without_stop_or_limit_events_pass_unchanged():
    producer = Producer(*answer("a", "b"))
    assert await collect(cut_output(producer.stream(), chat())) == list(answer("a", "b"))
    assert producer.closed


async def test_stop_cuts_finishes_stop_and_closes_the_producer_at_once():
    producer = Producer(*answer("Hello <E", "ND> never shown", " nor this"), ToolCallStart(0, "c", "f"))
    events = await collect(cut_output(producer.stream(), chat(stop=("<END>",))))
    assert text_of(events) == "Hello "
    assert producer.closed and producer.yielded == 2  # nothing read after the match
    assert events[-1] == Finish("stop", "<END>")  # names the stop string that ended the text
    usage = events[-2]
    assert isinstance(usage, Usage)
    assert usage.prompt_tokens == prompt_tokens(chat()) and usage.completion_tokens == 2  # ceil(6 / 4)


async def test_stop_in_the_upstream_usage_position_flushes_held_text():
    producer = Producer(*answer("tail <EN"))
    events = await collect(cut_output(producer.stream(), chat(stop=("<END>",))))
    assert events == [TextDelta("tail "), TextDelta("<EN"), Usage(5, 7), Finish("stop")]


async def test_thinking_and_tool_events_pass_and_release_held_text():
    producer = Producer(
        ThinkingDelta("hmm"),
        TextDelta("x <E"),
        ToolCallStart(0, "call_1", "f"),
        ToolCallEnd(0, "{}"),
        Usage(1, 1),
        Finish("tool_calls"),
    )
    events = await collect(cut_output(producer.stream(), chat(stop=("<END>",))))
    assert events == [
        ThinkingDelta("hmm"),
        TextDelta("x "),
        TextDelta("<E"),
        ToolCallStart(0, "call_1", "f"),
        ToolCallEnd(0, "{}"),
        Usage(1, 1),
        Finish("tool_calls"),
    ]


async def test_max_tokens_cuts_the_visible_text_with_finish_length():
    producer = Producer(ThinkingDelta("t" * 8), *answer("abcdef", "ghij", "never"))
    events = await collect(cut_output(producer.stream(), chat(max_tokens=2)))
    assert text_of(events) == "abcdefgh"  # 2 tokens = 8 characters
    assert events[-1] == Finish("length") and producer.closed and producer.yielded == 3
    assert events[-2] == Usage(prompt_tokens(chat()), 2 + 2, 2)


async def test_text_of_exactly_the_budget_finishes_normally():
    events = await collect(cut_output(Producer(*answer("abcd", "efgh")).stream(), chat(max_tokens=2)))
    assert text_of(events) == "abcdefgh" and events[-1] == Finish("stop") and events[-2] == Usage(5, 7)


@given(
    st.lists(st.text(st.sampled_from("ab S\n"), min_size=1, max_size=8), max_size=8),
    st.integers(1, 8),
    st.booleans(),
)
async def test_cut_output_invariants(pieces, max_tokens, with_stop):
    """Text never exceeds the budget, never contains the stop string, and one Finish ends it."""
    stops = ("S",) if with_stop else ()
    events = await collect(
        cut_output(Producer(*answer(*pieces)).stream(), chat(stop=stops, max_tokens=max_tokens))
    )
    full = "".join(pieces)
    shown = text_of(events)
    budget = char_budget(max_tokens)
    assert budget is not None and len(shown) <= budget
    expected = full.split("S")[0] if with_stop else full
    assert shown == expected[:budget]
    assert sum(isinstance(e, Finish) for e in events) == 1 and isinstance(events[-1], Finish)
    if with_stop and "S" in full and len(expected) <= budget:
        assert events[-1] == Finish("stop", "S")
    elif len(expected) > budget:
        assert events[-1] == Finish("length")


async def test_closing_the_wrapper_closes_the_producer():
    producer = Producer(*answer("a", "b", "c"))
    wrapped = cut_output(producer.stream(), chat(stop=("zz",)))
    assert await anext(wrapped) == TextDelta("a")
    await wrapped.aclose()
    assert producer.closed


# ---------------------------------------------------------------- n choices


async def test_merge_interleaves_choices_as_they_come_and_each_finishes():
    gate = asyncio.Event()
    slow = Producer(*answer("slow"), gate=gate)
    fast = Producer(*answer("fast"))
    merged = merge_choices([slow.stream(), fast.stream()])
    seen = []
    async for index, event in merged:
        seen.append((index, event))
        if (index, event) == (1, Finish("stop")):
            gate.set()  # the fast choice finished while the slow one was still open
    assert [e for i, e in seen if i == 0] == list(answer("slow"))
    assert [e for i, e in seen if i == 1] == list(answer("fast"))
    assert seen.index((1, Finish("stop"))) < seen.index((0, Finish("stop")))
    assert slow.closed and fast.closed


async def test_an_error_in_one_choice_ends_the_merge_and_closes_the_others():
    gate = asyncio.Event()
    waiting = Producer(*answer("never finishes"), gate=gate)
    failing = Producer(TextDelta("x"), UpstreamError("boom", code="upstream_error"))
    with pytest.raises(UpstreamError):
        await collect(merge_choices([waiting.stream(), failing.stream()]))
    assert waiting.closed and failing.closed


async def test_closing_the_merge_closes_every_choice():
    gate = asyncio.Event()
    producers = [Producer(*answer(str(i)), gate=gate) for i in range(3)]
    merged = merge_choices([p.stream() for p in producers])
    await anext(merged)
    await merged.aclose()
    assert all(p.closed for p in producers)


async def test_one_choice_is_relayed_without_tasks():
    producer = Producer(*answer("only"))
    assert await collect(merge_choices([producer.stream()])) == [(0, e) for e in answer("only")]


async def test_choice_events_applies_the_cut_to_every_attempt():
    made = []

    def make(request):
        made.append(request)
        return Producer(*answer("keep STOP drop")).stream()

    events = await collect(choice_events(make, chat(stop=("STOP",))))
    assert text_of(events) == "keep " and len(made) == 1
