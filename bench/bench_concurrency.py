"""Concurrent paced streams through the gateway and, side by side, through the bare aiohttp relay.

For each level of simultaneous streams (default 100, 250, 500, 1000, 1500, 2000), and for each
path (relay first, then gateway, against the same simulator), driver worker processes open that
many streams of the simulator's `stamped` scenario (a frame every 20 ms holding its send time on
the shared monotonic clock). Starts are spread over `--ramp` seconds and each stream lasts longer
than the ramp, so all of them are open at once for a while. Reported per level and path:
completed streams, errors, dropped chunks (a stream must get exactly its N stamps), reordered
chunks (stamps must increase), p50/p99 one-way latency per chunk (arrival - stamp), how well the
pace was kept (stream duration / nominal), the path process's RSS (VmRSS, idle before the run and
peak during each level) and the CPU every process used, so a saturated driver would show.

    .venv/bin/python bench/bench_concurrency.py [--levels 100,250,500,1000,1500,2000]
        [--frames 250] [--pace-ms 20] [--ramp 2] [--workers 2] [--paths relay,gateway]

Results replace the `concurrency` section of bench/RESULTS-load.md. A worker is this script run
with `--worker JSON`; it prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadlib import (
    CLEAN_END,
    ROOT,
    SSE_DONE,
    STAMP,
    connect_request,
    cpu_jiffies,
    cpu_seconds,
    gateway_request,
    machine_line,
    pct,
    raise_nofile,
    rss_kb,
    run,
    stamped_text,
    start_stack,
    tcp_ext,
    write_section,
)

START_DELAY_NS = 2_500_000_000  # time given to the workers to import and connect nothing yet
SETTLE_S = 3.0  # quiet time between runs, so one run's tail never overlaps the next


# ---------------------------------------------------------------------------------------- worker


@dataclass(slots=True)
class WorkerState:
    frames: int
    gateway: bool
    latencies_us: list[int] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    completed: int = 0
    dropped: int = 0
    extra: int = 0
    reordered: int = 0
    coalesced_reads: int = 0
    late_starts: int = 0
    open_now: int = 0
    open_peak: int = 0


async def one_stream(
    session: aiohttp.ClientSession,
    state: WorkerState,
    request: tuple[str, bytes, dict[str, str]],
    limit_s: float,
) -> None:
    url, body, headers = request
    count = last = 0
    tail = end = b""
    opened = False
    started = time.monotonic_ns()
    first = 0
    try:
        async with asyncio.timeout(limit_s), session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                state.errors[f"HTTP {response.status}"] += 1
                text = await response.read()
                if len(state.error_samples) < 3:
                    state.error_samples.append(f"HTTP {response.status}: {text[:200]!r}")
                return
            opened = True
            state.open_now += 1
            state.open_peak = max(state.open_peak, state.open_now)
            async for chunk in response.content.iter_any():
                now = time.monotonic_ns()
                data = tail + chunk if tail else chunk
                found = STAMP.findall(data)
                if found:
                    cut = data.rfind(b";")
                    tail = data[cut + 1 :][-32:]
                    state.coalesced_reads += len(found) > 1
                    for raw in found:
                        stamp = int(raw)
                        if stamp <= last:
                            state.reordered += 1
                        last = stamp
                        state.latencies_us.append((now - stamp) // 1000)
                    if not count:
                        first = now
                    count += len(found)
                else:
                    tail = data[-32:]
                end = (end + chunk)[-64:]
                if state.gateway and b'"error"' in chunk:
                    state.errors["in-stream error"] += 1
                    return
    except TimeoutError:
        state.errors["timeout"] += 1
        return
    except (aiohttp.ClientError, OSError) as exc:
        state.errors[type(exc).__name__] += 1
        if len(state.error_samples) < 3:
            state.error_samples.append(f"{type(exc).__name__}: {exc} (after {count} stamps)")
        return
    finally:
        if opened:
            state.open_now -= 1
        state.dropped += max(0, state.frames - count)
        state.extra += max(0, count - state.frames)
    if not (SSE_DONE in end if state.gateway else end.endswith(CLEAN_END)):
        state.errors["no clean end"] += 1
        return
    state.completed += 1
    if count > 1:
        state.durations_ms.append((time.monotonic_ns() - (first or started)) / 1e6)


async def worker_main(spec: dict) -> dict:  # type: ignore[type-arg]
    frames, pace = spec["frames"], spec["pace_s"]
    text = stamped_text(frames, pace)
    gateway = spec["path"] == "gateway"
    state = WorkerState(frames=frames, gateway=gateway)
    nominal_s = (frames - 1) * pace
    limit_s = 3 * nominal_s + 60
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False, skip_auto_headers=("User-Agent",)
    ) as session:
        loop_start = spec["start_at_ns"]
        lag = time.monotonic_ns() - loop_start
        await asyncio.sleep(max(0, -lag) / 1e9)
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.monotonic()
        tasks = []
        total, workers, index = spec["total"], spec["workers"], spec["index"]
        for i in range(spec["streams"]):
            when = loop_start + (i * workers + index) * spec["ramp_s"] * 1e9 / total
            delay = (when - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                state.late_starts += 1
            if gateway:
                request = gateway_request(spec["url"], text, stream=True)
            else:
                request = connect_request(spec["url"], spec["token"], text)
            tasks.append(asyncio.create_task(one_stream(session, state, request, limit_s)))
        await asyncio.gather(*tasks)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - wall0
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "latencies_us": state.latencies_us,
        "durations_ms": state.durations_ms,
        "errors": dict(state.errors),
        "error_samples": state.error_samples,
        "completed": state.completed,
        "dropped": state.dropped,
        "extra": state.extra,
        "reordered": state.reordered,
        "coalesced_reads": state.coalesced_reads,
        "late_starts": state.late_starts,
        "open_peak": state.open_peak,
        "cpu_s": cpu,
        "wall_s": wall,
        "start_lag_ms": lag / 1e6,
    }


# ---------------------------------------------------------------------------------- orchestrator


@dataclass(slots=True)
class LevelResult:
    path: str
    level: int
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    dropped: int = 0
    extra: int = 0
    reordered: int = 0
    coalesced_reads: int = 0
    late_starts: int = 0
    open_peak: int = 0
    latencies_us: list[int] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)
    rss_before_kb: int = 0
    rss_peak_kb: int = 0
    rss_after_kb: int = 0
    wall_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core, per process group
    worker_cpu_max: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy (any process, kernel included)
    listen_overflows: int = 0  # kernel TcpExt ListenOverflows during the level, machine-wide

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def clean(self) -> bool:
        return (
            self.completed == self.level
            and not self.n_errors
            and not self.dropped
            and not self.extra
            and not self.reordered
        )


async def run_level(
    args: argparse.Namespace, path: str, url: str, target_pid: int, sim_pid: int, token: str, level: int
) -> LevelResult:
    result = LevelResult(path=path, level=level)
    workers = max(1, min(args.workers, level))
    start_at = time.monotonic_ns() + START_DELAY_NS
    procs = []
    for index in range(workers):
        spec = {
            "path": path,
            "url": url,
            "token": token,
            "frames": args.frames,
            "pace_s": args.pace_ms / 1000,
            "ramp_s": args.ramp,
            "total": level,
            "workers": workers,
            "index": index,
            "streams": len(range(index, level, workers)),
            "start_at_ns": start_at,
        }
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                orjson.dumps(spec).decode(),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    result.rss_before_kb = rss_kb(target_pid)
    readers = [asyncio.create_task(p.communicate()) for p in procs]
    await asyncio.sleep(START_DELAY_NS / 1e9)
    cpu0 = {"target": cpu_seconds(target_pid), "sim": cpu_seconds(sim_pid)}
    busy0, total0 = cpu_jiffies()
    overflows0 = tcp_ext().get("ListenOverflows", 0)
    wall0 = time.monotonic()
    deadline = wall0 + args.ramp + 3 * (args.frames * args.pace_ms / 1000) + 120
    while not all(r.done() for r in readers):
        result.rss_peak_kb = max(result.rss_peak_kb, rss_kb(target_pid))
        if time.monotonic() > deadline:
            for p in procs:
                if p.returncode is None:
                    p.kill()
            break
        await asyncio.sleep(0.1)
    result.wall_s = time.monotonic() - wall0
    busy1, total1 = cpu_jiffies()
    result.machine_busy = (busy1 - busy0) / max(1, total1 - total0)
    result.listen_overflows = tcp_ext().get("ListenOverflows", 0) - overflows0
    result.cpu = {
        "target": (cpu_seconds(target_pid) - cpu0["target"]) / result.wall_s,
        "sim": (cpu_seconds(sim_pid) - cpu0["sim"]) / result.wall_s,
    }
    outputs = [await r for r in readers]
    worker_cpu = 0.0
    for stdout, _ in outputs:
        if not stdout:
            result.errors["worker died"] += 1
            continue
        try:
            data = orjson.loads(stdout.splitlines()[-1])
        except orjson.JSONDecodeError:
            result.errors["worker output unreadable"] += 1
            continue
        result.completed += data["completed"]
        result.errors.update(data["errors"])
        result.error_samples.extend(data["error_samples"])
        for name in ("dropped", "extra", "reordered", "coalesced_reads", "late_starts", "open_peak"):
            setattr(result, name, getattr(result, name) + data[name])
        result.latencies_us.extend(data["latencies_us"])
        result.durations_ms.extend(data["durations_ms"])
        share = data["cpu_s"] / max(data["wall_s"], 1e-9)
        worker_cpu += share
        result.worker_cpu_max = max(result.worker_cpu_max, share)
    result.cpu["workers"] = worker_cpu
    result.latencies_us.sort()
    result.durations_ms.sort()
    await asyncio.sleep(SETTLE_S)
    result.rss_after_kb = rss_kb(target_pid)
    return result


async def warm_up(urls: dict[str, str], token: str) -> None:
    """A few short streams and plain requests per path: connections, imports, caches."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
    ) as session:
        for _ in range(20):
            for path, base in urls.items():
                for text in ("ping", stamped_text(3, 0.001)):
                    if path == "gateway":
                        url, body, headers = gateway_request(base, text, stream=True)
                    else:
                        url, body, headers = connect_request(base, token, text)
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        assert response.status == 200, (path, response.status)


