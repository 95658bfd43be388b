"""The listening socket: how client connections are admitted, timed and counted.

aiohttp's `web.Server` (the runner's protocol factory) serves HTTP; this module puts a thin
`asyncio.Protocol` in front of each of its connections (aiohttp's documented low-level use of a
`web.Server` is `loop.create_server(server, …)`; nothing of aiohttp is patched):

* **cap:** at most MAX_CONNECTIONS client connections are served. At the cap, a new connection
  takes the place of the one that has waited longest without a request (idle, or trickling a
  request head), which is closed. Only when every connection is busy with a request does a new
  one become a *reserve* connection (up to HEALTH_RESERVE of them, making room among themselves
  the same way): it answers `/health` (and nothing else: 503 `server_busy`), one request, and
  must send its request head within CLIENT_HEADER_TIMEOUT of connecting. Beyond that a
  connection is closed at once, before anything is read. Idle or trickling connections can hold
  slots only until someone else needs them, never every file descriptor, and `/health` stays
  answerable;
* **header timeout:** from the first byte of a request head, the complete head must arrive within
  CLIENT_HEADER_TIMEOUT, else the connection is closed (a trickling client holds nothing for long);
* **idle timeout:** aiohttp's `keepalive_timeout` is CLIENT_IDLE_TIMEOUT: a connection without a
  request (new, or kept alive after an answer) is closed after it, instead of aiohttp's hour.

The `connection_gate` middleware tells a connection when a request head is complete and when its
request is done, and answers for the reserve. `handler_options()` are the aiohttp request-handler
options (timeouts, no request-body decompression) every server of the gateway runs with.

The open-file limit is raised at start-up as far as the hard limit allows to hold the cap
(`fd_budget()`); when it cannot, the cap is lowered to fit, with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import keys
from gateway.config import Settings
from gateway.errors import ServerBusy
from gateway.middlewares import dialect, error_response

log = logging.getLogger(__name__)

FDS_PER_CONNECTION: Final = 2  # the client's socket and, at most, one upstream connection
FD_HEADROOM: Final = 64  # listening sockets, the request log, token files, h2 upstreams, DNS
HEALTH_ROUTE: Final = "health"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int
    reserve: int
    header_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.max_connections, settings.health_reserve, settings.client_header_timeout)


def handler_options(settings: Settings) -> dict[str, Any]:
    """aiohttp `RequestHandler` options: idle timeout, and request bodies are never decompressed
    (a `Content-Encoding` other than identity is refused with 415 before the body is read)."""
    return {"keepalive_timeout": settings.client_idle_timeout, "auto_decompress": False}


def fd_budget(limits: ConnectionLimits) -> int:
    """File descriptors needed to serve `limits` without running out."""
    return FDS_PER_CONNECTION * (limits.max_connections + limits.reserve) + FD_HEADROOM


def fit_to_fd_limit(limits: ConnectionLimits) -> ConnectionLimits:
    """Raise the soft open-file limit towards `fd_budget(limits)` (up to the hard limit); when
    that is not enough, lower MAX_CONNECTIONS to what fits, with a warning."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix: nothing to raise
        return limits
    wanted = fd_budget(limits)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit to %d: %s", target, exc)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    fitting = max(1, (soft - FD_HEADROOM) // FDS_PER_CONNECTION - limits.reserve)
    log.warning(
        "the open-file limit (%d) cannot hold MAX_CONNECTIONS=%d; serving at most %d connections "
        "(raise LimitNOFILE or `ulimit -n` to %d)",
        soft,
        limits.max_connections,
        fitting,
        wanted,
    )
    return ConnectionLimits(fitting, limits.reserve, limits.header_timeout)


class ConnectionGuard:
    """The protocol factory: admits each new connection as normal or reserve, or refuses it.

    When the normal connections are at the cap, the one that has waited longest for a request
    (idle, or trickling a request head) is closed to make room; only when every normal
    connection is handling a request does a new one go to the reserve, which makes room the same
    way. So idle and slow clients can hold the slots only until someone else needs them.
    """

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limits: ConnectionLimits,
        *,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self._factory = factory
        self.limits = limits
        self._on_drop = on_drop
        self.normal = 0
        self.reserved = 0
        # Connections without a request in progress, oldest first (dicts keep insertion order).
        self._waiting: dict[GuardedConnection, None] = {}
        self._reserve_waiting: dict[GuardedConnection, None] = {}

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def dropped(self, reason: str) -> None:
        log.debug("client connection dropped: %s", reason)
        if self._on_drop is not None:
            self._on_drop(reason)

    def admit(self, connection: GuardedConnection) -> bool:
        """Whether `connection` can be served (as normal, or as reserve: `connection.reserve`)."""
        if self.normal >= self.limits.max_connections and not self._evict(self._waiting):
            if self.reserved >= self.limits.reserve and not self._evict(self._reserve_waiting):
                return False
            connection.reserve = True
        if connection.reserve:
            self.reserved += 1
        else:
            self.normal += 1
        self.waiting(connection)
        return True

    def _evict(self, waiting: dict[GuardedConnection, None]) -> bool:
        """Close the oldest waiting connection that has nothing left to send (an answer may still
        be draining to a slow reader after its handler returned)."""
        for candidate in waiting:
            if candidate.idle():
                self.release(candidate)
                candidate.close()
                self.dropped("evicted_idle")
                return True
        return False

    def waiting(self, connection: GuardedConnection) -> None:
        """`connection` waits for a request (again): it may be evicted, the oldest first."""
        (self._reserve_waiting if connection.reserve else self._waiting)[connection] = None

    def busy(self, connection: GuardedConnection) -> None:
        (self._reserve_waiting if connection.reserve else self._waiting).pop(connection, None)

    def release(self, connection: GuardedConnection) -> None:
        if connection.released:
            return
        connection.released = True
        self.busy(connection)
        if connection.reserve:
            self.reserved -= 1
        else:
            self.normal -= 1

    def serve(self) -> asyncio.Protocol:
        return self._factory()


class GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's request handler behind the cap and the header deadline."""

    __slots__ = ("_busy", "_guard", "_inner", "_timer", "_transport", "released", "reserve")

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False  # a request is being handled
        self.reserve = False
        self.released = False  # no longer counted (closed, or evicted and closing)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit(self):
            self.released = True
            self._guard.dropped("over_limit")
            # Nothing read, nothing kept: the descriptor is free at once.
            cast(asyncio.Transport, transport).abort()
            return
        self._transport = transport
        self._inner = self._guard.serve()
        self._inner.connection_made(transport)
        if self.reserve:
            self._arm()  # a reserve connection has its header timeout from the start

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def idle(self) -> bool:
        """Nothing left to send (uvloop's transports are not `asyncio.WriteTransport` subclasses)."""
        transport = cast(asyncio.WriteTransport | None, self._transport)
        return transport is not None and transport.get_write_buffer_size() == 0

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.limits.header_timeout, self._header_timeout)

    def _header_timeout(self) -> None:
        self._timer = None
        if self._transport is not None and not self._busy:
            self._guard.dropped("header_timeout")
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is None and not self._busy:
            self._arm()  # the first byte of a request head
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        inner, self._inner = self._inner, None
        self._transport = None
        self._guard.release(self)
        if inner is not None:
            inner.connection_lost(exc)

    def dropped(self, reason: str) -> None:
        self._guard.dropped(reason)

    def request_started(self) -> None:
        """The request head is complete: no deadline, and no eviction, while it is handled."""
        self._busy = True
        self._guard.busy(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_done(self) -> None:
        self._busy = False
        if not self.released:
            self._guard.waiting(self)


def _connection_of(request: web.Request) -> GuardedConnection | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


@web.middleware
async def connection_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: marks the connection busy; a reserve connection gets `/health` or a 503, then closes."""
    connection = _connection_of(request)
    if connection is None:  # not behind a guard (the test client's own server)
        return await handler(request)
    connection.request_started()
    try:
        if not connection.reserve:
            return await handler(request)
        if request.match_info.route.name == HEALTH_ROUTE:
            response = await handler(request)
        else:
            connection.dropped("reserve_busy")
            response = error_response(
                ServerBusy(
                    "The gateway is serving its maximum number of connections (MAX_CONNECTIONS); "
                    "retry shortly.",
                    headers={"Retry-After": "1"},
                ),
                dialect(request),
            )
        response.force_close()
        return response
    finally:
        connection.request_done()


@dataclass(frozen=True, slots=True)
class Listener:
    guard: ConnectionGuard
    addresses: list[tuple[str, int]]


@asynccontextmanager
async def listen(app: web.Application, settings: Settings, **runner_options: Any) -> AsyncIterator[Listener]:
    """Serve `app` on HOST:PORT behind the connection guard until the block exits.

    On exit the socket stops accepting, then the runner's cleanup runs the app's shutdown (streams
    get SHUTDOWN_GRACE) and closes the connections.
    """
    runner = web.AppRunner(app, **runner_options, **handler_options(settings))
    await runner.setup()
    try:
        server = runner.server
        assert server is not None
        metrics = app[keys.METRICS]
        limits = fit_to_fd_limit(ConnectionLimits.from_settings(settings))
        guard = ConnectionGuard(
            server, limits, on_drop=lambda reason: metrics.connections_dropped.labels(reason).inc()
        )
        metrics.client_connections.set_function(lambda: guard.normal + guard.reserved)
        loop = asyncio.get_running_loop()
        listening = await loop.create_server(guard, settings.host, settings.port, backlog=settings.backlog)
        try:
            addresses = [sock.getsockname()[:2] for sock in listening.sockets]
            yield Listener(guard, addresses)
        finally:
            listening.close()
    finally:
        await runner.cleanup()
