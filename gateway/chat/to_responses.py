"""Chat events -> the Responses API's streamed events, or one final `response` object. Pure.

`ResponseStream` renders a streamed response as named SSE events, each with its
`sequence_number`: `response.created` and `response.in_progress` before the first output, then
per output item `response.output_item.added` … `response.output_item.done`:

- a `message` item for text: `response.content_part.added`, `response.output_text.delta`s,
  `response.output_text.done`, `response.content_part.done`;
- a `reasoning` item for thinking, when thinking is shown (`THINKING_OUTPUT` other than `hidden`):
  `response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta`s and their
  `.done` events;
- a `function_call` item per call: `response.function_call_arguments.delta` (the validated
  arguments, whole or in pieces with `TOOL_STREAM_MODE=fragmented`) and `.done`; a call of a
  `custom` tool is a `custom_tool_call` item with `response.custom_tool_call_input.delta`/`.done`,
  and a call of a namespaced tool names its namespace.

A new item starts whenever the kind of output changes (text after a call is a new message). The
stream ends with `response.completed`, or `response.incomplete` (`max_output_tokens` reached).
An error after the commit is an `error` event and then `response.failed`. `response_body()` is the
same `response` object for a non-streaming answer. No I/O and no clock: the caller passes the
creation time and an id factory.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from gateway.chat.collect import Answer
from gateway.chat.sse_encode import encode_named
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
from gateway.schemas.responses import ToolKinds

Json = dict[str, Any]
IdFactory = Callable[[str], str]
ID_PREFIXES: Final = {"message": "msg", "reasoning": "rs", "function_call": "fc", "custom_tool_call": "ctc"}
# `response.error.code` takes only OpenAI's own codes; the gateway's code goes into the `error` event.
FAILED_CODES: Final = {429: "rate_limit_exceeded"}


def new_id(prefix: str) -> str:
    """`<prefix>_` + 48 hex digits, like OpenAI's object ids."""
    return f"{prefix}_{secrets.token_hex(24)}"


def usage_dict(usage: Usage) -> Json:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
        "estimated": usage.estimated,
    }


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """What every `response` object of one answer repeats."""

    id: str
    created_at: int
    model: str
    echo: Mapping[str, object]
    kinds: ToolKinds = field(default_factory=ToolKinds)
    show_thinking: bool = False

    def response(
        self,
        status: str,
        output: Sequence[Json] = (),
        usage: Usage | None = None,
        *,
        incomplete: bool = False,
        error: Json | None = None,
    ) -> Json:
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            **self.echo,
            "model": self.model,
            "output": list(output),
            "usage": usage_dict(usage) if usage is not None else None,
        }

    def call_kind(self, name: str) -> str:
        return "custom_tool_call" if name in self.kinds.custom else "function_call"

    def call_item(self, item_id: str, call_id: str, name: str, arguments: str, status: str) -> Json:
        """A `function_call` item, or a `custom_tool_call` item for a custom tool."""
        space, inner = self.kinds.namespaced.get(name, (None, name))
        if self.call_kind(name) == "custom_tool_call":
            item: Json = {"id": item_id, "type": "custom_tool_call", "status": status, "call_id": call_id}
            item.update(name=inner, input=custom_input(arguments))
        else:
            item = {"id": item_id, "type": "function_call", "status": status, "call_id": call_id}
            item.update(name=inner, arguments=arguments)
        if space is not None:
            item["namespace"] = space
        return item


