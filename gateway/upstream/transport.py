"""The network seam: "POST these headers and this body (or GET this URL); give me status, headers
and a byte stream", and, on HTTP/2, "open a stream I keep writing to while I read its answer"
(`duplex`).

`UpstreamTransport` is the interface the upstream client uses; `open_transport()` picks the
implementation from the settings. This module holds the aiohttp (HTTP/1.1) implementation, which
has no duplex calls; `transport_h2.py` holds the HTTP/2 one. Both raise only `TransportError` /
`TransportTimeout`, so the client never sees a library's exception types.

Timeouts (cursor-protocol.md §2.3): `connect_timeout` bounds connecting plus waiting for the
response headers; `idle_timeout` bounds each silence while reading the body. There is no total
timeout: a stream may run for as long as bytes keep coming.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from yarl import URL


class TransportError(Exception):
    """The connection failed or broke (refused, reset, TLS, protocol violation)."""


class TransportTimeout(TransportError):
    """Connecting, the response headers, or a silence in the body took too long."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    idle: float


class IdleWatch:
    """Calls `on_idle` once no sign of life has come for `seconds`.

    A sign of life is setting `last` to the loop's time, once per chunk: one attribute, no call.
    The one timer is re-armed when it fires early, so a stream costs one timer per idle period
    instead of a timer cancelled and created for every chunk (aiohttp's `sock_read`,
    `asyncio.timeout()`).
    """

    __slots__ = ("_handle", "_loop", "_on_idle", "_seconds", "last")

    def __init__(self, seconds: float, on_idle: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._seconds = seconds
        self._on_idle = on_idle
        self.last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self.last + seconds, self._check)

    def _check(self) -> None:
        due = self.last + self._seconds
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self._handle = None
        self._on_idle()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def http_version(self) -> str: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, each chunk as soon as it is read."""
        ...


async def read_capped(response: UpstreamResponse, limit: int) -> bytes:
    """At most `limit` bytes of a response body (error bodies: JSON, text or HTML)."""
    data = bytearray()
    async for chunk in response.chunks():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


class DuplexCall(Protocol):
    """One bidirectional request: body bytes go out while the response comes in."""

    async def send(self, data: bytes) -> None:
        """Write `data` to the request body (within flow control; waits for the peer's window)."""
        ...

    def send_nowait(self, data: bytes) -> bool:
        """Write `data` only if it fits the windows now; False when it was not sent. Never waits."""
        ...

    async def response(self) -> UpstreamResponse:
        """Wait for the response headers (bounded like a request's); the body streams from it."""
        ...


async def error_body(response: UpstreamResponse, limit: int = 64 * 1024) -> bytes:
    """At most `limit` bytes of an error answer's body; empty when it cannot be read."""
    try:
        return await read_capped(response, limit)
    except TransportError:
        return b""


class UpstreamTransport(Protocol):
    def post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        """Send one request; the response is closed (and the request cancelled) on exit."""
        ...

    def get(self, url: str, headers: Mapping[str, str]) -> AbstractAsyncContextManager[UpstreamResponse]:
        """Fetch one resource without a body (Cursor's update feed); closed on exit like `post`."""
        ...

    def duplex(self, url: str, headers: Mapping[str, str]) -> AbstractAsyncContextManager[DuplexCall]:
        """Open a request whose body stays open; on exit an unfinished stream is cancelled."""
        ...

    async def close(self) -> None: ...


class _AiohttpResponse:
    __slots__ = ("_idle", "_response", "_watch")

    def __init__(self, response: aiohttp.ClientResponse, idle: float) -> None:
        self._response = response
        self._idle = idle
        self._watch: IdleWatch | None = None

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def http_version(self) -> str:
        version = self._response.version
        return f"{version.major}.{version.minor}" if version else "1.1"

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        if self._watch is None:
            self._watch = IdleWatch(self._idle, lambda: content.set_exception(_IdleTimeout()))
        watch = self._watch
        now = asyncio.get_running_loop().time
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                watch.last = now()
                yield chunk
        except _IdleTimeout as exc:
            raise TransportTimeout("the upstream stream was idle for too long") from exc
        except TimeoutError as exc:
            raise TransportTimeout("the upstream stream was idle for too long") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"the upstream connection broke: {type(exc).__name__}") from exc


class _NoDuplex:
    """HTTP/1.1 cannot write a request body while the response streams."""

    async def __aenter__(self) -> DuplexCall:
        raise TransportError("a bidirectional stream needs HTTP/2 (UPSTREAM_HTTP_VERSION=2)")

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class _IdleTimeout(Exception):
    """Set on the response body by its `IdleWatch`."""


class AiohttpTransport:
    """HTTP/1.1 over one shared `ClientSession`: the simulator, and unary calls."""

    def __init__(self, timeouts: Timeouts) -> None:
        self._timeouts = timeouts
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}  # parsed once: the gateway posts to a handful of URLs
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise TransportError("the upstream transport is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # The body's idle timeout is an `IdleWatch` per response, not `sock_read`.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeouts.connect),
                auto_decompress=False,
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),  # upstream cookies are never wanted or sent
            )
        return self._session

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        return self._request("POST", url, headers, body)

    def get(self, url: str, headers: Mapping[str, str]) -> AbstractAsyncContextManager[UpstreamResponse]:
        return self._request("GET", url, headers, None)

    @asynccontextmanager
    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> AsyncIterator[UpstreamResponse]:
        session = self._client()
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = URL(url)
            if len(self._urls) < 64:
                self._urls[url] = parsed
        try:
            async with asyncio.timeout(self._timeouts.connect):
                response = await session.request(
                    method,
                    parsed,
                    data=body,
                    headers=dict(headers),
                    skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                )
        except TimeoutError as exc:
            raise TransportTimeout("no response headers from upstream in time") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"could not reach upstream: {type(exc).__name__}: {exc}") from exc
        wrapped = _AiohttpResponse(response, self._timeouts.idle)
        try:
            yield wrapped
        finally:
            wrapped.stop_watch()
            if response.content.at_eof():
                response.release()  # fully read: the connection goes back to the pool
            else:
                response.close()  # unfinished: drop the connection so the upstream stops at once

    def duplex(self, url: str, headers: Mapping[str, str]) -> AbstractAsyncContextManager[DuplexCall]:
        return _NoDuplex()

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


def open_transport(http2: bool, timeouts: Timeouts) -> UpstreamTransport:
    """The transport for the configured HTTP version."""
    if http2:
        from gateway.upstream.transport_h2 import H2Transport

        return H2Transport(timeouts)
    return AiohttpTransport(timeouts)
