"""POST /v1/chat/completions, streamed (SSE) and not.

The handler parses and validates the body, resolves the model, and opens the chat service's event
stream. Streaming: nothing is written until the first client-visible event (or the first
keep-alive), so an early upstream failure is still a real HTTP error; after that, failures are
written into the stream. A client that disconnects cancels the handler, which closes the upstream
call in the `finally` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Final

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gateway import keys
from gateway.chat.from_openai import to_chat_request
from gateway.chat.params import choice_events, merge_choices
from gateway.chat.to_openai import ChunkWriter, completion, completion_id, merge_completions
from gateway.config import Settings
from gateway.errors import GatewayError, InvalidRequest, ModelNotFound
from gateway.middlewares import count_error
from gateway.neutral.model import (
    ChatRequest,
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
from gateway.reqlog.record import RequestRecord
from gateway.schemas.openai import parse_chat_body
from gateway.sse import DONE, EventStream, encode_event
from gateway.vision import VisionOptions, has_images, load_images

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


def vision_options(settings: Settings, ability: str) -> VisionOptions:
    return VisionOptions(
        ability=ability,
        max_bytes=settings.vision_max_bytes,
        timeout=settings.vision_fetch_timeout,
        allow_private=settings.vision_allow_private,
    )


async def chat_completions(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    body = parse_chat_body(await read_body(request), max_n=settings.max_n)
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.describe(model=body.model, stream=body.stream)
    model = await request.app[keys.MODELS].resolve(body.model)
    if model is None:
        raise ModelNotFound(body.model)
    options = request.app[keys.RUNTIME_CONFIG].current
    if has_images(body):
        body = await load_images(body, vision_options(settings, options.vision_ability))
    chat = to_chat_request(
        body,
        model,
        inject=settings.system_prompt_inject,
        max_input_length=settings.max_input_length,
        default_thinking_level=settings.thinking_level,
    )
    if options.enable_slow_pool:
        chat = replace(chat, slow_pool=True)
    timing = Timing(request[keys.REQUEST_STARTED])
    service = request.app[keys.CHAT]

    def make_events(attempt: ChatRequest) -> AsyncGenerator[Event, None]:
        return service.events(attempt, timing)

    # Each of the n choices is its own answer: stop, max_tokens and response_format apply per choice.
    events = merge_choices([choice_events(make_events, chat) for _ in range(body.n)])
    if record is not None:
        record.follow(timing, chat)
        events = _recorded(events, record)
    if body.stream:
        chunk_id, created = completion_id(), int(time.time())
        writers = [
            ChunkWriter(
                id=chunk_id,
                created=created,
                model=body.model,
                thinking_output=settings.thinking_output,
                include_usage=body.include_usage,
                choice_index=index,
                tool_stream_mode=settings.tool_stream_mode,
                args_chunk_chars=settings.tool_args_chunk_chars,
            )
            for index in range(body.n)
        ]
        return await _stream(request, events, writers, timing, settings.keepalive_seconds)
    response = await _complete(events, body.n, body.model, settings.thinking_output, timing)
    _first_output(request, response, timing)
    return response


async def _recorded(
    events: AsyncGenerator[tuple[int, Event], None], record: RequestRecord
) -> AsyncGenerator[tuple[int, Event], None]:
    """Pass the choices' events through, keeping the usage of all choices in the request record."""
    total: Usage | None = None
    async with contextlib.aclosing(events):
        async for index, event in events:
            if isinstance(event, Usage):
                total = event if total is None else total + event
                record.add_usage(total)
            yield index, event


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
    events: AsyncGenerator[tuple[int, Event], None],
    writers: list[ChunkWriter],
    timing: Timing,
    keepalive: float,
) -> web.StreamResponse:
    stream = EventStream(request, keepalive=keepalive)
    stream.commit_on_keepalive = not request.app[keys.RUNTIME_CONFIG].current.enable_stream_check
    live = request.app[keys.LIVE_STREAMS]
    live.add(stream)
    role_sent = [False] * len(writers)
    unfinished = len(writers)
    usage: Usage | None = None
    try:
        async for index, event in events:
            if isinstance(event, Usage):
                # One usage chunk for the whole response (every choice), after the last finish.
                usage = event if usage is None else usage + event
                continue
            writer = writers[index]
            chunks = writer.render(event)
            if not chunks:
                continue
            data = b"".join(encode_event(chunk) for chunk in chunks)
            if not role_sent[index]:
                data = encode_event(writer.role()) + data
                if not any(role_sent):
                    _first_output(request, stream.response, timing)
                role_sent[index] = True
            if isinstance(event, Finish):
                unfinished -= 1
            if unfinished == 0:
                # The answer is complete: no keep-alive may follow [DONE] while upstream closes.
                await stream.close()
                if writer.include_usage and usage is not None:
                    data += encode_event(writer.usage_chunk(usage))
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
    events: AsyncGenerator[tuple[int, Event], None], n: int, model: str, thinking_output: str, timing: Timing
) -> web.Response:
    text: list[list[str]] = [[] for _ in range(n)]
    thinking: list[list[str]] = [[] for _ in range(n)]
    calls: list[list[tuple[str, str, str]]] = [[] for _ in range(n)]
    started: dict[tuple[int, int], ToolCallStart] = {}
    usage: list[Usage] = [Usage(0, 0)] * n
    finish: list[FinishReason] = ["stop"] * n
    async with contextlib.aclosing(events):
        async for index, event in events:
            if isinstance(event, TextDelta):
                text[index].append(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking[index].append(event.text)
            elif isinstance(event, ToolCallStart):
                started[index, event.index] = event
            elif isinstance(event, ToolCallEnd):
                start = started[index, event.index]
                calls[index].append((start.id, start.name, event.arguments))
            elif isinstance(event, Usage):
                usage[index] = event
            elif isinstance(event, Finish):
                finish[index] = event.reason
                timing.upstream_answer = time.perf_counter()
    answer_id, created = completion_id(), int(time.time())
    parts = [
        completion(
            id=answer_id,
            created=created,
            model=model,
            text="".join(text[index]),
            thinking="".join(thinking[index]),
            finish=finish[index],
            usage=usage[index],
            thinking_output=thinking_output,
            tool_calls=calls[index],
        )
        for index in range(n)
    ]
    payload = parts[0] if n == 1 else merge_completions(parts, sum(usage[1:], usage[0]))
    return web.Response(body=orjson.dumps(payload), content_type="application/json")
