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

from gateway.upstream.framing import HEADER_BYTES, MAX_FRAME_BYTES

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


def text_only(data: bytes, tags: bytes, *, framed: bool = False) -> str | None:
    """The text at the end of `tags` when the message holds nothing else; None otherwise.

    The message is `data`; with `framed`, `data` is a whole Connect frame instead, and gives a
    text only when it is exactly one data frame without flags (neither compressed nor the end of
    the stream) of at most `MAX_FRAME_BYTES` whose message is such a text. Reading the envelope
    here saves the usual chunk of a stream a call and a copy.
    """
    size = len(data)
    pos = 0
    if framed:
        if size <= HEADER_BYTES or size - HEADER_BYTES > MAX_FRAME_BYTES or data[0]:
            return None
        if (data[1] << 24 | data[2] << 16 | data[3] << 8 | data[4]) != size - HEADER_BYTES:
            return None
        pos = HEADER_BYTES
    for tag in tags:
        if size - pos < 2 or data[pos] != tag:
            return None
        length = data[pos + 1]
        pos += 2
        if length >= 0x80:  # a length of more than one byte
            length, pos = _varint(data, pos - 1)
        if length != size - pos:
            return None
    if pos == size:
        return None
    try:
        return data[pos:].decode()
    except UnicodeDecodeError:
        return None
