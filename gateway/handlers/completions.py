"""POST /v1/completions (OpenAI's legacy Completions), streamed (SSE) and not.

The handler parses and validates the body (`schemas/completions.py`), resolves the model and
turns each prompt into neutral requests (`chat/from_completions.py`), one per choice; the answer is
run, streamed or collected by `handlers/answers.py` and rendered by `chat/to_completions.py`.
"""

from __future__ import annotations

import functools
import time

from aiohttp import web

from gateway import keys
from gateway.chat.collect import collect
from gateway.chat.from_completions import completions_chat_requests
from gateway.chat.to_completions import TextWriter, completion_id, text_completion
from gateway.chat.to_openai import ChatStream
from gateway.handlers.answers import json_answer, requested_model, start_batch, stream_answer
from gateway.handlers.body import parse_body, read_body
from gateway.schemas.completions import parse_completions_body


async def completions(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    body = await parse_body(
        functools.partial(parse_completions_body, max_n=settings.max_n), await read_body(request)
    )
    model = await requested_model(request, body.model, body.stream)
    chats = completions_chat_requests(
        body,
        model,
        inject=settings.system_prompt_inject,
        max_input_length=settings.max_input_length,
        default_thinking_level=settings.thinking_level,
    )
    echoes = [prompt if body.echo else "" for prompt in body.prompts for _ in range(body.n)]
    events, timing = start_batch(request, chats)
    answer_id, created = completion_id(), int(time.time())
    if body.stream:
        writers = [
            TextWriter(answer_id, created, body.model, index, echo, body.include_usage)
            for index, echo in enumerate(echoes)
        ]
        return await stream_answer(request, events, ChatStream(writers), timing, len(chats))
    answers = await collect(events, len(chats), timing)
    return json_answer(
        request, text_completion(answers, echoes, id=answer_id, created=created, model=body.model), timing
    )
