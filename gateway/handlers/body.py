"""Reading a request body: every handler that takes one reads it here."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gateway.errors import InvalidRequest


async def read_body(request: web.Request) -> bytes:
    """The raw body; a body that cannot be read (bad Content-Encoding data) is the client's error."""
    try:
        return await request.read()
    except RequestPayloadError as exc:
        raise InvalidRequest(
            f"The request body could not be read: {exc.__cause__ or exc}", code="invalid_body"
        ) from None
