"""Server-Sent Events writer: lazy header commit, idle keep-alives, in-stream errors, terminator.

The response is committed (status 200 and SSE headers written) at the first `send()` or when the
first keep-alive falls due, whichever comes first; until then the handler can still answer with
a real HTTP error. After the commit an error can only be written into the stream, in the form the
client's dialect expects (`render_error`; OpenAI's: one `data: {"error": …}` event, then
`data: [DONE]`).

Keep-alive comments (`: keep-alive`) are written by a timer whenever nothing was written for
`keepalive` seconds, so the per-chunk path only records a timestamp.

Backpressure: every write waits while the client's socket buffer is above the transport's
high-water mark, and data larger than `WRITE_SLICE` is written in slices, each waiting for the
buffer to drain. So a client that stops reading stops the stream (and with it the reading of the
upstream) with at most one rendered event and about one slice queued in the transport, whatever
the size of the upstream frames. A write still waiting `write_timeout` seconds after it began
(checked whenever the keep-alive timer runs) means the client stopped reading: its connection is
dropped, which ends the handler like any disconnect and closes the upstream call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from aiohttp import web

from gateway.chat.sse_encode import DONE, KEEPALIVE, encode_event
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

WRITE_SLICE: Final = 64 * 1024  # aiohttp's writer drains after every 64 KiB written

HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def openai_error(error: GatewayError) -> bytes:
    """An error inside an OpenAI stream: the error envelope as one event, then the terminator."""
    return encode_event(error.body()) + DONE


class EventStream:
    """One SSE response. Call `close()` in a `finally` to stop the keep-alive timer."""

    def __init__(
        self,
        request: web.Request,
        *,
        keepalive: float,
        write_timeout: float = 0.0,
        headers: dict[str, str] | None = None,
        render_error: Callable[[GatewayError], bytes] = openai_error,
    ) -> None:
        self._request = request
        self._render_error = render_error
        self._response = web.StreamResponse(status=200, headers={**HEADERS, **(headers or {})})
        self._keepalive = keepalive
        self._write_timeout = write_timeout  # 0: no limit
        self._loop = asyncio.get_running_loop()
        self._last_write = self._loop.time()
        self._writing_since: float | None = None  # when the write in progress began
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(keepalive, self._tick)
        self._pinger: asyncio.Task[None] | None = None
        self.closed = False
        self._ended = False
        self._pending = 0  # writes in `_write`, waiting for the lock or writing
        # Committed, not ended, and no `_write` pending: a send may write without the lock.
        self._direct = False
        # False (ENABLE_STREAM_CHECK): keep-alives wait until the first event has committed the
        # response, so any failure before it is still a real HTTP status.
        self.commit_on_keepalive = True

    @property
    def committed(self) -> bool:
        return self._response.prepared

    @property
    def response(self) -> web.StreamResponse:
        return self._response

    async def _write(self, data: bytes) -> None:
        self._pending += 1
        self._direct = False
        try:
            async with self._lock:
                if self._ended:
                    return
                if not self._response.prepared:
                    await self._response.prepare(self._request)
                self._writing_since = self._loop.time()
                if len(data) <= WRITE_SLICE:
                    await self._response.write(data)
                else:
                    view = memoryview(data)
                    for start in range(0, len(data), WRITE_SLICE):
                        await self._response.write(view[start : start + WRITE_SLICE])
                self._last_write = self._loop.time()
                self._writing_since = None
        finally:
            self._pending -= 1
            self._direct = not self._pending and not self._ended and self._response.prepared

    async def send(self, data: bytes) -> None:
        """Write already-encoded event bytes (commits the response on first use)."""
        if not self._direct or len(data) > WRITE_SLICE:
            await self._write(data)
            return
        # The per-chunk path: one write that goes to the transport before it awaits anything, so
        # no keep-alive can come between its bytes and the lock is not needed.
        self._writing_since = self._loop.time()
        await self._response.write(data)
        self._last_write = self._loop.time()
        self._writing_since = None

    def _tick(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = self._loop.time()
        writing = self._writing_since
        if writing is not None and self._write_timeout and now - writing >= self._write_timeout:
            self._drop_stalled_client(now - writing)
            return
        delay = self._keepalive - (now - self._last_write)
        if not self.committed and not self.commit_on_keepalive:
            delay = self._keepalive  # stream check: only real content commits the response
        elif delay <= 0:
            if self._pinger is None or self._pinger.done():
                self._pinger = self._loop.create_task(self._ping())
            delay = self._keepalive
        if writing is not None and self._write_timeout:
            delay = min(delay, writing + self._write_timeout - now)
        self._timer = self._loop.call_later(max(delay, 0.01), self._tick)

    def _drop_stalled_client(self, waited: float) -> None:
        log.info("client stopped reading (a write waited %.1f s); connection dropped", waited)
        transport = self._request.transport
        if transport is not None:
            transport.abort()  # the waiting write fails with ConnectionResetError

    async def _ping(self) -> None:
        try:
            await self._write(KEEPALIVE)
        except (ConnectionResetError, RuntimeError) as exc:
            # The client is gone; the handler notices on its own next write or by cancellation.
            log.debug("keep-alive not written: %s", exc)

    async def error(self, error: GatewayError) -> None:
        """Write an in-stream error and the terminator; nothing is written after it.

        A client that went away meanwhile is not an error of ours: there is nobody left to tell.
        """
        with contextlib.suppress(ConnectionResetError):
            await self._write(self._render_error(error))
        self._ended = True
        self._direct = False

    async def abort(self, error: GatewayError) -> None:
        """End a stream from outside its handler: the rendered `error`, then the end of the body.

        A stream that has not written anything yet is committed for it (status 200, as a keep-alive
        would). Best effort within 1 s: a client that is gone, or a slow one, is not an error here.
        """
        if self._ended:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.error(error)
                await self._response.write_eof()

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


class LiveStreams:
    """The streams in progress, so a shutdown can let them finish and then end them properly."""

    def __init__(self) -> None:
        self._streams: dict[EventStream, asyncio.Task[object]] = {}

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: EventStream) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._streams[stream] = task

    def discard(self, stream: EventStream) -> None:
        self._streams.pop(stream, None)

    async def finish(self, grace: float, error: GatewayError) -> None:
        """Wait up to `grace` seconds; then end what still runs with `error` and cancel it."""
        tasks = set(self._streams.values())
        if not tasks:
            return
        log.info("waiting up to %.1f s for %d running stream(s)", grace, len(tasks))
        await asyncio.wait(tasks, timeout=grace)
        late = [(stream, task) for stream, task in self._streams.items() if not task.done()]
        await asyncio.gather(*(stream.abort(error) for stream, _ in late))
        for _, task in late:
            task.cancel()
        if late:
            log.warning("ended %d stream(s) still running after the grace period", len(late))
            await asyncio.wait([task for _, task in late], timeout=1.0)
