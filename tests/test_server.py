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
    ConnectionLimits,
    fd_budget,
    fit_to_fd_limit,
    handler_options,
    listen,
)
from tests.conftest import API_KEY, fixed_pool
from tests.scripted import ScriptedTransport, reply

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
MODELS = f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n\r\n".encode()


@pytest.fixture
async def served(make_settings):
    """The gateway behind its real listener: 2 connections, 1 in reserve, short timeouts."""
    stack = contextlib.AsyncExitStack()

    async def start(**overrides):
        values = {
            "max_connections": 2,
            "health_reserve": 1,
            "client_header_timeout": 0.4,
            "client_idle_timeout": 1.5,
            "port": 0,
            **overrides,
        }
        settings = make_settings(**values)
        app = create_app(settings, transport=ScriptedTransport(reply("hello")), pool=fixed_pool())
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


async def test_over_the_cap_a_reserve_connection_answers_health_then_closes(served):
    listener = await served()
    idle = [await connect(listener) for _ in range(2)]  # the cap, held by idle clients
    reader, writer = await connect(listener)
    writer.write(HEALTH)
    status, headers, body = await answer(reader)
    assert status == 200 and b'"ok"' in body
    assert headers["connection"] == "close"
    assert await closed_within(reader, 2)
    await close(writer, *(w for _, w in idle))


async def test_a_reserve_connection_is_refused_anything_but_health(served):
    listener = await served()
    idle = [await connect(listener) for _ in range(2)]
    reader, writer = await connect(listener)
    writer.write(MODELS)
    status, headers, body = await answer(reader)
    assert status == 503 and headers["retry-after"] == "1"
    assert b'"server_busy"' in body
    assert await closed_within(reader, 2)
    await close(writer, *(w for _, w in idle))


async def test_beyond_the_reserve_a_connection_is_closed_before_anything_is_read(served):
    listener = await served()
    held = [await connect(listener) for _ in range(3)]  # the cap and the reserve
    await asyncio.sleep(0.05)
    assert (listener.guard.normal, listener.guard.reserved) == (2, 1)
    reader, writer = await connect(listener)
    assert await closed_within(reader, 1)
    await close(writer, *(w for _, w in held))
    # The slots are given back when the clients leave: the next connection is served normally.
    await asyncio.sleep(0.05)
    assert (listener.guard.normal, listener.guard.reserved) == (0, 0)
    reader, writer = await connect(listener)
    writer.write(MODELS)
    assert (await answer(reader))[0] == 200
    await close(writer)


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
