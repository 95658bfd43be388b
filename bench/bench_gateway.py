"""Gateway overhead, measured side by side with a bare aiohttp relay against the simulator, for the
ChatService path and the agent-service path.

Seven paths to the same simulator in one run, requests interleaved so they share conditions:
  direct      the benchmark speaks ChatService's Connect to the simulator itself (the baseline);
  relay       through bench/relay.py, the floor for an aiohttp hop;
  gateway     through `python -m gateway`, OpenAI in, ChatService out;
  agent-direct-sse / agent-direct-run
              the benchmark runs the agent service itself (bench/agent_direct.py), over RunSSE +
              BidiAppend (HTTP/1.1) or the bidirectional Run (h2c): the agent baselines;
  agent-sse / agent-run
              through the gateway with UPSTREAM_RPC=agent (its agent adapter), over the same
              carriers.
Measured: non-streaming latency at concurrency 1, and on streams paced at 20 ms the time to first
token and the one-way latency of every chunk (the simulator stamps each frame with its send time
on the shared monotonic clock). Results go to bench/RESULTS.md.

    .venv/bin/python bench/bench_gateway.py [--requests 400] [--streams 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from agent_direct import run_bidi, run_sse  # noqa: E402

from gateway.upstream.framing import FrameDecoder  # noqa: E402
from gateway.upstream.pb import cursor_pb2 as pb  # noqa: E402
from gateway.upstream.transport import Timeouts  # noqa: E402
from gateway.upstream.transport_h2 import H2Transport  # noqa: E402
from tests.fakes import CHAT_PATH, make_jwt  # noqa: E402
from tests.fakes.client_for_tests import build_request, chat_headers, frame_request  # noqa: E402

MODEL_PUBLIC = "claude-sonnet-4-5-20250929"
MODEL_UPSTREAM = "claude-4.5-sonnet"
URL = re.compile(r"(http://127\.0\.0\.1:\d+)")
BOTH = re.compile(r"(http1=http://127\.0\.0\.1:\d+ h2c=http://127\.0\.0\.1:\d+)")
GATEWAYS = ("gateway", "agent-sse", "agent-run")
AGENT_DIRECT = ("agent-direct-sse", "agent-direct-run")
NAMES = ("direct", "relay", "gateway", "agent-direct-sse", "agent-sse", "agent-direct-run", "agent-run")


async def start(
    args: list[str], env: dict[str, str], stream: str, *, pattern: re.Pattern[str] = URL
) -> tuple[asyncio.subprocess.Process, str]:
    """Start a process; return it with the first group of `pattern` in its "listening" line."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    pipe = process.stdout if stream == "stdout" else process.stderr
    assert pipe is not None
    while True:
        line = (await asyncio.wait_for(pipe.readline(), 30)).decode()
        if not line:
            raise RuntimeError(f"{args} exited before it was ready")
        match = pattern.search(line)
        if match and "listening" in line:
            asyncio.get_running_loop().create_task(_drain(pipe))
            return process, match.group(1)


def gateway_settings(sim_url: str, workdir: Path) -> dict[str, str]:
    """The environment of a benchmarked `python -m gateway`: any free port, API key `bench`, the
    simulator as Cursor, and the token files in `workdir` (`.token` written by the caller)."""
    return {
        "PORT": "0",
        "API_KEY": "bench",
        "CURSOR_BASE_URL": sim_url,
        "TOKEN_FILE": str(workdir / ".token"),
        "TOKEN_LIST_FILE": str(workdir / ".token-list"),
    }


async def _drain(pipe: asyncio.StreamReader) -> None:
    while await pipe.readline():
        pass


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Paths:
    def __init__(self, sim: str, sim_h2: str, relay: str, gateways: dict[str, str], token: str) -> None:
        self.urls = {
            "direct": sim + CHAT_PATH,
            "relay": relay + CHAT_PATH,
            **{name: url + "/v1/chat/completions" for name, url in gateways.items()},
        }
        self.sim, self.sim_h2 = sim, sim_h2
        self.token = token
        self.h2 = H2Transport(Timeouts(connect=10.0, idle=30.0))

    def request(self, path: str, text: str, stream: bool) -> tuple[str, bytes, dict[str, str]]:
        if path in GATEWAYS:
            body = orjson.dumps(
                {"model": MODEL_PUBLIC, "stream": stream, "messages": [{"role": "user", "content": text}]}
            )
            return (
                self.urls[path],
                body,
                {"Authorization": "Bearer bench", "Content-Type": "application/json"},
            )
        message = build_request(text, model=MODEL_UPSTREAM)
        return self.urls[path], frame_request(message), chat_headers(self.token, now=time.time())

    def agent_direct(self, session: aiohttp.ClientSession, path: str, text: str) -> AsyncIterator[str]:
        if path == "agent-direct-sse":
            return run_sse(session, self.sim, text)
        return run_bidi(self.h2, self.sim_h2, text)


