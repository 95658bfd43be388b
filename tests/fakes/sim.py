"""`CursorSimulator`: the front-independent core. It routes a request, validates it, chooses a
scenario (SIM-02), records it (SIM-03) and returns the plan (a list of steps) a front executes.

State held here: config, the scenario queue, the per-token behaviour table, the unary fault
queues, the records and the refresh counters. Nothing per stream lives here (SIM-33): each
request gets its own plan and its own RNG. Live connections register a close callback so that
`abort_all()` can cut them at shutdown.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError

from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import apikeys, endpoints
from tests.fakes.agent_checks import Transcript, check_agent_headers
from tests.fakes.agent_run import BIDI_APPEND_PATH, AgentLog, RunInput, SseRuns
from tests.fakes.config import SimConfig
from tests.fakes.identity import ChecksumInfo, user_id_of
from tests.fakes.scenarios import (
    Scenario,
    build,
    error_trailer,
    find_directive,
    http_error_response,
    sticky_directive_in,
)
from tests.fakes.script import Context, Defaults, Params
from tests.fakes.steps import Respond, StartStream, Step, Write, json_response, text_response
from tests.fakes.validate import Rejection, check_headers, check_request
from tests.fakes.wire import (
    FLAG_COMPRESSED,
    WireError,
    connect_error,
    decode_request_envelope,
    end_stream_frame,
)

CHAT_PATH: Final = "/aiserver.v1.ChatService/StreamUnifiedChatWithTools"
MODELS_PATH: Final = "/aiserver.v1.AiService/AvailableModels"
DRY_RUN_PATH: Final = "/aiserver.v1.ChatService/GetPromptDryRun"
SERVER_CONFIG_PATH: Final = "/aiserver.v1.ServerConfigService/GetServerConfig"
STRIPE_PATH: Final = "/auth/full_stripe_profile"
OAUTH_PATH: Final = "/oauth/token"
USAGE_PATH: Final = "/api/usage-summary"
EXCHANGE_PATH: Final = apikeys.EXCHANGE_PATH

ROUTES: Final[dict[str, str]] = {
    CHAT_PATH: "POST",
    MODELS_PATH: "POST",
    DRY_RUN_PATH: "POST",
    SERVER_CONFIG_PATH: "POST",
    STRIPE_PATH: "GET",
    OAUTH_PATH: "POST",
    USAGE_PATH: "GET",
    EXCHANGE_PATH: "POST",
    BIDI_APPEND_PATH: "POST",
}


@dataclass(slots=True)
class SimRecord:
    """One request as the simulator saw it (SIM-03)."""

    index: int
    method: str
    path: str
    http_version: str  # "1.1" or "2"
    headers: dict[str, str]
    started: float
    body_size: int = 0
    frame_flags: int | None = None
    frame_length: int | None = None
    extra_bytes: int = 0
    request: pb.StreamUnifiedChatRequestWithTools | None = None
    checksum: ChecksumInfo | None = None
    token: str | None = None
    claims: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    rejection: str | None = None
    scenario: Scenario | None = None
    scenario_source: str | None = None  # queue | token | directive | thinking | default
    outcome: str | None = None  # completed | aborted | client_gone | shutdown
    finished: float | None = None
    agent: AgentLog | None = None  # an agent run: what the client sent

    @property
    def sub(self) -> str | None:
        sub = (self.claims or {}).get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def chat(self) -> pb.StreamUnifiedChatRequest | None:
        if self.request is None or not self.request.HasField("stream_unified_chat_request"):
            return None
        return self.request.stream_unified_chat_request

    def to_json(self) -> dict[str, Any]:
        checksum = self.checksum
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "http_version": self.http_version,
            "headers": {k: v for k, v in self.headers.items() if k != "authorization"},
            "started": self.started,
            "finished": self.finished,
            "body_size": self.body_size,
            "frame_flags": self.frame_flags,
            "frame_length": self.frame_length,
            "request": MessageToDict(self.request) if self.request is not None else None,
            "checksum": None
            if checksum is None
            else {
                "k": checksum.k,
                "machine_id": checksum.machine_id,
                "mac_machine_id": checksum.mac_machine_id,
            },
            "sub": self.sub,
            "warnings": self.warnings,
            "rejection": self.rejection,
            "scenario": self.scenario.to_json() if self.scenario else None,
            "scenario_source": self.scenario_source,
            "outcome": self.outcome,
            "agent": None if self.agent is None else self.agent.to_json(),
        }


@dataclass(slots=True)
class AgentOpening:
    """What a front does with a new run: answer `respond` (an HTTP error), or start the stream and
    play it (ending at once with `rejection` when the headers were refused)."""

    record: SimRecord
    input: RunInput
    respond: Respond | None = None
    rejection: Rejection | None = None
    scenario: Scenario | None = None


class CursorSimulator:
    """The simulated upstream. Create one per test; serve it with `create_app` / `start_h2c`."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.records: list[SimRecord] = []
        self.refresh_counts: dict[str, int] = {}
        self._queue: deque[Scenario] = deque()
        self._token_table: dict[str, list[Scenario]] = {}
        self._unary: dict[str, deque[Scenario]] = {}
        self._counter = itertools.count()
        self._closers: dict[int, Callable[[], None]] = {}
        self._closer_ids = itertools.count()
        self.sse_runs = SseRuns()

    # ---------------------------------------------------------------- test controls

    def push(self, *scenarios: Scenario) -> None:
        """Queue scenarios for the next chat requests, first in first out (precedence 1)."""
        self._queue.extend(scenarios)

    def set_token_behaviour(self, key: str, *scenarios: Scenario) -> None:
        """Scenarios for requests whose JWT `sub`, user id or whole token equals `key`
        (precedence 2). Several are used in order; the last one repeats. None clears."""
        if scenarios:
            self._token_table[key] = list(scenarios)
        else:
            self._token_table.pop(key, None)

    def push_unary(self, path: str, scenario: Scenario) -> None:
        """Queue a fault for the next call of a unary/JSON endpoint (`error`, `http_error`,
        `stall` at=before_headers, or `disconnect` at=before_headers)."""
        self._unary.setdefault(path, deque()).append(scenario)

    def reset(self) -> None:
        self.records.clear()
        self.refresh_counts.clear()
        self._queue.clear()
        self._token_table.clear()
        self._unary.clear()

    @property
    def chat_records(self) -> list[SimRecord]:
        return [record for record in self.records if record.path == CHAT_PATH]

    @property
    def agent_records(self) -> list[SimRecord]:
        """The agent runs (`Run` and `RunSSE`), not their appends."""
        return [record for record in self.records if record.agent is not None]

    # ---------------------------------------------------------------- live connections

    def register_closer(self, close: Callable[[], None]) -> int:
        key = next(self._closer_ids)
        self._closers[key] = close
        return key

    def unregister_closer(self, key: int) -> None:
        self._closers.pop(key, None)

    def abort_all(self) -> None:
        """Abort every open connection or stream (SIM-33 shutdown)."""
        closers = list(self._closers.values())
        self._closers.clear()
        for close in closers:
            close()

    def finish(self, record: SimRecord, outcome: str) -> None:
        if record.outcome is None:
            record.outcome = outcome
            record.finished = self.config.clock()

    # ---------------------------------------------------------------- dispatch

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        http_version: str,
        overflow: bool = False,
    ) -> tuple[SimRecord | None, list[Step]]:
        """Route one request. `headers` have lowercase names; `overflow` means the body was cut at
        `config.max_body`. Returns the record (None for control or unknown paths) and the plan."""
        if path.startswith(endpoints.FEED_PREFIX) and method == "GET":
            record = self._record(method, path, headers, body, http_version)
            return record, endpoints.update_feed(self.config, path)
        expected = ROUTES.get(path)
        if expected is None or method != expected:
            err = connect_error("unimplemented", f"{method} {path} is not implemented")
            return None, [json_response(404, json.dumps(err).encode())]
        record = self._record(method, path, headers, body, http_version)
        if path == CHAT_PATH:
            return record, self._chat(record, headers, body, overflow)
        if path == BIDI_APPEND_PATH:
            return record, [self._bidi_append(record, headers, body)]
        return record, self._unary_call(record, path, headers, body)

    def _record(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, http_version: str
    ) -> SimRecord:
        record = SimRecord(
            index=next(self._counter),
            method=method,
            path=path,
            http_version=http_version,
            headers=dict(headers),
            started=self.config.clock(),
            body_size=len(body),
        )
        self.records.append(record)
        return record

    @property
    def feed_records(self) -> list[SimRecord]:
        return [record for record in self.records if record.path.startswith(endpoints.FEED_PREFIX)]

    # ---------------------------------------------------------------- the agent service

    def open_agent(
        self, path: str, headers: Mapping[str, str], *, http_version: str, carrier: str
    ) -> AgentOpening:
        """A new run on `Run` or `RunSSE`: checked headers, and what a front answers before playing it."""
        record = SimRecord(
            index=next(self._counter),
            method="POST",
            path=path,
            http_version=http_version,
            headers=dict(headers),
            started=self.config.clock(),
            agent=AgentLog(carrier),
        )
        self.records.append(record)
        opening = AgentOpening(record, RunInput(record.agent))  # type: ignore[arg-type]
        report = check_agent_headers(headers, self.config, unary=False)
        record.warnings = report.warnings
        record.token, record.claims = report.token, report.claims
        if report.rejection is not None:
            record.rejection = report.rejection.reason
            if report.rejection.status is not None:
                opening.respond = endpoints.rejection_response(report.rejection)
            else:
                opening.rejection = report.rejection
            return opening
        chosen = self.preselect(record)
        if chosen is not None:
            record.scenario, record.scenario_source = chosen
            if chosen[0].name == "http_error":
                p = Params(chosen[0].params)
                status = p.integer("status", 500)
                if status == 404 and not p.has("body"):
                    err = connect_error("unimplemented", f"{path.lstrip('/')} is not implemented")
                    opening.respond = json_response(404, json.dumps(err).encode())
                else:
                    opening.respond = http_error_response(status, p)
            opening.scenario = chosen[0]
        return opening

    def choose_agent(self, record: SimRecord, transcript: Transcript, model: str) -> tuple[Scenario, str]:
        """The scenario of a run the queue and the token table left open, from its conversation."""
        return self.by_text(transcript.current, transcript.user_texts, model.endswith("-thinking"))

    def _bidi_append(self, record: SimRecord, headers: Mapping[str, str], body: bytes) -> Respond:
        """`BidiService/BidiAppend`: one client message of an HTTP/1.1 run, as lowercase hex."""
        report = check_agent_headers(headers, self.config, unary=True)
        record.warnings, record.token, record.claims = report.warnings, report.token, report.claims
        if report.rejection is not None:
            record.rejection = report.rejection.reason
            return endpoints.rejection_response(report.rejection)
        try:
            append = bidi_pb.BidiAppendRequest.FromString(endpoints.unary_body(headers, body))
            payload = bytes.fromhex(append.data)
        except (DecodeError, WireError, ValueError):
            return self._bad_append(record, "the append is not a BidiAppendRequest with hex data")
        if append.data != append.data.lower() or not payload or not append.request_id.request_id:
            return self._bad_append(record, "an append needs lowercase hex data and a request id")
        problem = self.sse_runs.append(append.request_id.request_id, append.append_seqno, payload)
        if problem is not None:
            return self._bad_append(record, problem)
        record.outcome = "completed"
        return endpoints.proto_response(headers, b"", self.config)

    @staticmethod
    def _bad_append(record: SimRecord, message: str) -> Respond:
        record.rejection = "bad_append"
        return endpoints.unary_error(connect_error("invalid_argument", message))

    def _chat(self, record: SimRecord, headers: Mapping[str, str], body: bytes, overflow: bool) -> list[Step]:
        config = self.config
        if config.require_http2 and record.http_version == "1.1":
            record.rejection = "http2_required"
            return [text_response(505, "HTTP Version Not Supported")]
        report = check_headers(headers, config, streaming=True)
        record.warnings = report.warnings
        record.token, record.claims, record.checksum = report.token, report.claims, report.checksum
        if report.rejection is not None:
            return self._reject_stream(record, report.rejection)
        retired = apikeys.chat_retired(
            config, [*self._token_keys(record), *self._fingerprints(record)], record.claims
        )
        if retired is not None:
            record.rejection = "chat_retired"
            return [retired]
        if overflow:
            return self._reject_stream(record, Rejection("body_too_large", code="resource_exhausted"))
        try:
            envelope = decode_request_envelope(body)
        except WireError as exc:
            code = "resource_exhausted" if exc.reason == "too_large" else "invalid_argument"
            return self._reject_stream(record, Rejection(f"frame_{exc.reason}", code=code))
        record.frame_flags, record.frame_length, record.extra_bytes = (
            envelope.flags,
            envelope.length,
            envelope.extra_bytes,
        )
        compressed = envelope.flags & FLAG_COMPRESSED
        if config.check_connect_headers and compressed and "connect-content-encoding" not in headers:
            # A Connect server cannot read a compressed message whose encoding was not declared.
            return self._reject_stream(
                record, Rejection("compressed_without_encoding", code="invalid_argument")
            )
        try:
            message = pb.StreamUnifiedChatRequestWithTools.FromString(envelope.payload)
        except DecodeError:
            return self._reject_stream(record, Rejection("undecodable_request", code="invalid_argument"))
        record.request = message
        chat = (
            message.stream_unified_chat_request if message.HasField("stream_unified_chat_request") else None
        )
        if config.check_body:
            if chat is None:
                return self._reject_stream(record, Rejection("no_chat_request", code="invalid_argument"))
            rejection = check_request(chat, config)
            if rejection is not None:
                return self._reject_stream(record, rejection)
        ctx = Context(
            request=chat,
            defaults=Defaults(
                seed=config.seed,
                gzip_ratio=config.gzip_ratio,
                pace_s=config.pace_s,
                heartbeat_every_s=config.heartbeat_every_s,
                writes=config.writes,
            ),
        )
        scenario, source = self._choose(record, ctx)
        record.scenario, record.scenario_source = scenario, source
        return build(scenario, ctx)

    def _choose(self, record: SimRecord, ctx: Context) -> tuple[Scenario, str]:
        """SIM-02 precedence: queue, token table, directive, the configured default scenario,
        then echo (thinking when asked). An `agent` directive in any earlier user message of the
        conversation still holds for the later turns (their last message carries tool results)."""
        humans = (
            [m.text for m in ctx.request.conversation if m.type == pb.MESSAGE_TYPE_HUMAN]
            if ctx.request
            else []
        )
        return self.preselect(record) or self.by_text(ctx.last_human_text, humans, ctx.wants_thinking)

    def preselect(self, record: SimRecord) -> tuple[Scenario, str] | None:
        """The scenario the queue or the token table decides, before the request body is read."""
        if self._queue:
            return self._queue.popleft(), "queue"
        for key in self._token_keys(record):
            scenarios = self._token_table.get(key)
            if scenarios:
                return (scenarios.pop(0) if len(scenarios) > 1 else scenarios[0]), "token"
        for key in [*self._token_keys(record), *self._fingerprints(record)]:
            configured = self.config.token_errors.get(key)
            if configured is not None:
                scenario = configured if isinstance(configured, Scenario) else Scenario(str(configured))
                return scenario, "token"
        return None

    def by_text(self, last_text: str, humans: list[str], wants_thinking: bool) -> tuple[Scenario, str]:
        """The scenario a directive, the configured default or the request's thinking decides."""
        directive = find_directive(last_text)
        if directive is not None:
            return directive, "directive"
        sticky = sticky_directive_in(humans)
        if sticky is not None:
            return sticky, "directive"
        if self.config.default_scenario:
            configured = find_directive(f"[[sim:{self.config.default_scenario}]]")
            if configured is None:
                raise ValueError(f"default_scenario: not a scenario: {self.config.default_scenario!r}")
            return configured, "default"
        if wants_thinking:
            return Scenario("thinking"), "thinking"
        return Scenario("echo"), "default"

    @staticmethod
    def _token_keys(record: SimRecord) -> list[str]:
        keys: list[str] = []
        if record.sub:
            keys += [record.sub, user_id_of(record.sub)]
        if record.token:
            keys.append(record.token)
        return keys

    @staticmethod
    def _fingerprints(record: SimRecord) -> list[str]:
        """The gateway's token fingerprint: the first 8 hex digits of SHA-256 of the JWT."""
        if not record.token:
            return []
        return [hashlib.sha256(record.token.encode("utf-8")).hexdigest()[:8]]

    def _reject_stream(self, record: SimRecord, rejection: Rejection) -> list[Step]:
        record.rejection = rejection.reason
        if rejection.status is not None:
            return [Respond(rejection.status, (("content-type", rejection.content_type),), rejection.body)]
        trailer = end_stream_frame(error=endpoints.rejection_error_json(rejection))
        return [StartStream(), Write(trailer)]

    def _unary_call(
        self, record: SimRecord, path: str, headers: Mapping[str, str], body: bytes
    ) -> list[Step]:
        config = self.config
        faults = self._unary.get(path)
        if path in (MODELS_PATH, DRY_RUN_PATH, SERVER_CONFIG_PATH):
            agent_client = headers.get("x-cursor-client-type") in ("cli", "sdk")
            report = (
                check_agent_headers(headers, config, unary=True)
                if path == SERVER_CONFIG_PATH and agent_client
                else check_headers(headers, config, streaming=False)
            )
            record.warnings = report.warnings
            record.token, record.claims, record.checksum = report.token, report.claims, report.checksum
            if report.rejection is not None:
                record.rejection = report.rejection.reason
                return [endpoints.rejection_response(report.rejection)]
        if faults:
            scenario = faults.popleft()
            record.scenario, record.scenario_source = scenario, "unary"
            return self._unary_fault(scenario)
        if path == MODELS_PATH:
            return [endpoints.available_models(config, headers, body)]
        if path == DRY_RUN_PATH:
            return [endpoints.prompt_dry_run(config, headers, body)]
        if path == SERVER_CONFIG_PATH:
            return [endpoints.server_config(config, headers, body)]
        if path == OAUTH_PATH:
            return [endpoints.oauth_token(config, body, self.refresh_counts)]
        token = headers.get("authorization", "").partition(" ")[2].strip() or None
        record.token = token
        if path == EXCHANGE_PATH:
            return [apikeys.exchange_user_api_key(config, headers, body)]
        if path == STRIPE_PATH:
            return [endpoints.stripe_profile(config, headers, token)]
        return [endpoints.usage_summary(config, headers)]

    @staticmethod
    def _unary_fault(scenario: Scenario) -> list[Step]:
        if scenario.name == "error":
            p = Params(scenario.params)
            status = p.integer("status", 0) or None
            return [endpoints.unary_error(error_trailer(p), shape=p.text("shape", "wrapped"), status=status)]
        return build(scenario, Context(request=None, defaults=Defaults()))