async def orchestrate(args: argparse.Namespace) -> tuple[str, dict[str, int], list[LevelResult]]:
    stack = await start_stack(with_relay="relay" in args.paths, gateway_backlog=args.gateway_backlog)
    assert stack.relay is not None or "relay" not in args.paths
    pids = {"gateway": stack.gateway.pid, "sim": stack.sim.pid}
    if stack.relay is not None:
        pids["relay"] = stack.relay.pid
    urls = {"gateway": stack.gateway_url, "relay": stack.relay_url}
    urls = {p: urls[p] for p in args.paths}
    idle: dict[str, int] = {}
    results: list[LevelResult] = []
    try:
        await asyncio.sleep(1.0)
        idle["gateway fresh"] = rss_kb(pids["gateway"])
        if "relay" in pids:
            idle["relay fresh"] = rss_kb(pids["relay"])
        await warm_up(urls, stack.token)
        await asyncio.sleep(SETTLE_S)
        idle["gateway warm"] = rss_kb(pids["gateway"])
        if "relay" in pids:
            idle["relay warm"] = rss_kb(pids["relay"])
        failed: set[str] = set()
        for level in args.levels:
            for path in args.paths:
                if path in failed:
                    continue
                result = await run_level(args, path, urls[path], pids[path], pids["sim"], stack.token, level)
                results.append(result)
                print(summary_line(result), flush=True)
                if not result.clean and args.stop_on_failure:
                    failed.add(path)
        idle["gateway after"] = rss_kb(pids["gateway"])
    finally:
        await stack.stop()
    return report(args, idle, results), idle, results


