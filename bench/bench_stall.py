"""`/health` latency while unauthenticated or misbehaving clients try to stall the gateway.

The gateway runs as shipped (`python -m gateway`, from this checkout or `--gateway-dir`) against
the simulator, with the open-file limit of a default machine (`--nofile`, 1024 soft and hard),
and a prober opens a new connection every 50 ms for `GET /health` during each phase:

  idle          nothing else happens (the floor);
  compressed    16 clients each post a ~1 MiB `Content-Encoding: gzip` body of zeros (about 1 GiB
                inflated) with a wrong key, one a second;
  connections   `--conns` connections (default 1,100, beyond the file limit) are held open, half
                idle and half trickling a request head one byte every 0.5 s, re-opened as soon
                as the gateway closes them;
  nonreading    10 streaming requests with `n=8`, the upstream sending 4 MiB frames, from clients
                that never read (tiny receive buffers); the gateway's peak RSS is reported too.

A probe that fails or takes over 5 s counts as 5 s. Results go to stdout (and `--out`).

    .venv/bin/python bench/bench_stall.py [--gateway-dir DIR] [--label NAME] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import sys
import tempfile
import time
import zlib
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateway import MODEL_PUBLIC, URL, pct  # noqa: E402
from loadlib import raise_nofile, rss_kb  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.fakes import make_jwt  # noqa: E402

API_KEY = "bench-key"
PROBE_EVERY = 0.05
PROBE_TIMEOUT = 5.0
HEALTH = b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


async def launch(
    args: list[str], env: dict[str, str], cwd: Path, nofile: int | None
) -> tuple[asyncio.subprocess.Process, str]:
    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=limit,
    )
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        if not line:
            raise RuntimeError(f"{args} exited before it was ready")
        match = URL.search(line)
        if match and "listening" in line:
            asyncio.get_running_loop().create_task(_drain(process.stdout))
            return process, match.group(1)


async def _drain(pipe: asyncio.StreamReader) -> None:
    log = os.environ.get("BENCH_STALL_LOG")
    while line := await pipe.readline():
        if log:
            with open(log, "ab") as out:
                out.write(line)


async def probe_once(host: str, port: int) -> float:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(HEALTH)
                line = await reader.readline()
            finally:
                writer.close()
            if b" 200 " not in line:
                return PROBE_TIMEOUT * 1000
    except (OSError, TimeoutError):
        return PROBE_TIMEOUT * 1000
    return (time.perf_counter() - started) * 1000


async def probe(host: str, port: int, seconds: float) -> list[float]:
    tasks = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tasks.append(asyncio.create_task(probe_once(host, port)))
        await asyncio.sleep(PROBE_EVERY)
    return list(await asyncio.gather(*tasks))


async def probe_elsewhere(host: str, port: int, seconds: float) -> list[float]:
    """`probe()` in a process of its own, so the attackers' work does not delay the prober."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--probe",
        f"{host}:{port}",
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    return list(orjson.loads(out))


async def compressed_client(host: str, port: int, body: bytes, stop: asyncio.Event) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer wrong\r\n"
        f"Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    while not stop.is_set():
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(30):
                reader, writer = await asyncio.open_connection(host, port)
                try:
                    writer.write(head + body)
                    await writer.drain()
                    await reader.read()
                finally:
                    writer.close()
        await asyncio.sleep(1.0)


async def held_connection(host: str, port: int, trickle: bool, stop: asyncio.Event) -> None:
    """One slot of the connection attack: keep a connection open, re-open it when it is closed."""
    piece = b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 1000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            for byte in piece if trickle else b"":
                if stop.is_set() or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(0.5)
            while not stop.is_set() and not reader.at_eof():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        if not await reader.read(1024):
                            break
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(1.0)  # an attacker that comes back, not a connection flood


