"""POST /v1/chat/completions, streamed (SSE) and not.

The handler parses and validates the body (`schemas/openai.py`), resolves the model, loads the
images and translates the body into the neutral request (`chat/from_openai.py`); the answer is
run, streamed or collected by `handlers/answers.py` and rendered by `chat/to_openai.py`.
"""

from __future__ import annotations

import functools
import time

from aiohttp import web

from gateway import keys
from gateway.chat.collect import collect
from gateway.chat.from_openai import to_chat_request
from gateway.chat.to_openai import ChatStream, ChunkWriter, completion_body, completion_id
from gateway.handlers.answers import json_answer, request_images, requested_model, start_answer, stream_answer
from gateway.handlers.body import parse_body, read_body
from gateway.schemas.openai import parse_chat_body


async def chat_completions(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    body = await parse_body(
        functools.partial(parse_chat_body, max_n=settings.max_n), await read_body(request)
    )
    model = await requested_model(request, body.model, body.stream)
    images = await request_images(request, body.image_refs)
    chat = to_chat_request(
        body,
        model,
        inject=settings.system_prompt_inject,
        max_input_length=settings.max_input_length,
        default_thinking_level=settings.thinking_level,
        images=images,
    )
    events, timing = start_answer(request, chat, body.n)
    answer_id, created = completion_id(), int(time.time())
    if body.stream:
        writers = [
            ChunkWriter(
                id=answer_id,
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
        return await stream_answer(request, events, ChatStream(writers), timing, body.n)
    answers = await collect(events, body.n, timing)
    payload = completion_body(
        answers, id=answer_id, created=created, model=body.model, thinking_output=settings.thinking_output
    )
    return json_answer(request, payload, timing)
