"""The dashboard on a full request log: `RequestLog.stats()` for each window on 100,000 rows.

Seeds a log with `--rows` rows (default 100,000, the LOG_MAX_ROWS default) through the real writer
thread, 2,000-character prompts included (LOG_PROMPTS at its cap), in two layouts:

- *spread*: the rows spread evenly over the last week (about 600 in the last hour, 14,000 in the
  last day, all of them in the week);
- *packed*: every row in the last hour, so each window holds all of them (the worst case).

Then times, `--runs` times per window, `stats()` (the queries and the percentiles on a fresh read
connection, as `GET /api/stats` runs it) and the charts drawn from its result (`gateway/charts.py`
and `web/templates/stats.html`, the rest of `GET /api/stats/charts`). Reports p50 and p99 of the
wall time in milliseconds, and the p50 of the query's CPU time (its thread's), which says less
about what else runs on the machine; the load average is printed with the results.

    .venv/bin/python bench/bench_dashboard.py [--rows 100000] [--runs 30] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import jinja2  # noqa: E402
from loadlib import write_section  # noqa: E402

from gateway.app import BUNDLED_WEB_DIR  # noqa: E402
from gateway.handlers.stats_api import charts_context  # noqa: E402
from gateway.reqlog.record import RequestRecord  # noqa: E402
from gateway.reqlog.sink import RequestLog, Retention  # noqa: E402
from gateway.reqlog.stats import WINDOWS  # noqa: E402

MODELS = ("claude-4.5-sonnet", "gpt-5", "gpt-4o", "claude-3.5-sonnet", "o3", "gemini-2.5-pro")
TOKENS = ("work", "home", "spare", "team-a", "team-b")


def seed(folder: Path, rows: int, span: float, now: float) -> RequestLog:
    sink = RequestLog(folder, Retention(1e12, rows), queue_size=rows + 1)
    sink.open()
    rng = random.Random(7)
    prompt = "x" * 2000
    for i in range(rows):
        r = RequestRecord(f"{i:032x}", "chat_completions", now - span + i * span / rows, 0.0)
        r.model, r.stream, r.prompt = rng.choice(MODELS), True, prompt
        failed = rng.random() < 0.05
        r.status = rng.choice((429, 502, 504)) if failed else 200
        r.error = "upstream_error: the upstream failed" if failed else None
        r.latency_ms = rng.lognormvariate(7.5, 0.8)
        r.ttft_ms = None if failed else r.latency_ms * rng.uniform(0.05, 0.5)
        token = rng.randrange(len(TOKENS))
        r.token_alias, r.token_fingerprint, r.token_masked = TOKENS[token], f"{token:08x}", "eyJh…x9Qz"
        r.attempts, r.prompt_tokens, r.completion_tokens = 1, rng.randint(10, 5000), rng.randint(1, 2000)
        r.total_tokens = r.prompt_tokens + r.completion_tokens
        sink.submit(r)
    assert sink.flush(timeout=600) and sink.written == rows
    return sink


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def time_stats(sink: RequestLog, now: float, runs: int) -> dict[str, list[float]]:
    """Per window: query p50, p99, CPU p50, drawing p50, p99 (ms), and the rows in the window."""
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(BUNDLED_WEB_DIR / "templates"), autoescape=True
    ).get_template("stats.html")
    results = {}
    for name, window in WINDOWS.items():
        wall, cpu, drawing = [], [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.thread_time()
            stats = sink.stats(window, now, 120)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            started = time.perf_counter()
            page = template.render(charts_context(stats, enabled=True, query_ms=wall[-1]))
            drawing.append((time.perf_counter() - started) * 1000)
            assert page.count("<svg") == 5
        results[name] = [*percentiles(wall), statistics.median(cpu), *percentiles(drawing), stats.requests]
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "## Dashboard queries on a full request log (bench/bench_dashboard.py)",
        "",
        f"Command: `.venv/bin/python bench/bench_dashboard.py --rows {args.rows} --runs {args.runs}`. "
        f"{args.rows:,} rows with 2,000-character prompts; {args.runs} runs per window.",
        "",
        "| layout | window | rows in window | query p50 ms | query p99 ms | query CPU p50 ms "
        "| drawing p50 ms | drawing p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    now = time.time()
    for layout, span in (("spread over a week", 7 * 86400.0 - 60), ("packed into the last hour", 3500.0)):
        with tempfile.TemporaryDirectory() as folder:
            sink = seed(Path(folder), args.rows, span, now)
            try:
                for name, (p50, p99, cpu, d50, d99, count) in time_stats(sink, now, args.runs).items():
                    lines.append(
                        f"| {layout} | {name} | {count:,.0f} | {p50:.1f} | {p99:.1f} | {cpu:.1f} | {d50:.1f} | {d99:.1f} |"
                    )
            finally:
                sink.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"Load average during the run (1, 5, 15 min): {load} on {os.cpu_count()} cores."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_section(args.out, "dashboard", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