def custom_input(arguments: str) -> str:
    """The text of a custom tool's call: the validated `{"input": …}` arguments unwrapped."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    text = value.get("input") if isinstance(value, dict) else None
    return text if isinstance(text, str) else arguments


def message_item(item_id: str, text: str, status: str) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [_text_part(text)] if status != "in_progress" else [],
    }


def reasoning_item(item_id: str, text: str | None) -> Json:
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": summary}


def _text_part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def failed_error(error: GatewayError) -> Json:
    """`response.error` of a failed response: one of OpenAI's codes, the gateway's message and type."""
    code = (
        "invalid_image" if error.code == "invalid_image" else FAILED_CODES.get(error.status, "server_error")
    )
    return {"code": code, "message": error.message, "param": error.param, "type": error.type}


def response_body(answer: Answer, info: ResponseInfo, new_id: IdFactory = new_id) -> Json:
    """The `response` object of a non-streaming answer (the same items the stream would carry)."""
    output: list[Json] = []
    if answer.thinking and info.show_thinking:
        output.append(reasoning_item(new_id("rs"), answer.thinking))
    incomplete = answer.finish == "length"
    if answer.text:
        output.append(message_item(new_id("msg"), answer.text, "incomplete" if incomplete else "completed"))
    for call in answer.tool_calls:
        item_id = new_id(ID_PREFIXES[info.call_kind(call.name)])
        output.append(info.call_item(item_id, call.id, call.name, call.arguments, "completed"))
    status = "incomplete" if incomplete else "completed"
    return info.response(status, output, answer.usage, incomplete=incomplete)


@dataclass(slots=True)
class _Open:
    """The message or reasoning item being streamed."""

    kind: str  # message | reasoning
    id: str
    index: int
    text: list[str]


class ResponseStream:
    """The SSE bytes of one streamed response (see the module docstring)."""

    __slots__ = (
        "_calls",
        "_finish",
        "_fragment",
        "_info",
        "_new_id",
        "_open",
        "_output",
        "_seq",
        "_started",
        "_usage",
    )

    def __init__(
        self,
        info: ResponseInfo,
        *,
        tool_stream_mode: str = "complete",
        args_chunk_chars: int = 512,
        new_id: IdFactory = new_id,
    ) -> None:
        self._info = info
        self._new_id = new_id
        self._seq = 0
        self._started = False
        self._output: list[Json] = []  # finished items, in output order
        self._open: _Open | None = None
        self._calls: dict[
            int, tuple[ToolCallStart, str, int]
        ] = {}  # call index -> start, item id, output index
        self._usage: Usage | None = None
        self._finish: FinishReason | None = None
        self._fragment = args_chunk_chars if tool_stream_mode == "fragmented" else 0

    @property
    def output(self) -> list[Json]:
        """The output items finished so far."""
        return self._output

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload: Json = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_named(kind, payload)

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        created = self._info.response("in_progress")
        return self._event("response.created", response=created) + self._event(
            "response.in_progress", response=created
        )

    def _next_index(self) -> int:
        return len(self._output) + (1 if self._open is not None else 0) + len(self._calls)

    def _open_item(self, kind: str) -> bytes:
        data = self._close_open()
        index = self._next_index()
        item_id = self._new_id(ID_PREFIXES[kind])
        self._open = _Open(kind, item_id, index, [])
        if kind == "message":
            data += self._event(
                "response.output_item.added",
                output_index=index,
                item=message_item(item_id, "", "in_progress"),
            )
            return data + self._event(
                "response.content_part.added",
                item_id=item_id,
                output_index=index,
                content_index=0,
                part=_text_part(""),
            )
        data += self._event(
            "response.output_item.added", output_index=index, item=reasoning_item(item_id, None)
        )
        return data + self._event(
            "response.reasoning_summary_part.added",
            item_id=item_id,
            output_index=index,
            summary_index=0,
            part={"type": "summary_text", "text": ""},
        )

    def _close_open(self, status: str = "completed") -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        text = "".join(item.text)
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            done = message_item(item.id, text, status)
            data = self._event("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            data += self._event("response.content_part.done", **where, content_index=0, part=_text_part(text))
        else:
            done = reasoning_item(item.id, text)
            data = self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            data += self._event(
                "response.reasoning_summary_part.done",
                **where,
                summary_index=0,
                part={"type": "summary_text", "text": text},
            )
        self._output.append(done)
        return data + self._event("response.output_item.done", output_index=item.index, item=done)

    def render(self, index: int, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            data = self._start()
            if self._open is None or self._open.kind != "message":
                data += self._open_item("message")
            assert self._open is not None
            self._open.text.append(event.text)
            return data + self._event(
                "response.output_text.delta",
                item_id=self._open.id,
                output_index=self._open.index,
                content_index=0,
                delta=event.text,
                logprobs=[],
            )
        if isinstance(event, ThinkingDelta):
            if not self._info.show_thinking:
                return b""
            data = self._start()
            if self._open is None or self._open.kind != "reasoning":
                data += self._open_item("reasoning")
            assert self._open is not None
            self._open.text.append(event.text)
            return data + self._event(
                "response.reasoning_summary_text.delta",
                item_id=self._open.id,
                output_index=self._open.index,
                summary_index=0,
                delta=event.text,
            )
        if isinstance(event, ToolCallStart):
            data = self._start() + self._close_open()
            output_index = self._next_index()
            item_id = self._new_id(ID_PREFIXES[self._info.call_kind(event.name)])
            self._calls[event.index] = (event, item_id, output_index)
            item = self._info.call_item(item_id, event.id, event.name, "", "in_progress")
            return data + self._event("response.output_item.added", output_index=output_index, item=item)
        if isinstance(event, ToolCallEnd):
            return self._end_call(event)
        if isinstance(event, Usage):
            self._usage = event
            return b""
        if isinstance(event, Finish):
            self._finish = event.reason
            return self._start() + self._close_open("incomplete" if event.reason == "length" else "completed")
        return b""

    def _end_call(self, event: ToolCallEnd) -> bytes:
        start, item_id, output_index = self._calls.pop(event.index)
        done = self._info.call_item(item_id, start.id, start.name, event.arguments, "completed")
        custom = done["type"] == "custom_tool_call"
        value = done["input"] if custom else done["arguments"]
        size = self._fragment or max(len(value), 1)
        pieces = [value[i : i + size] for i in range(0, len(value), size)] or [""]
        prefix = "response.custom_tool_call_input" if custom else "response.function_call_arguments"
        where = {"item_id": item_id, "output_index": output_index}
        data = b"".join(self._event(f"{prefix}.delta", **where, delta=piece) for piece in pieces)
        if custom:
            data += self._event(f"{prefix}.done", **where, input=value)
        else:
            data += self._event(f"{prefix}.done", **where, name=done["name"], arguments=value)
        self._output.append(done)
        return data + self._event("response.output_item.done", output_index=output_index, item=done)

    def finish(self) -> bytes:
        incomplete = self._finish == "length"
        status = "incomplete" if incomplete else "completed"
        final = self._info.response(status, self._output, self._usage, incomplete=incomplete)
        return self._start() + self._event(f"response.{status}", response=final)

    def error(self, error: GatewayError) -> bytes:
        data = self._start()
        data += self._event("error", code=error.code, message=error.message, param=error.param)
        failed = self._info.response("failed", self._output, self._usage, error=failed_error(error))
        return data + self._event("response.failed", response=failed)
