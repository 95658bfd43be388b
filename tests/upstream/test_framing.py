"""Connect envelope codec: splits, caps, bounded gzip, end-stream JSON, request compression."""

from __future__ import annotations

import gzip
import itertools
import os
import struct
import zlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.upstream.framing import (
    FLAG_COMPRESSED,
    FLAG_END_STREAM,
    MAX_FRAME_BYTES,
    EndStream,
    Frame,
    FrameDecoder,
    FramingError,
    encode_frame,
    encode_request_frame,
    gunzip_bounded,
    parse_end_stream,
)

HEARTBEAT = bytes.fromhex("00 00 00 00 02 12 00")
CLEAN_END = bytes.fromhex("02 00 00 00 02 7b 7d")


def header(flags: int, length: int) -> bytes:
    return struct.pack(">BI", flags, length)


def decode_all(data: bytes, *, chunk: int | None = None, splits: list[int] | None = None) -> list[Frame]:
    decoder = FrameDecoder()
    frames: list[Frame] = []
    if splits is not None:
        cuts = sorted({min(max(s, 0), len(data)) for s in splits})
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    elif chunk is not None:
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    else:
        pieces = [data]
    for piece in pieces:
        frames.extend(decoder.feed(piece))
    decoder.close()
    return frames


def kind_of(exc: pytest.ExceptionInfo[FramingError]) -> str:
    return exc.value.kind


# --------------------------------------------------------------------------- Appendix A


def test_appendix_a_heartbeat():
    assert decode_all(HEARTBEAT) == [Frame(0, b"\x12\x00")]
    assert encode_frame(b"\x12\x00") == HEARTBEAT


def test_appendix_a_clean_end():
    decoder = FrameDecoder()
    [frame] = decoder.feed(CLEAN_END)
    assert frame.is_end_stream
    assert decoder.finished
    assert parse_end_stream(frame.payload) == EndStream(error=None, metadata=None)
    assert encode_frame(b"{}", end_stream=True) == CLEAN_END


def test_appendix_a_text_frame_one_byte_at_a_time():
    data = bytes.fromhex("00 00 00 00 06 12 04 0a 02 48 69")
    assert decode_all(data, chunk=1) == [Frame(0, bytes.fromhex("12 04 0a 02 48 69"))]


# --------------------------------------------------------------------------- splits

payloads = st.one_of(
    st.just(b""),
    st.just(b"\x12\x00"),
    st.binary(max_size=300),
    st.binary(min_size=1, max_size=20).map(lambda b: b * 200),  # compressible
)
frame_specs = st.lists(st.tuples(payloads, st.booleans()), max_size=12)


@given(frames=frame_specs, splits=st.lists(st.integers(min_value=0, max_value=100_000), max_size=40))
@example(frames=[(b"", False), (b"\x12\x00", True)], splits=[1, 2, 3, 4, 5, 6])
def test_any_split_gives_the_encoded_frames(frames, splits):
    stream = b"".join(encode_frame(payload, compress=compress) for payload, compress in frames)
    decoded = decode_all(stream, splits=[s % (len(stream) + 1) for s in splits])
    expected = [Frame(FLAG_COMPRESSED if compress else 0, payload) for payload, compress in frames]
    assert decoded == expected


@given(frames=frame_specs, tail=st.binary(max_size=50), chunk=st.integers(min_value=1, max_value=64))
def test_end_stream_stops_decoding_and_ignores_the_rest(frames, tail, chunk):
    end = encode_frame(b'{"metadata":{}}', compress=chunk % 2 == 0, end_stream=True)
    stream = b"".join(encode_frame(p, compress=c) for p, c in frames) + end + tail
    decoded = decode_all(stream, chunk=chunk)
    assert len(decoded) == len(frames) + 1
    assert decoded[-1].is_end_stream
    assert parse_end_stream(decoded[-1].payload) == EndStream(error=None, metadata={})