async def one_request(session: aiohttp.ClientSession, paths: Paths, path: str) -> float:
    started = time.perf_counter()
    if path in AGENT_DIRECT:
        text = "".join([piece async for piece in paths.agent_direct(session, path, "ping")])
        assert text == "You said: ping", (path, text)
        return (time.perf_counter() - started) * 1000
    url, body, headers = paths.request(path, "ping", stream=False)
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        assert response.status == 200, (path, response.status)
    return (time.perf_counter() - started) * 1000


def stamps_from_frames(decoder: FrameDecoder, chunk: bytes) -> list[int]:
    out = []
    for frame in decoder.feed(chunk):
        if frame.is_end_stream or not frame.payload:
            continue
        text = pb.StreamUnifiedChatResponseWithTools.FromString(
            frame.payload
        ).stream_unified_chat_response.text
        out.extend(int(s) for s in text.split(";") if s.strip())
    return out


class SseStamps:
    def __init__(self) -> None:
        self.buffer = b""
        self.multi_stamp_deltas = 0

    def feed(self, chunk: bytes) -> list[int]:
        self.buffer += chunk
        out: list[int] = []
        while b"\n\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\n\n", 1)
            if not event.startswith(b"data: {"):
                continue
            payload = orjson.loads(event[6:])
            for choice in payload.get("choices", []):
                found = [int(s) for s in choice["delta"].get("content", "").split(";") if s.strip()]
                self.multi_stamp_deltas += len(found) > 1
                out.extend(found)
        return out


async def one_stream(
    session: aiohttp.ClientSession, paths: Paths, path: str, frames: int, pace: float
) -> tuple[float, list[float], int]:
    """(time to first token ms, per-chunk one-way latencies in µs, coalesced reads)."""
    text = f"[[sim:stamped frames={frames} pace={pace}]]"
    latencies: list[float] = []
    coalesced = 0
    ttft = 0.0
    decoder = FrameDecoder()
    sse = SseStamps()
    started = time.monotonic_ns()

    def arrived(stamps: list[int], now: int) -> None:
        """`now` is when the bytes were read: the client's own parsing is no part of the path."""
        nonlocal ttft, coalesced
        if stamps and not latencies:
            ttft = (now - started) / 1e6
        coalesced += len(stamps) > 1
        latencies.extend((now - stamp) / 1e3 for stamp in stamps)

    if path in AGENT_DIRECT:
        async for piece in paths.agent_direct(session, path, text):  # read and parsed in there
            arrived([int(s) for s in piece.split(";") if s.strip()], time.monotonic_ns())
    else:
        url, body, headers = paths.request(path, text, stream=True)
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 200, (path, response.status)
            while chunk := await response.content.readany():
                now = time.monotonic_ns()
                arrived(sse.feed(chunk) if path in GATEWAYS else stamps_from_frames(decoder, chunk), now)
    assert len(latencies) == frames, (path, len(latencies))
    return ttft, latencies, coalesced + sse.multi_stamp_deltas


async def run(args: argparse.Namespace) -> tuple[str, str]:
    load = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="cursor2api-bench-"))
    token = make_jwt()
    (workdir / ".token").write_text(f"bench::{token}\n", encoding="utf-8")
    python = sys.executable
    sim, urls = await start(
        [python, "-m", "tests.fakes", "--port", "0", "--h2-port", "0"], {}, "stdout", pattern=BOTH
    )
    sim_url, h2c_url = (part.split("=", 1)[1] for part in urls.split())
    relay, relay_url = await start(
        [python, "bench/relay.py", "--upstream", sim_url, "--port", "0"], {}, "stdout"
    )
    gateway_env = gateway_settings(sim_url, workdir)
    processes = [sim, relay]
    gateways: dict[str, str] = {}
    for name, env in (
        ("gateway", {"UPSTREAM_RPC": "chat"}),
        ("agent-sse", {"UPSTREAM_RPC": "agent", "UPSTREAM_HTTP_VERSION": "1.1"}),
        ("agent-run", {"UPSTREAM_RPC": "agent", "UPSTREAM_HTTP_VERSION": "2", "CURSOR_BASE_URL": h2c_url}),
    ):
        command = [python, "-m", "gateway", "--env-file", "/dev/null"]
        process, url = await start(command, {**gateway_env, **env}, "stderr")
        processes.append(process)
        gateways[name] = url
    paths = Paths(sim_url, h2c_url, relay_url, gateways, token)
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            for _ in range(50):  # warm up connections, caches and the JIT-less interpreter alike
                for name in NAMES:
                    await one_request(session, paths, name)
            latency: dict[str, list[float]] = {n: [] for n in NAMES}
            for _ in range(args.requests):
                for name in NAMES:
                    latency[name].append(await one_request(session, paths, name))
            ttft: dict[str, list[float]] = {n: [] for n in NAMES}
            chunks: dict[str, list[float]] = {n: [] for n in NAMES}
            coalesced = dict.fromkeys(NAMES, 0)
            for _ in range(args.streams):
                for name in NAMES:
                    first, per_chunk, merged = await one_stream(
                        session, paths, name, args.frames, args.pace_ms / 1000
                    )
                    ttft[name].append(first)
                    chunks[name].extend(per_chunk)
                    coalesced[name] += merged
    finally:
        await paths.h2.close()
        for process in reversed(processes):
            process.terminate()
            await process.wait()
    return report(args, latency, ttft, chunks, coalesced), report_agent(
        args, load, latency, ttft, chunks, coalesced
    )


