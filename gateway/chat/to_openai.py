"""Chat events -> OpenAI `chat.completion.chunk` dicts, or one final `chat.completion` dict.

`ChunkWriter` renders the chunks of one streamed choice and `ChatStream` the SSE bytes of a whole
streamed response (every choice, the usage chunk, `[DONE]`); `completion()` renders one
non-streaming choice and `completion_body()` the whole non-streaming response. Thinking
is shown according to `THINKING_OUTPUT`: not at all (`hidden`), as `reasoning_content`, or wrapped
in `<think>…</think>` inside `content` (`think_tags`). Pure: no I/O, no clock (the caller passes
`created`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import orjson

from gateway.chat.collect import Answer
from gateway.chat.sse_encode import DONE, encode_event
from gateway.errors import GatewayError
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

THINK_OPEN: Final = "<think>"
THINK_CLOSE: Final = "</think>\n\n"


def completion_id() -> str:
    """`chatcmpl-` + 24 characters of [A-Za-z0-9] (hex digits are a subset; one urandom call)."""
    return "chatcmpl-" + secrets.token_hex(12)


def usage_dict(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.estimated:
        out["estimated"] = True
    return out


@dataclass(slots=True)
class ChunkWriter:
    """Renders the chunks of one streamed response; `render()` returns zero or more chunk dicts."""

    id: str
    created: int
    model: str
    thinking_output: str
    include_usage: bool = False
    tool_stream_mode: str = "complete"
    args_chunk_chars: int = 512
    choice_index: int = 0  # which of the `n` choices this writer renders
    _thinking_open: bool = field(default=False, init=False)
    _call: ToolCallStart | None = field(default=None, init=False)
    _usage: Usage | None = field(default=None, init=False)
    _content_frame: tuple[bytes, bytes] | None = field(default=None, init=False)

    def _chunk(self, delta: dict[str, Any], finish: FinishReason | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": self.choice_index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def content_frame(self) -> tuple[bytes, bytes] | None:
        """The SSE event of a `content` delta around its JSON-encoded text, or None while `<think>`
        is open (see `render`).

        The hot path of a stream: `head + orjson.dumps(text) + tail` is the same bytes as
        `encode_event(self._chunk({"content": text}))`, with only the text encoded per chunk.
        """
        if self._thinking_open:
            return None
        frame = self._content_frame
        if frame is None:
            marker = "\ue000content\ue001"
            whole = encode_event(self._chunk({"content": marker}))
            head, _, tail = whole.partition(orjson.dumps(marker))
            frame = self._content_frame = (head, tail)
        return frame

    def usage_chunk(self, usage: Usage) -> dict[str, Any]:
        """The closing `choices: []` chunk with the usage of the whole response (all choices)."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_dict(usage),
        }

    def role(self) -> dict[str, Any]:
        return self._chunk({"role": "assistant", "content": ""})

    def opening(self) -> list[dict[str, Any]]:
        """What a choice's stream starts with: its role chunk."""
        return [self.role()]

    def _close_thinking(self) -> list[dict[str, Any]]:
        """K4: `</think>` alone when a call or the end follows the thinking."""
        if not self._thinking_open:
            return []
        self._thinking_open = False
        return [self._chunk({"content": THINK_CLOSE.rstrip()})]

    def _tool_chunk(self, call: ToolCallStart, arguments: str) -> dict[str, Any]:
        function = {"name": call.name, "arguments": arguments}
        return self._chunk(
            {"tool_calls": [{"index": call.index, "id": call.id, "type": "function", "function": function}]}
        )

    def render(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, TextDelta):
            text = event.text
            if self._thinking_open:
                self._thinking_open = False
                text = THINK_CLOSE + text
            return [self._chunk({"content": text})]
        if isinstance(event, ThinkingDelta):
            if self.thinking_output == "reasoning_content":
                return [self._chunk({"reasoning_content": event.text})]
            if self.thinking_output == "think_tags":
                text = event.text
                if not self._thinking_open:
                    self._thinking_open = True
                    text = THINK_OPEN + text
                return [self._chunk({"content": text})]
            return []
        if isinstance(event, ToolCallStart):
            self._call = event
            chunks = self._close_thinking()
            if self.tool_stream_mode == "fragmented":
                chunks.append(self._tool_chunk(event, ""))
            return chunks
        if isinstance(event, ToolCallEnd):
            start, self._call = self._call, None
            assert start is not None and start.index == event.index, "ToolCallEnd without its start (E2)"
            if self.tool_stream_mode != "fragmented":
                return [self._tool_chunk(start, event.arguments)]  # O8
            size = self.args_chunk_chars
            return [  # O9: pieces of the validated arguments, at code-point boundaries
                self._chunk({"tool_calls": [{"index": event.index, "function": {"arguments": piece}}]})
                for piece in (event.arguments[i : i + size] for i in range(0, len(event.arguments), size))
            ]
        if isinstance(event, Finish):
            chunks = self._close_thinking()
            chunks.append(self._chunk({}, event.reason))
            if self.include_usage and self._usage is not None:
                chunks.append(self.usage_chunk(self._usage))
            return chunks
        if isinstance(event, Usage):
            # Usage arrives before Finish; OpenAI puts it in its own chunk after the finish chunk.
            self._usage = event
        return []