def test_many_frames_in_one_feed():
    stream = HEARTBEAT * 1000 + CLEAN_END
    decoder = FrameDecoder()
    frames = decoder.feed(stream)
    assert len(frames) == 1001
    assert decoder.finished
    assert decoder.buffered == 0


def test_bytes_after_end_stream_are_ignored_even_garbage():
    decoder = FrameDecoder()
    assert len(decoder.feed(CLEAN_END + b"\xff\xff\xff\xff\xff")) == 1
    assert decoder.feed(b"\xffnot a frame") == []
    decoder.close()
    assert decoder.finished


def test_buffered_counts_partial_frame():
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00\x00") == []
    assert decoder.buffered == 2
    assert decoder.feed(b"\x00\x00\x04ab") == []
    assert decoder.buffered == 2
    assert decoder.feed(b"cd") == [Frame(0, b"abcd")]
    assert decoder.buffered == 0


def test_large_frame_fed_one_byte_at_a_time_buffers_only_that_frame():
    # Speed and linearity are measured in bench/bench_framing.py; this checks the bookkeeping.
    payload = os.urandom(256 * 1024)
    data = encode_frame(payload)
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(len(data)):
        frames += decoder.feed(data[i : i + 1])
        assert decoder.buffered <= len(payload) + 5
    assert frames == [Frame(0, payload)]
    assert decoder.buffered == 0


def test_frame_exactly_at_the_cap_is_accepted():
    payload = b"\x00" * MAX_FRAME_BYTES
    assert decode_all(encode_frame(payload)) == [Frame(0, payload)]
    assert decode_all(encode_frame(payload, compress=True)) == [Frame(FLAG_COMPRESSED, payload)]


# --------------------------------------------------------------------------- rejections


@given(
    length=st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=0xFFFFFFFF),
    flags=st.sampled_from([0, 1, 2, 3]),
)
def test_declared_length_over_the_cap_is_rejected_from_the_header_alone(length, flags):
    decoder = FrameDecoder()
    with pytest.raises(FramingError) as exc:
        decoder.feed(header(flags, length))  # no payload byte has arrived
    assert kind_of(exc) == "frame_too_large"
    assert decoder.buffered == 0


def test_length_cap_is_configurable_and_checked_before_buffering():
    decoder = FrameDecoder(max_frame_bytes=10)
    assert decoder.feed(header(0, 10) + b"x" * 10) == [Frame(0, b"x" * 10)]
    with pytest.raises(FramingError) as exc:
        decoder.feed(header(0, 11) + b"x" * 3)
    assert kind_of(exc) == "frame_too_large"
    assert decoder.buffered == 0


@given(flags=st.integers(min_value=0, max_value=255).filter(lambda f: f & ~0x03))
def test_unknown_flag_bits_are_rejected(flags):
    with pytest.raises(FramingError) as exc:
        FrameDecoder().feed(header(flags, 2) + b"\x12\x00")
    assert kind_of(exc) == "bad_flags"


def test_decoder_stays_failed_after_an_error():
    decoder = FrameDecoder()
    with pytest.raises(FramingError):
        decoder.feed(header(0x80, 0))
    with pytest.raises(FramingError) as exc:
        decoder.feed(HEARTBEAT)
    assert kind_of(exc) == "bad_flags"
    with pytest.raises(FramingError):
        decoder.close()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        pytest.param(b"not gzip at all", "bad_gzip", id="corrupt-magic"),
        pytest.param(gz(b"hello world" * 10)[:-6], "bad_gzip", id="truncated-member"),
        pytest.param(gz(b"hello")[:10], "bad_gzip", id="header-only"),
        pytest.param(b"", "bad_gzip", id="empty"),
        pytest.param(gz(b"hello") + b"garbage", "bad_gzip", id="trailing-garbage"),
        pytest.param(gz(b"hello") + gz(b"world"), "bad_gzip", id="second-member"),
        pytest.param(gz(b"hello")[:-8] + b"\x00" * 8, "bad_gzip", id="bad-crc"),
        pytest.param(gz(b"\x00" * (5 * 1024 * 1024)), "gzip_too_large", id="bomb-5MiB"),
        pytest.param(gz(b"\x00" * (MAX_FRAME_BYTES + 1)), "gzip_too_large", id="one-byte-over"),
    ],
)
def test_bad_gzip_frames_are_rejected(payload, kind):
    for flags in (FLAG_COMPRESSED, FLAG_COMPRESSED | FLAG_END_STREAM):
        with pytest.raises(FramingError) as exc:
            decode_all(header(flags, len(payload)) + payload)
        assert kind_of(exc) == kind


