"""A hand-played agent client for the simulator's own tests: the HTTP/1.1 carrier (`RunSSE` plus
`BidiAppend`) over an aiohttp test client, with the answers built by hand from the schema.

Deliberately independent of `gateway/`: it checks the simulator, so it shares only the generated
protobuf modules.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from google.protobuf import json_format, struct_pb2

from gateway.upstream.pb import agent_v1_pb2 as apb
from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from tests.fakes.agent_run import BIDI_APPEND_PATH, RUN_SSE_PATH
from tests.fakes.identity import make_jwt
from tests.fakes.wire import FLAG_END_STREAM, EnvelopeReader, encode_frame

Client = TestClient[web.Request, web.Application]
PROVIDER = "custom-user-tools"


def agent_headers(*, unary: bool = False, request_id: str = "", **overrides: str) -> dict[str, str]:
    request_id = request_id or str(uuid.uuid4())
    headers = {
        "authorization": f"Bearer {make_jwt()}",
        "content-type": "application/proto" if unary else "application/connect+proto",
        "connect-protocol-version": "1",
        "user-agent": "connect-es/1.6.1",
        "x-cursor-client-type": "cli",
        "x-cursor-client-version": "cli-2026.08.11-e8db854",
        "x-ghost-mode": "true",
        "x-request-id": request_id,
        "x-original-request-id": request_id,
        "x-cursor-streaming": "true",
    }
    return headers | overrides


def tool(name: str, schema: dict[str, Any] | None = None) -> apb.McpToolDefinition:
    value = struct_pb2.Value()
    json_format.ParseDict(schema or {"type": "object", "properties": {"city": {"type": "string"}}}, value)
    return apb.McpToolDefinition(
        name=f"{PROVIDER}-{name}", provider_identifier=PROVIDER, tool_name=name, input_schema=value
    )


def run_request(
    text: str = "hello", *, model: str = "claude-4.5-sonnet", tools: tuple[apb.McpToolDefinition, ...] = ()
) -> apb.AgentClientMessage:
    message = apb.UserMessage(text=text, message_id="m-1", mode=apb.AGENT_MODE_AGENT)
    run = apb.AgentRunRequest(
        action=apb.ConversationAction(user_message_action=apb.UserMessageAction(user_message=message)),
        requested_model=apb.RequestedModel(model_id=model),
        model_details=apb.ModelDetails(model_id=model),
        conversation_id="c-1",
        run_id="r-1",
    )
    run.conversation_state.SetInParent()
    if tools:
        run.mcp_tools.mcp_tools.extend(tools)
    return apb.AgentClientMessage(run_request=run)


@dataclass
class Seen:
    """What the client read: updates by kind, text, and the end-of-stream JSON."""

    messages: list[apb.AgentServerMessage] = field(default_factory=list)
    text: str = ""
    thinking: str = ""
    end: dict[str, Any] | None = None
    turn_ended: bool = False

    def kinds(self) -> list[str]:
        out = []
        for m in self.messages:
            kind = str(m.WhichOneof("message"))
            inner = getattr(m, kind)
            sub = inner.WhichOneof(inner.DESCRIPTOR.oneofs[0].name) if inner.DESCRIPTOR.oneofs else None
            out.append(f"{kind}.{sub}" if sub else kind)
        return out


Answerer = Callable[[apb.AgentServerMessage], list[apb.AgentClientMessage] | None]


def handshake_answers(context: apb.RequestContext | None = None) -> Answerer:
    """Answers for the run's request-context question and its blob traffic; None for the rest."""
    blobs: dict[bytes, bytes] = {}

    def answer(message: apb.AgentServerMessage) -> list[apb.AgentClientMessage] | None:
        kind = message.WhichOneof("message")
        if (
            kind == "exec_server_message"
            and message.exec_server_message.WhichOneof("message") == "request_context_args"
        ):
            reply = apb.ExecClientMessage(
                id=message.exec_server_message.id, exec_id=message.exec_server_message.exec_id
            )
            reply.request_context_result.success.request_context.CopyFrom(context or apb.RequestContext())
            return [apb.AgentClientMessage(exec_client_message=reply)]
        if kind == "kv_server_message":
            kv = message.kv_server_message
            reply_kv = apb.KvClientMessage(id=kv.id)
            if kv.WhichOneof("message") == "set_blob_args":
                blobs[kv.set_blob_args.blob_id] = kv.set_blob_args.blob_data
                reply_kv.set_blob_result.SetInParent()
            else:
                data = blobs.get(kv.get_blob_args.blob_id)
                reply_kv.get_blob_result.SetInParent()
                if data is not None:
                    reply_kv.get_blob_result.blob_data = data
            return [apb.AgentClientMessage(kv_client_message=reply_kv)]
        return None

    return answer


class SseRunClient:
    """One run over `RunSSE` + `BidiAppend`: appends in order (or as told), reads frames."""

    def __init__(
        self, client: Client, *, request_id: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.client = client
        self.request_id = request_id or str(uuid.uuid4())
        self.headers = headers or agent_headers(request_id=self.request_id)
        self.seqno = 0
        self.response: ClientResponse | None = None
        self.statuses: list[int] = []

    async def open(self) -> ClientResponse:
        body = encode_frame(bidi_pb.BidiRequestId(request_id=self.request_id).SerializeToString())
        self.response = await self.client.post(RUN_SSE_PATH, data=body, headers=self.headers)
        return self.response

    async def append(self, message: apb.AgentClientMessage, seqno: int | None = None) -> int:
        number = self.seqno if seqno is None else seqno
        if seqno is None:
            self.seqno += 1
        request = bidi_pb.BidiAppendRequest(
            data=message.SerializeToString().hex(),
            request_id=bidi_pb.BidiRequestId(request_id=self.request_id),
            append_seqno=number,
        )
        headers = agent_headers(unary=True, request_id=self.request_id)
        async with self.client.post(BIDI_APPEND_PATH, data=request.SerializeToString(), headers=headers) as r:
            await r.read()
            self.statuses.append(r.status)
            return r.status

    async def play(self, answer: Answerer, *, until_turn_end: bool = True, timeout: float = 5.0) -> Seen:
        """Read frames, appending each answer; stop at the turn's end (or the stream's end)."""
        assert self.response is not None
        seen = Seen()
        reader = EnvelopeReader()
        async with asyncio.timeout(timeout):
            async for chunk in self.response.content.iter_any():
                for flags, payload in reader.feed(chunk):
                    if flags & FLAG_END_STREAM:
                        seen.end = json.loads(payload)
                        return seen
                    message = apb.AgentServerMessage.FromString(payload)
                    seen.messages.append(message)
                    update = message.interaction_update
                    if message.WhichOneof("message") == "interaction_update":
                        if update.WhichOneof("message") == "text_delta":
                            seen.text += update.text_delta.text
                        elif update.WhichOneof("message") == "thinking_delta":
                            seen.thinking += update.thinking_delta.text
                        elif update.WhichOneof("message") == "turn_ended":
                            seen.turn_ended = True
                    replies = answer(message)
                    for reply in replies or []:
                        await self.append(reply)
                    if (
                        seen.turn_ended
                        and until_turn_end
                        and message.WhichOneof("message") == "conversation_checkpoint_update"
                    ):
                        return seen
        return seen

    def close(self) -> None:
        if self.response is not None:
            self.response.close()
