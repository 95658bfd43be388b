"""HTTP/2 implementation of the upstream transport, written directly on the sans-IO `h2` library.

Every known client of Cursor's chat RPC speaks HTTP/2 (cursor-protocol.md §2.2). For `post()` the
gateway sends its single request frame as the complete body, half-closes, then reads the
response; `duplex()` opens a stream whose body stays open, so request frames are written while
the response is read (the agent service's bidirectional `Run`). For `https://` URLs ALPN must
select `h2`; plain `http://` URLs (the simulator) use h2c with prior knowledge.

Owns: a pool of connections per (scheme, host, port), each an `asyncio.Protocol` whose
`data_received` feeds `h2` and dispatches its events to per-stream state (no reader task, no task
per chunk); streams multiplexed up to the peer's `SETTINGS_MAX_CONCURRENT_STREAMS`; request
bodies sent within the flow-control windows (a duplex stream's writes one at a time, each waiting
for window while its response is read concurrently); response data acknowledged only when the
consumer takes it, so a slow consumer applies backpressure and each stream buffers at most its
receive window. Leaving `post()` or `duplex()` before the response ended resets that stream with
`CANCEL` at once, synchronously, so the upstream stops generating (and billing) an answer nobody
reads.

Health: every connection PINGs its peer every `PING_INTERVAL` seconds and is dropped when a PING
is still unanswered at the next one, so a silently vanished peer is not handed out again. A
stream the upstream refused without processing it (`RST_STREAM(REFUSED_STREAM)`, or above a
GOAWAY's last stream id) is sent again once, on a usable connection.

Errors and timeouts mirror the aiohttp transport: only `TransportError` / `TransportTimeout`
escape; `connect` bounds connecting, sending the body and waiting for the response headers;
`idle` bounds each silence in the body.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Final, cast
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import Frame, GoAwayFrame
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.upstream.transport import (
    DuplexCall,
    IdleWatch,
    Timeouts,
    TransportError,
    TransportTimeout,
    UpstreamResponse,
)

MAX_HEADER_LIST_SIZE: Final = 64 * 1024  # the response header block we accept
STREAM_WINDOW: Final = 256 * 1024  # receive window per stream: the bound on its buffered body
MAX_STREAMS_PER_CONNECTION: Final = 100  # our own cap, below a peer that allows "unlimited"
# Large enough that slow readers holding their full stream windows never starve the others.
CONNECTION_WINDOW: Final = MAX_STREAMS_PER_CONNECTION * STREAM_WINDOW
LAST_STREAM_ID: Final = 2**31 - 1
CLOSE_GRACE: Final = 1.0  # seconds `close()` waits for sockets to close before aborting them
DEFAULT_WINDOW: Final = 65_535
PING_INTERVAL: Final = 20.0  # seconds between PINGs; an unanswered PING by the next one kills the connection
REFUSED_RETRIES: Final = 1  # a stream the upstream refused unprocessed is sent again once
HOP_BY_HOP: Final = frozenset(
    {"connection", "host", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"}
)


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class _Stream:
    """One request stream's state, filled in by its connection's event dispatch."""

    __slots__ = (
        "conn",
        "ended",
        "error",
        "headers",
        "id",
        "idle",
        "queue",
        "refused",
        "released",
        "send_waiter",
        "sent_end",
        "status",
        "waiter",
        "watch",
    )

    def __init__(self, conn: _Connection, stream_id: int) -> None:
        self.conn = conn
        self.id = stream_id
        self.queue: deque[tuple[bytes, int]] = deque()  # (payload, flow-controlled length)
        self.waiter: asyncio.Future[None] | None = None  # the reader's
        self.send_waiter: asyncio.Future[None] | None = None  # a writer's (duplex: both at once)
        self.status: int | None = None
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self.ended = False  # END_STREAM received
        self.sent_end = False  # END_STREAM sent
        self.released = False
        self.error: str | None = None  # why the stream can no longer be read
        self.refused = False  # the upstream did not process it (REFUSED_STREAM, or past a GOAWAY)
        self.idle = False  # silent for longer than the idle timeout
        self.watch: IdleWatch | None = None  # the idle timeout, once the body is read

    def wake(self) -> None:
        for waiter in (self.waiter, self.send_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Wait for the next event on this stream (data, end, reset, window, headers)."""
        waiter = self.conn.loop.create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    async def wait_to_send(self) -> None:
        """Like `wait()`, for a writer, which may wait while the reader waits too."""
        waiter = self.conn.loop.create_future()
        self.send_waiter = waiter
        try:
            await waiter
        finally:
            self.send_waiter = None

    def check(self) -> None:
        if self.error is not None:
            raise TransportError(self.error)


