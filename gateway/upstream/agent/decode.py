"""One run's server messages -> neutral events, plus the answers the protocol demands. Sans-IO.

`RunDecoder.feed(payload)` takes the protobuf payload of one `AgentServerMessage` frame and
returns a `Decoded`: the events to pass on (text, thinking, client tool calls), the client
messages to send back before reading on, and whether the turn ended. The server stalls a run
until each of its questions is answered, so every question gets an answer:

* `exec_server_message`: `request_context_args` gets the run's `RequestContext` (tools, no
  workspace, web search and fetch off); `mcp_args` is a client tool call and becomes a
  `NativeToolFrame` (complete arguments, name mapped back), answered by no one: the caller ends
  the run and the client's next request replays the result; `mcp_state_exec_args` gets the
  client tools' server; the MCP allowlist precheck allows the client tools only. Every one of
  Cursor's own tools gets its typed refusal from `REFUSALS` (then `stream_close`), and a kind
  this schema does not know gets `throw` (then `stream_close`), as the official SDK answers a
  request it has no handler for.
* `kv_server_message`: blobs the server parks with the client are kept for this run only, within
  `MAX_BLOBS` and `MAX_BLOB_BYTES` (a blob past either is refused with an error); `get_blob`
  answers a stored blob, or no data for an unknown id.
* `interaction_query`: each kind gets its refusal from `QUERY_ANSWERS`.
* `interaction_update`: text and thinking deltas become events (server notices are not model
  text and are dropped); `turn_ended` ends the turn. Heartbeats, steps, token counts, tool display
  events, checkpoints and exec aborts need nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import orjson
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.neutral.toolcalls import MCP_TOOL, NativeToolFrame
from gateway.upstream import framing
from gateway.upstream.agent.request import PROVIDER, RunPlan
from gateway.upstream.framing import EndStream, FrameDecoder, parse_end_stream
from gateway.upstream.pb import agent_v1_pb2 as pb
from gateway.upstream.text_only import AGENT_TEXT, text_only

log = logging.getLogger(__name__)

MAX_BLOBS: Final = 1024
MAX_BLOB_BYTES: Final = 32 * 1024 * 1024
REFUSAL: Final = (
    "This tool is not available: Cursor's own tools do not run in this conversation. "
    "Use only the tools the conversation provides."
)
UNSUPPORTED: Final = "This client does not handle this request."

Event = TextDelta | ThinkingDelta | NativeToolFrame


class UndecodableFrame(framing.UndecodableFrame):
    """A data frame whose payload is not an `AgentServerMessage`."""


@dataclass(slots=True)
class Decoded:
    events: list[Event] = field(default_factory=list)
    replies: list[pb.AgentClientMessage] = field(default_factory=list)
    turn_ended: bool = False


# ---------------------------------------------------------------- refusals, one per exec kind


def _path_rejected(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    """`rejected{path, reason}`: read, write, delete, ls, diagnostics (the path is field 1 of each)."""
    kind = request.WhichOneof("message")
    assert kind is not None
    rejected = pb.PathRejected(path=getattr(request, kind).path, reason=REFUSAL)
    getattr(reply, RESULT_FIELDS[kind]).rejected.CopyFrom(rejected)


def _shell_rejected(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    kind = request.WhichOneof("message")
    assert kind is not None
    args = getattr(request, kind)
    rejected = pb.ShellRejected(
        command=args.command, working_directory=args.working_directory, reason=REFUSAL
    )
    getattr(reply, RESULT_FIELDS[kind]).rejected.CopyFrom(rejected)


def _grep(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    reply.grep_result.error.error = REFUSAL


def _fetch(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    reply.fetch_result.error.CopyFrom(pb.FetchError(url=request.fetch_args.url, error=REFUSAL))


def _write_shell_stdin(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    reply.write_shell_stdin_result.error.error = REFUSAL


def _list_mcp_resources(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    reply.list_mcp_resources_exec_result.rejected.reason = REFUSAL


def _read_mcp_resource(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    uri = request.read_mcp_resource_exec_args.uri
    reply.read_mcp_resource_exec_result.rejected.CopyFrom(pb.ReadMcpResourceRejected(uri=uri, reason=REFUSAL))


def _subagent(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    reply.subagent_result.error.error = REFUSAL


def _not_allowlisted(request: pb.ExecServerMessage, reply: pb.ExecClientMessage) -> None:
    kind = request.WhichOneof("message")
    assert kind is not None
    getattr(reply, RESULT_FIELDS[kind]).allowlisted = False


# The request's oneof case -> the reply's oneof case (they share numbers for every modelled kind).
RESULT_FIELDS: Final[dict[str, str]] = {
    "shell_args": "shell_result",
    "write_args": "write_result",
    "delete_args": "delete_result",
    "grep_args": "grep_result",
    "read_args": "read_result",
    "ls_args": "ls_result",
    "diagnostics_args": "diagnostics_result",
    "request_context_args": "request_context_result",
    "mcp_args": "mcp_result",
    "shell_stream_args": "shell_stream",
    "background_shell_spawn_args": "background_shell_spawn_result",
    "list_mcp_resources_exec_args": "list_mcp_resources_exec_result",
    "read_mcp_resource_exec_args": "read_mcp_resource_exec_result",
    "fetch_args": "fetch_result",
    "write_shell_stdin_args": "write_shell_stdin_result",
    "subagent_args": "subagent_result",
    "redacted_read_args": "redacted_read_result",
    "mcp_state_exec_args": "mcp_state_exec_result",
    "shell_allowlist_precheck_args": "shell_allowlist_precheck_result",
    "mcp_allowlist_precheck_args": "mcp_allowlist_precheck_result",
    "web_fetch_allowlist_precheck_args": "web_fetch_allowlist_precheck_result",
}

# Cursor's own tools, each refused in its own result type.
REFUSALS: Final[dict[str, Callable[[pb.ExecServerMessage, pb.ExecClientMessage], None]]] = {
    "shell_args": _shell_rejected,
    "shell_stream_args": _shell_rejected,
    "background_shell_spawn_args": _shell_rejected,
    "write_args": _path_rejected,
    "delete_args": _path_rejected,
    "read_args": _path_rejected,
    "redacted_read_args": _path_rejected,
    "ls_args": _path_rejected,
    "diagnostics_args": _path_rejected,
    "grep_args": _grep,
    "fetch_args": _fetch,
    "write_shell_stdin_args": _write_shell_stdin,
    "list_mcp_resources_exec_args": _list_mcp_resources,
    "read_mcp_resource_exec_args": _read_mcp_resource,
    "subagent_args": _subagent,
    "shell_allowlist_precheck_args": _not_allowlisted,
    "web_fetch_allowlist_precheck_args": _not_allowlisted,
}


# ---------------------------------------------------------------- interaction answers


def _rejected(case: str) -> Callable[[pb.InteractionResponse], None]:
    def fill(response: pb.InteractionResponse) -> None:
        getattr(response, case).rejected.reason = REFUSAL

    return fill


def _ask_question(response: pb.InteractionResponse) -> None:
    response.ask_question_interaction_response.result.rejected.reason = REFUSAL


def _create_plan(response: pb.InteractionResponse) -> None:
    response.create_plan_request_response.result.error.error = REFUSAL


def _setup_vm(response: pb.InteractionResponse) -> None:
    response.setup_vm_environment_result.SetInParent()  # no refusal exists: an empty result


def _replace_env(response: pb.InteractionResponse) -> None:
    response.replace_env_result.failure.error_message = REFUSAL


# The query's oneof case -> how its answer is filled.
QUERY_ANSWERS: Final[dict[str, Callable[[pb.InteractionResponse], None]]] = {
    "web_search_request_query": _rejected("web_search_request_response"),
    "ask_question_interaction_query": _ask_question,
    "switch_mode_request_query": _rejected("switch_mode_request_response"),
    "create_plan_request_query": _create_plan,
    "setup_vm_environment_args": _setup_vm,
    "web_fetch_request_query": _rejected("web_fetch_request_response"),
    "pr_management_request_query": _rejected("pr_management_result"),
    "mcp_auth_request_query": _rejected("mcp_auth_request_response"),
    "generate_image_request_query": _rejected("generate_image_request_response"),
    "replace_env_args": _replace_env,
    "connect_scm_request_query": _rejected("connect_scm_request_response"),
}


# ---------------------------------------------------------------- the state machine


class RunDecoder:
    """Per run: the plan's answers, the blob store, and whether the turn has ended."""

    __slots__ = ("_blob_bytes", "_blobs", "_plan", "ended")

    def __init__(self, plan: RunPlan) -> None:
        self._plan = plan
        self._blobs: dict[bytes, bytes] = {}
        self._blob_bytes = 0
        self.ended = False

    @property
    def blob_bytes(self) -> int:
        return self._blob_bytes

    def feed(self, payload: bytes) -> Decoded:
        text = text_only(payload, AGENT_TEXT)  # the usual frame, without a parse
        if text is not None:
            return Decoded(events=[TextDelta(text)])
        try:
            message = pb.AgentServerMessage.FromString(payload)
        except DecodeError as exc:
            raise UndecodableFrame(str(exc)) from None
        out = Decoded()
        kind = message.WhichOneof("message")
        if kind == "interaction_update":
            self._update(message.interaction_update, out)
        elif kind == "exec_server_message":
            self._exec(message.exec_server_message, out)
        elif kind == "kv_server_message":
            out.replies.append(pb.AgentClientMessage(kv_client_message=self._kv(message.kv_server_message)))
        elif kind == "interaction_query":
            out.replies.append(pb.AgentClientMessage(interaction_response=_answer(message.interaction_query)))
        return out

    def _update(self, update: pb.InteractionUpdate, out: Decoded) -> None:
        kind = update.WhichOneof("message")
        if kind == "text_delta":
            if update.text_delta.is_server_notice:
                log.info("Cursor notice: %s", update.text_delta.text[:200])
            elif update.text_delta.text:
                out.events.append(TextDelta(update.text_delta.text))
        elif kind == "thinking_delta":
            if update.thinking_delta.text:
                out.events.append(ThinkingDelta(update.thinking_delta.text))
        elif kind == "turn_ended":
            self.ended = out.turn_ended = True

    def _exec(self, request: pb.ExecServerMessage, out: Decoded) -> None:
        kind = request.WhichOneof("message")
        if kind == "mcp_args":
            out.events.append(self._call(request))
            return
        reply = pb.ExecClientMessage(id=request.id, exec_id=request.exec_id)
        if kind == "request_context_args":
            reply.request_context_result.success.request_context.CopyFrom(self._plan.request_context)
            out.replies.append(pb.AgentClientMessage(exec_client_message=reply))
            return
        if kind == "mcp_state_exec_args":
            reply.mcp_state_exec_result.success.servers.extend(self._plan.servers)
        elif kind == "mcp_allowlist_precheck_args":
            ours = request.mcp_allowlist_precheck_args.provider_identifier == PROVIDER
            reply.mcp_allowlist_precheck_result.allowlisted = ours and bool(self._plan.servers)
        elif kind is not None and kind in REFUSALS:
            log.info("refused Cursor's own tool request %s", kind)
            REFUSALS[kind](request, reply)
        else:
            log.info("answered an exec request this schema does not know (id %d) with an error", request.id)
            control = pb.ExecClientControlMessage(throw=pb.ExecClientThrow(id=request.id, error=UNSUPPORTED))
            out.replies.append(pb.AgentClientMessage(exec_client_control_message=control))
            out.replies.append(_stream_close(request.id))
            return
        out.replies.append(pb.AgentClientMessage(exec_client_message=reply))
        out.replies.append(_stream_close(request.id))

    def _call(self, request: pb.ExecServerMessage) -> NativeToolFrame:
        args = request.mcp_args
        call_id = args.tool_call_id.replace("\r", "-").replace("\n", "-")
        return NativeToolFrame(
            tool_call_id=call_id or request.exec_id or f"exec-{request.id}",
            tool=MCP_TOOL,
            name=self._plan.names.client_name(args.tool_name, args.name),
            mcp_name=None,
            raw_args=orjson.dumps({key: to_python(value) for key, value in args.args.items()}).decode(),
            is_streaming=False,
            is_last_message=True,
        )

    def _kv(self, request: pb.KvServerMessage) -> pb.KvClientMessage:
        reply = pb.KvClientMessage(id=request.id)
        kind = request.WhichOneof("message")
        if kind == "set_blob_args":
            blob_id, data = request.set_blob_args.blob_id, request.set_blob_args.blob_data
            previous = len(self._blobs.get(blob_id, b""))
            grown = self._blob_bytes - previous + len(data)
            if (blob_id not in self._blobs and len(self._blobs) >= MAX_BLOBS) or grown > MAX_BLOB_BYTES:
                log.warning("refused a blob of %d bytes: the run's blob store is full", len(data))
                reply.set_blob_result.error.message = "the client's blob store for this run is full"
            else:
                self._blobs[blob_id] = data
                self._blob_bytes = grown
                reply.set_blob_result.SetInParent()
        elif kind == "get_blob_args":
            stored = self._blobs.get(request.get_blob_args.blob_id)
            if stored is None:
                reply.get_blob_result.SetInParent()
            else:
                reply.get_blob_result.blob_data = stored
        return reply


