"""Soak: a steady load on the gateway for a long time, watching its memory (not run by CI).

Starts the simulator (uvloop) and `python -m gateway`, then keeps `--streams` paced streams open
(each a `stamped` stream of `--frames` frames 20 ms apart, started again as soon as it ends) plus
`--rps` non-streaming requests a second, for `--minutes` (default 30). Every 10 s it samples the
gateway's VmRSS. Reported: RSS at the end of the first minute and at the end, the growth between
them (goal < 1 MB), the least-squares slope after the first minute, and the traffic and errors.
Every minute the simulator's own request records are reset so its memory stays flat.

    .venv/bin/python bench/soak.py [--minutes 30] [--streams 50] [--rps 20]

Results replace the `soak` section of bench/RESULTS-load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadlib import (
    ROOT,
    SSE_DONE,
    STAMP,
    gateway_request,
    machine_line,
    pct,
    raise_nofile,
    rss_kb,
    run,
    stamped_text,
    start_stack,
    write_section,
)

SAMPLE_S = 10.0


@dataclass(slots=True)
class Traffic:
    streams: int = 0
    chunks: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_us: list[int] = field(default_factory=list)  # a bounded reservoir, newest kept


async def stream_loop(
    session: aiohttp.ClientSession, base: str, frames: int, pace: float, stop: asyncio.Event, t: Traffic
) -> None:
    url, body, headers = gateway_request(base, stamped_text(frames, pace), stream=True)
    while not stop.is_set():
        count = last = 0
        end = tail = b""
        try:
            async with (
                asyncio.timeout(3 * frames * pace + 60),
                session.post(url, data=body, headers=headers) as response,
            ):
                if response.status != 200:
                    t.errors[f"stream HTTP {response.status}"] += 1
                    await response.read()
                    await asyncio.sleep(1)
                    continue
                async for chunk in response.content.iter_any():
                    now = time.monotonic_ns()
                    data = tail + chunk
                    found = STAMP.findall(data)
                    tail = data[data.rfind(b";") + 1 :][-32:] if found else data[-32:]
                    for raw in found:
                        stamp = int(raw)
                        if stamp <= last:
                            t.errors["reordered"] += 1
                        last = stamp
                        if len(t.latencies_us) < 200_000:
                            t.latencies_us.append((now - stamp) // 1000)
                    count += len(found)
                    end = (end + chunk)[-64:]
        except TimeoutError:
            t.errors["stream timeout"] += 1
            continue
        except (aiohttp.ClientError, OSError) as exc:
            t.errors[f"stream {type(exc).__name__}"] += 1
            await asyncio.sleep(1)
            continue
        t.chunks += count
        if count != frames:
            t.errors["dropped or extra chunks"] += 1
        elif SSE_DONE not in end:
            t.errors["no [DONE]"] += 1
        else:
            t.streams += 1


async def request_loop(
    session: aiohttp.ClientSession, base: str, rps: float, stop: asyncio.Event, t: Traffic
) -> None:
    url, body, headers = gateway_request(base, "ping", stream=False)
    period = 1 / rps
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            async with asyncio.timeout(60), session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    t.requests += 1
                else:
                    t.errors[f"request HTTP {response.status}"] += 1
        except TimeoutError:
            t.errors["request timeout"] += 1
        except (aiohttp.ClientError, OSError) as exc:
            t.errors[f"request {type(exc).__name__}"] += 1
        next_at += period
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def reset_sim(session: aiohttp.ClientSession, sim_url: str, stop: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 60)
        if stop.is_set():
            return
        async with session.post(sim_url + "/__sim/reset") as response:
            await response.read()


async def soak(args: argparse.Namespace) -> str:
    stack = await start_stack(with_relay=False)
    pid = stack.gateway.pid
    samples: list[tuple[float, int, int]] = []  # (seconds since load start, gateway KiB, sim KiB)
    traffic = Traffic()
    stop = asyncio.Event()
    try:
        await asyncio.sleep(1.0)
        idle_kb = rss_kb(pid)
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as session:
            pace = args.pace_ms / 1000
            tasks = [
                asyncio.create_task(stream_loop(session, stack.gateway_url, args.frames, pace, stop, traffic))
                for _ in range(args.streams)
            ]
            if args.rps > 0:
                tasks.append(
                    asyncio.create_task(request_loop(session, stack.gateway_url, args.rps, stop, traffic))
                )
            tasks.append(asyncio.create_task(reset_sim(session, stack.sim_url, stop)))
            started = time.monotonic()
            duration = args.minutes * 60
            while (elapsed := time.monotonic() - started) < duration:
                await asyncio.sleep(min(SAMPLE_S, duration - elapsed))
                samples.append((time.monotonic() - started, rss_kb(pid), rss_kb(stack.sim.pid)))
                if stack.gateway.returncode is not None:
                    traffic.errors["gateway exited"] += 1
                    break
            stop.set()
            _, pending = await asyncio.wait(tasks, timeout=3 * args.frames * pace + 90)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(5)
        after_kb = rss_kb(pid)
    finally:
        await stack.stop()
    return report(args, idle_kb, after_kb, samples, traffic)


def slope_kb_per_min(points: list[tuple[float, int]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 60 * sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def report(
    args: argparse.Namespace,
    idle_kb: int,
    after_kb: int,
    samples: list[tuple[float, int, int]],
    t: Traffic,
) -> str:
    first = next((s for s in samples if s[0] >= 60 - 1), samples[0] if samples else (0.0, 0, 0))
    last = samples[-1] if samples else first
    growth_mb = (last[1] - first[1]) / 1024
    later = [(s[0], s[1]) for s in samples if s[0] >= first[0]]
    latencies = sorted(t.latencies_us)
    command = (
        f".venv/bin/python bench/soak.py --minutes {args.minutes:g} --streams {args.streams} "
        f"--rps {args.rps:g} --frames {args.frames} --pace-ms {args.pace_ms:g}"
    )
    verdict = "met" if growth_mb < 1 else "MISSED"
    lines = [
        "## Soak",
        "",
        machine_line(),
        f"Command: `{command}`.",
        "",
        f"Load: {args.streams} concurrent `stamped` streams ({args.frames} frames, {args.pace_ms:g} ms apart, "
        f"restarted as each ends) plus {args.rps:g} non-streaming requests/s, for {args.minutes:g} min; "
        f"gateway VmRSS sampled every {SAMPLE_S:g} s.",
        "",
        f"- Gateway RSS: idle before load {idle_kb / 1024:.1f} MB; at {first[0]:.0f} s (end of the first "
        f"minute) {first[1] / 1024:.1f} MB; at the end ({last[0]:.0f} s) {last[1] / 1024:.1f} MB; "
        f"**growth {growth_mb:+.2f} MB** (goal < 1 MB: {verdict}); slope after the first minute "
        f"{slope_kb_per_min(later):+.1f} KB/min; min/max under load "
        f"{min((s[1] for s in samples), default=0) / 1024:.1f}/{max((s[1] for s in samples), default=0) / 1024:.1f}"
        f" MB; idle 5 s after the load {after_kb / 1024:.1f} MB.",
        f"- Traffic: {t.streams} streams completed ({t.chunks} chunks), {t.requests} non-streaming requests; "
        f"errors {sum(t.errors.values())}" + (f" ({dict(t.errors)})" if t.errors else "") + ".",
        f"- Per-chunk latency (first {len(latencies)} chunks): p50 {pct(latencies, 50) / 1000:.2f} ms, "
        f"p99 {pct(latencies, 99) / 1000:.2f} ms.",
        f"- Simulator RSS (records reset every minute): {samples[0][2] / 1024 if samples else 0:.1f} -> "
        f"{last[2] / 1024:.1f} MB.",
        "",
        "| t (s) | gateway RSS MB |",
        "|---|---|",
        *(f"| {s[0]:.0f} | {s[1] / 1024:.2f} |" for s in samples[:: max(1, len(samples) // 30)]),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rps", type=float, default=20.0, help="non-streaming requests per second")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--pace-ms", type=float, default=20.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-load.md"))
    args = parser.parse_args()
    raise_nofile()
    text = run(soak(args))
    write_section(Path(args.out), "soak", text)
    print(text)


if __name__ == "__main__":
    main()
