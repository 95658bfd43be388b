"""The simulator's own Connect wire codec (cursor-protocol.md §6, §10.1).

Owns: envelope encoding (plain / gzip / end-of-stream), decoding of the request's single
envelope, bounded gunzip, end-of-stream trailers, `ErrorDetails` values as unpadded standard
base64, and hand-built raw protobuf fields (for the unmodeled fields of SIM-14).

Deliberately independent of `gateway/`: the simulator checks the gateway, so it must not share
its codec. Only the generated protobuf module is shared.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from gateway.upstream.pb import cursor_pb2 as pb

MAX_FRAME: Final = 4 * 1024 * 1024
FLAG_COMPRESSED: Final = 0x01
FLAG_END_STREAM: Final = 0x02
HEADER_SIZE: Final = 5

HEARTBEAT_PAYLOAD: Final = b"\x12\x00"


class WireError(ValueError):
    """A request envelope the simulator cannot accept; `reason` is a short machine name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# ---------------------------------------------------------------- gzip


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """One complete gzip member with mtime 0, so output is deterministic."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def gunzip_bounded(data: bytes, limit: int = MAX_FRAME) -> bytes:
    """Inflate one gzip member, refusing output over `limit`, trailing input or truncation."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise WireError("bad_gzip", f"gzip data is corrupt: {exc}") from exc
    if len(out) > limit:
        raise WireError("too_large", f"gzip output exceeds {limit} bytes")
    if inflater.unconsumed_tail or inflater.unused_data:
        raise WireError("bad_gzip", "bytes left over after the gzip member")
    if not inflater.eof:
        raise WireError("bad_gzip", "gzip member is truncated")
    return out


# ---------------------------------------------------------------- envelopes


def frame_header(flags: int, length: int) -> bytes:
    return struct.pack(">BI", flags, length)


def encode_frame(payload: bytes, *, compress: bool = False, flags: int = 0) -> bytes:
    """Envelope `payload`; with `compress` it is gzipped and flag 0x01 is added."""
    if compress:
        payload = gzip_bytes(payload)
        flags |= FLAG_COMPRESSED
    return frame_header(flags, len(payload)) + payload


def end_stream_frame(
    *,
    error: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Sequence[str]] | None = None,
    compress: bool = False,
) -> bytes:
    """The end-of-stream envelope (flag 0x02, or 0x03 compressed) carrying Connect JSON."""
    body: dict[str, Any] = {}
    if error is not None:
        body["error"] = dict(error)
    if metadata is not None:
        body["metadata"] = {key: list(values) for key, values in metadata.items()}
    payload = json.dumps(body, separators=(",", ":")).encode()
    return encode_frame(payload, compress=compress, flags=FLAG_END_STREAM)


CLEAN_END: Final = frame_header(FLAG_END_STREAM, 2) + b"{}"


@dataclass(frozen=True, slots=True)
class RequestEnvelope:
    """The decoded first envelope of a streaming request."""

    flags: int
    length: int
    payload: bytes  # decompressed
    extra_bytes: int  # bytes following the first envelope (further frames are not decoded)


def decode_request_envelope(body: bytes, limit: int = MAX_FRAME) -> RequestEnvelope:
    """Decode the single request envelope (flag 0 or 1); the declared length is checked first."""
    if len(body) < HEADER_SIZE:
        raise WireError("truncated", f"request body has {len(body)} bytes, less than a frame header")
    flags, length = struct.unpack(">BI", body[:HEADER_SIZE])
    if flags & ~FLAG_COMPRESSED:
        raise WireError("bad_flags", f"request frame has unexpected flags 0x{flags:02x}")
    if length > limit:
        raise WireError("too_large", f"request frame declares {length} bytes, over {limit}")
    end = HEADER_SIZE + length
    if len(body) < end:
        raise WireError("truncated", f"request frame declares {length} bytes, {len(body) - 5} present")
    payload = body[HEADER_SIZE:end]
    if flags & FLAG_COMPRESSED:
        payload = gunzip_bounded(payload, limit)
    return RequestEnvelope(flags=flags, length=length, payload=payload, extra_bytes=len(body) - end)


