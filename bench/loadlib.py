"""Shared by the load benchmarks (bench_concurrency.py, soak.py): processes, /proc readings, stamps.

Also two launchers. `python bench/loadlib.py serve-sim --port 0 [simulator options]` runs the
simulator (`tests.fakes`) on uvloop, as the relay and the gateway run, so that the upstream side
spends as little of the machine's two cores as it can, and with a listen backlog of 4096 instead
of aiohttp's 128, so that bursts of new upstream connections are not reset by the simulator
(the real upstream is not a single Python process). The gateway is started as shipped, with its
`BACKLOG` setting (default 1024) unless a benchmark asks for another value.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_gateway import MODEL_PUBLIC, MODEL_UPSTREAM, gateway_settings, start  # noqa: E402

from tests.fakes import CHAT_PATH, make_jwt  # noqa: E402
from tests.fakes.client_for_tests import build_request, chat_headers, frame_request  # noqa: E402

# A stamp is the simulator's `time.monotonic_ns()` at write followed by ";". Stamped frames are
# never gzipped, so the digits can be found in the raw bytes of both the Connect stream (relay)
# and the SSE stream (gateway) without decoding either: nothing else there is 9+ digits and ";".
STAMP = re.compile(rb"(\d{9,});")
CLEAN_END = b"\x02\x00\x00\x00\x02{}"  # the Connect end-of-stream frame of a clean end
SSE_DONE = b"data: [DONE]"
SIM_BACKLOG = 4096
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> int:
    """Raise the soft file-descriptor limit to the hard one (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kb(pid: int) -> int:
    """VmRSS of a process in KiB, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def tcp_ext() -> dict[str, int]:
    """The kernel's TcpExt counters (ListenOverflows, ListenDrops, ...) from /proc/net/netstat."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names and names[0] == "TcpExt:":
            return {n: int(v) for n, v in zip(names[1:], values[1:], strict=False)}
    return {}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # without guest time, which is already in user
    return total - idle, total


def pct(ordered: list[int] | list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))])


def machine_line() -> str:
    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio (no uvloop)"
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {loop}, aiohttp {aiohttp.__version__}."
    )


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or add) the section between `<!-- name -->` markers, keeping the rest of the file."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Load and memory results\n\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


def loop_factory():  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro):  # type: ignore[no-untyped-def]
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)


@dataclass(slots=True)
class Stack:
    """The simulator, optionally the relay, and the gateway, each a subprocess on 127.0.0.1."""

    sim: asyncio.subprocess.Process
    sim_url: str
    gateway: asyncio.subprocess.Process
    gateway_url: str
    relay: asyncio.subprocess.Process | None
    relay_url: str
    token: str

    def processes(self) -> list[asyncio.subprocess.Process]:
        return [p for p in (self.gateway, self.relay, self.sim) if p is not None]

    async def stop(self) -> None:
        for process in self.processes():
            if process.returncode is None:
                process.terminate()
        for process in self.processes():
            try:
                await asyncio.wait_for(process.wait(), 40)
            except TimeoutError:
                process.kill()
                await process.wait()


async def start_stack(*, with_relay: bool, gateway_backlog: int = 0) -> Stack:
    workdir = Path(tempfile.mkdtemp(prefix="cursor2api-load-"))
    token = make_jwt()
    (workdir / ".token").write_text(f"bench::{token}\n", encoding="utf-8")
    python = sys.executable
    sim, sim_url = await start([python, "bench/loadlib.py", "serve-sim", "--port", "0"], {}, "stdout")
    relay, relay_url = None, ""
    if with_relay:
        relay, relay_url = await start(
            [python, "bench/relay.py", "--upstream", sim_url, "--port", "0"], {}, "stdout"
        )
    gateway_env = gateway_settings(sim_url, workdir)
    if gateway_backlog:
        gateway_env["BACKLOG"] = str(gateway_backlog)
    gateway, gateway_url = await start(
        [python, "-m", "gateway", "--env-file", "/dev/null"], gateway_env, "stderr"
    )
    return Stack(sim, sim_url, gateway, gateway_url, relay, relay_url, token)


def gateway_request(base: str, text: str, stream: bool) -> tuple[str, bytes, dict[str, str]]:
    body = orjson.dumps(
        {"model": MODEL_PUBLIC, "stream": stream, "messages": [{"role": "user", "content": text}]}
    )
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    return base + "/v1/chat/completions", body, headers


def connect_request(base: str, token: str, text: str) -> tuple[str, bytes, dict[str, str]]:
    body = frame_request(build_request(text, model=MODEL_UPSTREAM))
    return base + CHAT_PATH, body, chat_headers(token, now=time.time())


def stamped_text(frames: int, pace_s: float) -> str:
    return f"[[sim:stamped frames={frames} pace={pace_s}]]"


def set_listen_backlog(backlog: int) -> None:
    """Make every `web.TCPSite` created from now on listen with `backlog` (default 128)."""
    from aiohttp import web

    plain = web.TCPSite.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("backlog", backlog)
        plain(self, *args, **kwargs)

    web.TCPSite.__init__ = init  # type: ignore[method-assign]


def serve_sim(argv: list[str]) -> None:
    from tests.fakes.__main__ import parse_args, serve

    set_listen_backlog(SIM_BACKLOG)
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(parse_args(argv)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve-sim"]:
        serve_sim(sys.argv[2:])
    else:
        sys.exit("usage: python bench/loadlib.py serve-sim [options]")
