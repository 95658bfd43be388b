"""The event-stream invariants E1-E6 of tool-calls.md §2.4, applied to every pipeline test's output."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from gateway.neutral.model import (
    Event,
    Finish,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)


def check_events(events: Sequence[Event]) -> None:
    """Raise AssertionError naming the broken invariant."""
    assert events, "E1: an event stream ends with a terminal event"
    assert isinstance(events[-1], Finish), "E1: Finish is last"
    assert sum(isinstance(e, Finish) for e in events) == 1, "E1: exactly one Finish"
    usages = [i for i, e in enumerate(events) if isinstance(e, Usage)]
    assert len(usages) <= 1, "E1: Usage at most once"
    expected_index = 0
    open_call: ToolCallStart | None = None
    fragments: list[str] = []
    seen_call = False
    for event in events:
        if isinstance(event, TextDelta | ThinkingDelta):
            assert event.text, "TextDelta/ThinkingDelta are never empty"
            assert not seen_call, "E4: no text or thinking after the first ToolCallStart"
            assert open_call is None, "E2: calls are not interleaved with text"
        elif isinstance(event, ToolCallStart):
            assert open_call is None, "E2: calls never interleave"
            assert event.index == expected_index, "E3: indices are 0, 1, 2, … without gaps"
            open_call, fragments, seen_call = event, [], True
        elif isinstance(event, ToolCallArgs):
            assert open_call is not None and event.index == open_call.index, (
                "E2: args belong to the open call"
            )
            assert event.fragment, "ToolCallArgs fragments are non-empty"
            fragments.append(event.fragment)
        elif isinstance(event, ToolCallEnd):
            assert open_call is not None and event.index == open_call.index, "E2: end closes the open call"
            assert "".join(fragments) == event.arguments, "E2: fragments concatenate to the arguments"
            assert isinstance(orjson.loads(event.arguments), dict), "E6: arguments are a JSON object"
            open_call = None
            expected_index += 1
        elif isinstance(event, Usage):
            assert open_call is None
    assert open_call is None, "E2: every call is ended"
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert (finish.reason == "tool_calls") == (expected_index > 0), "E5: tool_calls iff a call was emitted"
