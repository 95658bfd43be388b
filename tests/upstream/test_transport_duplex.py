"""Duplex calls on the h2 transport: writing the body while the response streams, flow control and
backpressure both ways, whole writes, best-effort last writes, cancellation; and their absence on
HTTP/1.1. Against a bare h2 echo server, so only the transport is under test."""

from __future__ import annotations

import asyncio
import contextlib

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from gateway.upstream.transport import AiohttpTransport, Timeouts, TransportError, TransportTimeout
from gateway.upstream.transport_h2 import H2Transport
from tests.conftest import eventually

FAST = Timeouts(connect=2.0, idle=2.0)


class EchoServer(asyncio.Protocol):
    """Answers headers at once (unless `silent`), echoes each DATA frame, acknowledges what it read
    only when `reading`; records resets and the end of each request body."""

    def __init__(self, state: dict) -> None:
        self.state = state

    def connection_made(self, transport) -> None:
        self.transport = transport
        config = h2.config.H2Configuration(client_side=False)
        self.conn = h2.connection.H2Connection(config)
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.state["window"]})
        transport.write(self.conn.data_to_send())
        self.state["servers"].append(self)

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.state["headers"] = dict((bytes(k).decode(), bytes(v).decode()) for k, v in event.headers)
                if not self.state["silent"]:
                    self.conn.send_headers(event.stream_id, [(":status", "200")])
            elif isinstance(event, h2.events.DataReceived):
                self.state["received"] += event.data
                if self.state["reading"]:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                else:
                    self.state["unacked"].append((event.flow_controlled_length, event.stream_id))
                if event.data and not self.state["silent"]:
                    self.conn.send_data(event.stream_id, event.data)
            elif isinstance(event, h2.events.StreamReset):
                self.state["resets"].append(event.error_code)
            elif isinstance(event, h2.events.StreamEnded):
                self.state["ended"] = True
        self.transport.write(self.conn.data_to_send())

    def start_reading(self) -> None:
        self.state["reading"] = True
        for size, stream_id in self.state["unacked"]:
            self.conn.acknowledge_received_data(size, stream_id)
        self.state["unacked"].clear()
        self.transport.write(self.conn.data_to_send())


@contextlib.asynccontextmanager
async def echo_server(*, window: int = 65_535, reading: bool = True, silent: bool = False):
    state: dict = {
        "window": window,
        "reading": reading,
        "silent": silent,
        "received": bytearray(),
        "unacked": [],
        "resets": [],
        "ended": False,
        "servers": [],
        "headers": {},
    }
    server = await asyncio.get_running_loop().create_server(lambda: EchoServer(state), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/echo", state
    finally:
        for connection in state["servers"]:
            connection.transport.abort()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def transport():
    transport = H2Transport(FAST)
    yield transport
    await transport.close()


async def read_exactly(chunks, size: int) -> bytes:
    data = bytearray()
    async with asyncio.timeout(3):
        while len(data) < size:
            data += await anext(chunks)
    return bytes(data)


async def test_writes_and_reads_interleave_on_one_stream(transport: H2Transport) -> None:
    async with echo_server() as (url, state):
        async with transport.duplex(url, {"x-test": "1"}) as call:
            await call.send(b"ping-1")
            response = await call.response()
            assert response.status == 200 and response.http_version == "2"
            chunks = aiter(response.chunks())
            assert await read_exactly(chunks, 6) == b"ping-1"
            await call.send(b"ping-2")  # written after reading: the body is still open
            assert await read_exactly(chunks, 6) == b"ping-2"
        assert state["headers"]["x-test"] == "1" and state["headers"][":method"] == "POST"
        assert await eventually(lambda: state["resets"] == [h2.errors.ErrorCodes.CANCEL], 3.0)
        assert not state["ended"]  # never half-closed: left with RST_STREAM


async def test_a_write_larger_than_the_window_waits_for_it_while_the_response_is_read(
    transport: H2Transport,
) -> None:
    payload = bytes(range(256)) * 1200  # 300 KiB, over the peer's 64 KiB stream window
    async with echo_server() as (url, _state), transport.duplex(url, {}) as call:
        sending = asyncio.create_task(call.send(payload))
        response = await call.response()
        echoed = await read_exactly(aiter(response.chunks()), len(payload))
        await sending
        assert echoed == payload


async def test_a_peer_that_does_not_read_holds_the_write_back(transport: H2Transport) -> None:
    async with (
        echo_server(window=1000, reading=False, silent=True) as (url, state),
        transport.duplex(url, {}) as call,
    ):
        sending = asyncio.create_task(call.send(b"x" * 5000))
        assert await eventually(lambda: len(state["received"]) == 1000, 3.0)
        await asyncio.sleep(0.1)
        assert not sending.done() and len(state["received"]) == 1000  # backpressure: no more than the window
        assert not call.send_nowait(b"y")  # a write is in progress
        state["servers"][0].start_reading()
        await asyncio.wait_for(sending, 2)
        assert bytes(state["received"]) == b"x" * 5000


async def test_a_write_the_peer_never_takes_times_out() -> None:
    transport = H2Transport(Timeouts(connect=2.0, idle=0.2))
    try:
        async with (
            echo_server(window=10, reading=False, silent=True) as (url, _),
            transport.duplex(url, {}) as call,
        ):
            with pytest.raises(TransportTimeout):
                await call.send(b"x" * 100)
    finally:
        await transport.close()


async def test_concurrent_writes_arrive_whole(transport: H2Transport) -> None:
    a, b = b"a" * 100_000, b"b" * 100_000
    async with echo_server() as (url, _state), transport.duplex(url, {}) as call:
        response_task = asyncio.create_task(call.response())
        await asyncio.gather(call.send(a), call.send(b))
        response = await response_task
        echoed = await read_exactly(aiter(response.chunks()), 200_000)
    assert echoed in (a + b, b + a)


async def test_a_last_write_goes_out_only_if_it_fits_now(transport: H2Transport) -> None:
    async with (
        echo_server(window=100, reading=False, silent=True) as (url, state),
        transport.duplex(url, {}) as call,
    ):
        assert call.send_nowait(b"z" * 60)
        assert not call.send_nowait(b"z" * 60)  # over what is left of the window
        assert await eventually(lambda: len(state["received"]) == 60, 3.0)


async def test_response_headers_that_never_come_time_out() -> None:
    transport = H2Transport(Timeouts(connect=0.2, idle=2.0))
    try:
        async with echo_server(silent=True) as (url, _), transport.duplex(url, {}) as call:
            await call.send(b"hello")
            with pytest.raises(TransportTimeout):
                await call.response()
    finally:
        await transport.close()


async def test_a_reset_by_the_peer_fails_the_next_write(transport: H2Transport) -> None:
    async with echo_server() as (url, state), transport.duplex(url, {}) as call:
        response = await call.response()
        server = state["servers"][0]
        server.conn.reset_stream(1, h2.errors.ErrorCodes.INTERNAL_ERROR)
        server.transport.write(server.conn.data_to_send())
        with pytest.raises(TransportError, match="INTERNAL_ERROR"):
            async with asyncio.timeout(2):
                async for _ in response.chunks():
                    pass
        with pytest.raises(TransportError):
            await call.send(b"more")


async def test_http1_has_no_duplex_calls() -> None:
    transport = AiohttpTransport(FAST)
    try:
        with pytest.raises(TransportError, match="needs HTTP/2"):
            async with transport.duplex("http://127.0.0.1:9/x", {}):
                pass
    finally:
        await transport.close()
