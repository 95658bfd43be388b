"""Events -> Anthropic's streamed event sequence and message body, for every thinking mode."""

from __future__ import annotations

import base64
import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.collect import Answer, CollectedCall
from gateway.chat.to_anthropic import MessageStream, message_body, message_id, signature
from gateway.errors import NoHealthyToken, UpstreamError
from gateway.neutral.model import (
    Finish,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from tests.sse_reader import parse_named_sse


def stream(thinking="hidden", **kwargs) -> MessageStream:
    return MessageStream(id="msg_x", model="m", input_tokens=7, thinking=thinking, **kwargs)


def render(renderer: MessageStream, events) -> list[tuple[str, dict]]:
    data = b"".join(renderer.render(0, e) for e in events)
    if events and isinstance(events[-1], Finish):
        data += renderer.finish()
    named, comments = parse_named_sse(data.decode())
    assert comments == []
    for name, payload in named:
        assert isinstance(payload, dict) and payload["type"] == name  # every event names its type
    return [(name, payload) for name, payload in named]  # type: ignore[misc]


def names(events) -> list[str]:
    return [name for name, _ in events]


def deltas(events) -> list[dict]:
    return [payload["delta"] for name, payload in events if name == "content_block_delta"]


def call(index: int, call_id: str, name: str, arguments: str) -> list:
    return [
        ToolCallStart(index, call_id, name),
        ToolCallArgs(index, arguments),
        ToolCallEnd(index, arguments),
    ]


TEXT = [TextDelta("Hel"), TextDelta("lo"), Usage(7, 2), Finish("stop")]


def test_a_text_answer():
    events = render(stream(), TEXT)
    assert names(events) == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start == {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 7,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "estimated": True,
        },
    }
    assert events[2][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert deltas(events) == [{"type": "text_delta", "text": "Hel"}, {"type": "text_delta", "text": "lo"}]
    assert events[5][1] == {"type": "content_block_stop", "index": 0}
    assert events[6][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 7,
            "output_tokens": 2,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "estimated": True,
        },
    }


def test_nothing_is_rendered_before_the_first_visible_event():
    """The response commits on the first bytes: hidden thinking and usage must not produce any."""
    renderer = stream()
    assert renderer.render(0, ThinkingDelta("hm")) == b""
    assert renderer.render(0, Usage(1, 1)) == b""
    assert renderer.render(0, TextDelta("")) == b""
    assert renderer.render(0, TextDelta("x")).startswith(b"event: message_start\n")


THOUGHT = [ThinkingDelta("Let me "), ThinkingDelta("see."), TextDelta("Yes."), Usage(7, 5, 3), Finish("stop")]


def test_thinking_shown_is_a_thinking_block_with_its_signature_before_the_text():
    events = render(stream("shown"), THOUGHT)
    blocks = [p["content_block"] for n, p in events if n == "content_block_start"]
    assert blocks == [{"type": "thinking", "thinking": "", "signature": ""}, {"type": "text", "text": ""}]
    digest = base64.b64encode(hashlib.sha256(b"Let me see.").digest()).decode()
    assert deltas(events) == [
        {"type": "thinking_delta", "thinking": "Let me "},
        {"type": "thinking_delta", "thinking": "see."},
        {"type": "signature_delta", "signature": digest},
        {"type": "text_delta", "text": "Yes."},
    ]
    stops = [p["index"] for n, p in events if n == "content_block_stop"]
    assert stops == [0, 1]
    assert signature("Let me see.") == digest


def test_thinking_omitted_keeps_the_block_and_signature_without_the_text():
    events = render(stream("omitted"), THOUGHT)
    assert [d["type"] for d in deltas(events)] == ["signature_delta", "text_delta"]
    assert [p["content_block"]["type"] for n, p in events if n == "content_block_start"] == [
        "thinking",
        "text",
    ]


def test_thinking_hidden_leaves_only_the_text():
    events = render(stream("hidden"), THOUGHT)
    assert deltas(events) == [{"type": "text_delta", "text": "Yes."}]
    assert [p["index"] for n, p in events if n == "content_block_start"] == [0]


def test_tool_calls_are_tool_use_blocks_with_their_input_json():
    events = render(
        stream(),
        [
            TextDelta("Checking."),
            *call(0, "call_1", "get_weather", '{"city":"Paris"}'),
            *call(1, "call_2", "get_time", "{}"),
            Usage(7, 9),
            Finish("tool_calls"),
        ],
    )
    blocks = [(p["index"], p["content_block"]) for n, p in events if n == "content_block_start"]
    assert blocks == [
        (0, {"type": "text", "text": ""}),
        (1, {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}),
        (2, {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}}),
    ]
    assert deltas(events)[1:] == [
        {"type": "input_json_delta", "partial_json": '{"city":"Paris"}'},
        {"type": "input_json_delta", "partial_json": "{}"},
    ]
    assert [p["index"] for n, p in events if n == "content_block_stop"] == [0, 1, 2]
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}


