"""Cost of the bookkeeping every request does: token selection and the request-log row.

Measures (1) `TokenPool.lease()` per call with 100 tokens, per strategy; (2) `RequestLog.submit()`
per call on the caller's thread (what the event loop pays per request); (3) the writer thread's
throughput in rows per second into SQLite, with and without 2,000-character prompts.

    .venv/bin/python bench/bench_reqlog.py [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadlib import write_section  # noqa: E402

from gateway.reqlog.record import RequestRecord  # noqa: E402
from gateway.reqlog.sink import RequestLog, Retention  # noqa: E402
from gateway.tokens.pool import PoolPolicy, TokenPool  # noqa: E402
from gateway.tokens.store import TokenEntry  # noqa: E402
from gateway.upstream.checksum import new_identity  # noqa: E402
from tests.fakes import make_jwt  # noqa: E402


def bench_lease(strategy: str, tokens: int = 100, calls: int = 20_000) -> float:
    entries = [
        TokenEntry(f"t{i}", jwt, jwt, new_identity())
        for i in range(tokens)
        for jwt in [make_jwt(sub=f"auth0|u{i}")]
    ]
    pool = TokenPool.fixed(entries, policy=PoolPolicy(strategy=strategy))  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in range(calls):
        pool.lease()
    return (time.perf_counter() - started) / calls * 1e6


def record(i: int, prompt: str | None) -> RequestRecord:
    r = RequestRecord(
        f"{i:032x}", "chat_completions", time.time(), 0.0, model="claude-4.5-sonnet", stream=True
    )
    r.status, r.latency_ms, r.ttft_ms, r.prompt = 200, 1234.5, 321.0, prompt
    r.token_alias, r.token_fingerprint, r.token_masked = "work", "5e8f0c1a", "eyJh…x9Qz"
    r.prompt_tokens, r.completion_tokens, r.total_tokens = 100, 200, 300
    return r


def bench_sink(rows: int, prompt: str | None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        sink = RequestLog(Path(folder), Retention(1e12, 10**9), queue_size=rows + 1)
        sink.open()
        records = [record(i, prompt) for i in range(rows)]
        started = time.perf_counter()
        for r in records:
            sink.submit(r)
        submit_us = (time.perf_counter() - started) / rows * 1e6
        sink.flush(timeout=300)
        elapsed = time.perf_counter() - started
        sink.close()
        assert sink.written == rows and sink.dropped == 0
        return submit_us, rows / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    lines = ["## Token selection and request-log rows (bench/bench_reqlog.py)", ""]
    lines += ["| What | Result |", "|---|---|"]
    for strategy in ("round-robin", "least-recently-used", "random"):
        lines.append(f"| `lease()` with 100 tokens, {strategy} | {bench_lease(strategy):.1f} µs per call |")
    for label, prompt in (("no prompt", None), ("2,000-character prompt", "x" * 2000)):
        submit_us, rate = bench_sink(args.rows, prompt)
        lines.append(f"| `submit()` on the caller's thread, {label} | {submit_us:.2f} µs per row |")
        lines.append(f"| writer thread into SQLite, {label} | {rate:,.0f} rows/s ({args.rows:,} rows) |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_section(args.out, "reqlog", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
