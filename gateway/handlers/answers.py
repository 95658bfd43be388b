"""What the handler of every chat dialect shares, around its own schema, translator and renderer.

A dialect handler parses its body into a neutral `ChatRequest`, then:
- `start_answer()` runs the request's choices (each with `stop`, `max_tokens` and
  `response_format` applied) and keeps the request-log record up to date; `start_batch()` does
  the same for choices that each answer their own request (legacy completions' prompt lists);
- `stream_answer()` writes the events as SSE through the dialect's `StreamRenderer`: nothing is
  committed before the first visible event (or the first keep-alive), so an early failure is
  still a real HTTP error; after the commit failures go into the stream, rendered by the dialect;
- or `collect()` (`chat/collect.py`) gathers a whole answer for a non-streaming response, which
  `json_answer()` sends.
A client that disconnects cancels the handler, and the `finally` blocks close the upstream call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from typing import Any, Final, Protocol

import orjson
from aiohttp import web

from gateway import keys
from gateway.chat.params import Events, choice_events, merge_choices
from gateway.config import Settings
from gateway.errors import GatewayError, ModelNotFound
from gateway.middlewares import count_error
from gateway.neutral.model import ChatRequest, Event, Finish, Image, ModelInfo, Timing, Usage
from gateway.reqlog.record import RequestRecord
from gateway.schemas.common import ImageRef
from gateway.sse import EventStream
from gateway.vision import VisionOptions, load_images

log = logging.getLogger(__name__)

OVERHEAD_HEADER: Final = "X-Gateway-Overhead-Ms"
Choices = AsyncGenerator[tuple[int, Event], None]


class StreamRenderer(Protocol):
    """A dialect's streamed answer as SSE bytes; pure (see `chat/to_*.py`)."""

    def render(self, index: int, event: Event) -> bytes:
        """The bytes for one event of choice `index` (empty when nothing is shown for it)."""
        ...

    def finish(self) -> bytes:
        """The closing bytes, once every choice has finished."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """An error after the commit, ending the stream."""
        ...


def vision_options(settings: Settings, ability: str) -> VisionOptions:
    return VisionOptions(
        ability=ability,
        max_bytes=settings.vision_max_bytes,
        max_images=settings.vision_max_images,
        max_total_bytes=settings.vision_max_total_bytes,
        timeout=settings.vision_fetch_timeout,
        allow_private=settings.vision_allow_private,
    )


async def request_images(request: web.Request, refs: Sequence[ImageRef]) -> dict[str, Image]:
    """The request's images loaded by path, under the vision options in force (`POST /config`)."""
    if not refs:
        return {}
    ability = request.app[keys.RUNTIME_CONFIG].current.vision_ability
    return await load_images(refs, vision_options(request.app[keys.SETTINGS], ability))


async def resolve_model(request: web.Request, model: str) -> ModelInfo:
    """The offered model `model` names, or a 400 `model_not_found`."""
    info = await request.app[keys.MODELS].resolve(model)
    if info is None:
        raise ModelNotFound(model)
    return info


async def requested_model(request: web.Request, model: str, stream: bool) -> ModelInfo:
    """Note what the client asked for in the request log, and resolve the model."""
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.describe(model=model, stream=stream)
    return await resolve_model(request, model)


def start_answer(request: web.Request, chat: ChatRequest, n: int = 1) -> tuple[Choices, Timing]:
    """The `(choice, event)` pairs of the answer's `n` choices, and the request's timing."""
    return start_batch(request, [chat] * n)


def start_batch(request: web.Request, chats: Sequence[ChatRequest]) -> tuple[Choices, Timing]:
    """Like `start_answer`, with choice `i` answering `chats[i]`."""
    if request.app[keys.RUNTIME_CONFIG].current.enable_slow_pool:
        chats = [replace(chat, slow_pool=True) for chat in chats]
    timing = Timing(request[keys.REQUEST_STARTED])
    service = request.app[keys.CHAT]

    def make_events(attempt: ChatRequest) -> AsyncGenerator[Event, None]:
        return service.events(attempt, timing)

    # Each choice is its own answer: stop, max_tokens and response_format apply per choice.
    streams = [choice_events(make_events, chat) for chat in chats]
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.follow(timing, chats[0])
    return _choices(streams, record), timing


async def _choices(streams: Sequence[Events], record: RequestRecord | None) -> Choices:
    """The `(choice, event)` pairs of the streams, keeping the usage of all choices in `record`.

    One choice (nearly every request) is relayed here directly: a layer fewer for every streamed
    chunk than going through `merge_choices`.
    """
    total: Usage | None = None

    def add(usage: Usage) -> None:
        nonlocal total
        total = usage if total is None else total + usage
        if record is not None:
            record.add_usage(total)

    if len(streams) == 1:
        async with contextlib.aclosing(streams[0]) as only:
            async for event in only:
                if type(event) is Usage:
                    add(event)
                yield 0, event
        return
    async with contextlib.aclosing(merge_choices(streams)) as merged:
        async for index, event in merged:
            if type(event) is Usage:
                add(event)
            yield index, event


def first_output(request: web.Request, response: web.StreamResponse, timing: Timing) -> None:
    """Record TTFT and overhead when the first answer bytes are about to go out."""
    timing.first_output = time.perf_counter()
    metrics = request.app[keys.METRICS]
    metrics.ttft.observe(timing.first_output - timing.received)
    overhead = timing.overhead()
    if overhead is not None:
        metrics.overhead.observe(overhead)
        if not response.prepared:
            response.headers[OVERHEAD_HEADER] = f"{overhead * 1000:.3f}"


def json_answer(request: web.Request, payload: dict[str, Any], timing: Timing) -> web.Response:
    """A non-streaming answer, with its timing recorded."""
    response = web.Response(body=orjson.dumps(payload), content_type="application/json")
    first_output(request, response, timing)
    return response


async def stream_answer(
    request: web.Request, events: Choices, renderer: StreamRenderer, timing: Timing, n: int = 1
) -> web.StreamResponse:
    """Write the answer's events as SSE through `renderer`, each as soon as it comes."""
    settings = request.app[keys.SETTINGS]
    stream = EventStream(
        request,
        keepalive=settings.keepalive_seconds,
        write_timeout=settings.client_write_timeout,
        render_error=renderer.error,
    )
    stream.commit_on_keepalive = not request.app[keys.RUNTIME_CONFIG].current.enable_stream_check
    live = request.app[keys.LIVE_STREAMS]
    live.add(stream)
    shown = False
    unfinished = n
    try:
        async for index, event in events:
            data = renderer.render(index, event)
            if isinstance(event, Finish):
                unfinished -= 1
                if unfinished == 0:
                    # The answer is complete: no keep-alive may follow the end while upstream closes.
                    await stream.close()
                    data += renderer.finish()
            if not data:
                continue
            if not shown:
                shown = True
                first_output(request, stream.response, timing)
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
        # stream still ends the documented way: one in-band error.
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
