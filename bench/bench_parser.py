"""Throughput and linearity of the tool-call parser and validator (tool-calls.md P15, P16).

text     delimiter-free prose fed in 1 KiB chunks (goal: at least 20 MB/s)
calls    one write call whose body is 1 MiB and 8 MiB, fed in 1-character and in 4 KiB chunks
         (goal: time(8 MiB) / time(1 MiB) at most 10, i.e. linear)
validate the validator on the 1 MiB and 8 MiB call bodies

  .venv/bin/python bench/bench_parser.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.neutral.model import ToolChoice, ToolSpec  # noqa: E402
from gateway.neutral.toolcalls import RawCall  # noqa: E402
from gateway.tools.grammar import Delimiters  # noqa: E402
from gateway.tools.parser import CallParser  # noqa: E402
from gateway.tools.validate import CallValidator  # noqa: E402

D = Delimiters("0a1b2c3d")
MB = 1_000_000
SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}
WRITE = ToolSpec("write", "", SCHEMA, json.dumps(SCHEMA), False)


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def feed_all(text: str, size: int) -> list[object]:
    parser = CallParser(D, calls=True, thinking=False, max_call_bytes=64 << 20)
    events: list[object] = []
    for i in range(0, len(text), size):
        events.extend(parser.feed(text[i : i + size]))
    events.extend(parser.end(clean=True))
    return events


def call_text(size: int) -> str:
    line = 'a line of "code" with \\ and <<end:x>> and 😀\n'
    content = (line * (size // len(line) + 1))[:size]
    body = json.dumps(
        {"name": "write", "arguments": {"path": "big.txt", "content": content}}, ensure_ascii=False
    )
    return f"{D.call_open}\n{body}\n{D.end}"


def main() -> None:
    rows = ["| case | time | throughput |", "|---|---|---|"]
    prose = ("The quick brown fox jumps over the lazy dog; a < b and c > d. " * 40_000)[: 8 << 20]
    seconds = best(lambda: feed_all(prose, 1024))
    rows.append(
        f"| 8 MiB prose, 1 KiB chunks | {seconds * 1000:.0f} ms | {len(prose) / seconds / MB:.1f} MB/s |"
    )
    ratios = []
    for chunk, label in ((1, "1-character"), (4096, "4 KiB")):
        measured = {}
        for size in (1 << 20, 8 << 20):
            text = call_text(size)
            repeat = 1 if chunk == 1 else 3
            measured[size] = best(lambda text=text, chunk=chunk: feed_all(text, chunk), repeat)
            rows.append(
                f"| {size >> 20} MiB call, {label} chunks | {measured[size] * 1000:.0f} ms | "
                f"{len(text) / measured[size] / MB:.1f} MB/s |"
            )
        ratios.append((label, measured[8 << 20] / measured[1 << 20]))
    validator = CallValidator((WRITE,), ToolChoice())
    for size in (1 << 20, 8 << 20):
        [raw] = [e for e in feed_all(call_text(size), 1 << 16) if isinstance(e, RawCall)]
        seconds = best(lambda raw=raw: validator.validate(raw))
        rows.append(
            f"| validate a {size >> 20} MiB call | {seconds * 1000:.0f} ms | {len(raw.body) / seconds / MB:.1f} MB/s |"
        )
    print("\n".join(rows))
    print()
    for label, ratio in ratios:
        print(f"linearity, {label} chunks: time(8 MiB) / time(1 MiB) = {ratio:.2f} (goal <= 10)")


if __name__ == "__main__":
    main()