def decode_chunk(frames: FrameDecoder, decoder: RunDecoder, chunk: bytes) -> tuple[Decoded, EndStream | None]:
    """Everything the frames `chunk` completes say, up to the end of the turn or of the stream:
    decoded at once, so a caller that yields the events holds them, not the frames."""
    out: Decoded | None = None  # a chunk is usually one frame: its part is the whole
    for frame in frames.feed(chunk):
        if frame.is_end_stream:
            return out or Decoded(), parse_end_stream(frame.payload)
        part = decoder.feed(frame.payload)
        if out is None:
            out = part
        else:
            out.events += part.events
            out.replies += part.replies
            out.turn_ended = part.turn_ended
        if part.turn_ended:
            break
    return out or Decoded(), None


def _answer(query: pb.InteractionQuery) -> pb.InteractionResponse:
    response = pb.InteractionResponse(id=query.id)
    kind = query.WhichOneof("query")
    if kind is not None:
        QUERY_ANSWERS[kind](response)
    log.info("refused Cursor's interaction query %s", kind or "of an unknown kind")
    return response


def _stream_close(exec_id: int) -> pb.AgentClientMessage:
    control = pb.ExecClientControlMessage(stream_close=pb.ExecClientStreamClose(id=exec_id))
    return pb.AgentClientMessage(exec_client_control_message=control)


def to_python(value: struct_pb2.Value) -> object:
    """A protobuf `Value` as JSON data; whole numbers become ints, non-finite ones null."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: to_python(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [to_python(item) for item in value.list_value.values]
    return None
