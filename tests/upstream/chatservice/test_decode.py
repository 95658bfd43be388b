"""Response frames -> events: text trim, thinking, heartbeats, unknown fields, tool frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.upstream.chatservice.decode import ResponseDecoder, UndecodableFrame
from gateway.upstream.pb import cursor_pb2 as pb


def text_frame(text: str) -> bytes:
    return pb.StreamUnifiedChatResponseWithTools(
        stream_unified_chat_response=pb.StreamUnifiedChatResponse(text=text)
    ).SerializeToString()


def test_appendix_a_payloads():
    decoder = ResponseDecoder()
    assert decoder.message(bytes.fromhex("12 04 0a 02 48 69")) == [TextDelta("Hi")]
    assert decoder.message(bytes.fromhex("12 07 ca 01 04 0a 02 6f 6b")) == [ThinkingDelta("ok")]
    assert decoder.message(bytes.fromhex("12 00")) == []
    assert decoder.message(b"") == []


def test_leading_newlines_trimmed_only_before_the_first_text():
    decoder = ResponseDecoder()
    assert decoder.message(text_frame("\n\n")) == []
    assert decoder.message(text_frame("\r\nHello")) == [TextDelta("Hello")]
    assert decoder.message(text_frame("\n\nworld")) == [TextDelta("\n\nworld")]


def test_unknown_fields_are_ignored():
    inner = pb.StreamUnifiedChatResponse(text="x").SerializeToString()
    # field 22 (string), field 30 (message of varints), field 13 (varint)
    unknown = bytes.fromhex("b2 01 03 61 62 63") + bytes.fromhex("f2 01 02 08 01") + bytes.fromhex("68 05")
    payload = bytes([0x12, len(inner) + len(unknown)]) + inner + unknown
    assert ResponseDecoder().message(payload) == [TextDelta("x")]


def test_native_tool_call_frames_pass_through_as_they_came():
    call = pb.ClientSideToolV2Call(tool=5, tool_call_id="t1", name="read_file", is_streaming=True)
    payload = pb.StreamUnifiedChatResponseWithTools(client_side_tool_v2_call=call).SerializeToString()
    assert ResponseDecoder().message(payload) == [
        NativeToolFrame("t1", 5, "read_file", None, "", is_streaming=True, is_last_message=False)
    ]
    call.is_last_message = True
    call.raw_args = '{"a": 1}'
    payload = pb.StreamUnifiedChatResponseWithTools(client_side_tool_v2_call=call).SerializeToString()
    assert ResponseDecoder().message(payload) == [
        NativeToolFrame("t1", 5, "read_file", None, '{"a": 1}', is_streaming=True, is_last_message=True)
    ]


def test_appendix_a_mcp_tool_call_frame():
    """N4, N5: the Appendix A frame gives the cumulative raw_args and both names."""
    frame = bytes.fromhex(
        "0a 4d 08 13 1a 08 74 6f 6f 6c 75 5f 30 31 4a 0b 67 65 74 5f 77 65 61 74 68 65 72 52 0d 7b 22 63 69"
        " 74 79 22 3a 20 22 50 61 72 70 01 da 01 17 0a 15 0a 0b 67 65 74 5f 77 65 61 74 68 65 72 22 06 63 75"
        " 73 74 6f 6d 80 03 01 8a 03 03 61 62 63"
    )
    assert ResponseDecoder().message(frame) == [
        NativeToolFrame(
            tool_call_id="toolu_01",
            tool=19,
            name="get_weather",
            mcp_name="get_weather",
            raw_args='{"city": "Par',
            is_streaming=True,
            is_last_message=False,
        )
    ]


def test_garbage_is_a_decode_error():
    with pytest.raises(UndecodableFrame):
        ResponseDecoder().message(b"\xff\xff\xff\xff")


@given(st.binary(max_size=512))
def test_arbitrary_payloads_decode_or_raise_undecodable(payload):
    try:
        events = ResponseDecoder().message(payload)
    except UndecodableFrame:
        return
    assert all(isinstance(e, TextDelta | ThinkingDelta | NativeToolFrame) for e in events)
    assert all(e.text for e in events if isinstance(e, TextDelta | ThinkingDelta))


@given(st.lists(st.text(min_size=1), min_size=1, max_size=8))
def test_text_frames_round_trip_with_only_leading_newlines_trimmed(pieces):
    decoder = ResponseDecoder()
    out = "".join(e.text for p in pieces for e in decoder.message(text_frame(p)))
    assert out == "".join(pieces).lstrip("\r\n")


def test_text_frames_take_the_wire_path_and_other_frames_the_parse():
    decoder = ResponseDecoder()
    with_thinking = pb.StreamUnifiedChatResponseWithTools(
        stream_unified_chat_response=pb.StreamUnifiedChatResponse(
            text="a", thinking=pb.ConversationMessage.Thinking(text="t")
        )
    ).SerializeToString()
    assert decoder.message(text_frame("é" * 200)) == [TextDelta("é" * 200)]  # a two-byte length
    assert decoder.message(with_thinking) == [TextDelta("a")]  # text first (§9.2), as before
    assert decoder.message(text_frame("a") + text_frame("b")) == [TextDelta("b")]  # the last one wins
    with pytest.raises(UndecodableFrame):  # not UTF-8: refused, on either path
        decoder.message(bytes.fromhex("12 03 0a 01 ff"))


# ---------------------------------------------------------------- MCP arguments (upstream-2026.md §5)


def mcp_payload(raw_args: str, parameters: str | None) -> bytes:
    tool = pb.MCPParams.Tool(name="get_weather", server_name="custom")
    if parameters is not None:
        tool.parameters = parameters
    call = pb.ClientSideToolV2Call(
        tool=19,
        tool_call_id="c1",
        name="mcp_custom_get_weather",
        raw_args=raw_args,
        is_streaming=True,
        mcp_params=pb.MCPParams(tools=[tool]),
    )
    return pb.StreamUnifiedChatResponseWithTools(client_side_tool_v2_call=call).SerializeToString()


@pytest.mark.parametrize(
    ("raw_args", "parameters", "expected"),
    [
        ('{"city":"Paris"}', None, '{"city":"Paris"}'),  # the captured form: raw_args only
        ("", '{"city": "Paris"}', '{"city": "Paris"}'),  # only the nested field
        ('{"city":"Pa', '{"city": "Paris"}', '{"city": "Paris"}'),  # both: the nested field wins
        ('{"city": "Paris"}', "", '{"city": "Paris"}'),  # an empty nested field is absent
    ],
)
def test_mcp_arguments_come_from_the_nested_field_when_present(raw_args, parameters, expected):
    [frame] = ResponseDecoder().message(mcp_payload(raw_args, parameters))
    assert isinstance(frame, NativeToolFrame)
    assert (frame.raw_args, frame.mcp_name, frame.name) == (expected, "get_weather", "mcp_custom_get_weather")


# ---------------------------------------------------------------- composer models (upstream-2026.md §3)


def thinking_frame(text: str) -> bytes:
    inner = pb.StreamUnifiedChatResponse(thinking=pb.ConversationMessage.Thinking(text=text))
    return pb.StreamUnifiedChatResponseWithTools(stream_unified_chat_response=inner).SerializeToString()


def decode_all(decoder: ResponseDecoder, payloads: list[bytes]) -> list:
    return [e for p in payloads for e in decoder.message(p)] + decoder.end()


def test_composer_thinking_field_carries_the_answer_after_the_marker():
    events = decode_all(
        ResponseDecoder(composer=True),
        [
            thinking_frame("I should gre"),
            thinking_frame("et.</thi"),
            thinking_frame("nk>\n\nHello"),
            text_frame("!"),
        ],
    )
    assert events == [
        ThinkingDelta("I should gre"),
        ThinkingDelta("et."),
        TextDelta("Hello"),
        TextDelta("!"),
    ]


def test_a_composer_answer_without_marker_or_text_is_given_as_text_at_the_end():
    events = decode_all(
        ResponseDecoder(composer=True), [thinking_frame("\n\nJust the"), thinking_frame(" answer")]
    )
    assert events == [ThinkingDelta("\n\nJust the"), ThinkingDelta(" answer"), TextDelta("Just the answer")]


def test_a_composer_answer_with_text_of_its_own_is_not_repeated():
    events = decode_all(ResponseDecoder(composer=True), [thinking_frame("thoughts"), text_frame("Answer")])
    assert events == [ThinkingDelta("thoughts"), TextDelta("Answer")]


def test_other_models_keep_the_marker_as_thinking_and_never_repeat_it():
    decoder = ResponseDecoder()
    assert decode_all(decoder, [thinking_frame("a</think>b")]) == [ThinkingDelta("a</think>b")]
