"""`response_format` enforcement: JSON mode and JSON Schema outputs, checked before they are shown.

Cursor cannot be told to answer in JSON, so the gateway does it in three steps:

1. `instruction(fmt)` is appended to the system context (by `chat/from_openai.py`): answer with one
   JSON object only, conforming to the schema when there is one.
2. `enforce_response_format(attempt, chat, fmt)` holds back the answer's events until the turn
   ends, strips a Markdown code fence around the text (`strip_fences`) and checks it
   (`check_output`): a JSON object for `json_object`; for `json_schema`, JSON valid against the
   client's schema.
3. Output that fails the check gets one more attempt, a new upstream request whose system context
   also says what was wrong (`correction`). If that fails as well, the answer is a 502
   `response_format_failed` error rather than text that breaks the promise.

Answers that end in tool calls or at the length limit (`finish_reason` `"tool_calls"`,
`"length"`) are passed through unchecked, as OpenAI does. The usage of a retried answer counts
both attempts. The check runs in a worker thread, within the time budget of
`client_schema` (the schema itself was checked when the request arrived). No I/O of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Final

import orjson

from gateway import client_schema
from gateway.errors import UpstreamError
from gateway.neutral.model import ChatRequest, Event, Finish, ResponseFormat, TextDelta, ThinkingDelta, Usage

log = logging.getLogger(__name__)

ATTEMPTS: Final = 2  # the first answer and one retry
FAILED_CODE: Final = "response_format_failed"
MAX_REASON: Final = 300


def instruction(fmt: ResponseFormat) -> str:
    """The system-context text that asks for the format."""
    lines = [
        "Response format: reply with exactly one JSON object and nothing else: no text before or "
        "after it, no Markdown code fences, no comments. The whole reply must parse as JSON."
    ]
    if fmt.kind == "json_schema" and fmt.schema is not None:
        about = f" ({fmt.description})" if fmt.description else ""
        lines.append(
            f'The object must be valid against this JSON Schema, named "{fmt.name}"{about}:\n'
            + orjson.dumps(fmt.schema).decode()
        )
    return "\n".join(lines)


def correction(reason: str) -> str:
    """The extra system-context text of the retry."""
    return (
        f"Your previous reply to this conversation was rejected because {reason}. Reply again "
        "following the response format exactly."
    )


def strip_fences(text: str) -> str:
    """The text without surrounding whitespace and one surrounding ```/```json code fence."""
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        first_line, newline, rest = body[3:-3].partition("\n")
        if newline and (not first_line.strip() or first_line.strip().isalnum()):
            body = rest.strip()
        elif not newline:
            body = first_line.strip()
    return body


def check_output(text: str, fmt: ResponseFormat) -> tuple[str, str | None]:
    """`(cleaned text, None)` when `text` satisfies `fmt`, else `(cleaned text, reason)`."""
    body = strip_fences(text)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return body, f"it is not valid JSON ({exc})"
    if fmt.schema is None:
        if not isinstance(value, dict):
            return body, "it is JSON but not a JSON object"
        return body, None
    try:
        error = client_schema.first_error(client_schema.validator(fmt.schema), value)
    except client_schema.Unchecked as exc:
        return body, str(exc)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        return body, f"it does not match the JSON Schema at {where}: {error.message[:MAX_REASON]}"
    return body, None


async def enforce_response_format(
    attempt: Callable[[ChatRequest], AsyncGenerator[Event, None]],
    chat: ChatRequest,
    fmt: ResponseFormat,
) -> AsyncGenerator[Event, None]:
    """The events of an answer that satisfies `fmt`, made by `attempt(chat)` (retried once).

    Nothing is yielded before the turn has ended and passed the check; the caller's keep-alives
    cover the wait. A passing answer is yielded as its thinking, one `TextDelta` with the cleaned
    text, `Usage` (summed over the attempts) and `Finish`.
    """
    request = chat
    total: Usage | None = None
    reason: str | None = None
    for number in range(1, ATTEMPTS + 1):
        held: list[Event] = []
        finish: Finish | None = None
        usage: Usage | None = None
        events = attempt(request)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Finish):
                    finish = event
                else:
                    held.append(event)
        if usage is not None:
            total = usage if total is None else total + usage
        if finish is None:
            raise UpstreamError("The answer ended without finishing", code="upstream_protocol_error")
        if finish.reason != "stop":
            for event in held:
                yield event
            if total is not None:
                yield total
            yield finish
            return
        text = "".join(event.text for event in held if isinstance(event, TextDelta))
        body, reason = await asyncio.to_thread(check_output, text, fmt)  # never on the event loop
        if reason is None:
            for event in held:
                if isinstance(event, ThinkingDelta):
                    yield event
            if body:
                yield TextDelta(body)
            if total is not None:
                yield total
            yield finish
            return
        log.info("response_format not met (attempt %d of %d): %s", number, ATTEMPTS, reason)
        request = dataclasses.replace(chat, system=f"{chat.system}\n\n{correction(reason)}".lstrip())
    raise UpstreamError(
        f"The model's answer did not satisfy response_format after {ATTEMPTS} attempts: {reason}",
        code=FAILED_CODE,
        param="response_format",
    )