class _H2Connection(h2.connection.H2Connection):
    """h2 refuses every frame once a GOAWAY arrived, even on the streams the peer promised to
    finish (those up to `last_stream_id`). After a graceful GOAWAY (NO_ERROR) this keeps the state
    machine open so they can; the pool opens no new streams on such a connection."""

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[h2.events.Event]]:
        was_open = self.state_machine.state == h2.connection.ConnectionState.CLIENT_OPEN
        pending = bytes(self._data_to_send)  # h2 drops queued frames (SETTINGS/PING ACKs) here
        result = super()._receive_goaway_frame(frame)
        if frame.error_code == h2.errors.ErrorCodes.NO_ERROR and was_open:
            self.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
            self._data_to_send = bytearray(pending) + self._data_to_send
        return result


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: the `h2` state machine plus the streams this client opened on it."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_gone: Callable[[_Connection], None],
        *,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self.loop = loop
        self._on_gone = on_gone
        self._ping_interval = ping_interval
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None  # sent and not yet acknowledged
        self.h2 = _H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
            },
        )
        self.h2.decoder.max_header_list_size = MAX_HEADER_LIST_SIZE
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.usable = True  # may take new streams
        self.dead: str | None = None  # why the connection is gone, once it is
        self.writable = True
        self.closed: asyncio.Future[None] = loop.create_future()

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, always (create_connection); uvloop's are not asyncio.Transport
        # subclasses, so no isinstance check here.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            selected = ssl_object.selected_alpn_protocol()
            if selected != "h2":
                self.usable = False
                self.dead = f"the upstream did not negotiate HTTP/2 over TLS (ALPN selected {selected!r})"
                transport.close()
                return
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_WINDOW - DEFAULT_WINDOW)
        self.flush()
        self._ping_timer = self.loop.call_later(self._ping_interval, self._ping)

    def _ping(self) -> None:
        """Health check: a connection that leaves a PING unanswered until the next one is dead, so
        pooled connections to a silently vanished peer are dropped instead of handed out."""
        self._ping_timer = None
        if self.dead is not None:
            return
        if self._ping_payload is not None:
            self._die(f"the upstream did not answer an HTTP/2 PING within {self._ping_interval:g} s")
            if self.transport is not None:
                self.transport.abort()
            return
        self._ping_payload = os.urandom(8)
        with suppress(h2.exceptions.H2Error):
            self.h2.ping(self._ping_payload)
        self.flush()
        self._ping_timer = self.loop.call_later(self._ping_interval, self._ping)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        reason = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        self._die(f"the upstream connection was lost{reason}")
        if not self.closed.done():
            self.closed.set_result(None)
        self._on_gone(self)

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._wake_all()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.H2Error as exc:
            self._fail(h2.errors.ErrorCodes.PROTOCOL_ERROR, f"the upstream broke the HTTP/2 protocol: {exc}")
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    # -- h2 events

    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None and event.data:
                stream.queue.append((event.data, event.flow_controlled_length))
                stream.wake()
            elif event.flow_controlled_length:  # padding only, or a stream we already left
                with suppress(h2.exceptions.H2Error):
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                self._response_head(stream, event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.ended = True
                stream.wake()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.error is None:
                stream.error = f"the upstream reset the stream ({_code_name(event.error_code)})"
                stream.refused = event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
                stream.wake()
        elif isinstance(event, h2.events.PingAckReceived):
            if event.ping_data == self._ping_payload:
                self._ping_payload = None
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.wake()
            else:
                self._wake_all()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._wake_all()  # the initial window or the frame size may have changed
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)
        # Informational responses, trailers, pings (answered by h2), settings acks: nothing to do.

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """No new streams. A graceful GOAWAY (NO_ERROR) lets streams up to `last_stream_id` finish;
        any other code ends them all."""
        self.usable = False
        reason = f"the upstream closed the connection (GOAWAY {_code_name(event.error_code)})"
        if event.error_code != h2.errors.ErrorCodes.NO_ERROR:
            self._die(reason)
            if self.transport is not None:
                self.transport.close()
            return
        last = event.last_stream_id or 0
        for stream_id, stream in self.streams.items():
            if stream_id > last and stream.error is None:
                stream.error = f"{reason}: the stream was refused"
                stream.refused = True
                stream.wake()
        if not self.streams and self.transport is not None:
            self.shutdown()

    def _response_head(self, stream: _Stream, raw: list[tuple[bytes, bytes]]) -> None:
        headers: CIMultiDict[str] = CIMultiDict()
        status: int | None = None
        for name, value in raw:
            if name == b":status":
                try:
                    status = int(value)
                except ValueError:
                    status = None
            elif not name.startswith(b":"):
                headers.add(name.decode("latin-1"), value.decode("latin-1"))
        if status is None:
            stream.error = "the upstream sent a response without a valid :status"
            with suppress(h2.exceptions.H2Error):
                self.h2.reset_stream(stream.id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
        else:
            stream.status = status
            stream.headers = CIMultiDictProxy(headers)
        stream.wake()

    def _wake_all(self) -> None:
        for stream in self.streams.values():
            stream.wake()

    def _die(self, reason: str) -> None:
        """The connection cannot carry any stream any more."""
        self.usable = False
        if self.dead is None:
            self.dead = reason
        for stream in self.streams.values():
            if stream.error is None:
                stream.error = reason
            stream.wake()

    def _fail(self, code: h2.errors.ErrorCodes, reason: str) -> None:
        with suppress(h2.exceptions.H2Error):
            self.h2.close_connection(code)
        self.flush()
        self._die(reason)
        if self.transport is not None:
            self.transport.close()

    # -- used by the transport

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def has_room(self) -> bool:
        if not self.usable:
            return False
        limit = min(self.h2.remote_settings.max_concurrent_streams, MAX_STREAMS_PER_CONNECTION)
        return len(self.streams) < limit

    def open_stream(self, headers: list[tuple[bytes, bytes]], *, end_stream: bool) -> _Stream:
        """Send HEADERS on a new stream (flushed with the first body bytes, or now if none)."""
        try:
            stream_id = self.h2.get_next_available_stream_id()
            self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            self.usable = False
            if not self.streams:
                self.shutdown()
            raise TransportError(f"could not open an HTTP/2 stream: {type(exc).__name__}: {exc}") from exc
        if stream_id + 2 > LAST_STREAM_ID:
            self.usable = False  # out of stream ids: retire once its streams are done
        stream = _Stream(self, stream_id)
        stream.sent_end = end_stream
        self.streams[stream_id] = stream
        if end_stream:
            self.flush()
        return stream

    async def send_body(self, stream: _Stream, body: bytes, *, end_stream: bool = True) -> None:
        """Send `body` as DATA frames within the windows and frame size; END_STREAM on the last
        frame when `end_stream` (a duplex stream's writes keep the body open)."""
        view = memoryview(body)
        h2conn = self.h2
        while view:
            stream.check()
            if stream.ended:
                return  # the upstream already answered in full; the rest of the body is moot
            try:
                while view and self.writable:
                    window = min(h2conn.local_flow_control_window(stream.id), h2conn.max_outbound_frame_size)
                    if window <= 0:
                        break
                    size = min(window, len(view))
                    h2conn.send_data(stream.id, view[:size], end_stream=end_stream and size == len(view))
                    view = view[size:]
            except h2.exceptions.H2Error as exc:
                raise TransportError(f"could not send the request body: {type(exc).__name__}: {exc}") from exc
            self.flush()
            if view:  # the window is exhausted or the socket buffer is full: wait for either
                await stream.wait_to_send()
        stream.sent_end = end_stream

    def send_now(self, stream: _Stream, data: bytes) -> bool:
        """Send `data` if the windows and the socket take it all now (no END_STREAM)."""
        if stream.error is not None or stream.ended or not self.writable or self.dead is not None:
            return False
        try:
            if len(data) > self.h2.local_flow_control_window(stream.id):
                return False
            frame = self.h2.max_outbound_frame_size
            for start in range(0, len(data), frame):
                self.h2.send_data(stream.id, data[start : start + frame])
        except h2.exceptions.H2Error:
            return False
        self.flush()
        return True

    async def wait_head(self, stream: _Stream) -> None:
        while stream.status is None:
            stream.check()
            await stream.wait()

    def consumed(self, stream: _Stream, size: int) -> None:
        """The consumer took `size` flow-controlled bytes: let the peer send that much more."""
        if self.dead is None:
            with suppress(h2.exceptions.H2Error):
                self.h2.acknowledge_received_data(size, stream.id)
            self.flush()

    def release(self, stream: _Stream) -> None:
        """The request is over: cancel the stream if it is still open, hand back its window.

        Synchronous on purpose: it runs while the caller may be being cancelled.
        """
        if stream.released:
            return
        stream.released = True
        if stream.watch is not None:
            stream.watch.cancel()
        self.streams.pop(stream.id, None)
        unread = sum(size for _, size in stream.queue)
        stream.queue.clear()
        if self.dead is None:
            if stream.error is None and not (stream.ended and stream.sent_end):
                with suppress(h2.exceptions.H2Error):
                    self.h2.reset_stream(stream.id, h2.errors.ErrorCodes.CANCEL)
            if unread:
                with suppress(h2.exceptions.H2Error):
                    self.h2.acknowledge_received_data(unread, stream.id)
            self.flush()
        if stream.error is None:
            stream.error = "the response was closed"
        if not self.usable and not self.streams:
            self.shutdown()

    def shutdown(self) -> None:
        """Send GOAWAY and close the socket; open streams fail."""
        if self.dead is None:
            self._fail(h2.errors.ErrorCodes.NO_ERROR, "the upstream transport was closed")
        elif self.transport is not None:
            self.transport.close()


class _Chunks:
    """`chunks()`: each DATA payload as soon as it arrives, acknowledged as it is taken."""

    __slots__ = ("_now", "_stream", "_watch")

    def __init__(self, stream: _Stream, idle: float) -> None:
        self._stream = stream
        if stream.watch is None:  # one per stream, stopped when the stream is released
            stream.watch = IdleWatch(idle, partial(_idle, stream))
        self._watch = stream.watch
        self._now = asyncio.get_running_loop().time

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        stream = self._stream
        while True:
            if stream.queue:
                data, size = stream.queue.popleft()
                stream.conn.consumed(stream, size)
                self._watch.last = self._now()
                return data
            if stream.ended:
                raise StopAsyncIteration
            if stream.idle:
                raise TransportTimeout("the upstream stream was idle for too long")
            stream.check()
            await stream.wait()


def _idle(stream: _Stream) -> None:
    stream.idle = True
    stream.wake()


class _H2Response:
    __slots__ = ("_idle", "_stream")

    def __init__(self, stream: _Stream, idle: float) -> None:
        self._stream = stream
        self._idle = idle

    @property
    def status(self) -> int:
        return self._stream.status or 0

    @property
    def headers(self) -> Mapping[str, str]:
        return self._stream.headers

    @property
    def http_version(self) -> str:
        return "2"

    def chunks(self) -> AsyncIterator[bytes]:
        return _Chunks(self._stream, self._idle)


class _H2Duplex:
    """A stream whose body stays open: one write at a time, the response read alongside."""

    __slots__ = ("_lock", "_stream", "_timeouts")

    def __init__(self, stream: _Stream, timeouts: Timeouts) -> None:
        self._stream = stream
        self._timeouts = timeouts
        self._lock = asyncio.Lock()

    async def send(self, data: bytes) -> None:
        stream = self._stream
        async with self._lock:  # frames of two writes never interleave
            try:
                async with asyncio.timeout(self._timeouts.idle):
                    await stream.conn.send_body(stream, data, end_stream=False)
            except TimeoutError as exc:
                raise TransportTimeout("the upstream did not take the request data in time") from exc

    def send_nowait(self, data: bytes) -> bool:
        return not self._lock.locked() and self._stream.conn.send_now(self._stream, data)

    async def response(self) -> UpstreamResponse:
        stream = self._stream
        try:
            async with asyncio.timeout(self._timeouts.connect):
                await stream.conn.wait_head(stream)
        except TimeoutError as exc:
            raise TransportTimeout("no response headers from upstream in time") from exc
        return _H2Response(stream, self._timeouts.idle)


class H2Transport:
    """HTTP/2 over pooled, multiplexed connections (TLS with ALPN `h2`, or h2c prior knowledge).

    `ssl_context` (default: `ssl.create_default_context()`, verification on) gets its ALPN
    protocols set to `["h2"]`.
    """

    def __init__(
        self,
        timeouts: Timeouts,
        *,
        ssl_context: ssl.SSLContext | None = None,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self._timeouts = timeouts
        self._ping_interval = ping_interval
        self._ssl_context = ssl_context
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["h2"])
        self._pool: dict[_Origin, list[_Connection]] = {}
        self._connections: set[_Connection] = set()
        self._connecting: dict[_Origin, asyncio.Task[_Connection]] = {}
        self._tasks: set[asyncio.Task[_Connection]] = set()
        self._closed = False

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        return self._exchange("POST", url, headers, body)

    def get(self, url: str, headers: Mapping[str, str]) -> AbstractAsyncContextManager[UpstreamResponse]:
        return self._exchange("GET", url, headers, b"")

    @asynccontextmanager
    async def _exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[UpstreamResponse]:
        origin, request_headers = _request(method, url, headers)
        stream: _Stream | None = None
        try:
            for attempt in range(REFUSED_RETRIES + 1):
                try:
                    async with asyncio.timeout(self._timeouts.connect):
                        conn = await self._acquire(origin)
                        stream = conn.open_stream(request_headers, end_stream=not body)
                        if body:
                            await conn.send_body(stream, body)
                        await conn.wait_head(stream)
                    break
                except TimeoutError as exc:
                    raise TransportTimeout("no response headers from upstream in time") from exc
                except TransportError:
                    # A refused stream was never processed upstream, so sending it again is safe.
                    if stream is None or not stream.refused or attempt == REFUSED_RETRIES:
                        raise
                    stream.conn.release(stream)
                    stream = None
            assert stream is not None
            yield _H2Response(stream, self._timeouts.idle)
        finally:
            if stream is not None:
                stream.conn.release(stream)

    @asynccontextmanager
    async def duplex(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[DuplexCall]:
        """A request stream that stays open for writing while its response is read.

        The headers go out at once; nothing waits for the response headers until `response()`.
        Leaving the block resets the stream (`CANCEL`) unless it ended both ways.
        """
        origin, request_headers = _request("POST", url, headers)
        stream: _Stream | None = None
        try:
            try:
                async with asyncio.timeout(self._timeouts.connect):
                    conn = await self._acquire(origin)
            except TimeoutError as exc:
                raise TransportTimeout(f"connecting to {origin} took too long") from exc
            stream = conn.open_stream(request_headers, end_stream=False)
            conn.flush()
            yield _H2Duplex(stream, self._timeouts)
        finally:
            if stream is not None:
                stream.conn.release(stream)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        connections = list(self._connections)
        self._pool.clear()
        self._connections.clear()
        for conn in connections:
            conn.shutdown()
        if connections:
            await asyncio.wait([conn.closed for conn in connections], timeout=CLOSE_GRACE)
        for conn in connections:
            if not conn.closed.done() and conn.transport is not None:
                conn.transport.abort()

    # -- the pool

    async def _acquire(self, origin: _Origin) -> _Connection:
        """A connection to `origin` with room for one more stream (opened without awaiting)."""
        while True:
            if self._closed:  # closed before the call, or while this caller waited: open nothing more
                raise TransportError("the upstream transport is closed")
            conns = self._pool.get(origin)
            if conns:
                conns[:] = [conn for conn in conns if conn.usable]
                for conn in conns:
                    if conn.has_room():
                        return conn
            task = self._connecting.get(origin)
            if task is None:
                task = asyncio.get_running_loop().create_task(self._connect(origin))
                self._connecting[origin] = task
                self._tasks.add(task)
                task.add_done_callback(partial(self._connect_done, origin))
            try:
                conn = await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if task.cancelled() and (current is None or not current.cancelling()):
                    raise TransportError("the upstream transport was closed") from None
                raise
            if conn.dead is not None:
                raise TransportError(conn.dead)

    def _connect_done(self, origin: _Origin, task: asyncio.Task[_Connection]) -> None:
        self._tasks.discard(task)
        if self._connecting.get(origin) is task:
            del self._connecting[origin]
        if not task.cancelled():
            task.exception()  # retrieved: waiters may all have gone

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context = await self._tls_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self._timeouts.connect):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, self._forget, ping_interval=self._ping_interval),
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context is not None else None,
                )
        except TimeoutError as exc:
            raise TransportTimeout(f"connecting to {origin} took too long") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise TransportError(f"could not reach upstream: {type(exc).__name__}: {exc}") from exc
        if conn.dead is not None:
            raise TransportError(conn.dead)
        if self._closed:  # the transport closed as this connection came up: it would never be closed
            conn.shutdown()
            raise TransportError("the upstream transport was closed")
        self._connections.add(conn)
        self._pool.setdefault(origin, []).append(conn)
        return conn

    async def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            context = await asyncio.to_thread(ssl.create_default_context)  # reads the CA bundle
            if self._ssl_context is None:
                context.set_alpn_protocols(["h2"])
                self._ssl_context = context
        return self._ssl_context

    def _forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        for conns in self._pool.values():
            if conn in conns:
                conns.remove(conn)


def _request(method: str, url: str, headers: Mapping[str, str]) -> tuple[_Origin, list[tuple[bytes, bytes]]]:
    """The origin to connect to and the header list: pseudo-headers first, names lowercased."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"unsupported upstream URL {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TransportError(f"unsupported upstream URL {url!r}") from exc
    authority = parts.netloc.rpartition("@")[2]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    out = [
        (b":method", method.encode()),
        (b":scheme", parts.scheme.encode()),
        (b":authority", authority.encode("idna") if not authority.isascii() else authority.encode()),
        (b":path", path.encode()),
    ]
    for name, value in headers.items():
        key = name.lower()
        if key in HOP_BY_HOP or (key == "te" and value.lower() != "trailers"):
            continue
        out.append((key.encode(), value.encode()))
    return _Origin(parts.scheme, parts.hostname, port), out


def _code_name(code: h2.errors.ErrorCodes | int | None) -> str:
    if isinstance(code, h2.errors.ErrorCodes):
        return code.name
    return f"error code {code}"
