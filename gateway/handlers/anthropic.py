"""POST /v1/messages (streamed and not) and POST /v1/messages/count_tokens: Anthropic's Messages API.

The handler validates the body (`schemas/anthropic.py`), picks the model (a thinking twin when
thinking is enabled), loads the images and translates the body into the neutral request
(`chat/from_anthropic.py`); the answer is run, streamed or collected by `handlers/answers.py` and
rendered by `chat/to_anthropic.py`. Errors use Anthropic's envelope (the `anthropic.` route names,
see `middlewares.dialect`). `count_tokens` answers the same estimate the answer's usage starts
from, without calling upstream.
"""

from __future__ import annotations

import functools

import orjson
from aiohttp import web

from gateway import keys
from gateway.chat.collect import collect
from gateway.chat.from_anthropic import pick_model, to_chat_request
from gateway.chat.to_anthropic import MessageStream, ThinkingMode, message_body, message_id
from gateway.handlers.answers import json_answer, request_images, start_answer, stream_answer
from gateway.handlers.body import parse_body, read_body
from gateway.neutral.model import ChatRequest, Image
from gateway.schemas.anthropic import MessagesBody, Thinking, parse_messages_body


def thinking_mode(thinking: Thinking | None) -> ThinkingMode:
    """Thinking blocks only when the request enables thinking; empty ones with display "omitted"."""
    if thinking is None or not thinking.shown:
        return "hidden"
    return "omitted" if thinking.display == "omitted" else "shown"


async def _chat_request(
    request: web.Request, body: MessagesBody, images: dict[str, Image] | None = None
) -> ChatRequest:
    settings = request.app[keys.SETTINGS]
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.describe(model=body.model, stream=body.stream)
    model = pick_model(body, await request.app[keys.MODELS].models())
    if images is None:
        images = await request_images(request, body.image_refs)
    return to_chat_request(
        body,
        model,
        inject=settings.system_prompt_inject,
        max_input_length=settings.max_input_length,
        default_thinking_level=settings.thinking_level,
        images=images,
    )


async def messages(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    body = await parse_body(parse_messages_body, await read_body(request))
    chat = await _chat_request(request, body)
    input_tokens = request.app[keys.CHAT].prompt_tokens(chat)
    events, timing = start_answer(request, chat)
    mode = thinking_mode(body.thinking)
    if body.stream:
        renderer = MessageStream(
            id=message_id(),
            model=body.model,
            input_tokens=input_tokens,
            thinking=mode,
            tool_stream_mode=settings.tool_stream_mode,
            args_chunk_chars=settings.tool_args_chunk_chars,
        )
        return await stream_answer(request, events, renderer, timing)
    [answer] = await collect(events, 1, timing)
    return json_answer(
        request, message_body(answer, id=message_id(), model=body.model, thinking=mode), timing
    )


async def count_tokens(request: web.Request) -> web.Response:
    """`{"input_tokens": N}`: the usage estimate of the first attempt (images are not counted)."""
    body = await parse_body(
        functools.partial(parse_messages_body, count_tokens=True), await read_body(request)
    )
    chat = await _chat_request(request, body, images={})
    tokens = request.app[keys.CHAT].prompt_tokens(chat)
    return web.Response(body=orjson.dumps({"input_tokens": tokens}), content_type="application/json")
