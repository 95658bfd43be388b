"""The h2 transport against the simulator's HTTP/2 front (h2c and TLS): round trips, multiplexing,
incremental delivery, cancellation (RST_STREAM), timeouts, failures, flow control, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from gateway.upstream.transport import Timeouts, TransportError, TransportTimeout, read_capped
from gateway.upstream.transport_h2 import STREAM_WINDOW, H2Transport, _request
from tests.conftest import eventually
from tests.fakes import CHAT_PATH, CursorSimulator, H2Front, Scenario, SimConfig, make_tls_pair, start_h2c
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request

FAST = Timeouts(connect=5.0, idle=5.0)


@pytest.fixture
def sim() -> CursorSimulator:
    return CursorSimulator(SimConfig(seed=0))


@pytest.fixture
async def front(sim):
    front = await start_h2c(sim, "127.0.0.1", 0)
    yield front
    await front.close()


@pytest.fixture
async def transport():
    transport = H2Transport(FAST)
    yield transport
    await transport.close()


def body(text: str = "Hello") -> bytes:
    return frame_request(build_request(text))


async def read_all(transport: H2Transport, url: str, text: str = "Hello") -> tuple[int, bytes]:
    async with transport.post(url + CHAT_PATH, chat_headers(), body(text)) as response:
        data = b"".join([chunk async for chunk in response.chunks()])
        return response.status, data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- round trips


def test_open_transport_picks_http2() -> None:
    from gateway.upstream.transport import AiohttpTransport, Timeouts, open_transport

    assert isinstance(open_transport(True, Timeouts(1, 1)), H2Transport)
    assert isinstance(open_transport(False, Timeouts(1, 1)), AiohttpTransport)


async def test_echo_round_trip_over_h2c(front: H2Front, sim: CursorSimulator, transport: H2Transport) -> None:
    async with transport.post(front.url + CHAT_PATH, chat_headers(), body("h2 ✓")) as response:
        assert response.status == 200
        assert response.http_version == "2"
        assert response.headers["Content-Type"] == "application/connect+proto"
        assert response.headers.get("content-type") == "application/connect+proto"
        data = b"".join([chunk async for chunk in response.chunks()])
    decoded = decode_stream(data)
    assert decoded.text == "\n\nYou said: h2 ✓" and decoded.end == {}
    (record,) = sim.records
    assert record.http_version == "2" and record.outcome == "completed" and record.warnings == []
    assert record.headers["x-cursor-client-version"] and "accept-encoding" not in record.headers


async def test_echo_round_trip_over_tls() -> None:
    pytest.importorskip("trustme")
    sim = CursorSimulator(SimConfig(seed=0))
    pair = make_tls_pair()
    front = await start_h2c(sim, "127.0.0.1", 0, ssl_context=pair.server)
    transport = H2Transport(FAST, ssl_context=pair.client)
    try:
        assert front.url.startswith("https://")
        status, data = await read_all(transport, front.url, "secure")
        assert status == 200
        assert decode_stream(data).text == "\n\nYou said: secure"
        assert sim.records[0].http_version == "2"
    finally:
        await transport.close()
        await front.close()


async def test_tls_without_h2_in_alpn_is_a_clear_error() -> None:
    pytest.importorskip("trustme")
    pair = make_tls_pair()
    pair.server.set_alpn_protocols(["http/1.1"])
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0, ssl=pair.server)
    port = server.sockets[0].getsockname()[1]
    transport = H2Transport(FAST, ssl_context=pair.client)
    try:
        with pytest.raises(TransportError, match="did not negotiate HTTP/2"):
            await read_all(transport, f"https://127.0.0.1:{port}")
    finally:
        await transport.close()
        server.close()
        await server.wait_closed()


async def test_untrusted_certificate_is_a_transport_error() -> None:
    pytest.importorskip("trustme")
    sim = CursorSimulator(SimConfig(seed=0))
    front = await start_h2c(sim, "127.0.0.1", 0, ssl_context=make_tls_pair().server)
    transport = H2Transport(FAST)  # the default context does not trust the throw-away CA
    try:
        with pytest.raises(TransportError, match="could not reach upstream") as info:
            await read_all(transport, front.url)
        assert not isinstance(info.value, TransportTimeout)
        assert isinstance(info.value.__cause__, ssl.SSLError)
    finally:
        await transport.close()
        await front.close()


async def test_error_status_and_capped_body(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.push(Scenario("http_error", status=429, retry_after=7))
    async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
        assert response.status == 429
        assert response.headers.get("retry-after") == "7"
        assert await read_capped(response, 3) == b"Too"


# ---------------------------------------------------------------- multiplexing and pooling


async def test_many_concurrent_streams_share_one_connection(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    results = await asyncio.gather(*(read_all(transport, front.url, f"n{i}") for i in range(40)))
    assert [decode_stream(data).text for _, data in results] == [f"\n\nYou said: n{i}" for i in range(40)]
    assert len(front.connections) == 1
    assert len(transport._connections) == 1
    # the connection is reused by later requests
    await read_all(transport, front.url)
    assert len(front.connections) == 1


async def test_a_full_connection_makes_another(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    limit = 100  # the simulator's (h2's default) SETTINGS_MAX_CONCURRENT_STREAMS
    for _ in range(limit + 1):
        sim.push(Scenario("stall", at="after_headers"))
    async with contextlib.AsyncExitStack() as stack:
        # the first request learns the server's settings
        await stack.enter_async_context(transport.post(front.url + CHAT_PATH, chat_headers(), body()))
        await asyncio.gather(
            *(
                stack.enter_async_context(transport.post(front.url + CHAT_PATH, chat_headers(), body()))
                for _ in range(limit)
            )
        )
        assert len(front.connections) == 2
    assert await eventually(lambda: all(r.outcome is not None for r in sim.records), 3.0)
    assert {r.outcome for r in sim.records} == {"stalled"}  # a stall ends when the stream is reset


async def test_a_connection_out_of_stream_ids_is_retired(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    await read_all(transport, front.url)
    (conn,) = transport._connections
    conn.h2.highest_outbound_stream_id = 2**31 - 3  # the next stream gets the last id, 2**31 - 1
    assert (await read_all(transport, front.url))[0] == 200
    assert await eventually(lambda: conn.closed.done(), 3.0)  # retired and closed once its last stream ended
    assert (await read_all(transport, front.url))[0] == 200
    assert len(transport._connections) == 1 and conn not in transport._connections


# ---------------------------------------------------------------- streaming behaviour


async def test_chunks_arrive_incrementally(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.push(Scenario("text", text="abcdef", chunk=1, pace=0.2, heartbeats=False))
    started = time.monotonic()
    arrivals: list[float] = []
    async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
        async for _ in response.chunks():
            arrivals.append(time.monotonic() - started)
    assert arrivals[0] < 0.15  # not held back until the paced frames that follow
    assert arrivals[-1] >= 0.8
    assert len(arrivals) >= 6


async def test_leaving_early_resets_only_that_stream(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.push(Scenario("text", text="x" * 60, chunk=1, pace=0.01))
    sim.push(Scenario("text", text="y" * 200, chunk=1, pace=0.01))
    async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as survivor:
        async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as abandoned:
            async for _ in abandoned.chunks():
                break
        # `abandoned` was reset on leaving its block; `survivor` carries on
        data = b"".join([chunk async for chunk in survivor.chunks()])
    assert len(decode_stream(data).text) > 0
    assert await eventually(lambda: all(r.outcome is not None for r in sim.records), 3.0)
    assert [r.outcome for r in sim.records] == ["completed", "client_gone"]
    assert len(front.connections) == 1  # the connection survived the reset


async def test_cancelled_reader_resets_the_stream(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.push(Scenario("text", text="x" * 400, chunk=1, pace=0.01))
    first = asyncio.Event()

    async def consume() -> None:
        async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
            async for _ in response.chunks():
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await eventually(lambda: sim.records[-1].outcome is not None, 3.0)
    assert sim.records[-1].outcome == "client_gone"


async def test_idle_timeout(front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("stall", at="after_headers"))
    transport = H2Transport(Timeouts(connect=5.0, idle=0.2))
    try:
        async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
            assert response.status == 200
            with pytest.raises(TransportTimeout, match="idle"):
                async for _ in response.chunks():
                    pass
        # the stream was reset (the connection is still open): the simulator's stall ends
        assert await eventually(lambda: sim.records[-1].outcome is not None, 3.0)
        assert sim.records[-1].outcome == "stalled"
        assert len(front.connections) == 1
    finally:
        await transport.close()


async def test_headers_timeout(front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("stall", at="before_headers"))
    transport = H2Transport(Timeouts(connect=0.2, idle=5.0))
    try:
        started = time.monotonic()
        with pytest.raises(TransportTimeout, match="response headers"):
            await read_all(transport, front.url)
        assert time.monotonic() - started < 1.0
        assert await eventually(lambda: sim.records[-1].outcome is not None, 3.0)
        assert sim.records[-1].outcome == "stalled"  # reset, on a connection that stays open
        assert len(front.connections) == 1
    finally:
        await transport.close()


async def test_connection_refused(transport: H2Transport) -> None:
    with pytest.raises(TransportError, match="could not reach upstream: ConnectionRefusedError") as info:
        await read_all(transport, f"http://127.0.0.1:{free_port()}")
    assert not isinstance(info.value, TransportTimeout)


async def test_unsupported_url(transport: H2Transport) -> None:
    with pytest.raises(TransportError, match="unsupported upstream URL"):
        await read_all(transport, "ftp://127.0.0.1")


@pytest.mark.parametrize("at", ["before_headers", "after_headers", "mid_frame", "between_frames"])
async def test_disconnect_scenarios_raise(
    front: H2Front, sim: CursorSimulator, transport: H2Transport, at: str
) -> None:
    sim.push(Scenario("disconnect", at=at))
    with pytest.raises(TransportError) as info:
        await read_all(transport, front.url)
    assert not isinstance(info.value, TransportTimeout)
    assert "reset the stream" in str(info.value)
    # a stream reset leaves the connection usable
    assert (await read_all(transport, front.url))[0] == 200
    assert len(front.connections) == 1


async def test_dropped_connection_mid_body(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.config.h2_abort = "connection"
    sim.push(Scenario("disconnect", at="mid_frame"))
    with pytest.raises(TransportError, match="connection was lost"):
        await read_all(transport, front.url)
    # a later request opens a fresh connection
    sim.config.h2_abort = "stream"
    assert (await read_all(transport, front.url))[0] == 200


# ---------------------------------------------------------------- flow control


async def test_four_mib_request_body(front: H2Front, sim: CursorSimulator, transport: H2Transport) -> None:
    text = "y" * (4 * 1024 * 1024 - 4096)
    payload = frame_request(build_request(text), compress=False)
    assert len(payload) > 4_000_000
    async with transport.post(front.url + CHAT_PATH, chat_headers(), payload) as response:
        assert response.status == 200
        data = b"".join([chunk async for chunk in response.chunks()])
    assert decode_stream(data).text.startswith("\n\nYou said: yyy")
    (record,) = sim.records
    assert record.body_size == len(payload)
    assert record.request is not None
    assert record.request.stream_unified_chat_request.conversation[-1].text == text


async def test_slow_consumer_applies_backpressure(
    front: H2Front, sim: CursorSimulator, transport: H2Transport
) -> None:
    sim.push(Scenario("large"))
    async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
        await asyncio.sleep(0.3)  # not reading: the upstream must stop at the window
        stream = response._stream  # type: ignore[attr-defined]
        assert 0 < sum(len(data) for data, _ in stream.queue) <= STREAM_WINDOW
        data = b"".join([chunk async for chunk in response.chunks()])
    assert len(decode_stream(data).text) > 4_000_000


# ---------------------------------------------------------------- GOAWAY and shutdown


class _ScriptedServer(asyncio.Protocol):
    """A bare h2 server: answers the preface, then calls `reply(conn, stream_id)` per request."""

    def __init__(self, reply, connections: list[_ScriptedServer]) -> None:
        self.reply = reply
        connections.append(self)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.StreamEnded):
                self.reply(self.conn, event.stream_id)
        self.transport.write(self.conn.data_to_send())


@contextlib.asynccontextmanager
async def scripted_server(reply):
    connections: list[_ScriptedServer] = []
    server = await asyncio.get_running_loop().create_server(
        lambda: _ScriptedServer(reply, connections), "127.0.0.1", 0
    )
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connections
    finally:
        for connection in connections:
            connection.transport.abort()
        server.close()
        await server.wait_closed()


async def test_goaway_fails_refused_streams_and_retires_the_connection(transport: H2Transport) -> None:
    def refuse(conn, stream_id):
        conn.close_connection(last_stream_id=0)

    async with scripted_server(refuse) as (url, connections):
        with pytest.raises(TransportError, match=r"GOAWAY NO_ERROR\): the stream was refused"):
            await read_all(transport, url)
        assert len(connections) == 2  # refused, so sent once more, on a new connection; then given up
        with pytest.raises(TransportError, match="GOAWAY"):
            await read_all(transport, url)
        assert len(connections) == 4  # a refusing connection is never handed out again


async def test_a_stream_refused_by_goaway_is_sent_again_on_a_new_connection(transport: H2Transport) -> None:
    served: list[int] = []

    def first_refuses(conn, stream_id):
        if not served:
            served.append(stream_id)
            conn.close_connection(last_stream_id=0)
            return
        conn.send_headers(stream_id, [(":status", "200")])
        conn.send_data(stream_id, b"second time lucky", end_stream=True)

    async with scripted_server(first_refuses) as (url, connections):
        assert await read_all(transport, url) == (200, b"second time lucky")
        assert len(connections) == 2


async def test_a_stream_reset_with_refused_stream_is_retried_once(transport: H2Transport) -> None:
    attempts: list[int] = []

    def refuse_first(conn, stream_id):
        attempts.append(stream_id)
        if len(attempts) == 1:
            conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        conn.send_headers(stream_id, [(":status", "200")])
        conn.send_data(stream_id, b"ok", end_stream=True)

    async with scripted_server(refuse_first) as (url, _):
        assert await read_all(transport, url) == (200, b"ok")
        assert len(attempts) == 2


async def test_other_resets_are_not_retried(transport: H2Transport) -> None:
    attempts: list[int] = []

    def cancel(conn, stream_id):
        attempts.append(stream_id)
        conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)

    async with scripted_server(cancel) as (url, _):
        with pytest.raises(TransportError, match="INTERNAL_ERROR"):
            await read_all(transport, url)
        assert len(attempts) == 1  # processing may have started: never sent twice


async def test_a_peer_that_stops_answering_pings_is_dropped(front: H2Front, sim: CursorSimulator) -> None:
    transport = H2Transport(FAST, ping_interval=0.1)
    try:
        status, _ = await read_all(transport, front.url)
        assert status == 200
        await asyncio.sleep(0.35)  # PINGs are answered: the connection stays
        assert len(front.connections) == 1 and len(transport._connections) == 1
        [server_side] = front.connections
        assert server_side.transport is not None
        server_side.transport.pause_reading()  # the peer goes silent
        assert await eventually(lambda: not transport._connections, 2.0)
        server_side.transport.resume_reading()
        status, _ = await read_all(transport, front.url)  # served on a fresh connection
        assert status == 200
    finally:
        await transport.close()


async def test_goaway_with_an_error_code_ends_every_stream(transport: H2Transport) -> None:
    def fail(conn, stream_id):
        conn.send_headers(stream_id, [(":status", "200")])
        conn.close_connection(error_code=h2.errors.ErrorCodes.INTERNAL_ERROR, last_stream_id=stream_id)

    async with scripted_server(fail) as (url, _):
        with pytest.raises(TransportError, match="GOAWAY INTERNAL_ERROR"):
            await read_all(transport, url)


async def test_graceful_goaway_lets_open_streams_finish(transport: H2Transport) -> None:
    def drain(conn, stream_id):
        conn.send_headers(stream_id, [(":status", "200")])
        conn.close_connection(last_stream_id=stream_id)
        conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN  # h2 would refuse to go on
        conn.send_data(stream_id, b"still here", end_stream=True)

    async with scripted_server(drain) as (url, connections):
        assert await read_all(transport, url) == (200, b"still here")
        assert await read_all(transport, url) == (200, b"still here")
        assert len(connections) == 2


async def test_oversized_response_headers_are_refused(transport: H2Transport) -> None:
    def huge(conn, stream_id):
        conn.send_headers(stream_id, [(":status", "200"), ("x-big", "a" * 100_000)], end_stream=True)

    async with scripted_server(huge) as (url, _):
        with pytest.raises(TransportError, match="broke the HTTP/2 protocol"):
            await read_all(transport, url)


async def test_close_fails_open_streams_and_leaves_no_tasks(front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("stall", at="after_headers"))
    transport = H2Transport(FAST)
    opened = asyncio.Event()

    async def hold() -> None:
        async with transport.post(front.url + CHAT_PATH, chat_headers(), body()) as response:
            opened.set()
            async for _ in response.chunks():
                pass

    task = asyncio.create_task(hold())
    await opened.wait()
    await transport.close()
    with pytest.raises(TransportError, match="closed"):
        await task
    assert asyncio.all_tasks() - front.tasks == {asyncio.current_task()}  # the simulator's own aside
    assert transport._connections == set() and transport._tasks == set()
    assert await eventually(lambda: not front.connections, 3.0)
    # a closed transport refuses new calls instead of quietly opening connections nobody closes
    with pytest.raises(TransportError, match="closed"):
        await read_all(transport, front.url)


async def test_close_while_connecting() -> None:
    # a plain TCP server that never answers the TLS ClientHello: the connect stays pending
    transport = H2Transport(FAST)
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        task = asyncio.create_task(read_all(transport, url))
        await asyncio.sleep(0.1)
        assert transport._tasks
        await transport.close()
        with pytest.raises(TransportError, match="closed"):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
    finally:
        server.close()
        await server.wait_closed()


def test_the_transport_runs_on_uvloop() -> None:
    """uvloop's transports are not `asyncio.Transport` subclasses; production runs on uvloop."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> tuple[int, bytes]:
        sim = CursorSimulator(SimConfig(seed=0))
        front = await start_h2c(sim, "127.0.0.1", 0)
        transport = H2Transport(FAST)
        try:
            return await read_all(transport, front.url, "on uvloop")
        finally:
            await transport.close()
            await front.close()

    status, data = uvloop.run(main())
    assert status == 200 and decode_stream(data).text == "\n\nYou said: on uvloop"


async def test_nothing_connects_once_the_transport_is_closed() -> None:
    """A caller still inside the pool when the transport closes (waiting for a connection that
    came up as `close()` ran) must not open a new one: nothing would ever close it."""
    accepted: list[asyncio.Transport] = []

    class Count(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.append(transport)  # type: ignore[arg-type]

    server = await asyncio.get_running_loop().create_server(Count, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
    transport = H2Transport(FAST)
    try:
        await transport.close()
        origin, _ = _request("POST", url, {})
        with pytest.raises(TransportError, match="closed"):
            await transport._acquire(origin)
        await asyncio.sleep(0.05)
        assert accepted == [] and transport._connections == set() and not transport._tasks
    finally:
        for accepted_transport in accepted:
            accepted_transport.close()
        server.close()
        await server.wait_closed()
