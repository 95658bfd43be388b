"""Tool-call costs end to end (tool-calls.md §12.10), gateway and simulator in one process.

ttfb     time to the first streamed byte of the answer, for a plain chat and for the same chat
         carrying Kilo Code's real 16-tool catalog (tests/fixtures), in emulation and native mode;
         the difference is what the tool preamble / MCP catalog costs the gateway.
big call end-to-end time of one streamed 1 MiB `write` call, emulated (text frames of 24 and
         4096 characters) and native (one frame), and the MB/s that makes.

  .venv/bin/python bench/bench_tools.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.app import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.tokens.pool import TokenPool  # noqa: E402
from gateway.tokens.store import TokenEntry  # noqa: E402
from gateway.upstream.checksum import new_identity  # noqa: E402
from tests.fakes import CursorSimulator, SimConfig, make_jwt, start_http  # noqa: E402

KEY = "bench-key"
MODEL = "claude-sonnet-4-5-20250929"
KILO = json.loads((ROOT / "tests" / "fixtures" / "kilo-cli-7.7.7-request.json").read_text())


async def serve(mode: str, data_dir: str) -> tuple[web.AppRunner, str, Any]:
    sim = CursorSimulator(SimConfig(seed=0, default_scenario="agent"))
    front = await start_http(sim, "127.0.0.1", 0)
    settings = Settings.from_mapping(
        {
            "API_KEY": KEY,
            "CURSOR_BASE_URL": front.url,
            "UPSTREAM_HTTP_VERSION": "1.1",
            "TOOL_MODE": mode,
            "DATA_DIR": data_dir,
            "TOKEN_FILE": f"{data_dir}/.token",
            "TOKEN_LIST_FILE": f"{data_dir}/.token-list",
        }
    )
    jwt = make_jwt()
    pool = TokenPool.fixed([TokenEntry("bench", jwt, jwt, new_identity())])
    runner = web.AppRunner(create_app(settings, pool=pool), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1/chat/completions", front


async def first_byte(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[float, float]:
    """(seconds to the first `data:` line, seconds to the end)."""
    started = time.perf_counter()
    first = None
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
        assert response.status == 200, await response.text()
        async for chunk in response.content.iter_any():
            if first is None and b"data: " in chunk:
                first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def chat_body(with_tools: bool, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": text}]}
    if with_tools:
        body["tools"] = KILO["tools"]
    return body


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 2 else values[0] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    lines = ["| case | p50 | p90 |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as data:
        async with aiohttp.ClientSession() as session:
            for mode in ("emulate", "native"):
                runner, url, front = await serve(mode, data)
                try:
                    plain: list[float] = []
                    tooled: list[float] = []
                    for _ in range(args.requests):  # interleaved, so both share conditions
                        plain.append((await first_byte(session, url, chat_body(False, "hello there")))[0])
                        tooled.append((await first_byte(session, url, chat_body(True, "hello there")))[0])
                    lines.append(
                        f"| TTFB, plain chat ({mode} server) | {ms(plain, 50):.2f} ms | {ms(plain, 90):.2f} ms |"
                    )
                    lines.append(
                        f"| TTFB, 16 Kilo tools, {mode} | {ms(tooled, 50):.2f} ms | {ms(tooled, 90):.2f} ms |"
                    )
                    content = ('line of text with "quotes" and \\ and <<end:x>> 😀 漢字\n' * 20000)[: 1 << 20]
                    framings = ["chunk=24", "chunk=4096"] if mode == "emulate" else ["streaming=false"]
                    for framing in framings:
                        task = f"[[sim:agent {framing}]] create a file big.txt with content '{content}'"
                        body = chat_body(False, task)
                        body["tools"] = [t for t in KILO["tools"] if t["function"]["name"] == "write"]
                        runs = [(await first_byte(session, url, body))[1] for _ in range(3)]
                        best = min(runs)
                        mb = len(content.encode()) / 1e6
                        lines.append(
                            f"| 1 MiB `write` call, {mode} {framing} | {best * 1000:.0f} ms | {mb / best:.1f} MB/s |"
                        )
                finally:
                    await runner.cleanup()
                    await front.close()
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
