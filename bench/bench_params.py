"""Cost of the output-parameter wrappers (gateway/chat/stop.py, gateway/chat/params.py).

    .venv/bin/python bench/bench_params.py

Prints: StopFilter throughput on 4 MiB of text in 20-character deltas with four stop strings
(two of them start with characters that occur often, so text is held back and released all the
time); and the time per event that the handler's wrapper chain (merge_choices over choice_events
over cut_output) adds to a stream of text deltas, with no stop/limit and with stop + max_tokens.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.chat.catalog import resolve  # noqa: E402
from gateway.chat.params import choice_events, merge_choices  # noqa: E402
from gateway.chat.stop import StopFilter  # noqa: E402
from gateway.neutral.model import ChatRequest, Event, Finish, Message, TextDelta, Usage  # noqa: E402

DELTA = "Lorem ipsum, <dolor> "  # 21 characters; '<' and ',' start partial matches
STOPS = ("<END>", ", then", "\n\nHuman:", "<|stop|>")
EVENTS = 100_000
ROUNDS = 5


def stop_throughput() -> float:
    """Characters per second through StopFilter.feed (best of ROUNDS)."""
    pieces = [DELTA] * (4 * 1024 * 1024 // len(DELTA))
    best = float("inf")
    for _ in range(ROUNDS):
        f = StopFilter(STOPS)
        start = time.perf_counter()
        for piece in pieces:
            f.feed(piece)
        best = min(best, time.perf_counter() - start)
        assert not f.stopped
    return len(pieces) * len(DELTA) / best


async def producer(count: int) -> AsyncGenerator[Event, None]:
    for _ in range(count):
        yield TextDelta(DELTA)
    yield Usage(1, 1)
    yield Finish("stop")


async def per_event(chat: ChatRequest | None) -> float:
    """Seconds per event to drain EVENTS text deltas, raw (chat None) or through the wrappers."""
    start = time.perf_counter()
    if chat is None:
        async for _ in producer(EVENTS):
            pass
    else:
        async for _ in merge_choices([choice_events(lambda _c: producer(EVENTS), chat)]):
            pass
    return (time.perf_counter() - start) / (EVENTS + 2)


async def wrapper_overhead() -> dict[str, float]:
    model = resolve("claude-3.5-sonnet")
    assert model is not None
    base = ChatRequest(model=model, system="", messages=(Message("user", "x"),), stream=True)
    cut = ChatRequest(
        model=model, system="", messages=(Message("user", "x"),), stream=True, stop=STOPS, max_tokens=10**7
    )
    results: dict[str, list[float]] = {"raw": [], "plain": [], "stop+max_tokens": []}
    for _ in range(ROUNDS):
        results["raw"].append(await per_event(None))
        results["plain"].append(await per_event(base))
        results["stop+max_tokens"].append(await per_event(cut))
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    rate = stop_throughput()
    print(f"StopFilter.feed, 4 stop strings, 21-char deltas: {rate / 1e6:.1f} M chars/s")
    timings = asyncio.run(wrapper_overhead())
    raw = timings["raw"]
    for name, seconds in timings.items():
        extra = "" if name == "raw" else f" (+{(seconds - raw) * 1e6:.2f} µs over raw)"
        print(f"per event, {name}: {seconds * 1e6:.2f} µs{extra}")


if __name__ == "__main__":
    main()
