"""Client disconnects and slow clients against the simulator, over HTTP/1.1 and h2c upstreams.

Many streaming clients hang up abruptly after their first chunk: every upstream stream must be
cancelled, no task of the gateway may outlive them, and the upstream transport must hold no
connection (HTTP/1.1) or stream (HTTP/2) for them. A client that stops reading must stall the
upstream through flow control instead of making the gateway buffer the whole answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
from typing import Final

import pytest
from aiohttp import web

from gateway import keys
from gateway.upstream.transport import AiohttpTransport
from gateway.upstream.transport_h2 import H2Transport
from tests.conftest import API_KEY, MODEL, eventually
from tests.fakes import CHAT_PATH, CursorSimulator, Scenario
from tests.fakes.steps import StartStream, Step, Write
from tests.scripted import END, text
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
HTTP_VERSIONS = [pytest.param(False, id="http1.1"), pytest.param(True, id="http2")]
DEEP: Final = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
STREAMS: Final = 1000 if DEEP else 200  # concurrent clients that hang up
SETTLE_S: Final = 10.0  # how long the gateway gets to tidy up after they are gone


def ask(*, stream: bool = True) -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]}


def open_upstream(app: web.Application) -> list[str]:
    """What the gateway's upstream transport still holds open, described (empty when idle)."""
    transport = app[keys.TRANSPORT]
    if isinstance(transport, AiohttpTransport):
        session = transport._session
        if session is None:
            return []
        return [f"acquired HTTP/1.1 connection {proto!r}" for proto in session.connector._acquired]
    assert isinstance(transport, H2Transport), transport
    held = [f"connect task {task!r}" for task in transport._tasks]
    for conn in transport._connections:
        held += [f"HTTP/2 stream {stream_id}" for stream_id in conn.streams]
    return held


async def start_stream(port: int, body: bytes) -> asyncio.StreamWriter:
    """A raw HTTP/1.1 streaming request; returns once the first SSE event arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: gateway\r\n"
        b"Authorization: Bearer " + API_KEY.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    seen = b""
    while b"\r\n\r\n" not in seen or b"data: " not in seen.partition(b"\r\n\r\n")[2]:
        chunk = await reader.read(65536)
        assert chunk, f"the gateway closed the stream early: {seen!r}"
        seen += chunk
    assert seen.startswith(b"HTTP/1.1 200 "), seen[:200]
    return writer


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()  # RST, no FIN handshake: the rudest way to leave
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
async def test_many_clients_hanging_up_leave_nothing_running(sim_gateway, http2):
    # Per stream: the client socket, the gateway's side of it, and both ends of the upstream one.
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 4 * STREAMS + 256:
        pytest.skip(f"{STREAMS} streams need about {4 * STREAMS + 256} file descriptors (ulimit -n)")
    client, sim = await sim_gateway(http2=http2)
    app = client.app
    assert app is not None
    # Warm up the gateway (and its upstream connection pool) so its long-lived state exists.
    assert (await client.post(CHAT, json=ask(stream=False))).status == 200
    before = asyncio.all_tasks()
    first = len(sim.chat_records)
    # 2000 one-character frames, 50 ms apart: no stream can finish during the test.
    sim.push(*(Scenario("text", text="x" * 2000, chunk=1, pace=0.05) for _ in range(STREAMS)))

    body = json.dumps(ask()).encode()
    port = client.server.port
    assert port is not None
    writers = await asyncio.gather(*(start_stream(port, body) for _ in range(STREAMS)))
    records = sim.chat_records[first:]
    assert len(records) == STREAMS and all(r.outcome is None for r in records)
    assert len(asyncio.all_tasks() - before) >= STREAMS  # the handlers really are running

    await asyncio.gather(*(hang_up(writer) for writer in writers))

    def leftover_tasks() -> set[asyncio.Task[object]]:
        return {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}

    await eventually(
        lambda: (
            all(r.outcome is not None for r in records) and not leftover_tasks() and not open_upstream(app)
        ),
        SETTLE_S,
    )
    outcomes = [r.outcome for r in records]
    assert outcomes == ["client_gone"] * STREAMS, {o: outcomes.count(o) for o in set(outcomes)}
    assert leftover_tasks() == set()
    assert open_upstream(app) == []

    # The gateway is still healthy afterwards.
    response = await client.post(CHAT, json=ask(stream=False))
    assert response.status == 200
    assert (await response.json())["choices"][0]["message"]["content"] == "You said: Hi"


# ---------------------------------------------------------------- a client that stops reading

FRAME_TEXT: Final = "y" * 16_384
FRAMES: Final = 4096  # 64 MiB of answer text: far more than every buffer on the way together
BOUND: Final = 32 * 1024 * 1024  # what the simulator may get rid of while the client reads nothing


class WriteCounter:
    """Replaces the simulator's chat plan with FRAMES big text frames made at write time, and
    counts the bytes the simulator managed to hand to its socket."""

    def __init__(self, sim: CursorSimulator) -> None:
        self.written = 0
        self.frame = text(FRAME_TEXT)
        handle = sim.handle

        def counting_handle(*args: object, **kwargs: object) -> tuple[object, list[Step]]:
            record, plan = handle(*args, **kwargs)  # type: ignore[arg-type]
            if record is not None and record.path == CHAT_PATH and record.rejection is None:
                plan = [StartStream(), *(Write(b"", render=self._emit) for _ in range(FRAMES)), Write(END)]
            return record, plan

        sim.handle = counting_handle  # type: ignore[method-assign]

    def _emit(self) -> bytes:
        self.written += len(self.frame)
        return self.frame


async def wait_until_stalled(counter: WriteCounter, quiet: float = 0.5, timeout: float = 20.0) -> None:
    """Until the simulator's write count stops moving for `quiet` seconds (or it wrote everything)."""
    async with asyncio.timeout(timeout):
        while True:
            seen = counter.written
            await asyncio.sleep(quiet)
            if counter.written == seen or counter.written >= FRAMES * len(counter.frame):
                return


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
async def test_a_client_that_stops_reading_stalls_the_upstream(sim_gateway, http2):
    client, sim = await sim_gateway(http2=http2)
    counter = WriteCounter(sim)
    response = await client.post(CHAT, json=ask())
    assert response.status == 200
    first = await response.content.readany()
    assert first.startswith(b"data: ")

    await wait_until_stalled(counter)
    record = sim.chat_records[-1]
    assert record.outcome is None, "the simulator finished: the gateway read the whole answer"
    assert counter.written < BOUND, f"the simulator wrote {counter.written} bytes to a client that read none"

    # Reading again resumes the stream, and nothing was lost on the way.
    rest = await response.read()
    events, _ = parse_sse((first + rest).decode())
    assert events[-1] == "[DONE]"
    content = "".join(
        e["choices"][0]["delta"].get("content", "")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )
    assert len(content) == FRAMES * len(FRAME_TEXT)
    await eventually(lambda: record.outcome is not None, SETTLE_S)
    assert record.outcome == "completed"