def test_gunzip_bounded_output_never_exceeds_the_limit_plus_one():
    bomb = gz(b"\x00" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    with pytest.raises(FramingError) as exc:
        gunzip_bounded(bomb, limit=1000)
    assert kind_of(exc) == "gzip_too_large"


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=3000))
def test_gunzip_bounded_round_trip_and_limit(data, limit):
    packed = zlib.compress(data, wbits=31) if data else gz(b"")
    if len(data) <= limit:
        assert gunzip_bounded(packed, limit) == data
    else:
        with pytest.raises(FramingError) as exc:
            gunzip_bounded(packed, limit)
        assert kind_of(exc) == "gzip_too_large"


@given(st.binary(max_size=500))
def test_arbitrary_compressed_payloads_never_escape_as_other_errors(junk):
    try:
        decode_all(header(FLAG_COMPRESSED, len(junk)) + junk)
    except FramingError as exc:
        assert exc.kind in {"bad_gzip", "gzip_too_large"}


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=16))
def test_arbitrary_input_raises_only_framing_errors(data, chunk):
    try:
        decode_all(data, chunk=chunk)
    except FramingError as exc:
        assert exc.kind in {"bad_flags", "frame_too_large", "bad_gzip", "gzip_too_large", "truncated"}


# --------------------------------------------------------------------------- EOF


@pytest.mark.parametrize("cut", [1, 2, 4, 5, 6, 9])
def test_eof_mid_header_or_payload_is_truncated(cut):
    data = encode_frame(b"abcdefgh")  # 13 bytes
    decoder = FrameDecoder()
    assert decoder.feed(data[:cut]) == []
    with pytest.raises(FramingError) as exc:
        decoder.close()
    assert kind_of(exc) == "truncated"


def test_eof_after_header_of_nonempty_frame_is_truncated():
    decoder = FrameDecoder()
    decoder.feed(header(0, 3))
    assert decoder.buffered == 0
    with pytest.raises(FramingError) as exc:
        decoder.close()
    assert kind_of(exc) == "truncated"


def test_clean_eof_with_nothing_buffered_is_fine():
    decoder = FrameDecoder()
    decoder.close()
    decoder = FrameDecoder()
    assert decoder.feed(HEARTBEAT * 3) == [Frame(0, b"\x12\x00")] * 3
    decoder.close()
    assert not decoder.finished  # the caller decides that EOF without end-stream is a disconnect


# --------------------------------------------------------------------------- end stream


def test_compressed_end_stream_frame():
    body = b'{"error":{"code":"resource_exhausted","message":"slow down"}}'
    [frame] = decode_all(encode_frame(body, compress=True, end_stream=True))
    assert frame.flags == 0x03
    assert frame.is_end_stream
    assert frame.payload == body
    assert parse_end_stream(frame.payload).error == {"code": "resource_exhausted", "message": "slow down"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{}", EndStream(None, None)),
        (b'{"error":null}', EndStream(None, None)),
        (b'{"metadata":{"x":["1"]}}', EndStream(None, {"x": ["1"]})),
        (b'{"metadata":"odd"}', EndStream(None, None)),
        (b'{"error":{"code":"internal"},"metadata":{}}', EndStream({"code": "internal"}, {})),
        (b' {"future": 1} ', EndStream(None, None)),
    ],
)
def test_parse_end_stream(payload, expected):
    assert parse_end_stream(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [b"", b"[]", b"null", b"1", b'"x"', b"{", b"\xff\xfe", b'{"error":"boom"}', b'{"error":[1]}', b"{}{}"],
)
def test_bad_end_stream(payload):
    with pytest.raises(FramingError) as exc:
        parse_end_stream(payload)
    assert kind_of(exc) == "bad_end_stream"


