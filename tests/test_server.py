"""The listening socket: connection cap with a /health reserve, header and idle timeouts, fd budget."""

from __future__ import annotations

import asyncio
import contextlib
import resource

import pytest

from gateway.app import create_app
from gateway.server import (
    FD_HEADROOM,
    FDS_PER_CONNECTION,
    ConnectionGuard,
    ConnectionLimits,
    fd_budget,
    fit_to_fd_limit,
    handler_options,
    listen,
)
from tests.conftest import API_KEY, fixed_pool
from tests.scripted import END, Reply, ScriptedTransport, reply, text

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
MODELS = f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n\r\n".encode()


@pytest.fixture
async def served(make_settings):
    """The gateway behind its real listener: 2 connections, 1 in reserve, short timeouts."""
    stack = contextlib.AsyncExitStack()

    async def start(replies=(), **overrides):
        values = {
            "max_connections": 2,
            "health_reserve": 1,
            "client_header_timeout": 0.4,
            "client_idle_timeout": 1.5,
            "port": 0,
            **overrides,
        }
        settings = make_settings(**values)
        transport = ScriptedTransport(*(replies or [reply("hello")]))
        app = create_app(settings, transport=transport, pool=fixed_pool())
        listener = await stack.enter_async_context(listen(app, settings, handler_cancellation=True))
        return listener

    async with stack:
        yield start


async def connect(listener):
    host, port = listener.addresses[0]
    return await asyncio.open_connection(host, port)


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection within `seconds` (EOF or reset)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


async def close(*writers: asyncio.StreamWriter) -> None:
    for writer in writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_the_production_handler_never_inflates_request_bodies(make_settings):
    options = handler_options(make_settings(client_idle_timeout=7))
    assert options == {"keepalive_timeout": 7.0, "auto_decompress": False}


async def test_at_the_cap_a_new_connection_replaces_the_longest_idle_one(served):
    listener = await served()
    first = await connect(listener)
    await asyncio.sleep(0.05)
    second = await connect(listener)
    await asyncio.sleep(0.05)
    reader, writer = await connect(listener)  # the cap is 2: the first, idle longest, makes room
    assert await closed_within(first[0], 1)
    writer.write(MODELS)
    assert (await answer(reader))[0] == 200
    second[1].write(MODELS)  # the other idle one was kept
    assert (await answer(second[0]))[0] == 200
    assert (listener.guard.normal, listener.guard.reserved) == (2, 0)
    await close(first[1], second[1], writer)


async def busy_streams(listener, count):
    """`count` connections busy with a stream the upstream holds open."""
    held = []
    for _ in range(count):
        reader, writer = await connect(listener)
        body = b'{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
        writer.write(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await asyncio.wait_for(reader.readuntil(b"data: "), 5)
        held.append((reader, writer))
    return held


async def test_while_every_connection_is_busy_the_reserve_answers_health_only(served):
    gate = asyncio.Event()
    listener = await served(replies=[Reply([text("one"), gate, END]) for _ in range(2)])
    held = await busy_streams(listener, 2)
    reader, writer = await connect(listener)
    writer.write(HEALTH)
    status, headers, body = await answer(reader)
    assert status == 200 and b'"ok"' in body and headers["connection"] == "close"
    assert await closed_within(reader, 2)
    reader, writer2 = await connect(listener)
    writer2.write(MODELS)
    status, headers, body = await answer(reader)
    assert status == 503 and headers["retry-after"] == "1" and b'"server_busy"' in body
    assert await closed_within(reader, 2)
    # An idle reserve connection makes room for the next one, as normal ones do.
    idle_reader, idle_writer = await connect(listener)
    await asyncio.sleep(0.05)
    reader, writer3 = await connect(listener)
    assert await closed_within(idle_reader, 1)
    writer3.write(HEALTH)
    assert (await answer(reader))[0] == 200
    gate.set()
    await close(writer, writer2, writer3, idle_writer, *(w for _, w in held))


async def test_a_reserve_connection_has_the_header_timeout_from_its_start(served):
    gate = asyncio.Event()
    listener = await served(replies=[Reply([text("one"), gate, END]) for _ in range(2)])
    held = await busy_streams(listener, 2)
    reader, writer = await connect(listener)  # sends nothing
    assert await closed_within(reader, 1.2)  # 0.4 s, not the 1.5 s idle timeout
    gate.set()
    await close(writer, *(w for _, w in held))


async def test_a_trickled_request_head_is_cut_off_at_the_header_timeout(served):
    listener = await served()
    reader, writer = await connect(listener)

    async def trickle():
        for byte in HEALTH:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    trickling = asyncio.create_task(trickle())
    assert await closed_within(reader, 1.2)  # 0.4 s timeout, the head would take ~1.7 s
    trickling.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await trickling
    await close(writer)


async def test_a_head_in_pieces_within_the_timeout_is_served_and_each_request_gets_its_own(served):
    listener = await served()
    reader, writer = await connect(listener)
    for _ in range(3):  # keep-alive: the deadline starts again with each request's first byte
        for piece in (HEALTH[:10], HEALTH[10:20], HEALTH[20:]):
            writer.write(piece)
            await asyncio.sleep(0.1)
        assert (await answer(reader))[0] == 200
        await asyncio.sleep(0.6)  # idle between requests is not the header timeout
    await close(writer)


async def test_a_connection_that_sends_nothing_is_closed_at_the_idle_timeout(served):
    listener = await served(client_idle_timeout=0.3, client_header_timeout=5)
    reader, writer = await connect(listener)
    assert await closed_within(reader, 2)
    reader, writer2 = await connect(listener)
    writer2.write(HEALTH)
    assert (await answer(reader))[0] == 200
    assert await closed_within(reader, 2)  # and after an answer, kept alive only that long
    await close(writer, writer2)


async def test_a_slow_request_body_is_not_cut_by_the_header_timeout(served):
    listener = await served(client_header_timeout=0.2)
    reader, writer = await connect(listener)
    # A request head, then a body the handler waits for longer than the header timeout.
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body[:10])
    await asyncio.sleep(0.5)
    writer.write(body[10:])
    status, _, body = await answer(reader)
    assert status == 200 and b'"hello"' in body
    await close(writer)