def completion(
    *,
    id: str,
    created: int,
    model: str,
    text: str,
    thinking: str,
    finish: FinishReason,
    usage: Usage,
    thinking_output: str,
    tool_calls: Sequence[tuple[str, str, str]] = (),
) -> dict[str, Any]:
    """A non-streaming `chat.completion` with the same content the stream would carry.

    `tool_calls` are `(id, name, arguments)`; with calls and no text, `content` is null (O1).
    """
    content: str | None = text
    if thinking and thinking_output == "think_tags":
        content = THINK_OPEN + thinking + (THINK_CLOSE + text if text else THINK_CLOSE.rstrip())
    elif not text and tool_calls:
        content = None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if thinking and thinking_output == "reasoning_content":
        message["reasoning_content"] = thinking
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in tool_calls
        ]
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_dict(usage),
    }


def merge_completions(parts: Sequence[dict[str, Any]], usage: Usage) -> dict[str, Any]:
    """One `chat.completion` with the single choice of each of `parts` as choices 0, 1, …"""
    merged = dict(parts[0])
    merged["choices"] = [{**part["choices"][0], "index": i} for i, part in enumerate(parts)]
    merged["usage"] = usage_dict(usage)
    return merged


def completion_body(
    answers: Sequence[Answer], *, id: str, created: int, model: str, thinking_output: str
) -> dict[str, Any]:
    """The `chat.completion` of `answers` (one per choice)."""
    parts = [
        completion(
            id=id,
            created=created,
            model=model,
            text=answer.text,
            thinking=answer.thinking,
            finish=answer.finish,
            usage=answer.usage,
            thinking_output=thinking_output,
            tool_calls=[(call.id, call.name, call.arguments) for call in answer.tool_calls],
        )
        for answer in answers
    ]
    if len(parts) == 1:
        return parts[0]
    usages = [answer.usage for answer in answers]
    return merge_completions(parts, sum(usages[1:], usages[0]))


class ChoiceWriter(Protocol):
    """The chunks of one streamed choice (`ChunkWriter`; `to_completions.TextWriter` for legacy
    completions, which share the stream's framing)."""

    @property
    def include_usage(self) -> bool: ...

    def opening(self) -> list[dict[str, Any]]:
        """The chunks sent before the choice's first one."""
        ...

    def render(self, event: Event) -> list[dict[str, Any]]: ...

    def content_frame(self) -> tuple[bytes, bytes] | None:
        """The SSE bytes around a text delta's JSON-encoded text after the opening, as long as
        only text deltas follow; None to `render` it instead."""
        ...

    def usage_chunk(self, usage: Usage) -> dict[str, Any]: ...


class ChatStream:
    """The SSE bytes of one streamed completion: its `n` choices interleaved as they come.

    Each choice opens with its opening chunks (chat: the role chunk); usage (every choice summed)
    goes into one closing chunk when the client asked for it, then `data: [DONE]`. An error after
    the commit is one `data: {"error": …}` event, then `[DONE]`.
    """

    __slots__ = ("_frames", "_opened", "_usage", "_writers")

    def __init__(self, writers: Sequence[ChoiceWriter]) -> None:
        self._writers = list(writers)
        self._opened = [False] * len(writers)
        self._usage: Usage | None = None
        # Per choice, its writer's `content_frame()` while only text deltas have come since.
        self._frames: list[tuple[bytes, bytes] | None] = [None] * len(writers)

    def render(self, index: int, event: Event) -> bytes:
        if type(event) is TextDelta:  # the usual event: one call, whatever the layers around it
            frame = self._frames[index]
            if frame is None and self._opened[index]:
                frame = self._frames[index] = self._writers[index].content_frame()
            if frame is not None:
                return frame[0] + orjson.dumps(event.text) + frame[1]
        else:
            self._frames[index] = None  # another event may change how text looks (think tags)
        if isinstance(event, Usage):
            self._usage = event if self._usage is None else self._usage + event
            return b""
        writer = self._writers[index]
        chunks = writer.render(event)
        if not chunks:
            return b""
        if not self._opened[index]:
            self._opened[index] = True
            chunks = [*writer.opening(), *chunks]
        return b"".join(encode_event(chunk) for chunk in chunks)

    def finish(self) -> bytes:
        writer = self._writers[0]
        if writer.include_usage and self._usage is not None:
            return encode_event(writer.usage_chunk(self._usage)) + DONE
        return DONE

    def error(self, error: GatewayError) -> bytes:
        return encode_event(error.body()) + DONE