def test_fragmented_tool_input_arrives_in_pieces_that_join_to_the_json():
    arguments = '{"path":"a/b.txt","content":"' + "x" * 40 + '"}'
    events = render(
        stream(tool_stream_mode="fragmented", args_chunk_chars=16),
        [*call(0, "call_1", "write", arguments), Usage(1, 1), Finish("tool_calls")],
    )
    pieces = [d["partial_json"] for d in deltas(events)]
    assert len(pieces) == 5 and all(len(p) <= 16 for p in pieces) and "".join(pieces) == arguments


def test_stop_reasons():
    assert render(stream(), [TextDelta("a"), Finish("stop", "END")])[-2][1]["delta"] == {
        "stop_reason": "stop_sequence",
        "stop_sequence": "END",
    }
    assert render(stream(), [TextDelta("a"), Finish("length")])[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_an_answer_without_visible_content_still_opens_and_closes_the_message():
    events = render(stream(), [ThinkingDelta("hidden"), Usage(7, 1, 1), Finish("stop")])
    assert names(events) == ["message_start", "ping", "message_delta", "message_stop"]


def test_an_error_after_the_commit_is_one_error_event_in_anthropics_envelope():
    renderer = stream()
    renderer.render(0, TextDelta("partial"))
    [(name, payload)] = parse_named_sse(
        renderer.error(UpstreamError("Cursor went away", code="upstream_disconnected")).decode()
    )[0]
    assert name == "error"
    assert payload == {"type": "error", "error": {"type": "api_error", "message": "Cursor went away"}}
    [(_, overloaded)] = parse_named_sse(renderer.error(NoHealthyToken("none")).decode())[0]
    assert overloaded["error"]["type"] == "overloaded_error"


def test_message_body():
    answer = Answer(
        text="Here.",
        thinking="Hmm.",
        tool_calls=[CollectedCall("call_1", "get_weather", '{"city":"Paris"}')],
        usage=Usage(10, 4, 1),
        finish="tool_calls",
    )
    body = message_body(answer, id="msg_1", model="m", thinking="shown")
    assert body == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": signature("Hmm.")},
            {"type": "text", "text": "Here."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "estimated": True,
        },
    }
    assert [b["type"] for b in message_body(answer, id="m", model="m", thinking="hidden")["content"]] == [
        "text",
        "tool_use",
    ]
    omitted = message_body(answer, id="m", model="m", thinking="omitted")["content"][0]
    assert omitted == {"type": "thinking", "thinking": "", "signature": signature("Hmm.")}
    stopped = message_body(
        Answer(text="a", finish="stop", stop_sequence="END"), id="m", model="m", thinking="hidden"
    )
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "END")


def test_message_ids():
    ids = {message_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("msg_") and len(i) == 28 for i in ids)


# ---------------------------------------------------------------- properties


@st.composite
def answers(draw):
    """Text and thinking runs, then calls (thinking never follows a call, K5), then Usage and Finish."""
    events: list = []
    for kind in draw(st.lists(st.sampled_from(["text", "thinking"]), max_size=6)):
        piece = draw(st.text(max_size=5))
        events.append(TextDelta(piece) if kind == "text" else ThinkingDelta(piece))
    calls = draw(st.integers(0, 3))
    for index in range(calls):
        arguments = orjson.dumps({"n": draw(st.text(max_size=20))}).decode()
        events.extend(call(index, f"call_{index}", f"tool_{index}", arguments))
    events.append(Usage(3, 4))
    events.append(Finish("tool_calls" if calls else draw(st.sampled_from(["stop", "length"]))))
    return events


@given(
    answers(), st.sampled_from(["hidden", "shown", "omitted"]), st.sampled_from(["complete", "fragmented"])
)
def test_every_answer_is_a_well_formed_event_sequence(events, thinking, mode):
    """message_start first, blocks open and close in order with consecutive indexes, one delta kind per
    block, and the deltas rebuild exactly what was shown; message_delta then message_stop last."""
    rendered = render(stream(thinking, tool_stream_mode=mode, args_chunk_chars=3), events)
    assert names(rendered)[:2] == ["message_start", "ping"] and names(rendered)[-2:] == [
        "message_delta",
        "message_stop",
    ]
    open_block: dict | None = None
    built: list[tuple[str, str]] = []
    next_index = 0
    for name, payload in rendered[2:-2]:
        if name == "content_block_start":
            assert open_block is None and payload["index"] == next_index
            open_block, next_index = payload["content_block"], next_index + 1
            built.append((open_block["type"], ""))
        elif name == "content_block_delta":
            assert open_block is not None and payload["index"] == next_index - 1
            delta = payload["delta"]
            kind, text = built[-1]
            piece = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "input_json_delta": "partial_json",
            }.get(delta["type"])
            if piece is not None:
                built[-1] = (kind, text + delta[piece])
        else:
            assert (
                name == "content_block_stop" and open_block is not None and payload["index"] == next_index - 1
            )
            open_block = None
    assert open_block is None
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    thought = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert "".join(t for kind, t in built if kind == "text") == text
    shown_thinking = "".join(t for kind, t in built if kind == "thinking")
    assert shown_thinking == (thought if thinking == "shown" else "")
    inputs = [orjson.loads(t) for kind, t in built if kind == "tool_use"]
    assert inputs == [orjson.loads(e.arguments) for e in events if isinstance(e, ToolCallEnd)]
