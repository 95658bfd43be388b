"""Turn decoded Connect frames into chat events (cursor-protocol.md §7.9, §9).

`ResponseDecoder.message(payload)` takes the protobuf payload of one data frame and returns the
events it carries: text deltas (with the leading-newline trim of §9.2), thinking deltas, or a
`ToolCallSeen` marker when the upstream asks for a tool this request did not declare. Heartbeats
(empty payloads, `12 00`) give nothing. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from gateway.chat.model import TextDelta, ThinkingDelta
from gateway.upstream.pb import cursor_pb2 as pb


class UndecodableFrame(ValueError):
    """A data frame whose payload is not a `StreamUnifiedChatResponseWithTools`."""


@dataclass(frozen=True, slots=True)
class ToolCallSeen:
    """The upstream asked for a tool call; without declared tools the turn ends there."""

    tool: int
    name: str
    complete: bool


Decoded = TextDelta | ThinkingDelta | ToolCallSeen


class ResponseDecoder:
    """Stateful per stream: it remembers whether visible text has started (for the trim)."""

    __slots__ = ("_text_started",)

    def __init__(self) -> None:
        self._text_started = False

    def message(self, payload: bytes) -> list[Decoded]:
        if not payload or payload == b"\x12\x00":
            return []
        try:
            wrapper = pb.StreamUnifiedChatResponseWithTools.FromString(payload)
        except DecodeError as exc:
            raise UndecodableFrame(str(exc)) from None
        kind = wrapper.WhichOneof("response")
        if kind == "stream_unified_chat_response":
            return self._chat(wrapper.stream_unified_chat_response)
        if kind == "client_side_tool_v2_call":
            call = wrapper.client_side_tool_v2_call
            complete = call.is_last_message or not call.is_streaming
            return [ToolCallSeen(call.tool, call.name, complete)]
        return []

    def _chat(self, response: pb.StreamUnifiedChatResponse) -> list[Decoded]:
        # One decision per frame, in the order text, thinking (§9.2).
        text = response.text
        if text:
            if not self._text_started:
                text = text.lstrip("\r\n")
                if not text:
                    return []
                self._text_started = True
            return [TextDelta(text)]
        if response.HasField("thinking") and response.thinking.text:
            return [ThinkingDelta(response.thinking.text)]
        return []
