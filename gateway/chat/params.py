"""OpenAI output parameters the gateway enforces itself, as wrappers around a chat event stream.

Cursor has no field for `stop`, `max_tokens`, `response_format` or `n` (cursor-protocol.md §8.6),
so they are applied to the events of any producer (`ChatService.events()` or whatever replaces
it) without the producer knowing:

- `cut_output(events, chat)`: `chat.stop` (cut at the first stop string, finish `"stop"`) and
  `chat.max_tokens` (cut the visible text after `4 * max_tokens` characters, finish `"length"`).
  Once cut, the producer is closed at once and `Usage` and `Finish` are made here.
- `choice_events(make_events, chat)`: one choice of the answer, `cut_output` around each attempt
  and `response_format` enforcement (`chat/response_format.py`) around that.
- `merge_choices(streams)`: `n` choices produced concurrently, as `(index, event)` pairs in the
  order the events come.

No I/O here; closing a wrapper closes what it wraps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Final

from gateway.chat.conversation import message_size
from gateway.chat.response_format import enforce_response_format
from gateway.chat.stop import StopFilter
from gateway.neutral.model import (
    CHARS_PER_TOKEN,
    ChatRequest,
    Event,
    Finish,
    FinishReason,
    TextDelta,
    ThinkingDelta,
    Usage,
    estimate_tokens,
)

Events = AsyncGenerator[Event, None]
MakeEvents = Callable[[ChatRequest], Events]


def prompt_tokens(chat: ChatRequest) -> int:
    """Estimated prompt tokens of `chat` (the conversation as the client sent it, tool calls and
    results included; the encoders' additions are not counted)."""
    return estimate_tokens(len(chat.system) + sum(message_size(m) for m in chat.messages))


def char_budget(max_tokens: int | None) -> int | None:
    """Visible characters allowed by `max_tokens` (None: no limit)."""
    return None if max_tokens is None else max_tokens * CHARS_PER_TOKEN


def cut_output(events: Events, chat: ChatRequest) -> Events:
    """`events` with `chat.stop` and `chat.max_tokens` applied to the visible text.

    Text is held back only while it could still be the start of a stop string. Thinking and
    tool-call events pass unchanged (they are not content); held text is released before them, so
    a stop string is only matched within one run of text. When the text is cut, everything the
    producer would still send is dropped, the producer is closed, and the turn ends with an
    estimated `Usage` (the shown text and the thinking seen) and `Finish("stop", <the stop string>)`
    for a stop string or `Finish("length")` for the token limit.
    """
    stop = StopFilter(chat.stop)
    budget = char_budget(chat.max_tokens)
    if not stop.active and budget is None:
        return events  # nothing to cut: no layer in the way of every event
    return _cut(events, chat, stop, budget)


async def _cut(events: Events, chat: ChatRequest, stop: StopFilter, budget: int | None) -> Events:
    shown = thinking = 0
    async with contextlib.aclosing(events):
        async for event in events:
            text = stop.feed(event.text) if isinstance(event, TextDelta) else stop.flush()
            reason: FinishReason | None = "stop" if stop.stopped else None
            if budget is not None and shown + len(text) > budget:
                text, reason = text[: budget - shown], "length"
            if text:
                shown += len(text)
                yield TextDelta(text)
            if reason is not None:
                await events.aclose()
                reasoning = estimate_tokens(thinking)
                yield Usage(prompt_tokens(chat), estimate_tokens(shown) + reasoning, reasoning)
                yield Finish(reason, stop.matched if reason == "stop" else None)
                return
            if isinstance(event, TextDelta):
                continue
            if isinstance(event, ThinkingDelta):
                thinking += len(event.text)
            yield event


def choice_events(make_events: MakeEvents, chat: ChatRequest) -> Events:
    """The events of one choice: every attempt output-cut, then `response_format` enforced.

    `make_events(chat)` starts one answer of the producer (e.g. `ChatService.events` bound to the
    request's timing); `response_format` may call it a second time for its retry.
    """

    def attempt(request: ChatRequest) -> Events:
        return cut_output(make_events(request), request)

    if chat.response_format is None:
        return attempt(chat)
    return enforce_response_format(attempt, chat, chat.response_format)


# ---------------------------------------------------------------- n choices


_END: Final = object()


async def _next(stream: Events) -> Event | object:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return _END


async def merge_choices(streams: Sequence[Events]) -> AsyncGenerator[tuple[int, Event], None]:
    """Run the streams concurrently and yield `(index, event)` as each event arrives.

    An error in any stream ends the merge with that error; closing the merge (or an error) cancels
    and closes every stream. A single stream is relayed directly, without tasks.
    """
    if len(streams) == 1:
        only = streams[0]
        async with contextlib.aclosing(only):
            async for event in only:
                yield 0, event
        return
    pending: dict[asyncio.Task[Event | object], int] = {}
    try:
        for index, stream in enumerate(streams):
            pending[asyncio.create_task(_next(stream))] = index
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=pending.__getitem__):
                result = task.result()  # raises the stream's error; `finally` cleans up
                index = pending.pop(task)
                if result is _END:
                    continue
                assert isinstance(result, Event)
                yield index, result
                pending[asyncio.create_task(_next(streams[index]))] = index
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for stream in streams:
            await stream.aclose()