async def nonreading_stream(host: str, port: int, stop: asyncio.Event) -> None:
    body = orjson.dumps(
        {
            "model": MODEL_PUBLIC,
            "stream": True,
            "n": 8,
            "messages": [{"role": "user", "content": "[[sim:large frames=4]]"}],
        }
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    await asyncio.get_running_loop().sock_sendall(sock, head + body)
    await stop.wait()
    sock.close()


async def phase(name: str, host: str, port: int, seconds: float, attack, pid: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    workers = [asyncio.create_task(w) for w in attack(stop)] if attack else []
    await asyncio.sleep(2.0 if workers else 0.0)  # let the attack take hold
    rss_peak = rss_kb(pid)

    async def watch() -> None:
        nonlocal rss_peak
        while not stop.is_set():
            rss_peak = max(rss_peak, rss_kb(pid))
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    latencies = await probe_elsewhere(host, port, seconds)
    stop.set()
    await watcher
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await asyncio.sleep(1.0)
    failed = sum(1 for v in latencies if v >= PROBE_TIMEOUT * 1000)
    return {
        "phase": name,
        "probes": len(latencies),
        "failed": failed,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "max": max(latencies),
        "rss_mb": rss_peak / 1024,
    }


def gzip_of_zeros(wire_bytes: int) -> bytes:
    """A complete gzip member of zeros, about `wire_bytes` long (about 1,000 times that inflated)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    out = bytearray()
    while len(out) < wire_bytes:
        out += packer.compress(zeros)
    return bytes(out + packer.flush())


async def run(args: argparse.Namespace) -> str:
    raise_nofile()  # the attackers need more descriptors than the gateway gets
    workdir = Path(tempfile.mkdtemp(prefix="cursor2api-stall-"))
    token = make_jwt()
    (workdir / ".token").write_text(f"bench::{token}\n", encoding="utf-8")
    python = sys.executable
    sim, sim_url = await launch([python, "bench/loadlib.py", "serve-sim", "--port", "0"], {}, ROOT, None)
    gateway_dir = Path(args.gateway_dir).resolve()
    env = {
        "PORT": "0",
        "API_KEY": API_KEY,
        "CURSOR_BASE_URL": sim_url,
        "TOKEN_FILE": str(workdir / ".token"),
        "TOKEN_LIST_FILE": str(workdir / ".token-list"),
        "DATA_DIR": str(workdir / "data"),
        "PYTHONPATH": str(gateway_dir),
    }
    gateway, url = await launch(
        [python, "-m", "gateway", "--env-file", "/dev/null"], env, gateway_dir, args.nofile
    )
    host, port = url.removeprefix("http://").split(":")
    bomb = gzip_of_zeros(1 << 20)
    attacks = {
        "idle": None,
        "compressed": lambda stop: [compressed_client(host, int(port), bomb, stop) for _ in range(16)],
        "connections": lambda stop: [
            held_connection(host, int(port), i % 2 == 1, stop) for i in range(args.conns)
        ],
        "nonreading": lambda stop: [nonreading_stream(host, int(port), stop) for _ in range(10)],
    }
    rows = []
    try:
        for name in args.phases.split(","):
            rows.append(await phase(name, host, int(port), args.seconds, attacks[name], gateway.pid))
            print(rows[-1], flush=True)
    finally:
        for process in (gateway, sim):
            process.terminate()
            await process.wait()
    lines = [
        f"`/health` under stall attacks ({args.label}; gateway open-file limit {args.nofile}, "
        f"{args.seconds:g} s of probes per phase, one new connection every {PROBE_EVERY * 1000:g} ms).",
        "",
        "| phase | probes | failed (> 5 s) | p50 ms | p99 ms | max ms | gateway peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['phase']} | {row['probes']} | {row['failed']} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['max']:.1f} | {row['rss_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateway-dir", default=str(ROOT), help="checkout whose gateway is measured")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--conns", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--phases", default="idle,compressed,connections,nonreading")
    parser.add_argument("--out", default="")
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # host:port: only probe, print JSON
    args = parser.parse_args()
    if args.probe:
        host, port = args.probe.rsplit(":", 1)
        sys.stdout.write(orjson.dumps(asyncio.run(probe(host, int(port), args.seconds))).decode())
        return
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        text = runner.run(run(args))
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
