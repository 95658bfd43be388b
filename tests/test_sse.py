"""The SSE writer: keep-alives, in-stream errors, finishing live streams."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

from gateway import keys
from gateway.errors import UpstreamError
from gateway.sse import WRITE_SLICE
from tests.conftest import API_KEY, eventually
from tests.scripted import END, Reply, ScriptedTransport, text
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
ASK = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]}


async def test_finish_ends_late_streams_in_band_and_spares_finished_ones(gateway):
    gate = asyncio.Event()
    client, _ = await gateway(Reply([text("one"), gate, text("never"), END]))
    response = await client.post(CHAT, json=ASK)
    await response.content.readany()
    live = client.app[keys.LIVE_STREAMS]
    assert len(live) == 1
    await live.finish(0.05, UpstreamError("stopping", code="gateway_shutting_down"))
    events, _ = parse_sse(await asyncio.wait_for(response.text(), 5))
    assert events[-2]["error"]["code"] == "gateway_shutting_down" and events[-1] == "[DONE]"
    assert "never" not in str(events)
    assert len(live) == 0


async def test_finish_waits_for_streams_that_end_within_the_grace(gateway):
    client, _ = await gateway(Reply([text("one"), 0.05, text("two"), END]))
    response = await client.post(CHAT, json=ASK)
    await response.content.readany()
    await client.app[keys.LIVE_STREAMS].finish(5, UpstreamError("stopping", code="gateway_shutting_down"))
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and "error" not in str(events)


async def test_keepalives_repeat_while_silent(gateway, make_settings):
    client, _ = await gateway(Reply([0.35, text("late"), END]), settings=make_settings(keepalive_seconds=0.1))
    _, comments = parse_sse(await (await client.post(CHAT, json=ASK)).text())
    assert comments.count("keep-alive") >= 2


async def _stalled_stream(client, n: int) -> tuple[socket.socket, asyncio.StreamWriter]:
    """A streaming request from a client with a tiny receive buffer that never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", client.port))
    _, writer = await asyncio.open_connection(sock=sock)
    body = json.dumps({**ASK, "n": n}).encode()
    writer.write(
        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + API_KEY.encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    return sock, writer


async def _settled(transport: ScriptedTransport) -> int:
    """The number of upstream chunks taken, once it stopped growing."""
    seen = -1
    for _ in range(100):
        await asyncio.sleep(0.05)
        if transport.delivered == seen:
            return seen
        seen = transport.delivered
    raise AssertionError(f"the gateway kept reading upstream: {seen} chunks")


@pytest.mark.parametrize("n", [1, 4])
async def test_a_client_that_stops_reading_stops_the_upstream_with_little_buffered(gateway, n):
    frame = 1 << 20  # 1 MiB of text per upstream frame
    frames = 24
    replies = [Reply([text("x" * frame) for _ in range(frames)] + [END]) for _ in range(n)]
    client, transport = await gateway(*replies)
    sock, writer = await _stalled_stream(client, n)
    taken = await _settled(transport)
    # Per choice: the event being written and, with n > 1, one more waiting in the merge; plus
    # what the kernel's socket buffers took. Nowhere near all of them.
    assert taken <= 3 * n + 2, taken
    [handler] = client.server.runner.server.connections
    assert handler.transport.get_write_buffer_size() <= 2 * WRITE_SLICE
    await asyncio.sleep(0.3)
    assert transport.delivered == taken  # still stopped
    writer.transport.abort()
    sock.close()


async def test_a_client_that_stops_reading_is_dropped_after_the_write_timeout(gateway, make_settings, caplog):
    caplog.set_level(logging.INFO, logger="gateway.sse")
    frames = [text("x" * (1 << 20)) for _ in range(24)]
    settings = make_settings(keepalive_seconds=0.1, client_write_timeout=0.3)
    client, transport = await gateway(Reply([*frames, END]), settings=settings)
    sock, writer = await _stalled_stream(client, 1)
    try:
        assert await eventually(lambda: transport.closed > 0), "the upstream call was left open"
        assert transport.delivered < len(frames)
        assert "client stopped reading" in caplog.text
        assert client.server.runner.server.connections == []  # the connection was dropped
    finally:
        writer.transport.abort()
        sock.close()


async def test_without_a_write_timeout_a_stalled_client_keeps_its_stream(gateway, make_settings):
    frames = [text("x" * (1 << 20)) for _ in range(24)]
    settings = make_settings(keepalive_seconds=0.1, client_write_timeout=0)
    client, transport = await gateway(Reply([*frames, END]), settings=settings)
    sock, writer = await _stalled_stream(client, 1)
    try:
        assert not await eventually(lambda: transport.closed > 0, 1)
        assert len(client.server.runner.server.connections) == 1
    finally:
        writer.transport.abort()
        sock.close()
