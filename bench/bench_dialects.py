"""What each client dialect's renderer costs: chat events in, SSE bytes out, without sockets.

Renders one long streamed answer (20,000 text deltas of ~60 characters, then 50 tool calls) with
the renderer of each dialect (OpenAI chat chunks, Responses API events, legacy completion chunks)
and reports the microseconds per event (best of 5) and the bytes written per text delta.

    .venv/bin/python bench/bench_dialects.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.chat.to_completions import TextWriter  # noqa: E402
from gateway.chat.to_openai import ChatStream, ChunkWriter  # noqa: E402
from gateway.chat.to_responses import ResponseInfo, ResponseStream  # noqa: E402
from gateway.handlers.answers import StreamRenderer  # noqa: E402
from gateway.neutral.model import (  # noqa: E402
    Event,
    Finish,
    TextDelta,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

DELTAS = 20_000
CALLS = 50
TEXT = "The quick brown fox jumps over the lazy dog, then rests a bit. "


def events() -> list[Event]:
    out: list[Event] = [TextDelta(TEXT) for _ in range(DELTAS)]
    for i in range(CALLS):
        arguments = f'{{"path":"src/file_{i}.py","line":{i}}}'
        out += [
            ToolCallStart(i, f"call_{i}", "read_file"),
            ToolCallArgs(i, arguments),
            ToolCallEnd(i, arguments),
        ]
    return [*out, Usage(100, 5000), Finish("tool_calls")]


RENDERERS: dict[str, Callable[[], StreamRenderer]] = {
    "chat (`/v1/chat/completions`)": lambda: ChatStream(
        [ChunkWriter(id="chatcmpl-b", created=0, model="m", thinking_output="hidden")]
    ),
    "Responses (`/v1/responses`)": lambda: ResponseStream(ResponseInfo("resp_b", 0, "m", {})),
    "legacy (`/v1/completions`)": lambda: ChatStream([TextWriter("cmpl-b", 0, "m", 0)]),
}


def measure(make: Callable[[], StreamRenderer], stream: list[Event]) -> tuple[float, int]:
    best = float("inf")
    size = 0
    for _ in range(5):
        renderer = make()
        started = time.perf_counter()
        size = sum(len(renderer.render(0, event)) for event in stream) + len(renderer.finish())
        best = min(best, time.perf_counter() - started)
    return best / len(stream) * 1e6, size


def main() -> None:
    stream = events()
    print("| dialect | µs per event | bytes per text delta |\n|---|---|---|")
    for name, make in RENDERERS.items():
        per_event, size = measure(make, stream)
        print(f"| {name} | {per_event:.2f} | {size / DELTAS:.0f} |")


if __name__ == "__main__":
    main()
