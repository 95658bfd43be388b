"""Turn decoded Connect frames into chat events (cursor-protocol.md §7.9, §9).

`ResponseDecoder.message(payload)` takes the protobuf payload of one data frame and returns the
events it carries: text deltas (with the leading-newline trim of §9.2), thinking deltas, or one
`NativeToolFrame` per `ClientSideToolV2Call` frame, MCP or not; assembling calls from frames
(tool-calls.md N4, N5) is left to the caller. Heartbeats (empty payloads, `12 00`) give nothing.
Pure: no I/O.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.upstream import framing
from gateway.upstream.pb import cursor_pb2 as pb


class UndecodableFrame(framing.UndecodableFrame):
    """A data frame whose payload is not a `StreamUnifiedChatResponseWithTools`."""


Decoded = TextDelta | ThinkingDelta | NativeToolFrame


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
            return [tool_frame(wrapper.client_side_tool_v2_call)]
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


def tool_frame(call: pb.ClientSideToolV2Call) -> NativeToolFrame:
    """One call frame as it came: `raw_args` stays cumulative, names stay as written (N4, N5)."""
    mcp_name = None
    if call.WhichOneof("params") == "mcp_params" and call.mcp_params.tools:
        mcp_name = call.mcp_params.tools[0].name
    return NativeToolFrame(
        tool_call_id=call.tool_call_id,
        tool=call.tool,
        name=call.name,
        mcp_name=mcp_name,
        raw_args=call.raw_args,
        is_streaming=call.is_streaming,
        is_last_message=call.is_last_message,
    )
