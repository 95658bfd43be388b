"""The agent service's side of one run (`Run` or `RunSSE` + `BidiAppend`), front-independent.

A front (the HTTP/2 front for `Run`, either front for `RunSSE`) opens a run with
`CursorSimulator.open_agent`, feeds the client's messages into its `RunInput` (in order: the
HTTP/1.1 carrier's appends are put in order by `SseRuns`), and plays it with `AgentRun.play`,
giving it a `RunOutput` to write server frames to. The run behaves like the service:

1. it waits for the run request and checks it (`agent_checks.check_run_request`);
2. it asks for the request context (`exec_server_message.request_context_args`), parks two blobs
   with the client (`kv_server_message.set_blob_args`) and reads one back (`get_blob_args`),
   waiting for each answer, so a client that does not answer stalls; the simulator gives up
   after `SimConfig.agent_answer_timeout_s` with a `deadline_exceeded` error naming what went
   unanswered (Cursor itself just waits);
3. with the scenario parameter `builtin` (a comma list of exec kinds such as `read_args,shell_args`,
   `all`, or `unknown` for a kind the client's schema does not know) it asks the client to run
   its own tools, and with `queries` (interaction query kinds, or `all`) it asks the client
   questions, checking that each is refused in its own result type;
4. it plays the scenario (echo, text, thinking, empty, error, http_error, stall, disconnect,
   broken, tool_call, agent, stamped) as interaction updates; client tools are called with
   `exec_server_message.mcp_args` when the run allows MCP tools, and the run then waits for their
   results (answered in the same run, it carries on; most clients cancel instead);
5. it ends the turn (`turn_ended`, a checkpoint) and keeps the stream open with heartbeats until
   the client closes it, for at most `SimConfig.agent_linger_s`, then ends it cleanly.

Everything the client sent is kept in the record's `AgentLog`: every message, heartbeats,
appends, answers, refusals, a cancel and whether the client closed the stream after the turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from google.protobuf import json_format
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError

from gateway.upstream.pb import agent_v1_pb2 as apb
from tests.fakes import agent
from tests.fakes.agent_checks import Transcript, check_run_request, read_transcript, schema_of
from tests.fakes.scenarios import DEFAULT_TEXT, Scenario, error_trailer, gzip_bomb, strip_directives
from tests.fakes.script import Params, chunk_text
from tests.fakes.validate import Rejection
from tests.fakes.wire import (
    CLEAN_END,
    FLAG_COMPRESSED,
    FLAG_END_STREAM,
    MAX_FRAME,
    connect_error,
    encode_frame,
    end_stream_frame,
    frame_header,
    pb_bytes,
)

if TYPE_CHECKING:
    from tests.fakes.sim import CursorSimulator, SimRecord

RUN_PATH: Final = "/agent.v1.AgentService/Run"
RUN_SSE_PATH: Final = "/agent.v1.AgentService/RunSSE"
BIDI_APPEND_PATH: Final = "/aiserver.v1.BidiService/BidiAppend"
AGENT_PATHS: Final = frozenset({RUN_PATH, RUN_SSE_PATH, BIDI_APPEND_PATH})
MAX_SEQNO_GAP: Final = 1024
MAX_PENDING_RUNS: Final = 256
REFUSAL_CASES: Final = frozenset({"rejected", "error", "failure", "permission_denied"})
STATUS_CODES: Final[dict[int, str]] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "unimplemented",
    429: "resource_exhausted",
    503: "unavailable",
    504: "deadline_exceeded",
}
_TIMEOUT: Final = object()


@dataclass(slots=True)
class AgentLog:
    """What the client sent in one run."""

    carrier: str  # "bidi" | "sse"
    request_id: str = ""
    run: apb.AgentRunRequest | None = None
    messages: list[apb.AgentClientMessage] = field(default_factory=list)
    heartbeats: int = 0
    appends: list[int] = field(default_factory=list)  # seqnos in arrival order
    context: apb.RequestContext | None = None
    answered: list[str] = field(default_factory=list)  # what the client answered, in order
    refused: list[str] = field(default_factory=list)  # Cursor's own tools the client refused
    calls: list[str] = field(default_factory=list)  # client tools called (declared names)
    cancelled: str | None = None
    turn_ended: bool = False
    closed_after_turn: bool = False
    protocol_error: str | None = None

    @property
    def user_text(self) -> str:
        return self.run.action.user_message_action.user_message.text if self.run is not None else ""

    def kinds(self) -> list[str]:
        """The kind of every client message, in order (`run_request`, `client_heartbeat`, …)."""
        return [str(message.WhichOneof("message")) for message in self.messages]

    def to_json(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "request_id": self.request_id,
            "run": MessageToDict(self.run) if self.run is not None else None,
            "messages": self.kinds(),
            "heartbeats": self.heartbeats,
            "appends": self.appends,
            "answered": self.answered,
            "refused": self.refused,
            "calls": self.calls,
            "cancelled": self.cancelled,
            "turn_ended": self.turn_ended,
            "closed_after_turn": self.closed_after_turn,
            "protocol_error": self.protocol_error,
        }


class RunInput:
    """The client's messages of one run, in order; fed synchronously by a front."""

    def __init__(self, log: AgentLog) -> None:
        self.log = log
        self._queue: asyncio.Queue[apb.AgentClientMessage | None] = asyncio.Queue()
        self.ended = False

    def deliver(self, payload: bytes) -> None:
        """One serialized `AgentClientMessage`; a malformed one ends the input with an error."""
        if self.ended:
            return
        try:
            message = apb.AgentClientMessage.FromString(payload)
        except DecodeError:
            self.log.protocol_error = "a client message is not an AgentClientMessage"
            self.end()
            return
        self.log.messages.append(message)
        kind = message.WhichOneof("message")
        if kind == "client_heartbeat":
            self.log.heartbeats += 1
        elif (
            kind == "conversation_action"
            and message.conversation_action.WhichOneof("action") == "cancel_action"
        ):
            self.log.cancelled = message.conversation_action.cancel_action.reason or "cancelled"
        self._queue.put_nowait(message)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(None)

    async def get(self, timeout: float | None) -> apb.AgentClientMessage | object | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return _TIMEOUT


