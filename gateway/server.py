"""The listening socket: how client connections are admitted, timed and counted.

aiohttp's `web.Server` (the runner's protocol factory) serves HTTP; this module puts a thin
`asyncio.Protocol` in front of each of its connections (aiohttp's documented low-level use of a
`web.Server` is `loop.create_server(server, …)`; nothing of aiohttp is patched):

* **cap:** at most MAX_CONNECTIONS client connections are served. Beyond it, up to HEALTH_RESERVE
  more are accepted as *reserve* connections: they answer `/health` (and nothing else: 503
  `server_busy`), one request each, and must send their request head within
  CLIENT_HEADER_TIMEOUT of connecting. Beyond the reserve a connection is closed at once, before
  anything is read. Idle or trickling connections can fill the cap, but never the file
  descriptors, and `/health` stays answerable;
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
from gateway.middlewares import error_response

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
    """The protocol factory: admits each new connection as normal, reserve, or not at all."""

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

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def dropped(self, reason: str) -> None:
        log.debug("client connection dropped: %s", reason)
        if self._on_drop is not None:
            self._on_drop(reason)

    def admit(self) -> bool | None:
        """True: a reserve connection; False: a normal one; None: refused."""
        if self.normal < self.limits.max_connections:
            self.normal += 1
            return False
        if self.reserved < self.limits.reserve:
            self.reserved += 1
            return True
        return None

    def release(self, reserve: bool) -> None:
        if reserve:
            self.reserved -= 1
        else:
            self.normal -= 1

    def serve(self) -> asyncio.Protocol:
        return self._factory()


class GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's request handler behind the cap and the header deadline."""

    __slots__ = ("_busy", "_guard", "_inner", "_timer", "_transport", "reserve")

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False  # a request is being handled
        self.reserve = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        admitted = self._guard.admit()
        if admitted is None:
            self._guard.dropped("over_limit")
            # Nothing read, nothing kept: the descriptor is free at once.
            cast(asyncio.Transport, transport).abort()
            return
        self.reserve = admitted
        self._transport = transport
        self._inner = self._guard.serve()
        self._inner.connection_made(transport)
        if self.reserve:
            self._arm()  # a reserve connection has its header timeout from the start

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
        if inner is not None:
            self._guard.release(self.reserve)
            inner.connection_lost(exc)

    def dropped(self, reason: str) -> None:
        self._guard.dropped(reason)

    def request_started(self) -> None:
        """The request head is complete: no deadline while the request is handled."""
        self._busy = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_done(self) -> None:
        self._busy = False


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
                )
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
