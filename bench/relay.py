"""A bare aiohttp relay: forwards a POST to the upstream and streams the bytes back untouched.

This is the floor for any gateway on this stack: one aiohttp server hop plus one aiohttp client
hop and nothing else. `python bench/relay.py --upstream URL --port 0` prints its URL on start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import aiohttp
from aiohttp import web

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
DROP = {"host", "content-length", "transfer-encoding", "connection"}


async def relay(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP}
    async with request.app[SESSION].post(
        request.app[UPSTREAM] + request.path,
        data=body,
        headers=headers,
        skip_auto_headers=("Accept-Encoding",),
    ) as upstream:
        response = web.StreamResponse(
            status=upstream.status, headers={"Content-Type": upstream.headers.get("Content-Type", "")}
        )
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        return response


async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
    app[SESSION] = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
        connector=aiohttp.TCPConnector(limit=0),
    )
    yield
    await app[SESSION].close()


async def main(upstream: str, port: int) -> None:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{tail:.*}", relay)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"relay listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main(args.upstream, args.port))
