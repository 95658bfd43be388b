"""Client JSON Schemas cannot stall the gateway: /health latency while hostile schemas are checked.

One gateway in this process, its upstream scripted (`tests.scripted.ToolCallingModel`) to answer
every call with model output that a backtracking regex engine would take forever on
(`"a" * N + "!"` against `^(a+)+$`). While a
probe polls `GET /health` every 5 ms, each attack sends `--concurrency` requests at a time for
`--seconds`:

tool            a tool whose parameter has `"pattern": "^(a+)+$"`; the model calls it with the
                evil string, and the call is checked against the schema
response_format a json_schema response_format with the same pattern; the answer is checked
catalog         128 tools of ~60 KiB schemas each, all new to the gateway (every request is
                meta-checked in full, within the request's time budget)

Reported per attack: /health p50 / p99 / max, and the attack requests' count and p50 duration.
For scale, the same pattern on Python's backtracking `re` (what validated schemas before RE2).

    .venv/bin/python bench/bench_schema_stall.py [--length 27] [--seconds 5] [--concurrency 4]

Results replace the `schema-stall` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadlib import machine_line, pct, write_section  # noqa: E402

from gateway.app import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from tests.conftest import fixed_pool  # noqa: E402
from tests.scripted import ToolCallingModel  # noqa: E402

KEY = "bench-key"
MODEL = "claude-sonnet-4-5-20250929"
EVIL = "^(a+)+$"


def attack_body(kind: str, serial: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "go"}]}
    evil = {
        "type": "object",
        "properties": {"path": {"type": "string", "pattern": EVIL}},
        "required": ["path"],
    }
    if kind == "tool":
        body["tools"] = [{"type": "function", "function": {"name": "read_file", "parameters": evil}}]
    elif kind == "response_format":
        schema = {"type": "object", "properties": {"answer": {"type": "string", "pattern": EVIL}}}
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    else:  # catalog: schemas the gateway has not seen, so each is meta-checked
        props = {
            f"p{j}": {"type": "string", "description": "d" * 40, "pattern": f"^[a-z]{{{j}}}$"}
            for j in range(560)
        }
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": f"t{i}",
                    "parameters": {"type": "object", "title": f"{serial}-{i}", "properties": props},
                },
            }
            for i in range(128)
        ]
    return body


async def probe(session: aiohttp.ClientSession, base: str, stop: asyncio.Event, seen: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get(f"{base}/health") as response:
            await response.read()
        seen.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)


async def attacker(
    session: aiohttp.ClientSession,
    base: str,
    bodies: list[bytes],
    until: float,
    took: list[float],
    statuses: list[int],
) -> None:
    while time.perf_counter() < until and bodies:
        payload = bodies.pop()
        started = time.perf_counter()
        async with session.post(
            f"{base}/v1/chat/completions",
            data=payload,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        ) as response:
            await response.read()
            statuses.append(response.status)
        took.append((time.perf_counter() - started) * 1000)


async def run_attack(base: str, kind: str, seconds: float, concurrency: int) -> str:
    # Bodies are made before the clock starts: encoding megabytes of JSON in this process would
    # hold the event loop the gateway shares with it, and be counted against the gateway.
    count = 16 if kind == "catalog" else 5000
    bodies = [json.dumps(attack_body(kind, serial)).encode() for serial in range(count if concurrency else 0)]
    async with aiohttp.ClientSession() as session:
        health: list[float] = []
        stop = asyncio.Event()
        prober = asyncio.create_task(probe(session, base, stop, health))
        took: list[float] = []
        statuses: list[int] = []
        until = time.perf_counter() + seconds
        await asyncio.gather(
            asyncio.sleep(seconds),
            *(attacker(session, base, bodies, until, took, statuses) for _ in range(concurrency)),
        )
        stop.set()
        await prober
    health.sort()
    took.sort()
    codes = ", ".join(f"{code} x{statuses.count(code)}" for code in sorted(set(statuses)))
    return (
        f"| {kind} | {pct(health, 50):.1f} | {pct(health, 99):.1f} | {health[-1]:.1f} | {len(took)} ({codes}) "
        f"| {pct(took, 50):.0f} |"
    )


def backtracking_reference(length: int) -> str:
    """How long Python's `re` takes on the same pattern, for shorter strings (it doubles per char)."""
    timings = []
    for n in (18, 20, 22):
        started = time.perf_counter()
        re.search(EVIL, "a" * n + "!")
        timings.append(f"{n} chars {time.perf_counter() - started:.2f} s")
    growth = "; ".join(timings)
    return f"Python `re` on `{EVIL}` (the engine before): {growth}; {length} chars extrapolates to ~2^{length - 22} times the last."


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", type=int, default=27, help="letters before the final '!'")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings.from_mapping(
            {
                "API_KEY": KEY,
                "CURSOR_BASE_URL": "http://127.0.0.1:9",
                "MODEL_SOURCE": "static",
                "TOOL_MODE": "native",
                "DATA_DIR": data,
                "TOKEN_FILE": f"{data}/.token",
                "TOKEN_LIST_FILE": f"{data}/.token-list",
                "MAX_BODY_BYTES": str(32 * 1024 * 1024),
            }
        )
        evil = "a" * args.length + "!"
        model = ToolCallingModel({"path": evil}, json.dumps({"answer": evil}))
        app = create_app(settings, transport=model, pool=fixed_pool())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            idle = await run_attack(base, "none (idle)", 1.0, 0)
            rows = [idle] + [
                await run_attack(base, kind, args.seconds, args.concurrency)
                for kind in ("tool", "response_format", "catalog")
            ]
        finally:
            await runner.cleanup()
    text = "\n".join(
        [
            "## Hostile client schemas (issue 11)",
            "",
            f"{machine_line()} Command: `.venv/bin/python bench/bench_schema_stall.py "
            f"--length {args.length} --seconds {args.seconds:g} --concurrency {args.concurrency}`.",
            "",
            "| attack | /health p50 ms | /health p99 ms | /health max ms | attack requests (statuses) | attack p50 ms |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            backtracking_reference(args.length),
        ]
    )
    print(text)
    write_section(ROOT / "bench" / "RESULTS.md", "schema-stall", text)


if __name__ == "__main__":
    asyncio.run(main())
