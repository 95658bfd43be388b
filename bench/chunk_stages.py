"""Where a streamed chunk's time goes inside the gateway, stage by stage, next to the bare relay.

The gateway (or bench/relay.py) runs with time stamps around the stages of the per-chunk path:
the upstream bytes arriving (aiohttp's client protocol), the read returning them, decoding
(frames, protobuf, neutral events), rendering the SSE event, and the write to the client's socket.
Streams from the simulator are paced (default 5 ms) so every chunk travels alone, as a real answer
does, with the caches as cold as between real frames. Each stage's p50 and p90 over all chunks:

    .venv/bin/python bench/chunk_stages.py [--streams 8] [--frames 200] [--pace-ms 5]

`arrival -> write` is the whole per-chunk path of the process; compare the two processes on it.
Stamping adds about a microsecond per stage.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import runpy
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("arrival", "read", "decode", "decoded", "render", "rendered", "write")


def stamped(out: str, target: list[str]) -> None:
    """Run `target` (`-m module args` or `script args`) with stamps; write them to `out` at exit."""
    import atexit

    import aiohttp.client_proto
    import aiohttp.http_writer
    import aiohttp.streams

    sys.path.insert(0, str(ROOT))
    now = time.perf_counter_ns
    current: dict[str, int] = {}
    rows: list[dict[str, int]] = []

    def stamp(stage: str) -> None:
        if "arrival" in current and stage not in current:
            current[stage] = now()

    def around(owner: Any, name: str, before: str, after: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any) -> Any:
            stamp(before)
            result = original(*args)
            stamp(after)
            return result

        setattr(owner, name, wrapper)

    received = aiohttp.client_proto.ResponseHandler.data_received

    def data_received(self: Any, data: bytes) -> None:
        current.clear()
        current["arrival"] = now()
        received(self, data)

    aiohttp.client_proto.ResponseHandler.data_received = data_received  # type: ignore[method-assign]
    readany = aiohttp.streams.StreamReader.readany

    async def read(self: Any) -> bytes:
        data = await readany(self)
        stamp("read")
        return data

    aiohttp.streams.StreamReader.readany = read  # type: ignore[method-assign]
    writelines = aiohttp.http_writer.StreamWriter._writelines

    def write(self: Any, chunks: Any) -> None:
        stamp("write")
        if "arrival" in current:
            rows.append(dict(current))
        current.clear()
        writelines(self, chunks)

    aiohttp.http_writer.StreamWriter._writelines = write  # type: ignore[method-assign]
    if target[0] == "-m" and target[1] == "gateway":
        import gateway.chat.to_openai
        import gateway.upstream.chatservice.client

        around(gateway.upstream.chatservice.client, "decode_chunk", "decode", "decoded")
        around(gateway.chat.to_openai.ChatStream, "render", "render", "rendered")

    def dump() -> None:
        Path(out).write_text(json.dumps(rows), encoding="utf-8")

    atexit.register(dump)
    if target[0] == "-m":
        sys.argv = target[1:]
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = target
        runpy.run_path(target[0], run_name="__main__")


async def drive(args: argparse.Namespace, name: str) -> list[dict[str, int]]:
    sys.path.insert(0, str(ROOT / "bench"))
    import aiohttp
    from bench_gateway import BOTH, Paths, gateway_settings, one_stream, start

    from tests.fakes import make_jwt

    workdir = Path(tempfile.mkdtemp(prefix="cursor2api-stages-"))
    token = make_jwt()
    (workdir / ".token").write_text(f"bench::{token}\n", encoding="utf-8")
    out = workdir / "stamps.json"
    python = sys.executable
    sim, urls = await start(
        [python, "-m", "tests.fakes", "--port", "0", "--h2-port", "0"], {}, "stdout", pattern=BOTH
    )
    sim_url, h2c_url = (part.split("=", 1)[1] for part in urls.split())
    wrap = [python, str(Path(__file__).resolve()), "--stamp", str(out)]
    processes = [sim]
    try:
        if name == "relay":
            target, url = await start(
                [*wrap, "bench/relay.py", "--upstream", sim_url, "--port", "0"], {}, "stdout"
            )
        else:
            env = gateway_settings(sim_url, workdir)
            target, url = await start([*wrap, "-m", "gateway", "--env-file", "/dev/null"], env, "stderr")
        processes.append(target)
        paths = Paths(sim_url, h2c_url, url, {"gateway": url}, token)
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with asyncio.timeout(args.streams * (args.frames * args.pace_ms / 1000 + 30)):
                for _ in range(args.streams):
                    await one_stream(session, paths, name, args.frames, args.pace_ms / 1000)
        await paths.h2.close()
        target.send_signal(signal.SIGINT)  # a clean exit writes the stamps
        await asyncio.wait_for(target.wait(), 30)
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
    return list(json.loads(out.read_text(encoding="utf-8")))


def report(name: str, rows: list[dict[str, int]]) -> None:
    def pct(values: list[int], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] / 1000

    print(f"{name}: {len(rows)} chunks")
    # A chunk that skips stages (a plain text frame is not decoded as frames) counts the time
    # between the stages it passed; each pair is reported over the chunks that passed both.
    spans: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        passed = [stage for stage in STAGES if stage in row]
        for start, end in [*itertools.pairwise(passed), ("arrival", "write")]:
            if start in row and end in row:
                spans.setdefault((start, end), []).append(row[end] - row[start])
    pairs = sorted(spans, key=lambda pair: (pair == ("arrival", "write"), STAGES.index(pair[0])))
    for start, end in pairs:
        found = spans[start, end]
        print(
            f"  {start:>8} -> {end:<8} p50 {pct(found, 50):7.1f} µs   p90 {pct(found, 90):7.1f} µs"
            f"   ({len(found)} chunks)"
        )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stamp":
        stamped(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--pace-ms", type=float, default=5.0)
    args = parser.parse_args()
    os.chdir(ROOT)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in ("relay", "gateway"):
        report(name, asyncio.run(drive(args, name)))


if __name__ == "__main__":
    main()
