"""HTTP/2 implementation of the upstream transport, on httpx with its `http2` extra.

Every known client of Cursor's chat RPC speaks HTTP/2 (cursor-protocol.md §2.2). The gateway sends
its single request frame as the complete body and then reads the response, so a half-duplex
client is enough. For `https://` URLs ALPN negotiates `h2`; for plain `http://` URLs (the
simulator) the connection uses HTTP/2 with prior knowledge (h2c).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from gateway.upstream.transport import Timeouts, TransportError, TransportTimeout, UpstreamResponse


class _HttpxResponse:
    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def http_version(self) -> str:
        return self._response.http_version.removeprefix("HTTP/")

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                if chunk:
                    yield chunk
        except httpx.TimeoutException as exc:
            raise TransportTimeout("the upstream stream was idle for too long") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"the upstream connection broke: {type(exc).__name__}") from exc

    async def read_capped(self, limit: int) -> bytes:
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data[:limit])


class HttpxTransport:
    """HTTP/2 over one shared `httpx.AsyncClient` (TLS with ALPN, or h2c prior knowledge)."""

    def __init__(self, timeouts: Timeouts) -> None:
        self._timeouts = timeouts
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, tls: bool) -> httpx.AsyncClient:
        client = self._clients.get(tls)
        if client is None:
            timeout = httpx.Timeout(
                connect=self._timeouts.connect,
                read=self._timeouts.idle,
                write=self._timeouts.connect,
                pool=self._timeouts.connect,
            )
            # Without TLS there is no ALPN, so HTTP/1.1 must be off to get h2c prior knowledge.
            client = httpx.AsyncClient(http2=True, http1=tls, timeout=timeout, trust_env=False)
            # The chat RPC negotiates compression per frame; no body-level encoding is wanted.
            del client.headers["accept-encoding"]
            self._clients[tls] = client
        return client

    @asynccontextmanager
    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[UpstreamResponse]:
        client = self._client(url.startswith("https://"))
        request = client.build_request("POST", url, headers=dict(headers), content=body)
        try:
            async with asyncio.timeout(self._timeouts.connect):
                response = await client.send(request, stream=True)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TransportTimeout("no response headers from upstream in time") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach upstream: {type(exc).__name__}: {exc}") from exc
        try:
            yield _HttpxResponse(response)
        finally:
            await response.aclose()

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
