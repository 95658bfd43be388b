"""`python -m gateway`: settings from the environment over `.env`, logging, then serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

from dotenv import dotenv_values

from gateway import __version__, keys
from gateway.app import create_app
from gateway.config import ConfigError, Settings
from gateway.logs import setup_logging
from gateway.server import listen

log = logging.getLogger("gateway")

AFTER_GRACE_SECONDS = 5.0


def load_settings(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="cursor2api gateway")
    parser.add_argument(
        "--env-file", default=".env", help="dotenv file read under the environment (default .env)"
    )
    parser.add_argument("--host", help="overrides HOST")
    parser.add_argument("--port", type=int, help="overrides PORT")
    parser.add_argument(
        "--demo", action="store_true", help="run against the bundled simulator (overrides DEMO)"
    )
    parser.add_argument("--version", action="version", version=f"cursor2api {__version__}")
    args = parser.parse_args(argv)
    values: dict[str, str] = {k: v for k, v in dotenv_values(args.env_file).items() if v is not None}
    values.update(os.environ)  # the environment wins over .env
    if args.host is not None:
        values["HOST"] = args.host
    if args.port is not None:
        values["PORT"] = str(args.port)
    if args.demo:
        values["DEMO"] = "true"
    return Settings.from_mapping(values)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        pool = None
        if settings.demo:
            from gateway.demo import start_demo

            settings, pool = await stack.enter_async_context(start_demo(settings))
        app = create_app(settings, pool=pool)
        listener = await stack.enter_async_context(
            listen(
                app,
                settings,
                handler_cancellation=True,
                access_log=None,
                # Streams already had SHUTDOWN_GRACE in on_shutdown (LiveStreams.finish); other
                # requests ran during that time too, so aiohttp's own wait afterwards can stay short.
                shutdown_timeout=AFTER_GRACE_SECONDS,
            )
        )
        # What start-up built (modules, protobuf descriptors, templates) lives as long as the
        # process: out of the collector's generations, full collections stay short.
        gc.freeze()
        version = app[keys.CLIENT_VERSION].current  # the saved one is read by now; the feed comes later
        for host, port in listener.addresses:
            display = f"[{host}]" if ":" in host else host
            log.info(
                "listening on http://%s:%s%s (Cursor client version %s, %s)",
                display,
                port,
                settings.route_prefix or "",
                version.version,
                version.source,
            )
        await stop.wait()
        log.info("shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except ConfigError as exc:
        sys.stderr.write(f"cursor2api: configuration error: {exc}\n")
        return 2
    setup_logging(settings.debug)
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(settings))
    except ConfigError as exc:
        sys.stderr.write(f"cursor2api: configuration error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
