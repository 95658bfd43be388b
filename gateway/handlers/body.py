"""Reading a request body: every handler that takes one reads and parses it here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, TypeVar

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gateway.errors import InvalidRequest

# Bodies up to this size are parsed on the event loop; larger ones (long histories, big tool
# catalogs whose schemas take a while to check) in a worker thread, so other requests go on.
INLINE_PARSE_BYTES: Final = 4 * 1024
T = TypeVar("T")


async def read_body(request: web.Request) -> bytes:
    """The raw body; a body that cannot be read (bad Content-Encoding data) is the client's error."""
    try:
        return await request.read()
    except RequestPayloadError as exc:
        raise InvalidRequest(
            f"The request body could not be read: {exc.__cause__ or exc}", code="invalid_body"
        ) from None


async def parse_body(parse: Callable[[bytes], T], raw: bytes) -> T:
    """`parse(raw)`: on the event loop for a small body, in a worker thread for a large one."""
    if len(raw) <= INLINE_PARSE_BYTES:
        return parse(raw)
    return await asyncio.to_thread(parse, raw)