def test_the_fd_budget_covers_each_connection_and_the_reserve():
    limits = ConnectionLimits(max_connections=100, reserve=10, header_timeout=1)
    assert fd_budget(limits) == FDS_PER_CONNECTION * 110 + FD_HEADROOM


def test_a_cap_the_open_file_limit_cannot_hold_is_lowered_to_fit(caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard open-file limit to exceed on this machine")
    try:
        limits = fit_to_fd_limit(ConnectionLimits(hard, 16, 1.0))
        raised, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == hard  # raised as far as allowed
        assert fd_budget(limits) <= hard
        assert limits.max_connections >= (hard - FD_HEADROOM) // FDS_PER_CONNECTION - 17
        assert "MAX_CONNECTIONS" in caplog.text
        assert fit_to_fd_limit(limits) == limits  # what fits is kept as it is
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---------------------------------------------------------------- the guard's bookkeeping


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.aborted = False
        self.buffered = 0

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return self.buffered


class Inner(asyncio.Protocol):
    def __init__(self) -> None:
        self.lost = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def test_the_guard_evicts_the_oldest_waiting_then_uses_the_reserve_then_refuses():
    guard = ConnectionGuard(Inner, ConnectionLimits(max_connections=2, reserve=1, header_timeout=5))
    a, b, c, d, e = (guard() for _ in range(5))
    ta, tb, tc, td, te = (FakeTransport() for _ in range(5))
    a.connection_made(ta)
    b.connection_made(tb)
    a.request_started()  # a is busy, b waits
    tb.buffered = 10  # b's answer still drains: not evicted either
    c.connection_made(tc)
    assert c.reserve and not tb.closed and (guard.normal, guard.reserved) == (2, 1)
    tb.buffered = 0
    d.connection_made(td)  # now b, idle, makes room
    assert tb.closed and not d.reserve and (guard.normal, guard.reserved) == (2, 1)
    b.connection_lost(None)  # its close completes: counted once
    assert (guard.normal, guard.reserved) == (2, 1)
    d.request_started()
    c.request_started()
    e.connection_made(te)  # every normal and reserve connection is busy
    assert te.aborted and (guard.normal, guard.reserved) == (2, 1)
    e.connection_lost(None)
    a.request_done()
    a.connection_lost(None)
    c.connection_lost(None)
    d.connection_lost(None)
    assert (guard.normal, guard.reserved) == (0, 0)


def test_eviction_works_on_uvloop_transports(make_settings):
    """Production runs on uvloop, whose transports are not asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")
    settings = make_settings(max_connections=2, health_reserve=1, port=0)

    async def scenario() -> None:
        app = create_app(settings, transport=ScriptedTransport(), pool=fixed_pool())
        async with listen(app, settings, handler_cancellation=True) as listener:
            first = await connect(listener)
            await asyncio.sleep(0.05)
            second = await connect(listener)
            await asyncio.sleep(0.05)
            reader, writer = await connect(listener)
            assert await closed_within(first[0], 1)
            writer.write(MODELS)
            assert (await answer(reader))[0] == 200
            await close(first[1], second[1], writer)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
