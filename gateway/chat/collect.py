"""A whole answer gathered from its events: what every dialect's non-streaming response renders. Pure."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from gateway.neutral.model import (
    Event,
    Finish,
    FinishReason,
    TextDelta,
    ThinkingDelta,
    Timing,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)


@dataclass(frozen=True, slots=True)
class CollectedCall:
    id: str
    name: str
    arguments: str  # the validated JSON text


@dataclass(slots=True)
class Answer:
    """One choice of an answer, complete."""

    text: str = ""
    thinking: str = ""
    tool_calls: list[CollectedCall] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    finish: FinishReason = "stop"
    stop_sequence: str | None = None  # the stop string that ended the text, if one did


async def collect(
    events: AsyncGenerator[tuple[int, Event], None], n: int, timing: Timing | None = None
) -> list[Answer]:
    """Read the `(choice, event)` pairs of `n` choices to their end; `timing` learns when each ended."""
    text: list[list[str]] = [[] for _ in range(n)]
    thinking: list[list[str]] = [[] for _ in range(n)]
    answers = [Answer() for _ in range(n)]
    started: dict[tuple[int, int], ToolCallStart] = {}
    async with contextlib.aclosing(events):
        async for index, event in events:
            if isinstance(event, TextDelta):
                text[index].append(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking[index].append(event.text)
            elif isinstance(event, ToolCallStart):
                started[index, event.index] = event
            elif isinstance(event, ToolCallEnd):
                start = started.pop((index, event.index))
                answers[index].tool_calls.append(CollectedCall(start.id, start.name, event.arguments))
            elif isinstance(event, Usage):
                answers[index].usage = event
            elif isinstance(event, Finish):
                answers[index].finish = event.reason
                answers[index].stop_sequence = event.stop_sequence
                if timing is not None:
                    timing.upstream_answer = time.perf_counter()
    for index, answer in enumerate(answers):
        answer.text = "".join(text[index])
        answer.thinking = "".join(thinking[index])
    return answers