@given(st.binary(max_size=100))
def test_parse_end_stream_only_raises_framing_errors(data):
    try:
        result = parse_end_stream(data)
    except FramingError as exc:
        assert exc.kind == "bad_end_stream"
    else:
        assert result.error is None or isinstance(result.error, dict)


# --------------------------------------------------------------------------- request side


def test_request_frame_is_plain_by_default_whatever_its_size():
    for size in (0, 1024, 1025, 64 * 1024):
        message = b"a" * size
        assert encode_request_frame(message) == header(0, size) + message


def test_request_frame_small_message_is_plain_even_with_gzip():
    for size in (0, 1, 1023, 1024):
        message = b"a" * size
        assert encode_request_frame(message, gzip=True) == header(0, size) + message


def test_request_frame_large_compressible_is_gzipped():
    message = b"hello world " * 200
    frame = encode_request_frame(message, gzip=True)
    assert frame[0] == FLAG_COMPRESSED
    assert frame[5:8] == b"\x1f\x8b\x08"
    assert len(frame) < len(message)
    assert decode_all(frame) == [Frame(FLAG_COMPRESSED, message)]


def test_request_frame_1025_compressible_bytes_are_gzipped():
    assert encode_request_frame(b"a" * 1025, gzip=True)[0] == FLAG_COMPRESSED


def test_request_frame_large_incompressible_is_plain():
    message = os.urandom(4096)
    assert encode_request_frame(message, gzip=True) == header(0, len(message)) + message


@given(
    st.binary(max_size=3000) | st.binary(min_size=1, max_size=50).map(lambda b: b * 100),
    st.booleans(),
)
def test_request_frame_round_trips(message, gzip):
    frame = encode_request_frame(message, gzip=gzip)
    assert frame[0] in ((0, FLAG_COMPRESSED) if gzip else (0,))
    if frame[0] == FLAG_COMPRESSED:
        assert len(message) > 1024
        assert len(frame) - 5 < len(message)
    [decoded] = decode_all(frame)
    assert decoded.payload == message


def test_encode_frame_is_deterministic():
    assert encode_frame(b"x" * 100, compress=True) == encode_frame(b"x" * 100, compress=True)


def test_good_frames_before_a_bad_one_in_the_same_chunk_are_delivered_first():
    good = encode_frame(b"\x12\x04\x0a\x02Hi")
    bad = bytes([0x04, 0, 0, 0, 0])  # unknown flag bit
    decoder = FrameDecoder()
    assert [f.payload for f in decoder.feed(good + good + bad)] == [b"\x12\x04\x0a\x02Hi"] * 2
    with pytest.raises(FramingError) as info:
        decoder.feed(b"")
    assert info.value.kind == "bad_flags"
    with pytest.raises(FramingError):
        decoder.close()


@given(
    payloads=st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 300), max_size=8),
)
def test_at_boundary_says_whether_the_bytes_fed_so_far_end_where_a_frame_ends(payloads, cuts):
    stream = b"".join(encode_frame(payload) for payload in payloads)
    ends = set(itertools.accumulate(len(encode_frame(payload)) for payload in payloads))
    decoder = FrameDecoder()
    assert decoder.at_boundary
    fed = 0
    for cut in sorted({min(cut, len(stream)) for cut in cuts} | {len(stream)}):
        if cut == fed:
            continue
        decoder.feed(stream[fed:cut])
        fed = cut
        assert decoder.at_boundary == (fed in ends)
