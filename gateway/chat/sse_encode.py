"""Server-Sent Events encoding: event payloads to the bytes on the wire. Pure.

OpenAI's streams are unnamed `data:` events ending with `data: [DONE]`; Anthropic's and the
Responses API's streams name each event (`event: <type>`). orjson never writes a raw newline, so
one `data:` line always carries the whole payload.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

DONE: Final = b"data: [DONE]\n\n"
KEEPALIVE: Final = b": keep-alive\n\n"


def encode_event(payload: dict[str, Any]) -> bytes:
    """One unnamed `data:` event."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def encode_named(name: str, payload: dict[str, Any]) -> bytes:
    """One named event: `event: <name>` then its `data:` line."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
