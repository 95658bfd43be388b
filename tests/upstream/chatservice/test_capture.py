"""The real captured ChatService response (tests/fixtures/README.md) through the frame decoder and
the response decoder: whole, in random chunks, and byte by byte, always with the same result; and
through the gateway a frame per chunk, as a live stream arrives, where plain text frames are read
straight from the wire."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.upstream.chatservice import client as client_module
from gateway.upstream.chatservice.decode import ResponseDecoder
from gateway.upstream.framing import HEADER_BYTES, FrameDecoder, parse_end_stream
from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import MODEL
from tests.scripted import Reply
from tests.sse_reader import answer_text

CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "chatservice-response-2026-01.hex"
READ_FILE, EDIT_FILE = 5, 7


@cache
def capture() -> bytes:
    return bytes.fromhex(CAPTURE.read_text(encoding="ascii"))


@dataclass
class Decoded:
    flags: list[int] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    end: dict[str, object] | None = None


def decode(chunks) -> Decoded:
    frames, decoder, out = FrameDecoder(), ResponseDecoder(), Decoded()
    for chunk in chunks:
        for frame in frames.feed(chunk):
            out.flags.append(frame.flags)
            if frame.is_end_stream:
                end = parse_end_stream(frame.payload)
                out.end = {"error": end.error, "metadata": end.metadata}
            else:
                out.events.extend(decoder.message(frame.payload))
    frames.close()
    return out


@cache
def whole() -> Decoded:
    return decode([capture()])


def segments(events: list[object]) -> list[tuple[str, object]]:
    """Runs of the same kind: ("text", joined text) or ("tool N", the frames)."""
    runs = []
    for kind, group in itertools.groupby(
        events, key=lambda e: "text" if isinstance(e, TextDelta) else f"tool {e.tool}"
    ):
        items = list(group)
        runs.append((kind, "".join(e.text for e in items) if kind == "text" else items))
    return runs


def test_the_capture_decodes_whole_as_its_provenance_describes():
    decoded = whole()
    assert len(decoded.flags) == 971
    assert (decoded.flags.count(1), decoded.flags.count(0), decoded.flags.count(2)) == (600, 370, 1)
    assert decoded.end == {"error": None, "metadata": None}  # a clean `{}`
    assert not any(isinstance(e, ThinkingDelta) for e in decoded.events)
    runs = segments(decoded.events)
    assert [kind for kind, _ in runs] == ["text", "tool 5", "text", "tool 7", "text"]
    texts = [value for kind, value in runs if kind == "text"]
    assert (
        texts[0].startswith("当然可以")
        and texts[1].startswith("很有趣的SVG")
        and texts[2].startswith("太棒了")
    )
    assert sum(len(t) for t in texts) == 378
    [read] = runs[1][1]
    assert isinstance(read, NativeToolFrame) and (read.tool, read.name) == (READ_FILE, "read_file")
    assert not read.is_streaming and read.raw_args.startswith(
        '{"target_file": "web/src/assets/favicon.dev.svg"'
    )
    edits = runs[3][1]
    assert len(edits) == 737 and {(e.tool, e.name) for e in edits} == {(EDIT_FILE, "edit_file")}
    assert all(e.is_streaming for e in edits) and [e.is_last_message for e in edits].index(True) == 736
    sizes = [len(e.raw_args) for e in edits]
    assert (sizes[0], sizes[-1]) == (48, 2146)
    assert len({e.tool_call_id for e in edits}) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(capture()) - 1), max_size=60, unique=True))
def test_any_random_chunks_decode_alike(cuts):
    points = [0, *sorted(cuts), len(capture())]
    data = capture()
    decoded = decode(data[a:b] for a, b in itertools.pairwise(points))
    assert decoded == whole()


def test_byte_by_byte_decodes_alike():
    data = capture()
    assert decode(data[i : i + 1] for i in range(len(data))) == whole()


def plain_texts_after_the_first(frames: list[bytes]) -> list[str]:
    """The texts of the uncompressed frames whose message is nothing but a text (by the protobuf
    parse), after the first one that shows text (in this capture the answer's text begins in one)."""
    texts = []
    for frame in frames:
        payload = frame[HEADER_BYTES:]
        if frame[0] != 0 or not payload:
            continue
        message = pb.StreamUnifiedChatResponseWithTools.FromString(payload)
        inner = message.stream_unified_chat_response
        if (
            [field.name for field, _ in message.ListFields()] == ["stream_unified_chat_response"]
            and [field.name for field, _ in inner.ListFields()] == ["text"]
            and message.SerializeToString() == payload
        ):
            texts.append(inner.text)
    first = next(i for i, text in enumerate(texts) if text.lstrip("\r\n"))
    return texts[first + 1 :]


def frames_of(data: bytes) -> list[bytes]:
    """The capture cut where its frames end: each chunk one whole frame."""
    out, pos = [], 0
    while pos < len(data):
        end = pos + HEADER_BYTES + int.from_bytes(data[pos + 1 : pos + HEADER_BYTES])
        out.append(data[pos:end])
        pos = end
    return out


async def test_frame_by_frame_through_the_gateway_the_client_gets_the_captured_text(gateway, monkeypatch):
    read_from_wire: list[str] = []
    full_read = client_module.text_only

    def counted(*args, **kwargs):
        text = full_read(*args, **kwargs)
        if text is not None:
            read_from_wire.append(text)
        return text

    monkeypatch.setattr(client_module, "text_only", counted)
    chunks = frames_of(capture())
    assert b"".join(chunks) == capture() and len(chunks) == len(whole().flags)
    client, _ = await gateway(Reply(list(chunks)))
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200
    text = "".join(e.text for e in whole().events if isinstance(e, TextDelta))
    assert await answer_text(response) == text
    # Every plain frame that holds only a text, once the visible text has begun, took the shortcut.
    assert read_from_wire == plain_texts_after_the_first(chunks)
