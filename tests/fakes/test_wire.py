"""Byte vectors of cursor-protocol.md Appendix A and §10.1, produced by the simulator's encoders."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes.scenarios import gzip_bomb
from tests.fakes.wire import (
    CLEAN_END,
    MAX_FRAME,
    EnvelopeReader,
    ErrorDetail,
    WireError,
    b64_unpadded,
    decode_request_envelope,
    encode_error_details,
    encode_frame,
    end_stream_frame,
    error_detail_json,
    frame_header,
    gunzip_bounded,
    gzip_bytes,
    pb_bytes,
    pb_double,
    pb_varint,
    split_frames,
    top_level_fields,
    wrap_chat_response,
    wrap_tool_call,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_heartbeat_frame() -> None:
    inner = pb.StreamUnifiedChatResponse().SerializeToString()
    assert encode_frame(wrap_chat_response(inner)) == h("00 00 00 00 02 12 00")


def test_text_frame_hi() -> None:
    inner = pb.StreamUnifiedChatResponse(text="Hi").SerializeToString()
    assert encode_frame(wrap_chat_response(inner)) == h("00 00 00 00 06 12 04 0a 02 48 69")


def test_thinking_frame_ok() -> None:
    message = pb.StreamUnifiedChatResponse(thinking=pb.ConversationMessage.Thinking(text="ok"))
    assert encode_frame(wrap_chat_response(message.SerializeToString())) == h(
        "00 00 00 00 09 12 07 ca 01 04 0a 02 6f 6b"
    )


def test_clean_end() -> None:
    assert h("02 00 00 00 02 7b 7d") == CLEAN_END
    assert end_stream_frame() == CLEAN_END


def test_tool_call_frame() -> None:
    call = pb.ClientSideToolV2Call(
        tool=pb.CLIENT_SIDE_TOOL_V2_MCP,
        tool_call_id="toolu_01",
        name="get_weather",
        raw_args='{"city": "Par',
        is_streaming=True,
        mcp_params=pb.MCPParams(tools=[pb.MCPParams.Tool(name="get_weather", server_name="custom")]),
        tool_index=1,
        model_call_id="abc",
    )
    expected = h(
        "00 00 00 00 4f 0a 4d 08 13 1a 08 74 6f 6f 6c 75 5f 30 31 4a 0b 67 65 74 5f 77 65 61 74 68 65 72"
        " 52 0d 7b 22 63 69 74 79 22 3a 20 22 50 61 72 70 01 da 01 17 0a 15 0a 0b 67 65 74 5f 77 65 61"
        " 74 68 65 72 22 06 63 75 73 74 6f 6d 80 03 01 8a 03 03 61 62 63"
    )
    assert encode_frame(wrap_tool_call(call.SerializeToString())) == expected


def test_error_details_value_example() -> None:
    raw = encode_error_details(50, title="Rate limited", detail="Please slow down.", is_expected=True)
    assert raw == b"\x08\x32\x12\x21\x0a\x0cRate limited\x12\x11Please slow down.\x18\x01"
    assert b64_unpadded(raw) == "CDISIQoMUmF0ZSBsaW1pdGVkEhFQbGVhc2Ugc2xvdyBkb3duLhgB"


def test_error_detail_json_shape() -> None:
    item = error_detail_json(ErrorDetail(50, "Rate limited", "Please slow down."), "ERROR_RATE_LIMITED")
    assert item == {
        "type": "aiserver.v1.ErrorDetails",
        "value": "CDISIQoMUmF0ZSBsaW1pdGVkEhFQbGVhc2Ugc2xvdyBkb3duLhgB",
        "debug": {
            "error": "ERROR_RATE_LIMITED",
            "details": {"title": "Rate limited", "detail": "Please slow down.", "isRetryable": False},
            "isExpected": True,
        },
    }


def test_unpadded_base64_never_pads() -> None:
    for n in range(1, 8):
        value = b64_unpadded(b"x" * n)
        assert "=" not in value
        assert base64.b64decode(value + "=" * (-len(value) % 4)) == b"x" * n


def test_end_stream_variants() -> None:
    compressed = end_stream_frame(compress=True)
    assert compressed[0] == 0x03
    assert gunzip_bounded(compressed[5:]) == b"{}"
    with_meta = end_stream_frame(metadata={"a": ["b"]})
    assert with_meta[5:] == b'{"metadata":{"a":["b"]}}'
    err = end_stream_frame(error={"code": "internal", "message": "Error"})
    assert err[0] == 0x02 and b'"error"' in err


def test_request_envelope_plain_and_gzip() -> None:
    payload = b"\x0a\x00" * 1000
    plain = decode_request_envelope(encode_frame(payload))
    assert (plain.flags, plain.payload, plain.extra_bytes) == (0, payload, 0)
    zipped = decode_request_envelope(encode_frame(payload, compress=True) + b"tail")
    assert (zipped.flags, zipped.payload, zipped.extra_bytes) == (1, payload, 4)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x00\x00", "truncated"),
        (frame_header(0x02, 2) + b"{}", "bad_flags"),
        (frame_header(0x80, 0), "bad_flags"),
        (frame_header(0, MAX_FRAME + 1), "too_large"),
        (frame_header(0, 10) + b"abc", "truncated"),
        (frame_header(1, 4) + b"abcd", "bad_gzip"),
    ],
)
def test_request_envelope_rejections(body: bytes, reason: str) -> None:
    with pytest.raises(WireError) as info:
        decode_request_envelope(body)
    assert info.value.reason == reason


def test_gunzip_bounded_rejects_bomb_truncation_and_trailing_bytes() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 64 * 1024
    with pytest.raises(WireError, match="exceeds"):
        gunzip_bounded(bomb)
    member = gzip_bytes(b"hello")
    with pytest.raises(WireError, match="truncated"):
        gunzip_bounded(member[:-3])
    with pytest.raises(WireError, match="left over"):
        gunzip_bounded(member + b"x")
    assert gunzip_bounded(member) == b"hello"


@given(st.lists(st.tuples(st.binary(max_size=300), st.booleans()), max_size=20))
def test_frames_round_trip(items: list[tuple[bytes, bool]]) -> None:
    data = b"".join(encode_frame(payload, compress=compress) for payload, compress in items)
    frames = split_frames(data)
    assert [(flags & 1 == 1) for flags, _ in frames] == [compress for _, compress in items]
    decoded = [gunzip_bounded(p) if flags & 1 else p for flags, p in frames]
    assert decoded == [payload for payload, _ in items]


@given(st.lists(st.binary(max_size=40), max_size=6), st.data())
def test_the_envelope_reader_gives_the_same_frames_at_any_split(payloads, data):
    stream = b"".join(encode_frame(p, compress=i % 2 == 1) for i, p in enumerate(payloads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = EnvelopeReader()
    frames = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames.extend(reader.feed(stream[start:end]))
    assert [payload for _, payload in frames] == payloads and reader.pending == 0


def test_the_envelope_reader_refuses_bad_flags_and_sizes():
    with pytest.raises(WireError):
        EnvelopeReader().feed(frame_header(0x04, 0))
    with pytest.raises(WireError):
        EnvelopeReader(limit=8).feed(frame_header(0, 9))


def test_top_level_fields_reads_every_wire_type():
    data = pb_varint(1, 300) + pb_bytes(8, "x" * 200) + pb_double(3, 1.5) + b"\x25\x00\x00\x00\x00"
    assert top_level_fields(data) == [1, 8, 3, 4]
    with pytest.raises(WireError):
        top_level_fields(pb_bytes(2, "abc")[:-1])