class SseRun:
    __slots__ = ("input", "next_seqno", "pending")

    def __init__(self) -> None:
        self.input: RunInput | None = None
        self.next_seqno = 0
        self.pending: dict[int, bytes] = {}


class SseRuns:
    """The HTTP/1.1 carrier's runs by request id: appends may arrive before `RunSSE`, out of order
    and concurrently; they are delivered in `append_seqno` order from 0."""

    def __init__(self) -> None:
        self._runs: dict[str, SseRun] = {}

    def _run(self, request_id: str) -> SseRun:
        run = self._runs.get(request_id)
        if run is None:
            while len(self._runs) >= MAX_PENDING_RUNS:
                self._runs.pop(next(iter(self._runs)))
            run = self._runs[request_id] = SseRun()
        return run

    def attach(self, request_id: str, run_input: RunInput) -> None:
        run = self._run(request_id)
        run.input = run_input
        self._drain(run)

    def detach(self, request_id: str) -> None:
        self._runs.pop(request_id, None)

    def append(self, request_id: str, seqno: int, payload: bytes) -> str | None:
        """Queue one message; the reason it cannot be taken, or None."""
        run = self._run(request_id)
        if seqno < run.next_seqno or seqno in run.pending:
            return f"append_seqno {seqno} was already appended"
        if seqno - run.next_seqno > MAX_SEQNO_GAP:
            return f"append_seqno {seqno} is too far ahead of {run.next_seqno}"
        if run.input is not None:
            run.input.log.appends.append(seqno)
        run.pending[seqno] = payload
        self._drain(run)
        return None

    @staticmethod
    def _drain(run: SseRun) -> None:
        while run.input is not None and run.next_seqno in run.pending:
            run.input.deliver(run.pending.pop(run.next_seqno))
            run.next_seqno += 1


class RunOutput(Protocol):
    async def send(self, data: bytes) -> None: ...

    def abort(self) -> None: ...


class _Stop(Exception):
    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Definition:
    """A declared client tool, as the model of this run sees it."""

    definition: apb.McpToolDefinition

    @property
    def name(self) -> str:
        return self.definition.tool_name or self.definition.name


