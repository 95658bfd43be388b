"""POST /v1/responses (the OpenAI Responses API), streamed (SSE) and not.

The handler parses and validates the body (`schemas/responses.py`), resolves the model, loads the
images and translates the body into the neutral request (`chat/from_responses.py`); the answer is
run, streamed or collected by `handlers/answers.py` and rendered by `chat/to_responses.py`. Unless
the request says `store: false`, the answer's output items are kept (`chat/item_store.py`) for
later `item_reference`s.
"""

from __future__ import annotations

import functools
import time

from aiohttp import web

from gateway import keys
from gateway.chat.collect import collect
from gateway.chat.from_responses import responses_chat_request
from gateway.chat.to_responses import ResponseInfo, ResponseStream, new_id, response_body
from gateway.handlers.answers import json_answer, request_images, requested_model, start_answer, stream_answer
from gateway.handlers.body import parse_body, read_body
from gateway.schemas.responses import parse_responses_body


async def create_response(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    items = request.app[keys.ITEM_STORE]
    body = await parse_body(
        functools.partial(parse_responses_body, lookup=items.get), await read_body(request)
    )
    model = await requested_model(request, body.model, body.stream)
    chat = responses_chat_request(
        body,
        model,
        inject=settings.system_prompt_inject,
        max_input_length=settings.max_input_length,
        default_thinking_level=settings.thinking_level,
        images=await request_images(request, body.image_refs),
    )
    events, timing = start_answer(request, chat)
    info = ResponseInfo(
        id=new_id("resp"),
        created_at=int(time.time()),
        model=body.model,
        echo=body.echo,
        kinds=body.kinds,
        show_thinking=settings.thinking_output != "hidden",
    )
    if body.stream:
        renderer = ResponseStream(
            info, tool_stream_mode=settings.tool_stream_mode, args_chunk_chars=settings.tool_args_chunk_chars
        )
        response = await stream_answer(request, events, renderer, timing)
        if body.store:
            items.put(renderer.output)
        return response
    [answer] = await collect(events, 1, timing)
    payload = response_body(answer, info)
    if body.store:
        items.put(payload["output"])
    return json_answer(request, payload, timing)