def summary_line(r: LevelResult) -> str:
    return (
        f"{r.path:7} {r.level:5} streams: completed {r.completed}, errors {r.n_errors} {dict(r.errors)}, "
        f"dropped {r.dropped}, reordered {r.reordered}, p50 {pct(r.latencies_us, 50) / 1000:.2f} ms, "
        f"p99 {pct(r.latencies_us, 99) / 1000:.2f} ms, RSS peak {r.rss_peak_kb / 1024:.1f} MB, "
        f"cpu target {r.cpu.get('target', 0):.0%} sim {r.cpu.get('sim', 0):.0%} "
        f"workers {r.cpu.get('workers', 0):.0%} machine {r.machine_busy:.0%}, "
        f"listen overflows {r.listen_overflows}" + (f"; e.g. {r.error_samples[0]}" if r.error_samples else "")
    )


def report(args: argparse.Namespace, idle: dict[str, int], results: list[LevelResult]) -> str:
    nominal_ms = (args.frames - 1) * args.pace_ms
    command = (
        f".venv/bin/python bench/bench_concurrency.py --levels {','.join(map(str, args.levels))} "
        f"--frames {args.frames} --pace-ms {args.pace_ms:g} --ramp {args.ramp:g} --workers {args.workers} "
        f"--paths {','.join(args.paths)}"
        + ("" if args.stop_on_failure else " --no-stop-on-failure")
        + (f" --gateway-backlog {args.gateway_backlog}" if args.gateway_backlog else "")
        + (f" --section {args.section}" if args.section != "concurrency" else "")
    )
    lines = [
        "## Concurrent paced streams"
        + (f" (gateway BACKLOG {args.gateway_backlog})" if args.gateway_backlog else ""),
        "",
        machine_line(),
        f"Command: `{command}`.",
        "",
        f"Each stream: `stamped` scenario, {args.frames} frames {args.pace_ms:g} ms apart "
        f"(nominal {nominal_ms / 1000:g} s), starts spread over {args.ramp:g} s, so every stream of a level "
        f"is open at once for about {(nominal_ms / 1000 - args.ramp):g} s. Relay and gateway runs alternate "
        f"per level against the same simulator (run on uvloop); clients are {args.workers} separate driver "
        "processes (aiohttp, `limit=0`, stamps found with one regex over the raw bytes, no JSON or "
        "protobuf decoding). The simulator listens with a backlog of 4096, the relay with aiohttp's default "
        "128, the gateway with its BACKLOG setting (default 1024) unless stated. Latency is arrival minus the simulator's `time.monotonic_ns()` at write. "
        "*Pace* is the p99 stream duration (first to last stamp) over the nominal one: above 1 the "
        "chain could not keep up. *CPU* is the share of one core each process used during the level "
        "(200% = both cores); *busy* is the whole machine's (kernel included, 100% = both cores). "
        "*Overflows* is the kernel's `TcpExt ListenOverflows` during the level (an accept queue was "
        "full; machine-wide). *Clean* = every stream completed with all its stamps, in order, "
        "no errors.",
        "",
        "| path | streams | completed | errors | dropped | reordered | p50 ms | p99 ms | max ms | pace p99 | "
        "RSS before MB | RSS peak MB | CPU path | CPU sim | CPU drivers | busy | overflows | clean |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        errors = str(r.n_errors) + (
            " (" + ", ".join(f"{k} {v}" for k, v in r.errors.items()) + ")" if r.errors else ""
        )
        pace = pct(r.durations_ms, 99) / nominal_ms if nominal_ms else 0.0
        lines.append(
            f"| {r.path} | {r.level} | {r.completed} | {errors} | {r.dropped + r.extra} | {r.reordered} | "
            f"{pct(r.latencies_us, 50) / 1000:.2f} | {pct(r.latencies_us, 99) / 1000:.2f} | "
            f"{(r.latencies_us[-1] if r.latencies_us else 0) / 1000:.1f} | {pace:.2f} | "
            f"{r.rss_before_kb / 1024:.1f} | {r.rss_peak_kb / 1024:.1f} | {r.cpu['target']:.0%} | "
            f"{r.cpu['sim']:.0%} | {r.cpu['workers']:.0%} (max {r.worker_cpu_max:.0%}) | "
            f"{r.machine_busy:.0%} | {r.listen_overflows} | {'yes' if r.clean else 'NO'} |"
        )
    lines.append("")
    for r in results:
        for sample in dict.fromkeys(r.error_samples[:4]):
            lines.append(f"- Error at {r.path} {r.level}: `{sample}`")
    for path in args.paths:
        mine = [r for r in results if r.path == path]
        clean = [r.level for r in mine if r.clean]
        paced = [
            r.level
            for r in mine
            if r.clean
            and pct(r.latencies_us, 99) < args.pace_ms * 1000
            and pct(r.durations_ms, 99) <= 1.1 * nominal_ms
        ]
        lines.append(
            f"- **{path}**: highest clean level {max(clean) if clean else 'none'}; highest level that was "
            f"clean *and* kept pace (p99 latency < {args.pace_ms:g} ms, p99 duration <= 1.1x nominal): "
            f"{max(paced) if paced else 'none'}."
        )
    lines.append(
        "- Gateway RSS idle: "
        + ", ".join(f"{k} {v / 1024:.1f} MB" for k, v in idle.items() if k.startswith("gateway"))
        + "; relay: "
        + ", ".join(f"{k} {v / 1024:.1f} MB" for k, v in idle.items() if k.startswith("relay"))
        + "."
    )
    lines.append(
        "- Coalesced client reads (more than one stamp in a read), total over the run: "
        + ", ".join(f"{p} {sum(r.coalesced_reads for r in results if r.path == p)}" for p in args.paths)
        + "; late stream starts (driver > 50 ms behind its schedule): "
        + ", ".join(f"{p} {sum(r.late_starts for r in results if r.path == p)}" for p in args.paths)
        + "."
    )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="100,250,500,1000,1500,2000")
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--pace-ms", type=float, default=20.0)
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which starts are spread")
    parser.add_argument("--workers", type=int, default=2, help="driver processes")
    parser.add_argument("--paths", default="relay,gateway")
    parser.add_argument(
        "--no-stop-on-failure",
        dest="stop_on_failure",
        action="store_false",
        help="keep raising a path's level after a level that was not clean",
    )
    parser.add_argument(
        "--gateway-backlog",
        type=int,
        default=0,
        help="start the gateway with this BACKLOG (0: as shipped, default 1024)",
    )
    parser.add_argument("--section", default="concurrency", help="section of --out to replace")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-load.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.levels.split(",")]
    args.paths = [p for p in args.paths.split(",") if p]
    if not set(args.paths) <= {"relay", "gateway"}:
        parser.error("--paths takes relay and/or gateway")
    return args


def main() -> None:
    args = parse_args()
    raise_nofile()  # before any subprocess starts: they inherit it
    if args.worker:
        result = run(worker_main(orjson.loads(args.worker)))
        # The pipe may come non-blocking from the parent's event loop: a large write would stop short.
        os.set_blocking(sys.stdout.fileno(), True)
        sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
        sys.stdout.buffer.flush()
        return
    text, _, _ = run(orchestrate(args))
    write_section(Path(args.out), args.section, text)
    print(text)


if __name__ == "__main__":
    main()