def report(args, latency, ttft, chunks, coalesced) -> str:  # type: ignore[no-untyped-def]
    def row(label: str, data: dict[str, list[float]], unit: str, scale: float = 1.0) -> list[str]:
        lines = []
        for p in (50, 99):
            base = pct(data["direct"], p)
            relay_added = pct(data["relay"], p) - base
            gw_added = pct(data["gateway"], p) - base
            ratio = pct(data["gateway"], p) / pct(data["relay"], p)
            lines.append(
                f"| {label} p{p} | {base * scale:.3f} | {pct(data['relay'], p) * scale:.3f} | "
                f"{pct(data['gateway'], p) * scale:.3f} | {relay_added * scale:+.3f} | {gw_added * scale:+.3f} | "
                f"{ratio:.2f}x |"
            )
        return [line.replace("UNIT", unit) for line in lines]

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {loop}, "
        f"aiohttp {aiohttp.__version__}. Command: `.venv/bin/python bench/bench_gateway.py "
        f"--requests {args.requests} --streams {args.streams}`.",
        "",
        "Each row compares three paths to the same simulator, interleaved in one run: **direct** (the",
        "benchmark speaks Connect itself), **relay** (a bare aiohttp relay, the floor for this stack) and",
        "**gateway**. *Added* is the path's figure minus direct's at the same percentile. The ratio is",
        "gateway / relay (total time).",
        "",
        "| measure | direct | relay | gateway | relay added | gateway added | gateway/relay |",
        "|---|---|---|---|---|---|---|",
        *row(f"non-streaming latency, ms ({args.requests} requests, concurrency 1)", latency, "ms"),
        *row(f"time to first token, ms ({args.streams} streams)", ttft, "ms"),
        *row(
            f"per-chunk one-way latency, µs ({args.frames} frames x {args.streams} streams, {args.pace_ms:g} ms pace)",
            chunks,
            "µs",
        ),
        "",
        f"Coalesced chunks (two upstream frames in one client read or delta): direct {coalesced['direct']}, "
        f"relay {coalesced['relay']}, gateway {coalesced['gateway']}.",
        "",
        f"Non-streaming mean: direct {statistics.mean(latency['direct']):.3f} ms, relay "
        f"{statistics.mean(latency['relay']):.3f} ms, gateway {statistics.mean(latency['gateway']):.3f} ms.",
    ]
    return "\n".join(lines) + "\n"


def report_agent(args, load, latency, ttft, chunks, coalesced) -> str:  # type: ignore[no-untyped-def]
    """The agent path next to the chat path: each gateway path minus its own baseline."""
    pairs = (
        ("chat (ChatService)", "direct", "gateway"),
        ("agent, RunSSE + BidiAppend", "agent-direct-sse", "agent-sse"),
        ("agent, Run (h2c)", "agent-direct-run", "agent-run"),
    )

    def rows(label: str, data: dict[str, list[float]]) -> list[str]:
        out = []
        for p in (50, 99):
            cells = []
            for _, base, through in pairs:
                added = pct(data[through], p) - pct(data[base], p)
                cells.append(f"{pct(data[base], p):.3f} / {pct(data[through], p):.3f} / {added:+.3f}")
            out.append(f"| {label} p{p} | " + " | ".join(cells) + " |")
        return out

    lines = [
        "## The agent path next to the chat path (same run)",
        "",
        f"Command: `.venv/bin/python bench/bench_gateway.py --requests {args.requests} --streams {args.streams}` "
        f"(load average {load:.1f} on {os.cpu_count()} cores when it started).",
        "",
        "Each cell is *baseline / through the gateway / added*: the chat path against the benchmark",
        "speaking ChatService itself, each agent path against the benchmark running the agent service",
        "itself on the same carrier (bench/agent_direct.py answers the run's questions like the gateway).",
        "Compare the columns with each other: the table at the top may come from another run.",
        "",
        "| measure | " + " | ".join(label for label, _, _ in pairs) + " |",
        "|---|---|---|---|",
        *rows("non-streaming latency, ms", latency),
        *rows("time to first token, ms", ttft),
        *rows("per-chunk one-way latency, µs", chunks),
        "",
        "Coalesced chunks: " + ", ".join(f"{through} {coalesced[through]}" for _, _, through in pairs) + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--streams", type=int, default=12)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--pace-ms", type=float, default=20.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    from loadlib import write_section  # loadlib imports this module: not at the top

    text, agent = asyncio.run(run(args))
    out = Path(args.out)
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    sections = old[old.index("<!--") :] if "<!--" in old else ""  # the other benchmarks' sections stay
    out.write_text(text + "\n" + sections, encoding="utf-8")
    write_section(out, "agent", agent)
    print(text + "\n" + agent)


if __name__ == "__main__":
    main()
