"""Chat events -> Anthropic Messages: the SSE events of a streamed message, or one message body.

`MessageStream` renders a streamed answer (it satisfies `handlers.answers.StreamRenderer`):
`message_start` (the estimated input tokens) and one `ping` come before the first content block;
each block is `content_block_start`, its deltas and `content_block_stop`: a `thinking` block
(`thinking_delta`s, then one `signature_delta`) when thinking is shown, a `text` block
(`text_delta`s), and one `tool_use` block per call, its input as `input_json_delta` (the whole
JSON, or pieces of `TOOL_ARGS_CHUNK_CHARS` in the `fragmented` tool stream mode). A new block
starts whenever the kind of content changes. Then `message_delta` (`stop_reason`, `stop_sequence`,
usage) and `message_stop`. An error after the commit is one `error` event, which ends the stream.

`message_body()` is the non-streaming message with the same content: a thinking block, a text
block, the tool_use blocks. Thinking is `hidden` (no blocks), `shown`, or `omitted` (blocks with
empty text and the signature, Anthropic's `display: "omitted"`). A signature is the base64 SHA-256
of the block's thinking text: a marker made by the gateway, not Anthropic's, and not checked when
a client sends it back. Usage is the estimate of the neutral events, marked `"estimated": true`.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import orjson

from gateway.chat.collect import Answer
from gateway.chat.sse_encode import encode_named
from gateway.errors import GatewayError, anthropic_error
from gateway.neutral.model import (
    Event,
    Finish,
    FinishReason,
    TextDelta,
    ThinkingDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

ThinkingMode = Literal["hidden", "shown", "omitted"]
BlockKind = Literal["text", "thinking", "tool_use"]

STOP_REASONS: Final[dict[FinishReason, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
}
PING: Final = encode_named("ping", {"type": "ping"})
STOP: Final = encode_named("message_stop", {"type": "message_stop"})


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def message_id() -> str:
    """`msg_` + 24 hex digits."""
    return "msg_" + secrets.token_hex(12)


def signature(thinking: str) -> str:
    return _digest(hashlib.sha256(thinking.encode()))


def _digest(state: _Hash) -> str:
    return base64.b64encode(state.digest()).decode()


def stop_reason(reason: FinishReason, stop_sequence: str | None) -> str:
    return "stop_sequence" if reason == "stop" and stop_sequence is not None else STOP_REASONS[reason]


def usage_dict(input_tokens: int, output_tokens: int, estimated: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    if estimated:
        out["estimated"] = True
    return out


def message_body(answer: Answer, *, id: str, model: str, thinking: ThinkingMode) -> dict[str, Any]:
    """The non-streaming `message`, with the same content the stream would carry."""
    content: list[dict[str, Any]] = []
    if answer.thinking and thinking != "hidden":
        text = answer.thinking if thinking == "shown" else ""
        content.append({"type": "thinking", "thinking": text, "signature": signature(answer.thinking)})
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    for call in answer.tool_calls:
        content.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": orjson.loads(call.arguments)}
        )
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer.finish, answer.stop_sequence),
        "stop_sequence": answer.stop_sequence,
        "usage": usage_dict(
            answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.estimated
        ),
    }


def error_event(error: GatewayError) -> bytes:
    """An error inside an Anthropic stream: one `error` event in Anthropic's envelope."""
    return encode_named("error", anthropic_error(error)[1])


@dataclass(slots=True)
class MessageStream:
    """The SSE bytes of one streamed message (a single choice)."""

    id: str
    model: str
    input_tokens: int  # the estimate announced in `message_start`
    thinking: ThinkingMode = "hidden"
    tool_stream_mode: str = "complete"
    args_chunk_chars: int = 512
    _started: bool = field(default=False, init=False)
    _kind: BlockKind | None = field(default=None, init=False)  # the open block
    _index: int = field(default=-1, init=False)  # its index
    _thinking_hash: _Hash = field(default_factory=hashlib.sha256, init=False)
    _call: ToolCallStart | None = field(default=None, init=False)
    _usage: Usage | None = field(default=None, init=False)

    def _event(self, name: str, payload: dict[str, Any]) -> bytes:
        return encode_named(name, {"type": name, **payload})

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_dict(self.input_tokens, 0),
        }
        return self._event("message_start", {"message": message}) + PING

    def _open(self, kind: BlockKind, block: dict[str, Any]) -> bytes:
        data = self._start() + self._close()
        self._kind = kind
        self._index += 1
        if kind == "thinking":
            self._thinking_hash = hashlib.sha256()
        return data + self._event("content_block_start", {"index": self._index, "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._event("content_block_delta", {"index": self._index, "delta": delta})

    def _close(self) -> bytes:
        if self._kind is None:
            return b""
        data = b""
        if self._kind == "thinking":
            data = self._delta({"type": "signature_delta", "signature": _digest(self._thinking_hash)})
        self._kind = None
        return data + self._event("content_block_stop", {"index": self._index})

    def render(self, index: int, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            if not event.text:
                return b""
            data = b"" if self._kind == "text" else self._open("text", {"type": "text", "text": ""})
            return data + self._delta({"type": "text_delta", "text": event.text})
        if isinstance(event, ThinkingDelta):
            if self.thinking == "hidden" or not event.text:
                return b""
            data = b""
            if self._kind != "thinking":
                data = self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self._thinking_hash.update(event.text.encode())
            if self.thinking == "shown":
                data += self._delta({"type": "thinking_delta", "thinking": event.text})
            return data
        if isinstance(event, ToolCallStart):
            self._call = event
            block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            return self._open("tool_use", block)
        if isinstance(event, ToolCallEnd):
            call, self._call = self._call, None
            assert call is not None and call.index == event.index, "ToolCallEnd without its start (E2)"
            arguments = event.arguments
            size = self.args_chunk_chars if self.tool_stream_mode == "fragmented" else len(arguments) or 1
            pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
            data = b"".join(self._delta({"type": "input_json_delta", "partial_json": p}) for p in pieces)
            return data + self._close()
        if isinstance(event, Usage):
            self._usage = event  # usage arrives before Finish and goes into message_delta
            return b""
        if isinstance(event, Finish):
            usage = self._usage or Usage(self.input_tokens, 0)
            delta = {
                "stop_reason": stop_reason(event.reason, event.stop_sequence),
                "stop_sequence": event.stop_sequence,
            }
            return (
                self._start()
                + self._close()
                + self._event(
                    "message_delta",
                    {
                        "delta": delta,
                        "usage": usage_dict(usage.prompt_tokens, usage.completion_tokens, usage.estimated),
                    },
                )
            )
        return b""

    def finish(self) -> bytes:
        return STOP

    def error(self, error: GatewayError) -> bytes:
        return error_event(error)
