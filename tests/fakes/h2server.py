"""The HTTP/2 front: the same simulator core over h2c (prior knowledge) or TLS with ALPN `h2`.

A small asyncio server on the `h2` library. Each request stream is collected (headers, body up to
the cap, end of stream), handed to `CursorSimulator.handle`, and its plan is executed as HTTP/2
frames: `Write` → DATA frame(s) honouring flow control, `Abort` → RST_STREAM (or dropping the
TCP connection when `config.h2_abort == "connection"`), `Stall` → silence until the stream or
connection goes away. Records carry `http_version == "2"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import typing
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from google.protobuf.message import DecodeError

from gateway.upstream.pb.aiserver_agent_pb2 import BidiRequestId
from tests.fakes.agent_run import RUN_PATH, RUN_SSE_PATH, AgentRun, RunInput
from tests.fakes.sim import AgentOpening, CursorSimulator
from tests.fakes.steps import Abort, Respond, Sleep, Stall, StartStream, Step, Write
from tests.fakes.validate import Rejection
from tests.fakes.wire import EnvelopeReader, WireError, decode_request_envelope

log = logging.getLogger(__name__)


class _StreamGone(Exception):
    """The client reset the stream or the connection went away."""


@dataclass(slots=True)
class _Stream:
    stream_id: int
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    overflow: bool = False
    gone: bool = False
    window: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    # A bidirectional `Run`: its request frames go to the run while it answers (full duplex).
    run_input: RunInput | None = None
    reader: EnvelopeReader | None = None


class _H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection."""

    def __init__(self, front: H2Front) -> None:
        self.front = front
        self.sim = front.sim
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.lost = False

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = typing.cast(asyncio.Transport, transport)  # uvloop: not a subclass
        self.transport = transport
        self.front.connections.add(self)
        self.conn.initiate_connection()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.front.connections.discard(self)
        self.can_write.set()
        for stream in self.streams.values():
            self._mark_gone(stream)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._on_event(event)
        self.flush()

    # -- h2 events

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers: dict[str, str] = {}
            for name, value in event.headers or []:
                key = bytes(name).decode("latin-1").lower()
                text = bytes(value).decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers and key != "cookie" else text
            opened = self.streams[event.stream_id] = _Stream(event.stream_id, headers)
            if headers.get(":method") == "POST" and headers.get(":path", "").split("?", 1)[0] == RUN_PATH:
                self._start_run(opened)
            if event.stream_ended is not None:
                if opened.run_input is not None:
                    opened.run_input.end()
                self._start(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if stream is not None and stream.run_input is not None:
                self._run_data(stream, event.data)
                if event.stream_ended is not None:
                    stream.run_input.end()
            elif stream is not None and event.data:
                room = self.sim.config.max_body - len(stream.body)
                stream.body += event.data[: max(room, 0)]
                stream.overflow = stream.overflow or len(event.data) > room
            if event.stream_ended is not None:
                self._start(event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.run_input is not None:
                stream.run_input.end()  # the client half-closed its side of the run
            else:
                self._start(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                self._mark_gone(stream)
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            for stream in self.streams.values():
                stream.window.set()
        elif isinstance(event, h2.events.ConnectionTerminated) and self.transport is not None:
            self.transport.close()

    def _start(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.task is not None:
            return
        stream.task = asyncio.get_running_loop().create_task(self._serve(stream))
        self.front.tasks.add(stream.task)
        stream.task.add_done_callback(self.front.tasks.discard)

    def _mark_gone(self, stream: _Stream) -> None:
        stream.gone = True
        stream.window.set()
        if stream.run_input is not None:
            stream.run_input.end()

    # -- the bidirectional agent run

    def _start_run(self, stream: _Stream) -> None:
        """Open the run at once: it reads the client's frames as they come while it answers."""
        headers = {k: v for k, v in stream.headers.items() if not k.startswith(":")}
        opening = self.sim.open_agent(RUN_PATH, headers, http_version="2", carrier="bidi")
        stream.run_input = opening.input
        stream.reader = EnvelopeReader()
        stream.task = asyncio.get_running_loop().create_task(self._serve_run(stream, opening))
        self.front.tasks.add(stream.task)
        stream.task.add_done_callback(self.front.tasks.discard)

    def _run_data(self, stream: _Stream, data: bytes) -> None:
        assert stream.reader is not None and stream.run_input is not None
        try:
            for _, payload in stream.reader.feed(data):
                stream.run_input.deliver(payload)
        except WireError as exc:
            stream.run_input.log.protocol_error = f"a request frame is malformed: {exc}"
            stream.run_input.end()

    async def _serve_sse(self, stream: _Stream) -> None:
        """`RunSSE` over HTTP/2: the body names the run whose messages arrive as appends."""
        headers = {k: v for k, v in stream.headers.items() if not k.startswith(":")}
        opening = self.sim.open_agent(RUN_SSE_PATH, headers, http_version="2", carrier="sse")
        request_id = ""
        if opening.respond is None:
            try:
                envelope = decode_request_envelope(bytes(stream.body))
                request_id = BidiRequestId.FromString(envelope.payload).request_id
                if not request_id:
                    raise WireError("no_request_id", "RunSSE needs a BidiRequestId")
                opening.input.log.request_id = request_id
                self.sim.sse_runs.attach(request_id, opening.input)
            except (WireError, DecodeError):
                opening.rejection = opening.rejection or Rejection(
                    "bad_request_envelope", code="invalid_argument"
                )
        stream.run_input = opening.input
        try:
            await self._serve_run(stream, opening)
        finally:
            if request_id:
                self.sim.sse_runs.detach(request_id)

    async def _serve_run(self, stream: _Stream, opening: AgentOpening) -> None:
        record = opening.record
        closer = self.sim.register_closer(lambda: self._abort(stream))
        outcome = "completed"
        try:
            if opening.respond is not None:
                outcome = await self._run(stream, [opening.respond])
                return
            self.conn.send_headers(
                stream.stream_id, [(":status", "200"), ("content-type", "application/connect+proto")]
            )
            self.flush()
            output = _H2RunOutput(self, stream)
            run = AgentRun(
                self.sim,
                record,
                opening.input,
                output,
                scenario=opening.scenario,
                rejection=opening.rejection,
            )
            outcome = await run.play()
            if not (stream.gone or self.lost):
                await self._send(stream, b"", end_stream=True)
        except (_StreamGone, h2.exceptions.StreamClosedError, ConnectionError):
            outcome = "closed_after_turn" if opening.input.log.turn_ended else "client_gone"
            opening.input.log.closed_after_turn = opening.input.log.turn_ended
        except asyncio.CancelledError:
            outcome = "client_gone"
            raise
        except Exception:
            log.exception("h2 simulator run %d failed", stream.stream_id)
            outcome = "error"
            self._abort(stream)
        finally:
            self.sim.unregister_closer(closer)
            self.streams.pop(stream.stream_id, None)
            self.sim.finish(record, outcome)

    # -- writing

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def _send(self, stream: _Stream, data: bytes, *, end_stream: bool = False) -> None:
        """Send `data` as DATA frames within the flow-control window; one flush per call."""
        view = memoryview(data)
        while True:
            if stream.gone or self.lost:
                raise _StreamGone
            if not view:
                if end_stream:
                    self.conn.send_data(stream.stream_id, b"", end_stream=True)
                    self.flush()
                return
            try:
                window = min(
                    self.conn.local_flow_control_window(stream.stream_id), self.conn.max_outbound_frame_size
                )
            except h2.exceptions.StreamClosedError as exc:
                raise _StreamGone from exc
            if window <= 0:
                stream.window.clear()
                self.flush()
                await stream.window.wait()
                continue
            size = min(window, len(view))
            last = size == len(view)
            self.conn.send_data(stream.stream_id, bytes(view[:size]), end_stream=end_stream and last)
            view = view[size:]
            if last:
                self.flush()
                await self.can_write.wait()
                return

    def _abort(self, stream: _Stream) -> None:
        if self.sim.config.h2_abort == "connection":
            if self.transport is not None:
                self.transport.abort()
            return
        with contextlib.suppress(h2.exceptions.H2Error):
            self.conn.reset_stream(stream.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        self.flush()
        self._mark_gone(stream)

    async def _serve(self, stream: _Stream) -> None:
        headers = stream.headers
        if headers.get(":path", "").split("?", 1)[0] == RUN_SSE_PATH:
            await self._serve_sse(stream)
            return
        record, plan = self.sim.handle(
            headers.get(":method", ""),
            headers.get(":path", "").split("?", 1)[0],
            {k: v for k, v in headers.items() if not k.startswith(":")},
            bytes(stream.body),
            http_version="2",
            overflow=stream.overflow,
        )
        closer = self.sim.register_closer(lambda: self._abort(stream))
        outcome = "completed"
        try:
            outcome = await self._run(stream, plan)
        except (_StreamGone, h2.exceptions.StreamClosedError, ConnectionError):
            outcome = "client_gone"
        except asyncio.CancelledError:
            outcome = "client_gone"
            raise
        except Exception:
            log.exception("h2 simulator stream %d failed", stream.stream_id)
            outcome = "error"
            self._abort(stream)
        finally:
            self.sim.unregister_closer(closer)
            self.streams.pop(stream.stream_id, None)
            if record is not None:
                self.sim.finish(record, outcome)

    async def _run(self, stream: _Stream, plan: list[Step]) -> str:
        sid = stream.stream_id
        started = False
        for step in plan:
            if isinstance(step, Respond):
                extra = [(name, value) for name, value in step.headers if name != "content-length"]
                head = [(":status", str(step.status)), *extra, ("content-length", str(len(step.body)))]
                self.conn.send_headers(sid, head, end_stream=not step.body)
                self.flush()
                if step.body:
                    await self._send(stream, step.body, end_stream=True)
                return "completed"
            if isinstance(step, StartStream):
                self.conn.send_headers(sid, [(":status", str(step.status)), *step.headers])
                self.flush()
                started = True
            elif isinstance(step, Write):
                await self._send(stream, step.payload())
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Abort):
                self._abort(stream)
                return "aborted"
            elif isinstance(step, Stall):
                while not (stream.gone or self.lost):
                    stream.window.clear()
                    await stream.window.wait()
                return "stalled"
        if started:
            await self._send(stream, b"", end_stream=True)
        return "completed"


class _H2RunOutput:
    """A run's frames as DATA on its stream (flow control honoured)."""

    def __init__(self, protocol: _H2Protocol, stream: _Stream) -> None:
        self._protocol = protocol
        self._stream = stream

    async def send(self, data: bytes) -> None:
        try:
            await self._protocol._send(self._stream, data)
        except (_StreamGone, h2.exceptions.StreamClosedError) as exc:
            raise ConnectionError("the client reset the run") from exc

    def abort(self) -> None:
        self._protocol._abort(self._stream)


@dataclass(slots=True)
class H2Front:
    """A running HTTP/2 front (from `start_h2c`)."""

    sim: CursorSimulator
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    server: asyncio.AbstractServer | None = None
    connections: set[_H2Protocol] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def close(self) -> None:
        """Stop listening and cut every open connection (SIM-33)."""
        if self.server is not None:
            self.server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()


async def start_h2c(
    sim: CursorSimulator, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
) -> H2Front:
    """Serve `sim` over HTTP/2: h2c with prior knowledge, or TLS when `ssl_context` is given
    (its ALPN is set to `h2`)."""
    front = H2Front(sim=sim, host=host, tls=ssl_context is not None)
    if ssl_context is not None:
        ssl_context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    front.server = await loop.create_server(lambda: _H2Protocol(front), host, port, ssl=ssl_context)
    front.port = front.server.sockets[0].getsockname()[1]
    return front


@dataclass(frozen=True, slots=True)
class TlsPair:
    """A throw-away CA and the matching server/client contexts for `127.0.0.1` / `localhost`."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    ca_pem: bytes


def make_tls_pair() -> TlsPair:
    """Needs `trustme` (imported here so the rest of the simulator works without it)."""
    import trustme  # an optional test dependency

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server)
    server.set_alpn_protocols(["h2"])
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    client.set_alpn_protocols(["h2", "http/1.1"])
    return TlsPair(server=server, client=client, ca_pem=ca.cert_pem.bytes())
