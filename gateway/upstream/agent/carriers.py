"""How a run's messages travel: one adapter, two carriers behind one small interface.

* `Bidi` (HTTP/2): `agent.v1.AgentService/Run`, one stream both ways. The run request is written
  at once, the response headers are awaited after it, every later client message is one more
  Connect envelope on the open request body. The body is never half-closed (a client that
  half-closes gets no answers); leaving the carrier resets the stream.
* `Sse` (HTTP/1.1, or when Cursor turns the bidirectional run off): `AgentService/RunSSE` is
  opened with a `BidiRequestId` (the run's request id) and streams the answer; every client
  message, the run request first, is one unary `aiserver.v1.BidiService/BidiAppend` call carrying
  the message as lowercase hex with `append_seqno` counting from 0. Appends go one at a time, in
  order. Leaving the carrier drops the `RunSSE` connection.

Both carriers send uncompressed envelopes, as every public client does, and hand back the
response whose body the client decodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Final, Protocol

from gateway.upstream.agent.request import BIDI_APPEND_PATH, RUN_PATH, RUN_SSE_PATH
from gateway.upstream.framing import encode_frame
from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from gateway.upstream.transport import (
    DuplexCall,
    TransportError,
    UpstreamResponse,
    UpstreamTransport,
    read_capped,
)

APPEND_BODY_LIMIT: Final = 64 * 1024


class AppendRefused(TransportError):
    """Cursor answered a `BidiAppend` with an HTTP error (`status`, the capped `body`)."""

    def __init__(self, status: int, body: bytes, retry_after: str | None) -> None:
        super().__init__(f"BidiAppend answered HTTP {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class Carrier(Protocol):
    async def start(self, run_request: bytes) -> UpstreamResponse:
        """Send the run request; the response whose body carries the server's messages."""
        ...

    async def send(self, message: bytes) -> None:
        """Send one more serialized `AgentClientMessage`."""
        ...

    def send_last(self, message: bytes) -> bool:
        """Send `message` only if that needs no waiting (a cancel on the way out)."""
        ...


class Bidi:
    __slots__ = ("_call",)

    def __init__(self, call: DuplexCall) -> None:
        self._call = call

    async def start(self, run_request: bytes) -> UpstreamResponse:
        await self._call.send(encode_frame(run_request))
        return await self._call.response()

    async def send(self, message: bytes) -> None:
        await self._call.send(encode_frame(message))

    def send_last(self, message: bytes) -> bool:
        return self._call.send_nowait(encode_frame(message))


class Sse:
    __slots__ = ("_headers", "_lock", "_request_id", "_response", "_seqno", "_transport", "_url")

    def __init__(
        self,
        transport: UpstreamTransport,
        url: str,
        headers: Mapping[str, str],
        request_id: str,
        response: UpstreamResponse,
    ) -> None:
        self._transport = transport
        self._url = url
        self._headers = headers
        self._request_id = bidi_pb.BidiRequestId(request_id=request_id)
        self._response = response
        self._seqno = 0
        self._lock = asyncio.Lock()

    async def start(self, run_request: bytes) -> UpstreamResponse:
        if self._response.status == 200:  # a refused RunSSE gets no appends
            await self.send(run_request)
        return self._response

    async def send(self, message: bytes) -> None:
        async with self._lock:  # appends go in seqno order, one at a time
            append = bidi_pb.BidiAppendRequest(
                data=message.hex(), request_id=self._request_id, append_seqno=self._seqno
            )
            self._seqno += 1
            async with self._transport.post(self._url, self._headers, append.SerializeToString()) as response:
                body = await read_capped(response, APPEND_BODY_LIMIT)
                if response.status != 200:
                    raise AppendRefused(response.status, body, response.headers.get("retry-after"))

    def send_last(self, message: bytes) -> bool:
        return False  # an append is a request of its own: the run ends with its dropped connection


@asynccontextmanager
async def open_bidi(
    transport: UpstreamTransport, base_url: str, headers: Mapping[str, str]
) -> AsyncIterator[Carrier]:
    async with transport.duplex(base_url + RUN_PATH, headers) as call:
        yield Bidi(call)


@asynccontextmanager
async def open_sse(
    transport: UpstreamTransport,
    base_url: str,
    headers: Mapping[str, str],
    append_headers: Mapping[str, str],
    request_id: str,
) -> AsyncIterator[Carrier]:
    """`RunSSE` is open (its response headers are in) before the first append goes out."""
    opening = encode_frame(bidi_pb.BidiRequestId(request_id=request_id).SerializeToString())
    async with transport.post(base_url + RUN_SSE_PATH, headers, opening) as response:
        yield Sse(transport, base_url + BIDI_APPEND_PATH, append_headers, request_id, response)
