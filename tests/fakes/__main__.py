"""Standalone simulator: `python -m tests.fakes --host 127.0.0.1 --port 3100 [--h2-port 3101]`.

Prints one line with the bound URL(s), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.fakes.config import SimConfig
from tests.fakes.h2server import start_h2c
from tests.fakes.server import start_http
from tests.fakes.sim import CursorSimulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100, help="HTTP/1.1 port (0 = any free port)")
    parser.add_argument("--h2-port", type=int, default=None, help="also serve h2c on this port")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="delay between content frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--require-http2", action="store_true", help="answer 505 to HTTP/1.1 chat calls")
    parser.add_argument(
        "--default-scenario", default="", help='scenario when nothing else decides, e.g. "agent"'
    )
    parser.add_argument("--no-checks", action="store_true", help="switch off header and body checks")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = SimConfig(
        seed=args.seed,
        pace_s=args.pace_ms / 1000.0,
        require_http2=args.require_http2,
        default_scenario=args.default_scenario,
    )
    if args.no_checks:
        config.check_auth = config.check_checksum = config.check_client_version = False
        config.check_body = config.check_identity_headers = False
    sim = CursorSimulator(config)
    http = await start_http(sim, args.host, args.port)
    h2 = await start_h2c(sim, args.host, args.h2_port) if args.h2_port is not None else None
    urls = f"http1={http.url}" + (f" h2c={h2.url}" if h2 else "")
    print(f"cursor simulator listening: {urls}", flush=True)  # noqa: T201 - the start-up line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if h2 is not None:
            await h2.close()
        await http.close()


def main() -> None:
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
