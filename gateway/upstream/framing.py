"""Sans-IO Connect envelope codec: size caps, bounded gzip, end-stream JSON.

This module owns the byte layer of cursor-protocol.md §6: the 5-byte envelope header
(flags u8, length u32 big-endian), the request-side compression rule (§6.2), the incremental
response decoder with its caps (§6.3) and the parse of the end-of-stream JSON object. It takes
bytes and returns frames; it never touches a socket, so the transport feeds it whatever chunks
the network delivers.

Decoder guarantees:

* any split of the input gives the same frames (one frame may span many feeds, one feed may hold
  many frames); feeding is linear in the input size, even one byte at a time;
* a declared length over the cap is rejected from the header alone, before any payload is kept;
* unknown flag bits, bad or oversized gzip, and EOF inside a frame are `FramingError`s with a
  machine-readable `kind`; once an error is raised the decoder stays failed;
* bytes after the end-of-stream frame are ignored.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final, Literal

import orjson

FLAG_COMPRESSED: Final = 0x01
FLAG_END_STREAM: Final = 0x02
KNOWN_FLAGS: Final = FLAG_COMPRESSED | FLAG_END_STREAM
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
"""Cap on a frame's wire length and on its decompressed size (§6.2, §6.3)."""

HEADER_BYTES: Final = 5
MAX_WIRE_LENGTH: Final = 0xFFFF_FFFF
COMPRESS_THRESHOLD: Final = 1024
"""With request compression on, frames are gzipped only when the message is longer than this (§6.2)."""
GZIP_LEVEL: Final = 6

_HEADER: Final = struct.Struct(">BI")

FramingErrorKind = Literal[
    "bad_flags", "frame_too_large", "bad_gzip", "gzip_too_large", "truncated", "bad_end_stream"
]


class FramingError(Exception):
    """The upstream broke the envelope protocol; `kind` says how (one of `FramingErrorKind`)."""

    def __init__(self, kind: FramingErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: FramingErrorKind = kind


class UndecodableFrame(ValueError):
    """A data frame whose payload is not the message the RPC promises (raised by the decoders)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded envelope. `flags` are as on the wire; `payload` is already decompressed."""

    flags: int
    payload: bytes

    @property
    def is_end_stream(self) -> bool:
        return bool(self.flags & FLAG_END_STREAM)

    @property
    def was_compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED)


@dataclass(frozen=True, slots=True)
class EndStream:
    """The end-of-stream JSON object: `error` is None for a clean end."""

    error: dict[str, object] | None
    metadata: dict[str, object] | None


# --------------------------------------------------------------------------- encoding


