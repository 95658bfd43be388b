"""Server-Sent Events writer: lazy header commit, idle keep-alives, in-stream errors, terminator.

The response is committed (status 200 and SSE headers written) at the first `send()` or when the
first keep-alive falls due, whichever comes first; until then the handler can still answer with
a real HTTP error. After the commit an error can only be written into the stream: one
`data: {"error": …}` event, then `data: [DONE]`.

Keep-alive comments (`: keep-alive`) are written by a timer whenever nothing was written for
`keepalive` seconds, so the per-chunk path only records a timestamp.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

KEEPALIVE: Final = b": keep-alive\n\n"
DONE: Final = b"data: [DONE]\n\n"
HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def encode_event(payload: dict[str, Any]) -> bytes:
    """One `data:` event; orjson never writes a raw newline, so one line is always enough."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class EventStream:
    """One SSE response. Call `close()` in a `finally` to stop the keep-alive timer."""

    def __init__(
        self, request: web.Request, *, keepalive: float, headers: dict[str, str] | None = None
    ) -> None:
        self._request = request
        self._response = web.StreamResponse(status=200, headers={**HEADERS, **(headers or {})})
        self._keepalive = keepalive
        self._loop = asyncio.get_running_loop()
        self._last_write = self._loop.time()
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(keepalive, self._tick)
        self._pinger: asyncio.Task[None] | None = None
        self.closed = False
        self._ended = False

    @property
    def committed(self) -> bool:
        return self._response.prepared

    @property
    def response(self) -> web.StreamResponse:
        return self._response

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            if self._ended:
                return
            if not self._response.prepared:
                await self._response.prepare(self._request)
            await self._response.write(data)
            self._last_write = self._loop.time()

    async def send(self, data: bytes) -> None:
        """Write already-encoded event bytes (commits the response on first use)."""
        await self._write(data)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self._write(encode_event(payload))

    def _tick(self) -> None:
        self._timer = None
        if self.closed:
            return
        idle = self._loop.time() - self._last_write
        if idle >= self._keepalive and (self._pinger is None or self._pinger.done()):
            self._pinger = self._loop.create_task(self._ping())
            idle = 0.0
        self._timer = self._loop.call_later(max(self._keepalive - idle, 0.01), self._tick)

    async def _ping(self) -> None:
        try:
            await self._write(KEEPALIVE)
        except (ConnectionResetError, RuntimeError) as exc:
            # The client is gone; the handler notices on its own next write or by cancellation.
            log.debug("keep-alive not written: %s", exc)

    async def error(self, error: GatewayError) -> None:
        """Write an in-stream error and the terminator; nothing is written after it."""
        await self._write(encode_event(error.body()) + DONE)
        self._ended = True

    async def close(self) -> None:
        """Stop the keep-alive timer and any keep-alive write in flight."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pinger = self._pinger
        if pinger is not None and not pinger.done():
            pinger.cancel()
            await asyncio.wait((pinger,))
