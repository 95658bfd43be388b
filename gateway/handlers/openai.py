"""POST /v1/chat/completions, streamed (SSE) and not.

The handler parses and validates the body, resolves the model, and opens the chat service's event
stream. Streaming: nothing is written until the first client-visible event (or the first
keep-alive), so an early upstream failure is still a real HTTP error; after that, failures are
written into the stream. A client that disconnects cancels the handler, which closes the upstream
call in the `finally` block.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from typing import Final

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gateway import keys
from gateway.chat.catalog import resolve
from gateway.chat.from_openai import to_chat_request
from gateway.chat.model import (
    Event,
    Finish,
    FinishReason,
    TextDelta,
    ThinkingDelta,
    Timing,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from gateway.chat.to_openai import ChunkWriter, completion, completion_id
from gateway.errors import GatewayError, InvalidRequest, ModelNotFound
from gateway.middlewares import count_error
from gateway.schemas.openai import parse_chat_body
from gateway.sse import DONE, EventStream, encode_event

log = logging.getLogger(__name__)

OVERHEAD_HEADER: Final = "X-Gateway-Overhead-Ms"


async def read_body(request: web.Request) -> bytes:
    """The raw body; a body that cannot be read (bad Content-Encoding data) is the client's error."""
    try:
        return await request.read()
    except RequestPayloadError as exc:
        raise InvalidRequest(
            f"The request body could not be read: {exc.__cause__ or exc}", code="invalid_body"
        ) from None


async def chat_completions(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    body = parse_chat_body(await read_body(request))
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.describe(model=body.model, stream=body.stream)
    model = resolve(body.model)
    if model is None:
        raise ModelNotFound(body.model)
    chat = to_chat_request(
        body, model, inject=settings.system_prompt_inject, max_input_length=settings.max_input_length
    )
    timing = Timing(request[keys.REQUEST_STARTED])
    events = request.app[keys.CHAT].events(chat, timing)
    if record is not None:
        record.follow(timing, chat)
        events = record.watch(events)
    if body.stream:
        writer = ChunkWriter(
            id=completion_id(),
            created=int(time.time()),
            model=body.model,
            thinking_output=settings.thinking_output,
            include_usage=body.include_usage,
            tool_stream_mode=settings.tool_stream_mode,
            args_chunk_chars=settings.tool_args_chunk_chars,
        )
        return await _stream(request, events, writer, timing, settings.keepalive_seconds)
    response = await _complete(events, body.model, settings.thinking_output, timing)
    _first_output(request, response, timing)
    return response


def _first_output(request: web.Request, response: web.StreamResponse, timing: Timing) -> None:
    """Record TTFT and overhead when the first answer bytes are about to go out."""
    timing.first_output = time.perf_counter()
    metrics = request.app[keys.METRICS]
    metrics.ttft.observe(timing.first_output - timing.received)
    overhead = timing.overhead()
    if overhead is not None:
        metrics.overhead.observe(overhead)
        if not response.prepared:
            response.headers[OVERHEAD_HEADER] = f"{overhead * 1000:.3f}"


async def _stream(
    request: web.Request,
    events: AsyncGenerator[Event, None],
    writer: ChunkWriter,
    timing: Timing,
    keepalive: float,
) -> web.StreamResponse:
    stream = EventStream(request, keepalive=keepalive)
    live = request.app[keys.LIVE_STREAMS]
    live.add(stream)
    role_sent = False
    try:
        async for event in events:
            chunks = writer.render(event)
            if not chunks:
                continue
            data = b"".join(encode_event(chunk) for chunk in chunks)
            if not role_sent:
                data = encode_event(writer.role()) + data
                role_sent = True
                _first_output(request, stream.response, timing)
            if isinstance(event, Finish):
                # The answer is complete: no keep-alive may follow [DONE] while upstream closes.
                await stream.close()
                data += DONE
            await stream.send(data)
    except GatewayError as exc:
        if not stream.committed:
            raise
        log.warning("stream failed after commit: %s (%s)", exc.code, exc.message)
        count_error(request, exc)
        await stream.error(exc)
    except ConnectionResetError:
        log.info("client went away request_id=%s; upstream call closed", request.get(keys.REQUEST_ID))
    except asyncio.CancelledError:
        log.info("stream cancelled request_id=%s; upstream call closed", request.get(keys.REQUEST_ID))
        raise
    except Exception:
        # A bug, not the client's or Cursor's fault. After the commit the status is fixed, so the
        # stream still ends the documented way: one in-band error, then [DONE].
        if not stream.committed:
            raise
        log.exception("stream failed after commit request_id=%s", request.get(keys.REQUEST_ID))
        error = GatewayError("The gateway failed unexpectedly; see its log.")
        count_error(request, error)
        await stream.error(error)
    finally:
        live.discard(stream)
        await stream.close()
        await events.aclose()
    return stream.response


async def _complete(
    events: AsyncGenerator[Event, None], model: str, thinking_output: str, timing: Timing
) -> web.Response:
    text: list[str] = []
    thinking: list[str] = []
    calls: list[tuple[str, str, str]] = []
    started: dict[int, ToolCallStart] = {}
    usage = Usage(0, 0)
    finish: FinishReason = "stop"
    async for event in events:
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ThinkingDelta):
            thinking.append(event.text)
        elif isinstance(event, ToolCallStart):
            started[event.index] = event
        elif isinstance(event, ToolCallEnd):
            start = started[event.index]
            calls.append((start.id, start.name, event.arguments))
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            finish = event.reason
            timing.upstream_answer = time.perf_counter()
    payload = completion(
        id=completion_id(),
        created=int(time.time()),
        model=model,
        text="".join(text),
        thinking="".join(thinking),
        finish=finish,
        usage=usage,
        thinking_output=thinking_output,
        tool_calls=calls,
    )
    return web.Response(body=orjson.dumps(payload), content_type="application/json")