class AgentRun:
    def __init__(
        self,
        sim: CursorSimulator,
        record: SimRecord,
        run_input: RunInput,
        out: RunOutput,
        *,
        scenario: Scenario | None,
        rejection: Rejection | None = None,
    ) -> None:
        self.sim = sim
        self.config = sim.config
        self.record = record
        self.log = run_input.log
        self.input = run_input
        self.out = out
        self.scenario = scenario
        self.rejection = rejection
        self.rng = random.Random(sim.config.seed * 7919 + record.index)
        self._ids = 0
        self._text = Transcript()
        self._blobs: dict[bytes, bytes] = {}

    # ---------------------------------------------------------------- plumbing

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def emit(self, message: apb.AgentServerMessage, *, extra: bytes = b"") -> None:
        compress = self.rng.random() < self.p.number("gzip", self.config.gzip_ratio)
        await self.write(encode_frame(message.SerializeToString() + extra, compress=compress))

    async def write(self, data: bytes) -> None:
        try:
            await self.out.send(data)
        except (ConnectionError, RuntimeError) as exc:
            raise _Stop("client_gone") from exc

    async def update(self, **fields: Any) -> None:
        await self.emit(apb.AgentServerMessage(interaction_update=apb.InteractionUpdate(**fields)))

    async def fail(self, reason: str, code: str, message: str) -> None:
        self.record.rejection = reason
        await self.write(end_stream_frame(error=connect_error(code, message)))
        raise _Stop("rejected")

    async def _client(self, timeout: float | None) -> apb.AgentClientMessage | None:
        """The next client message that is not a heartbeat or a stream close (None on a timeout)."""
        while True:
            got = await self.input.get(timeout)
            if got is _TIMEOUT:
                return None
            if got is None:
                if self.log.cancelled is not None:
                    raise _Stop("cancelled")
                if self.log.turn_ended:
                    raise _Stop("closed")
                if self.log.protocol_error:
                    await self.fail("bad_client_message", "invalid_argument", self.log.protocol_error)
                # The client closed its side while the run still needs answers (agent-v1 §2).
                await self.fail("half_closed", "internal", "No exec result")
            assert isinstance(got, apb.AgentClientMessage)
            kind = got.WhichOneof("message")
            if kind == "client_heartbeat":
                continue
            if (
                kind == "exec_client_control_message"
                and got.exec_client_control_message.WhichOneof("message") == "stream_close"
            ):
                continue
            if (
                kind == "conversation_action"
                and got.conversation_action.WhichOneof("action") == "cancel_action"
            ):
                raise _Stop("cancelled")
            return got

    async def answer(self, what: str) -> apb.AgentClientMessage:
        """The client's next message, which must answer `what` within the answer timeout."""
        message = await self._client(self.config.agent_answer_timeout_s)
        if message is None:
            self.log.protocol_error = f"no answer to {what}"
            await self.fail(f"unanswered:{what}", "deadline_exceeded", f"the client did not answer {what}")
        assert message is not None
        return message

    async def pause(self, seconds: float) -> None:
        """Sleep, with a heartbeat every `heartbeat_every` seconds meanwhile."""
        every = self.p.number("heartbeat_every", self.config.heartbeat_every_s)
        while seconds > 0:
            step = min(seconds, every) if every > 0 else seconds
            await asyncio.sleep(step)
            seconds -= step
            if every > 0 and seconds > 0:
                await self.update(heartbeat=apb.HeartbeatUpdate())

    @property
    def p(self) -> Params:
        return Params(self.scenario.params if self.scenario is not None else {})

    # ---------------------------------------------------------------- the run

    async def play(self) -> str:
        try:
            if self.rejection is not None:
                await self._reject(self.rejection)
            await self._start()
            await self._handshake()
            await self._builtins()
            await self._queries()
            await self._body()
            return "completed"
        except _Stop as stop:
            if stop.outcome == "client_gone" and self.log.cancelled is not None:
                return "cancelled"  # the cancel arrived just before the stream's reset
            if stop.outcome in ("client_gone", "closed") and self.log.turn_ended:
                self.log.closed_after_turn = True
                return "closed_after_turn"
            return stop.outcome

    async def _reject(self, rejection: Rejection) -> None:
        from tests.fakes.endpoints import rejection_error_json

        self.record.rejection = rejection.reason
        await self.write(end_stream_frame(error=rejection_error_json(rejection)))
        raise _Stop("rejected")

    async def _start(self) -> None:
        first = await self.answer("the run request")
        if first.WhichOneof("message") != "run_request":
            await self.fail("no_run_request", "invalid_argument", "a run starts with its run request")
        run = first.run_request
        self.log.run = run
        rejection = check_run_request(run.SerializeToString(), run, self.config)
        if rejection is not None:
            await self._reject(rejection)
        self._text = read_transcript(self.log.user_text)
        if self.scenario is None:
            self.scenario, self.record.scenario_source = self.sim.choose_agent(
                self.record, self._text, self.model
            )
        self.record.scenario = self.scenario

    @property
    def model(self) -> str:
        run = self.log.run
        return (run.requested_model.model_id or run.model_details.model_id) if run is not None else ""

    async def _handshake(self) -> None:
        exec_id = self._next_id()
        await self.emit(
            apb.AgentServerMessage(
                exec_server_message=apb.ExecServerMessage(
                    id=exec_id, exec_id=f"ctx-{exec_id}", request_context_args=apb.RequestContextArgs()
                )
            )
        )
        reply = await self.answer("the request context")
        answer = reply.exec_client_message
        if (
            reply.WhichOneof("message") != "exec_client_message"
            or answer.id != exec_id
            or answer.request_context_result.WhichOneof("result") != "success"
        ):
            await self.fail(
                "bad_request_context", "invalid_argument", "the request context answer is malformed"
            )
        self.log.context = answer.request_context_result.success.request_context
        self.log.answered.append("request_context")
        for definition in self.log.context.tools:
            if definition.input_schema.WhichOneof("kind") != "struct_value":
                # Cursor stalls on a schema that is not a Value holding a struct (agent-v1 §4.8).
                await self.fail(
                    "bad_tool_schema", "invalid_argument", f"tool {definition.name} has no schema Value"
                )
        system = json.dumps({"role": "system", "content": "You are a coding agent."}).encode()
        user = json.dumps({"role": "user", "content": self.log.user_text[:200]}).encode()
        for data in (system, user):
            blob_id = hashlib.sha256(data).digest()
            self._blobs[blob_id] = data
            kv_id = self._next_id()
            await self.emit(
                apb.AgentServerMessage(
                    kv_server_message=apb.KvServerMessage(
                        id=kv_id, set_blob_args=apb.SetBlobArgs(blob_id=blob_id, blob_data=data)
                    )
                )
            )
            reply = await self.answer("a parked blob")
            kv = reply.kv_client_message
            if (
                reply.WhichOneof("message") != "kv_client_message"
                or kv.id != kv_id
                or kv.WhichOneof("message") != "set_blob_result"
                or kv.set_blob_result.HasField("error")
            ):
                await self.fail("bad_set_blob", "invalid_argument", "the blob was not acknowledged")
            self.log.answered.append("set_blob")
        blob_id = hashlib.sha256(system).digest()
        kv_id = self._next_id()
        await self.emit(
            apb.AgentServerMessage(
                kv_server_message=apb.KvServerMessage(
                    id=kv_id, get_blob_args=apb.GetBlobArgs(blob_id=blob_id)
                )
            )
        )
        reply = await self.answer("a blob read")
        kv = reply.kv_client_message
        if (
            reply.WhichOneof("message") != "kv_client_message"
            or kv.id != kv_id
            or kv.get_blob_result.blob_data != system
        ):
            await self.fail("bad_get_blob", "data_loss", "the client lost a parked blob")
        self.log.answered.append("get_blob")

    def _kinds(self, param: str, oneof: Any, special: tuple[str, ...] = ()) -> list[str]:
        raw = self.p.text(param, "")
        if not raw:
            return []
        everything = [f.name for f in oneof.fields]
        if raw == "all":
            return [*(k for k in everything if k not in ("request_context_args", "mcp_args")), *special]
        kinds = [k.strip() for k in raw.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in everything and k not in special]
        if unknown:
            raise ValueError(f"{param}: unknown kinds {unknown}")
        return kinds

    async def _builtins(self) -> None:
        oneof = apb.ExecServerMessage.DESCRIPTOR.oneofs_by_name["message"]
        for kind in self._kinds("builtin", oneof, ("unknown",)):
            exec_id = self._next_id()
            request = apb.ExecServerMessage(id=exec_id, exec_id=f"ex-{exec_id}")
            extra = b""
            if kind == "unknown":
                extra = pb_bytes(45, pb_bytes(1, "README.md"))  # pi_read_args, a kind the client may not know
            else:
                args = getattr(request, kind)
                args.SetInParent()
                for name, value in (
                    ("path", "/etc/passwd"),
                    ("command", "cat /etc/passwd"),
                    ("url", "https://example.com"),
                ):
                    if name in args.DESCRIPTOR.fields_by_name:
                        setattr(args, name, value)
            await self.emit(
                apb.AgentServerMessage(
                    exec_server_message=apb.ExecServerMessage.FromString(request.SerializeToString() + extra)
                )
            )
            reply = await self.answer(f"exec {kind}")
            self._check_refusal(kind, exec_id, reply)

    def _refusal_problem(self, kind: str, exec_id: int, reply: apb.AgentClientMessage) -> str | None:
        if kind == "unknown":
            control = reply.exec_client_control_message
            if control.WhichOneof("message") == "throw" and control.throw.id == exec_id:
                return None
            return "an unknown exec kind was not answered with throw"
        answer = reply.exec_client_message
        if reply.WhichOneof("message") != "exec_client_message" or answer.id != exec_id:
            return f"exec {kind} was not answered"
        number = apb.ExecServerMessage.DESCRIPTOR.fields_by_name[kind].number
        case = answer.WhichOneof("message")
        if case is None or answer.DESCRIPTOR.fields_by_name[case].number != number:
            return f"exec {kind} was answered in {case}"
        result = getattr(answer, case)
        if "allowlisted" in result.DESCRIPTOR.fields_by_name:
            return (
                None if kind == "mcp_allowlist_precheck_args" or not result.allowlisted else f"{kind} allowed"
            )
        if kind == "mcp_state_exec_args":
            return None
        variant = result.WhichOneof(result.DESCRIPTOR.oneofs[0].name) if result.DESCRIPTOR.oneofs else None
        return None if variant in REFUSAL_CASES else f"exec {kind} was not refused ({variant})"

    def _check_refusal(self, kind: str, exec_id: int, reply: apb.AgentClientMessage) -> None:
        problem = self._refusal_problem(kind, exec_id, reply)
        if problem is not None:
            self.log.protocol_error = problem
            raise _Stop("bad_refusal")
        self.log.refused.append(kind)

    async def _queries(self) -> None:
        oneof = apb.InteractionQuery.DESCRIPTOR.oneofs_by_name["query"]
        for kind in self._kinds("queries", oneof):
            query_id = self._next_id()
            query = apb.InteractionQuery(id=query_id)
            getattr(query, kind).SetInParent()
            await self.emit(apb.AgentServerMessage(interaction_query=query))
            reply = await self.answer(f"query {kind}")
            response = reply.interaction_response
            case = response.WhichOneof("result")
            number = query.DESCRIPTOR.fields_by_name[kind].number
            if (
                reply.WhichOneof("message") != "interaction_response"
                or response.id != query_id
                or case is None
                or response.DESCRIPTOR.fields_by_name[case].number != number
            ):
                self.log.protocol_error = f"query {kind} was not answered in its case"
                raise _Stop("bad_refusal")
            self.log.refused.append(kind)

    # ---------------------------------------------------------------- the scenario

    async def _body(self) -> None:
        assert self.scenario is not None
        name = self.scenario.name
        handler: Callable[[], Awaitable[None]] | None = getattr(self, f"_play_{name}", None)
        if handler is None:
            await self.fail("unsupported_scenario", "unimplemented", f"scenario {name} has no agent form")
        assert handler is not None
        if self.p.flag("unknown_fields", True):
            # Fields and cases the client's schema may not know: a routed-model update, a TTFT breakdown.
            await self.emit(
                apb.AgentServerMessage(
                    interaction_update=apb.InteractionUpdate(step_started=apb.StepStartedUpdate(step_id=1))
                ),
                extra=pb_bytes(8, pb_bytes(1, b"\x00" * 8)),
            )
            await self.write(encode_frame(pb_bytes(1, pb_bytes(24, pb_bytes(1, "Sim Model")))))
        first_delay = self.p.number("first_delay", 0.0)
        if first_delay:
            await self.pause(first_delay)
        await handler()

    async def texts(self, text: str, chunk: int) -> None:
        pace = self.p.number("pace", self.config.pace_s)
        for index, piece in enumerate(chunk_text(text, chunk)):
            if index and pace:
                await self.pause(pace)
            await self.update(text_delta=apb.TextDeltaUpdate(text=piece))
            if index % 3 == 2:
                await self.update(token_delta=apb.TokenDeltaUpdate(tokens=len(piece)))

    async def end_turn(self, output: int = 0) -> None:
        await self.update(step_completed=apb.StepCompletedUpdate(step_id=1, step_duration_ms=5))
        await self.update(
            turn_ended=apb.TurnEndedUpdate(input_tokens=len(self.log.user_text) // 4, output_tokens=output)
        )
        self.log.turn_ended = True
        await self.emit(
            apb.AgentServerMessage(
                conversation_checkpoint_update=apb.ConversationStateStructure(turns=[b"\x01" * 32])
            )
        )
        await self.linger()

    async def linger(self) -> None:
        """Keep the stream open with heartbeats until the client closes it (or the linger ends)."""
        deadline = time.monotonic() + self.config.agent_linger_s
        every = max(self.config.heartbeat_every_s, 0.2) if self.config.heartbeat_every_s else 1.0
        while time.monotonic() < deadline:
            message = await self._client(min(every, max(deadline - time.monotonic(), 0.01)))
            if message is None:
                await self.update(heartbeat=apb.HeartbeatUpdate())
        await self.write(CLEAN_END)

    @property
    def said(self) -> str:
        return strip_directives(
            self._text.current or (self._text.user_texts[-2] if len(self._text.user_texts) > 1 else "")
        )

    def echo(self) -> str:
        prefix = self.p.text("prefix", "You said: ")
        return prefix + self.said if self.said else prefix.rstrip(": ") + " nothing."

    async def _play_echo(self) -> None:
        reply = self.echo()
        await self.texts(reply[: self.p.integer("max_chars", 4000)], self.p.integer("chunk", 4))
        await self.end_turn(len(reply) // 4)

    async def _play_text(self) -> None:
        await self.texts(self.p.text("text", DEFAULT_TEXT.lstrip("\n")), self.p.integer("chunk", 4))
        await self.end_turn()

    async def _play_thinking(self) -> None:
        thought = self.p.text(
            "thinking", f"The user wrote {len(self.said)} characters. I will echo them back."
        )
        for piece in chunk_text(thought, self.p.integer("chunk", 4)):
            await self.update(thinking_delta=apb.ThinkingDeltaUpdate(text=piece))
        await self.update(thinking_completed=apb.ThinkingCompletedUpdate(thinking_duration_ms=42))
        if not self.p.flag("no_text", False):
            await self.texts(self.p.text("text", self.echo()), self.p.integer("chunk", 4))
        await self.end_turn()

    async def _play_empty(self) -> None:
        for _ in range(self.p.integer("heartbeats", 3)):
            await self.update(heartbeat=apb.HeartbeatUpdate())
        await self.end_turn()

    async def _play_error(self) -> None:
        text = self.echo()
        for piece in list(chunk_text(text, self.p.integer("chunk", 4)))[: self.p.integer("after_frames", 0)]:
            await self.update(text_delta=apb.TextDeltaUpdate(text=piece))
        self.record.rejection = f"scenario_error_{self.p.integer('error', 50)}"
        await self.write(end_stream_frame(error=error_trailer(self.p)))

    async def _play_http_error(self) -> None:
        # Chosen after the headers went out (a directive): the status becomes its Connect code.
        status = self.p.integer("status", 500)
        await self.write(
            end_stream_frame(error=connect_error(STATUS_CODES.get(status, "unknown"), f"HTTP {status}"))
        )

    async def _play_stall(self) -> None:
        at = self.p.text("at", "after_headers")
        if at == "heartbeats":
            for _ in range(self.p.integer("heartbeats", 3)):
                await self.update(heartbeat=apb.HeartbeatUpdate())
        elif at == "after_content":
            await self.texts(self.echo()[: self.p.integer("frames", 2) * 4], 4)
        while await self._client(None) is not None:
            pass

    async def _play_disconnect(self) -> None:
        await self.texts(self.echo()[: self.p.integer("frames", 2) * 4], 4)
        if self.p.text("at", "between_frames") == "mid_frame":
            frame = encode_frame(
                apb.AgentServerMessage(
                    interaction_update=apb.InteractionUpdate(text_delta=apb.TextDeltaUpdate(text="cut off"))
                ).SerializeToString()
            )
            await self.write(frame[: len(frame) // 2])
        self.out.abort()
        raise _Stop("aborted")

    async def _play_broken(self) -> None:
        kind = self.p.text("kind", "flag")
        await self.texts(self.echo()[:4], 4)
        payload = apb.AgentServerMessage(
            interaction_update=apb.InteractionUpdate(text_delta=apb.TextDeltaUpdate(text="must not appear"))
        ).SerializeToString()
        if kind == "flag":
            await self.write(frame_header(0x04, len(payload)) + payload)
        elif kind == "too_large":
            await self.write(frame_header(0, MAX_FRAME + 1) + payload)
        elif kind == "gzip_bomb":
            bomb = gzip_bomb()
            await self.write(frame_header(FLAG_COMPRESSED, len(bomb)) + bomb)
        elif kind == "bad_protobuf":
            await self.write(encode_frame(b"\x0a\x7f\x0a\x05abc"))
        elif kind == "bad_end_json":
            await self.write(frame_header(FLAG_END_STREAM, 9) + b"{not json")
            return
        elif kind == "clean_end":  # the stream ends without an error, but before the turn did
            pass
        else:
            raise ValueError(f"broken: unknown kind={kind!r}")
        await self.write(CLEAN_END)

    async def _play_stamped(self) -> None:
        frames, pace = self.p.integer("frames", 50), self.p.number("pace", 0.02)
        for index in range(frames):
            if index:
                await asyncio.sleep(pace)
            text = pb_bytes(1, f"{time.monotonic_ns()};")  # TextDeltaUpdate.text, at the moment of writing
            stamp = pb_bytes(1, pb_bytes(1, text))  # AgentServerMessage.interaction_update.text_delta
            await self.write(encode_frame(stamp))
        await self.end_turn()

    # ---------------------------------------------------------------- client tools

    def tools(self) -> list[Definition]:
        """The client tools this run may call: declared in the context, with MCP calls allowed."""
        allowed = self.record.headers.get("x-cursor-agent-allowed-tools")
        if allowed is not None and "mcp_tool_call" not in {name.strip() for name in allowed.split(",")}:
            return []
        declared = {d.name for d in self.log.run.mcp_tools.mcp_tools} if self.log.run is not None else set()
        context = self.log.context.tools if self.log.context is not None else []
        return [Definition(d) for d in context if not declared or d.name in declared]

    async def call(self, tool: Definition, arguments: dict[str, Any]) -> int:
        exec_id = self._next_id()
        call_id = "toolu_01" + "".join(
            self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(22)
        )
        args = apb.McpArgs(
            name=tool.definition.name,
            tool_call_id=call_id,
            provider_identifier=tool.definition.provider_identifier,
            tool_name=tool.definition.tool_name,
        )
        for key, value in arguments.items():
            json_format.ParseDict(value, args.args[key])
        started = apb.ToolCallUpdate(
            call_id=call_id,
            tool_call=apb.ToolCall(mcp_tool_call=apb.McpToolCall(args=args), tool_call_id=call_id),
        )
        await self.update(tool_call_started=started)
        await self.emit(
            apb.AgentServerMessage(
                exec_server_message=apb.ExecServerMessage(id=exec_id, exec_id=f"mcp-{exec_id}", mcp_args=args)
            )
        )
        self.log.calls.append(tool.name)
        return exec_id

    async def results(self, exec_ids: list[int]) -> dict[int, tuple[str, bool]]:
        """Wait (with heartbeats) for the client's results; a client that cancels or goes away ends it."""
        got: dict[int, tuple[str, bool]] = {}
        deadline = time.monotonic() + self.config.agent_linger_s
        while len(got) < len(exec_ids):
            if time.monotonic() > deadline:
                await self.write(CLEAN_END)
                raise _Stop("tool_wait_expired")
            message = await self._client(1.0)
            if message is None:
                await self.update(heartbeat=apb.HeartbeatUpdate())
                continue
            answer = message.exec_client_message
            if message.WhichOneof("message") != "exec_client_message" or answer.id not in exec_ids:
                await self.fail("unexpected_message", "invalid_argument", "expected a tool result")
            result = answer.mcp_result
            if result.WhichOneof("result") == "success":
                text = "\n".join(item.text.text for item in result.success.content)
                got[answer.id] = (text, result.success.is_error)
            else:
                got[answer.id] = (result.error.error, True)
        return got

    async def _play_tool_call(self) -> None:
        tools = self.tools()
        if not tools:
            await self.texts("I have no tools to call.", 8)
            await self.end_turn()
            return
        wanted = self.p.text("name", tools[0].name)
        tool = next((t for t in tools if t.name == wanted), tools[0])
        arguments = json.loads(self.p.text("args", '{"city": "Paris", "unit": "celsius"}'))
        if self.p.text("text_before", ""):
            await self.texts(self.p.text("text_before", ""), 6)
        ids = [await self.call(tool, arguments) for _ in range(self.p.integer("calls", 1))]
        answers = await self.results(ids)
        await self.texts("The tool said: " + "; ".join(text for text, _ in answers.values()), 8)
        await self.end_turn()

    async def _play_agent(self) -> None:
        tools = self.tools()
        view = agent_view(self._text, tools)
        chunk = self.p.integer("chunk", 24)
        if self.model.endswith("-thinking"):
            await self.update(
                thinking_delta=apb.ThinkingDeltaUpdate(
                    text=f"Planning the next step for a {view.mode} tool request."
                )
            )
        for _ in range(self.p.integer("max_steps", 8)):
            step = agent.next_step(view, self.p, self.echo())
            if isinstance(step, agent.Answer):
                await self.texts(step.text, chunk)
                await self.end_turn()
                return
            if view.mode != "native":
                await self.texts(agent.call_block(view.nonce, step), chunk)
                await self.end_turn()
                return
            if step.prose:
                await self.texts(step.prose, chunk)
            tool = next(t for t in tools if t.name == step.name)
            exec_id = await self.call(tool, step.arguments)
            ((text, is_error),) = (await self.results([exec_id])).values()
            view.done.append(agent.Done(step.name, text, is_error))  # answered in the run: carry on
        await self.texts("I stopped after too many tool calls.", chunk)
        await self.end_turn()


def agent_view(transcript: Transcript, tools: list[Definition]) -> agent.View:
    """What the scripted agent plans from, read from a replayed conversation and the run's tools."""
    if tools:
        view = agent.View("native", [agent.Tool(t.name, schema_of(t.definition)) for t in tools])
    else:
        found = agent.emulated_catalog(transcript.system)
        view = agent.View("emulated", found[1], found[0]) if found is not None else agent.View("none")
    users = [(position, text) for position, (role, text) in enumerate(transcript.turns) if role == "user"]
    users.append((len(transcript.turns), transcript.current))
    task_at = -1
    for position, text in users:
        task = agent.find_task(agent._strip_blocks(text, view.nonce))
        if task is not None:
            view.task, task_at = task, position
    by_base = {t.name.rstrip("_"): t.name for t in view.tools}
    if view.mode == "native":
        for position, name, text, is_error in transcript.results:
            if position > task_at:
                view.done.append(agent.Done(by_base.get(name.rstrip("_"), name), text, is_error))
    elif view.nonce:
        for position, text in users:
            if position > task_at:
                view.done.extend(agent.emulated_results(text, view.nonce))
    view.latest_human = transcript.current or (users[-2][1] if len(users) > 1 else "")
    view.workdir = agent.find_workdir([transcript.system, *(text for _, text in users)])
    return view


def new_request_id() -> str:
    return str(uuid.uuid4())