def split_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split a complete response body into raw (flags, payload) pairs. A test helper: no caps."""
    frames: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER_SIZE:
            raise WireError("truncated", "partial frame header at end of data")
        flags, length = struct.unpack(">BI", data[pos : pos + HEADER_SIZE])
        start = pos + HEADER_SIZE
        if len(data) < start + length:
            raise WireError("truncated", "partial frame payload at end of data")
        frames.append((flags, data[start : start + length]))
        pos = start + length
    return frames


# ---------------------------------------------------------------- errors


def b64_unpadded(data: bytes) -> str:
    """Standard-alphabet base64 without `=` padding, as the upstream writes `details[].value`."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def encode_error_details(
    error: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    is_expected: bool | None = True,
    additional_info: Mapping[str, str] | None = None,
    action_required: str | None = None,
) -> bytes:
    """Serialize `aiserver.v1.ErrorDetails` (fields in number order, like the upstream).

    `action_required` adds the analytics record live refusals carry in `CustomErrorDetails`
    field 10 (`{1: "payment"}`), which the gateway does not model."""
    message = pb.ErrorDetails(error=cast("pb.ErrorDetails.Error", error))
    if title is not None or detail is not None or additional_info or action_required:
        message.details.title = title or ""
        message.details.detail = detail or ""
        for key, value in (additional_info or {}).items():
            message.details.additional_info[key] = value
        if action_required:
            message.details.MergeFromString(pb_bytes(10, pb_bytes(1, action_required)))
    if is_expected is not None:
        message.is_expected = is_expected
    return message.SerializeToString(deterministic=True)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of a Connect error's `details` list."""

    error: int
    title: str | None = None
    detail: str | None = None
    is_expected: bool | None = True
    is_retryable: bool = False
    action_required: str | None = None


def error_detail_json(item: ErrorDetail, error_name: str) -> dict[str, Any]:
    """A `details[]` entry: binary `value` plus the human `debug` object Connect servers add."""
    value = encode_error_details(
        item.error,
        title=item.title,
        detail=item.detail,
        is_expected=item.is_expected,
        action_required=item.action_required,
    )
    debug: dict[str, Any] = {"error": error_name}
    if item.title is not None or item.detail is not None:
        debug["details"] = {
            "title": item.title or "",
            "detail": item.detail or "",
            "isRetryable": item.is_retryable,
        }
        if item.action_required:
            debug["details"]["analyticsMetadata"] = {"actionRequired": item.action_required}
    if item.is_expected is not None:
        debug["isExpected"] = item.is_expected
    return {"type": "aiserver.v1.ErrorDetails", "value": b64_unpadded(value), "debug": debug}


def connect_error(code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The Connect error object `{"code", "message", "details"?}`."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = list(details)
    return body


# ---------------------------------------------------------------- raw protobuf


def varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def pb_varint(field: int, value: int) -> bytes:
    return pb_tag(field, 0) + varint(value)


def pb_bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return pb_tag(field, 2) + varint(len(data)) + data


def pb_double(field: int, value: float) -> bytes:
    return pb_tag(field, 1) + struct.pack("<d", value)


def wrap_chat_response(inner: bytes) -> bytes:
    """`StreamUnifiedChatResponseWithTools{stream_unified_chat_response=<inner bytes>}`."""
    return pb_bytes(2, inner)


def wrap_tool_call(inner: bytes) -> bytes:
    """`StreamUnifiedChatResponseWithTools{client_side_tool_v2_call=<inner bytes>}`."""
    return pb_bytes(1, inner)


class EnvelopeReader:
    """Incremental reader of request envelopes (a bidirectional stream's client frames).

    `feed()` returns the complete (flags, payload) pairs, payloads gunzipped; a bad flag, a length
    over `limit` or bad gzip raises `WireError`. `pending` is the count of bytes of an unfinished
    frame, so a caller can tell a clean end of input from a cut one.
    """

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._limit = limit
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= HEADER_SIZE:
            flags, length = struct.unpack(">BI", self._buffer[:HEADER_SIZE])
            if flags & ~(FLAG_COMPRESSED | FLAG_END_STREAM):
                raise WireError("bad_flags", f"request frame has unexpected flags 0x{flags:02x}")
            if length > self._limit:
                raise WireError("too_large", f"request frame declares {length} bytes, over {self._limit}")
            if len(self._buffer) < HEADER_SIZE + length:
                break
            payload = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + length])
            del self._buffer[: HEADER_SIZE + length]
            if flags & FLAG_COMPRESSED:
                payload = gunzip_bounded(payload, self._limit)
            frames.append((flags, payload))
        return frames


def top_level_fields(data: bytes) -> list[int]:
    """The field numbers at the top level of a serialized message, in order (raises `WireError`)."""
    numbers: list[int] = []
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            if pos >= len(data) or shift > 63:
                raise WireError("bad_protobuf", "truncated varint")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        numbers.append(number)
        if wire_type == 0:
            read_varint()
        elif wire_type == 1:
            pos += 8
        elif wire_type == 2:
            length = read_varint()  # read first: `pos += read_varint()` would add to the old pos
            pos += length
        elif wire_type == 5:
            pos += 4
        else:
            raise WireError("bad_protobuf", f"wire type {wire_type}")
        if pos > len(data):
            raise WireError("bad_protobuf", "field runs past the end")
    return numbers
