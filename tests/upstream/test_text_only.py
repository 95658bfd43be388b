"""The wire reading of text-only frames gives exactly what the protobuf parse gives, or nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf.message import DecodeError, Message
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.pb import agent_v1_pb2 as agent_pb
from gateway.upstream.pb import cursor_pb2 as chat_pb
from gateway.upstream.text_only import AGENT_TEXT, CHAT_TEXT, text_only


def chat_frame(text: str) -> bytes:
    return chat_pb.StreamUnifiedChatResponseWithTools(
        stream_unified_chat_response=chat_pb.StreamUnifiedChatResponse(text=text)
    ).SerializeToString()


def agent_frame(text: str) -> bytes:
    update = agent_pb.InteractionUpdate(text_delta=agent_pb.TextDeltaUpdate(text=text))
    return agent_pb.AgentServerMessage(interaction_update=update).SerializeToString()


def parse(message: type[Message], payload: bytes) -> Message | None:
    try:
        return message.FromString(payload)
    except DecodeError:
        return None


def chat_parse(payload: bytes) -> str | None:
    """The parse's text when the payload is a text-only chat response."""
    wrapper = parse(chat_pb.StreamUnifiedChatResponseWithTools, payload)
    if wrapper is None or wrapper.WhichOneof("response") != "stream_unified_chat_response":
        return None
    response = wrapper.stream_unified_chat_response
    return response.text if response.text and not response.HasField("thinking") else None


def agent_parse(payload: bytes) -> str | None:
    """The parse's text when the payload is a plain (not server-notice) text delta."""
    message = parse(agent_pb.AgentServerMessage, payload)
    if message is None or message.WhichOneof("message") != "interaction_update":
        return None
    update = message.interaction_update
    if update.WhichOneof("message") != "text_delta" or update.text_delta.is_server_notice:
        return None
    return update.text_delta.text or None


PATHS = [
    pytest.param(CHAT_TEXT, chat_frame, chat_parse, id="chatservice"),
    pytest.param(AGENT_TEXT, agent_frame, agent_parse, id="agent"),
]


def near_misses(frame: Callable[[str], bytes]) -> st.SearchStrategy[bytes]:
    """Text frames with bytes cut, appended, flipped or inserted."""
    edit = st.tuples(
        st.sampled_from(["cut", "append", "flip", "insert"]), st.integers(0, 400), st.binary(max_size=4)
    )

    def apply(payload: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
        for kind, at, extra in edits:
            at %= len(payload) + 1
            if kind == "cut":
                payload = payload[:at]
            elif kind == "append":
                payload += extra
            elif kind == "flip" and at < len(payload):
                payload = payload[:at] + bytes([payload[at] ^ 0xFF]) + payload[at + 1 :]
            elif kind == "insert":
                payload = payload[:at] + extra + payload[at:]
        return payload

    return st.builds(apply, st.text(max_size=300).map(frame), st.lists(edit, max_size=3))


@pytest.mark.parametrize(("tags", "frame", "full_parse"), PATHS)
@given(data=st.data())
def test_a_text_read_from_the_wire_is_the_one_the_parse_reads(tags, frame, full_parse, data):
    payload = data.draw(st.one_of(st.binary(max_size=64), near_misses(frame)))
    text = text_only(payload, tags)
    if text is not None:
        assert text == full_parse(payload)


@pytest.mark.parametrize(("tags", "frame", "full_parse"), PATHS)
@given(text=st.text(min_size=1, max_size=5000))
def test_every_text_only_frame_is_read_from_the_wire(tags, frame, full_parse, text):
    assert text_only(frame(text), tags) == text


def test_anything_more_than_the_text_is_left_to_the_parse():
    assert text_only(chat_frame(""), CHAT_TEXT) is None  # no text: nothing to show, the parse says so
    assert text_only(chat_frame("a") + chat_frame("b"), CHAT_TEXT) is None  # repeated: the last wins
    assert text_only(bytes.fromhex("12 03 0a 01 ff"), CHAT_TEXT) is None  # not UTF-8
    assert text_only(agent_frame("a"), CHAT_TEXT) is None and text_only(chat_frame("a"), AGENT_TEXT) is None
    notice = agent_pb.AgentServerMessage(
        interaction_update=agent_pb.InteractionUpdate(
            text_delta=agent_pb.TextDeltaUpdate(text="maintenance", is_server_notice=True)
        )
    ).SerializeToString()
    assert text_only(notice, AGENT_TEXT) is None


@pytest.mark.parametrize(("tags", "frame", "full_parse"), PATHS)
@given(
    data=st.data(),
    flags=st.sampled_from([0, 0, 1, 2, 3, 0x80]),
    length_off=st.sampled_from([0, 0, 0, -1, 1, 1 << 24]),
)
def test_a_framed_text_is_the_text_of_exactly_one_plain_frame(
    tags, frame, full_parse, data, flags, length_off
):
    payload = data.draw(st.one_of(st.binary(max_size=64), near_misses(frame)))
    declared = max(len(payload) + length_off, 0)
    chunk = bytes([flags]) + declared.to_bytes(4, "big") + payload
    whole_plain = flags == 0 and declared == len(payload)
    assert text_only(chunk, tags, framed=True) == (text_only(payload, tags) if whole_plain else None)


def test_a_framed_text_needs_a_whole_envelope():
    assert text_only(b"", CHAT_TEXT, framed=True) is None
    assert text_only(b"\x00\x00\x00\x00\x00", CHAT_TEXT, framed=True) is None  # an empty frame
    assert text_only(b"\x00\x00\x00", CHAT_TEXT, framed=True) is None