def _gzip(data: bytes) -> bytes:
    """One gzip member, level 6, with a zero mtime so the output is deterministic."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def encode_frame(message: bytes, *, compress: bool = False, end_stream: bool = False) -> bytes:
    """One envelope around `message`; `compress=True` gzips it and sets flag 0x01."""
    payload = _gzip(message) if compress else message
    if len(payload) > MAX_WIRE_LENGTH:
        raise ValueError(f"a frame payload cannot exceed {MAX_WIRE_LENGTH} bytes")
    flags = (FLAG_COMPRESSED if compress else 0) | (FLAG_END_STREAM if end_stream else 0)
    return _HEADER.pack(flags, len(payload)) + payload


def encode_request_frame(message: bytes, *, gzip: bool = False) -> bytes:
    """The request envelope (§6.2). Plain by default, as every current public client sends it
    (upstream-2026.md §6); with `gzip`, gzip + flag 1 when longer than 1024 bytes and it shrinks."""
    if gzip and len(message) > COMPRESS_THRESHOLD:
        packed = _gzip(message)
        if len(packed) < len(message):
            return _HEADER.pack(FLAG_COMPRESSED, len(packed)) + packed
    return encode_frame(message)


# --------------------------------------------------------------------------- decoding


def gunzip_bounded(data: bytes, limit: int = MAX_FRAME_BYTES) -> bytes:
    """Decompress exactly one complete gzip member whose output is at most `limit` bytes.

    Raises `FramingError("gzip_too_large")` when the output would exceed `limit` (without ever
    producing more than `limit + 1` bytes), and `FramingError("bad_gzip")` for corrupt data, a
    truncated member, or any bytes after the member (including a second member).
    """
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FramingError("bad_gzip", f"corrupt gzip data: {exc}") from None
    if len(out) > limit:
        raise FramingError("gzip_too_large", f"gzip payload inflates to more than {limit} bytes")
    if decompressor.unconsumed_tail:
        # Unreachable while len(out) <= limit, kept as the belt to the braces above.
        raise FramingError("gzip_too_large", f"gzip payload inflates to more than {limit} bytes")
    if not decompressor.eof:
        raise FramingError("bad_gzip", "truncated gzip member")
    if decompressor.unused_data:
        raise FramingError("bad_gzip", f"{len(decompressor.unused_data)} bytes after the gzip member")
    return out


class FrameDecoder:
    """Incremental envelope decoder: `feed()` bytes as they arrive, `close()` at EOF.

    State is a 5-byte header buffer and the payload of the current frame; nothing else is held,
    so memory is bounded by `max_frame_bytes` plus the header, whatever the chunking.
    """

    __slots__ = ("_error", "_finished", "_flags", "_header", "_max", "_need", "_payload", "at_boundary")

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self._max = max_frame_bytes
        self._header = bytearray()
        self._payload = bytearray()
        self._flags = 0
        self._need = -1  # -1: reading a header; >= 0: payload bytes still missing
        self._finished = False
        self._error: FramingError | None = None
        # Read-only outside: no part of a frame is held, so the next byte fed starts a frame.
        self.at_boundary = True

    @property
    def finished(self) -> bool:
        """True once the end-of-stream frame has been decoded."""
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame currently held."""
        return len(self._header) + len(self._payload)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Consume `data`; return the frames it completes, in order.

        A bad frame raises `FramingError`. Good frames before it in the same chunk are returned
        first (so no content that arrived intact is lost), and the error is raised by the next
        `feed()` or `close()`.
        """
        if self._error is not None:
            raise self._error
        if self._finished:
            return []
        if self._need < 0 and not self._header and type(data) is bytes and len(data) >= HEADER_BYTES:
            # The common case: a chunk that is exactly one whole frame.
            flags, length = _HEADER.unpack_from(data)
            if len(data) == HEADER_BYTES + length and not flags & ~KNOWN_FLAGS and length <= self._max:
                if not flags:  # plain data: nothing to inflate, not the end
                    return [Frame(0, data[HEADER_BYTES:])]
                self._flags = flags
                try:
                    return [self._complete(data[HEADER_BYTES:])]
                except FramingError as exc:
                    self._error = exc
                    raise
        frames: list[Frame] = []
        try:
            self._feed(memoryview(data).cast("B"), frames)
        except FramingError as exc:
            self._error = exc
            self._header.clear()
            self._payload = bytearray()
            if not frames:
                raise
        finally:
            self.at_boundary = self._need < 0 and not self._header
        return frames

    def close(self) -> None:
        """Signal EOF: raises `FramingError("truncated")` if a frame was cut off."""
        if self._error is not None:
            raise self._error
        if self._finished or (self.buffered == 0 and self._need < 0):
            return
        part = "payload" if self._need >= 0 else "header"
        self._error = FramingError(
            "truncated", f"stream ended inside a frame {part} ({self.buffered} bytes buffered)"
        )
        raise self._error

    def _feed(self, view: memoryview, frames: list[Frame]) -> None:
        pos = 0
        end = len(view)
        while pos < end:
            if self._need < 0:
                missing = HEADER_BYTES - len(self._header)
                if not self._header and end - pos >= HEADER_BYTES:
                    flags, length = _HEADER.unpack_from(view, pos)
                    pos += HEADER_BYTES
                else:
                    take = min(missing, end - pos)
                    self._header += view[pos : pos + take]
                    pos += take
                    if len(self._header) < HEADER_BYTES:
                        break
                    flags, length = _HEADER.unpack(self._header)
                    self._header.clear()
                self._start(flags, length)
                if length == 0:
                    frames.append(self._complete(b""))
                elif end - pos >= length:
                    # Whole payload in this chunk: slice it without going through the buffer.
                    frames.append(self._complete(view[pos : pos + length].tobytes()))
                    pos += length
                if self._finished:
                    break
                continue
            take = min(self._need, end - pos)
            self._payload += view[pos : pos + take]
            self._need -= take
            pos += take
            if self._need == 0:
                payload = bytes(self._payload)
                self._payload = bytearray()
                frames.append(self._complete(payload))
                if self._finished:
                    break

    def _start(self, flags: int, length: int) -> None:
        if flags & ~KNOWN_FLAGS:
            raise FramingError("bad_flags", f"unknown envelope flags 0x{flags:02x}")
        if length > self._max:
            raise FramingError(
                "frame_too_large", f"frame declares {length} bytes, over the {self._max}-byte limit"
            )
        self._flags = flags
        self._need = length

    def _complete(self, payload: bytes) -> Frame:
        flags = self._flags
        self._need = -1
        if flags & FLAG_COMPRESSED:
            payload = gunzip_bounded(payload, self._max)
        if flags & FLAG_END_STREAM:
            self._finished = True
        return Frame(flags, payload)


def parse_end_stream(payload: bytes) -> EndStream:
    """Parse the end-of-stream JSON (§6.3 step 5).

    The payload must be a JSON object. `error` must be an object when present (a JSON `null` is
    read as absent); `metadata` is returned when it is an object and otherwise ignored, since
    the gateway never acts on it. Anything else is `FramingError("bad_end_stream")`.
    """
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FramingError("bad_end_stream", f"end-of-stream payload is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise FramingError("bad_end_stream", f"end-of-stream payload is a JSON {type(parsed).__name__}")
    error = parsed.get("error")
    if error is not None and not isinstance(error, dict):
        raise FramingError("bad_end_stream", f"end-of-stream `error` is a JSON {type(error).__name__}")
    metadata = parsed.get("metadata")
    return EndStream(error=error, metadata=metadata if isinstance(metadata, dict) else None)
