"""The text of a protobuf message that is nothing but one text field nested in single fields,
read straight from the wire; anything else is left to the full parse. Pure: no I/O.

Nearly every frame of a streamed answer is such a message (ChatService:
`{stream_unified_chat_response: {text}}`; agent.v1: `{interaction_update: {text_delta: {text}}}`).
A streamed chunk costs what it touches, and between paced frames the caches go cold: reading a
few length prefixes touches far less than a protobuf parse. The reading is strict, so whenever it
gives a text it is the one the parse gives: each level must be exactly one length-delimited field
with the expected tag covering the rest of the bytes, and the text must be non-empty UTF-8 (which
proto3 requires of a string). Another field, a repeated one, a bad length or bad UTF-8 gives None.
"""

from __future__ import annotations

from typing import Final

# The tag bytes, outermost first, of each path (field number << 3 | 2, for fields 1 to 15).
CHAT_TEXT: Final = b"\x12\x0a"  # StreamUnifiedChatResponseWithTools.2 -> StreamUnifiedChatResponse.1
AGENT_TEXT: Final = b"\x0a\x0a\x0a"  # AgentServerMessage.1 -> InteractionUpdate.1 -> TextDeltaUpdate.1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it; (-1, pos) when it runs off the end."""
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return -1, pos


def text_only(payload: bytes, tags: bytes) -> str | None:
    """The text at the end of `tags` when `payload` holds nothing else; None otherwise."""
    size = len(payload)
    pos = 0
    for tag in tags:
        if size - pos < 2 or payload[pos] != tag:
            return None
        length = payload[pos + 1]
        pos += 2
        if length >= 0x80:  # a length of more than one byte
            length, pos = _varint(payload, pos - 1)
        if length != size - pos:
            return None
    if pos == size:
        return None
    try:
        return payload[pos:].decode()
    except UnicodeDecodeError:
        return None
