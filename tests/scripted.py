"""A scripted upstream transport: a real implementation of the transport seam for unit tests.

Each `Reply` is what one upstream call answers: a status, headers, and a script of body steps
(bytes to deliver, a float to sleep, an `asyncio.Event` to wait for, an exception to raise).
The transport records every request and counts open and closed responses, so tests can prove
that a client disconnect closes the upstream call.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from gateway.upstream.framing import encode_frame
from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.transport import TransportError

Step = bytes | float | asyncio.Event | BaseException


@dataclass
class Reply:
    steps: list[Step] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Sent:
    url: str
    headers: dict[str, str]
    body: bytes


class ScriptedResponse:
    def __init__(self, reply: Reply, transport: ScriptedTransport) -> None:
        self._reply = reply
        self._transport = transport

    @property
    def status(self) -> int:
        return self._reply.status

    @property
    def headers(self) -> Mapping[str, str]:
        return {k.lower(): v for k, v in self._reply.headers.items()}

    @property
    def http_version(self) -> str:
        return "1.1"

    async def chunks(self) -> AsyncIterator[bytes]:
        for step in self._reply.steps:
            if isinstance(step, bytes):
                self._transport.delivered += 1
                yield step
            elif isinstance(step, float):
                await asyncio.sleep(step)
            elif isinstance(step, asyncio.Event):
                await step.wait()
            else:
                raise step


class ScriptedTransport:
    """`post` answers the scripted replies in order; `get` (the update feed) answers `get_replies`
    in order, and without any left fails like an unreachable feed."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = deque(replies)
        self.get_replies: deque[Reply] = deque()
        self.got: list[str] = []
        self.sent: list[Sent] = []
        self.opened = 0
        self.closed = 0
        self.delivered = 0

    @asynccontextmanager
    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[ScriptedResponse]:
        self.sent.append(Sent(url, dict(headers), body))
        if not self.replies:
            raise TransportError("no scripted reply left")
        reply = self.replies.popleft()
        self.opened += 1
        try:
            yield ScriptedResponse(reply, self)
        finally:
            self.closed += 1

    @asynccontextmanager
    async def get(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[ScriptedResponse]:
        self.got.append(url)
        if not self.get_replies:
            raise TransportError("no scripted feed reply")
        yield ScriptedResponse(self.get_replies.popleft(), self)

    async def close(self) -> None:
        pass


class ToolCallingModel(ScriptedTransport):
    """Answers every chat call: a native (MCP) call of the first tool the request offers, with
    `arguments`; or, when it offers none, the text `answer` in two frames."""

    def __init__(self, arguments: Mapping[str, object], answer: str) -> None:
        super().__init__()
        self.arguments = dict(arguments)
        self.answer = answer

    def post(self, url: str, headers: Mapping[str, str], body: bytes):  # type: ignore[no-untyped-def]
        from gateway.upstream.framing import FrameDecoder

        [frame] = FrameDecoder().feed(body)
        request = pb.StreamUnifiedChatRequestWithTools.FromString(frame.payload).stream_unified_chat_request
        if request.mcp_tools:
            call = pb.ClientSideToolV2Call(
                tool=pb.CLIENT_SIDE_TOOL_V2_MCP,
                tool_call_id="t1",
                name=request.mcp_tools[0].name,
                raw_args=json.dumps(self.arguments),
                is_streaming=False,
            )
            message = pb.StreamUnifiedChatResponseWithTools(client_side_tool_v2_call=call)
            self.replies.append(Reply([encode_frame(message.SerializeToString()), END]))
        else:
            self.replies.append(reply(self.answer[:5], self.answer[5:]))
        return super().post(url, headers, body)


def text(value: str, *, compress: bool = False) -> bytes:
    message = pb.StreamUnifiedChatResponseWithTools(
        stream_unified_chat_response=pb.StreamUnifiedChatResponse(text=value)
    )
    return encode_frame(message.SerializeToString(), compress=compress)


def thinking(value: str) -> bytes:
    inner = pb.StreamUnifiedChatResponse(thinking=pb.ConversationMessage.Thinking(text=value))
    return encode_frame(
        pb.StreamUnifiedChatResponseWithTools(stream_unified_chat_response=inner).SerializeToString()
    )


HEARTBEAT = encode_frame(b"\x12\x00")
END = encode_frame(b"{}", end_stream=True)


def end_error(value: int, title: str = "", detail: str = "", code: str = "unknown") -> bytes:
    raw = pb.ErrorDetails(
        error=value, details=pb.CustomErrorDetails(title=title, detail=detail)
    ).SerializeToString()
    body = (
        b'{"error":{"code":"'
        + code.encode()
        + b'","message":"Error","details":[{"type":"aiserver.v1.ErrorDetails","value":"'
        + base64.b64encode(raw).rstrip(b"=")
        + b'"}]}}'
    )
    return encode_frame(body, end_stream=True)


def reply(*pieces: str) -> Reply:
    """A clean reply streaming `pieces` as text frames."""
    return Reply([*(text(p) for p in pieces), END])


def sent_request(transport: ScriptedTransport, index: int = 0) -> pb.StreamUnifiedChatRequest:
    """The protobuf request of the `index`-th upstream call (the envelope is decoded, gunzipped)."""
    from gateway.upstream.framing import FrameDecoder

    [frame] = FrameDecoder().feed(transport.sent[index].body)
    return pb.StreamUnifiedChatRequestWithTools.FromString(frame.payload).stream_unified_chat_request


def sent_text(transport: ScriptedTransport, index: int = 0) -> str:
    """The system context and every message text of an upstream call, joined: for `in` checks."""
    request = sent_request(transport, index)
    return "\n".join([request.explicit_context.context, *(m.text for m in request.conversation)])
