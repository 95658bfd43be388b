"""Turn decoded Connect frames into chat events (cursor-protocol.md §7.9, §9).

`ResponseDecoder.message(payload)` takes the protobuf payload of one data frame and returns the
events it carries: text deltas (with the leading-newline trim of §9.2), thinking deltas, or one
`NativeToolFrame` per `ClientSideToolV2Call` frame, MCP or not; assembling calls from frames
(tool-calls.md N4, N5) is left to the caller. Heartbeats (empty payloads, `12 00`) give nothing.
`end()` is called once at a clean end of the stream.

A tool call's arguments are `mcp_params.tools[0].parameters` when that is set, else `raw_args`
(upstream-2026.md §5: other clients read the nested field first; our captures only show
`raw_args`).

Composer models (`composer=True`) answer inside the thinking field: `composer.ThinkSplitter`
turns what follows `</think>` into text. If such an answer ends without any visible text (no
marker, no text field), its thinking field was the answer, and `end()` gives it as text, so a
composer answer is never empty because thinking is hidden (with thinking shown, it then appears
twice). At most `COMPOSER_ANSWER_LIMIT` characters are kept for that.

Pure: no I/O.
"""

from __future__ import annotations

import logging
from typing import Final

from google.protobuf.message import DecodeError

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.upstream import framing
from gateway.upstream.chatservice.composer import ThinkSplitter
from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.text_only import CHAT_TEXT, text_only

log = logging.getLogger(__name__)

COMPOSER_ANSWER_LIMIT: Final = 4 * 1024 * 1024


class UndecodableFrame(framing.UndecodableFrame):
    """A data frame whose payload is not a `StreamUnifiedChatResponseWithTools`."""


Decoded = TextDelta | ThinkingDelta | NativeToolFrame


class ResponseDecoder:
    """Stateful per stream: whether visible text has started (for the trim), and for composer
    models the thinking splitter and the thinking kept in case it was the answer."""

    __slots__ = ("_kept", "_kept_chars", "_splitter", "text_started")

    def __init__(self, *, composer: bool = False) -> None:
        self.text_started = False  # read-only outside: a text delta has been decoded
        self._splitter = ThinkSplitter() if composer else None
        self._kept: list[str] = []
        self._kept_chars = 0

    def message(self, payload: bytes) -> list[Decoded]:
        if not payload or payload == b"\x12\x00":
            return []
        text = text_only(payload, CHAT_TEXT)  # the usual frame, without a parse
        if text is not None:
            return self._visible(text)
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
        if response.text:
            return self._visible(response.text)
        if response.HasField("thinking") and response.thinking.text:
            if self._splitter is None:
                return [ThinkingDelta(response.thinking.text)]
            return self._composer(self._splitter.feed(response.thinking.text))
        return []

    def _visible(self, text: str) -> list[Decoded]:
        if not self.text_started:
            text = text.lstrip("\r\n")
            if not text:
                return []
            self.text_started = True
        return [TextDelta(text)]

    def _composer(self, events: list[TextDelta | ThinkingDelta]) -> list[Decoded]:
        out: list[Decoded] = []
        for event in events:
            if isinstance(event, TextDelta):
                out.extend(self._visible(event.text))
            else:
                if not self.text_started and self._kept_chars <= COMPOSER_ANSWER_LIMIT:
                    self._kept.append(event.text)
                    self._kept_chars += len(event.text)
                out.append(event)
        return out

    def end(self) -> list[Decoded]:
        """At a clean end: held-back thinking, and a composer answer that never left its thinking."""
        if self._splitter is None:
            return []
        out = self._composer(self._splitter.end())
        if not self.text_started and self._kept:
            if self._kept_chars > COMPOSER_ANSWER_LIMIT:
                log.warning(
                    "a composer answer without </think> is over %d characters; not repeated as text",
                    COMPOSER_ANSWER_LIMIT,
                )
            else:
                out.extend(self._visible("".join(self._kept)))
        self._kept.clear()
        return out


def tool_frame(call: pb.ClientSideToolV2Call) -> NativeToolFrame:
    """One call frame as it came: the arguments stay cumulative, names stay as written (N4, N5)."""
    mcp_name = None
    arguments = call.raw_args
    if call.WhichOneof("params") == "mcp_params" and call.mcp_params.tools:
        first = call.mcp_params.tools[0]
        mcp_name = first.name
        arguments = first.parameters or arguments
    return NativeToolFrame(
        tool_call_id=call.tool_call_id,
        tool=call.tool,
        name=call.name,
        mcp_name=mcp_name,
        raw_args=arguments,
        is_streaming=call.is_streaming,
        is_last_message=call.is_last_message,
    )
