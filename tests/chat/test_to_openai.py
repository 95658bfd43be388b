"""Events -> OpenAI chunk and completion shapes, for every THINKING_OUTPUT mode."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.sse_encode import encode_event
from gateway.chat.to_openai import ChatStream, ChunkWriter, completion, completion_id
from gateway.neutral.model import Finish, TextDelta, ThinkingDelta, Usage


def writer(mode="hidden", usage=False):
    return ChunkWriter(id="chatcmpl-x", created=1, model="m", thinking_output=mode, include_usage=usage)


def deltas(chunks):
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def run(w, events):
    out = []
    for e in events:
        out.extend(w.render(e))
    return out


EVENTS = [
    ThinkingDelta("hm"),
    ThinkingDelta("m"),
    TextDelta("Hi"),
    TextDelta("!"),
    Usage(3, 4, 1),
    Finish("stop"),
]


def test_chunk_shape_and_role():
    w = writer()
    role = w.role()
    assert role == {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


def test_hidden_thinking_is_not_sent():
    chunks = run(writer(), EVENTS)
    assert deltas(chunks) == [{"content": "Hi"}, {"content": "!"}, {}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_reasoning_content_mode():
    assert deltas(run(writer("reasoning_content"), EVENTS))[:2] == [
        {"reasoning_content": "hm"},
        {"reasoning_content": "m"},
    ]


def test_think_tags_mode_matches_the_non_streaming_content():
    text = "".join(d.get("content", "") for d in deltas(run(writer("think_tags"), EVENTS)))
    assert text == "<think>hmm</think>\n\nHi!"
    body = completion(
        id="x",
        created=1,
        model="m",
        text="Hi!",
        thinking="hmm",
        finish="stop",
        usage=Usage(1, 1),
        thinking_output="think_tags",
    )
    assert body["choices"][0]["message"]["content"] == text


def test_think_tags_closed_when_nothing_follows():
    text = "".join(
        d.get("content", "") for d in deltas(run(writer("think_tags"), [ThinkingDelta("a"), Finish("stop")]))
    )
    assert text == "<think>a</think>"


def test_usage_chunk_after_finish_only_when_asked():
    chunks = run(writer(usage=True), EVENTS)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["usage"] is None
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "completion_tokens_details": {"reasoning_tokens": 1},
        "estimated": True,
    }
    assert all("usage" not in c for c in run(writer(), EVENTS))


@pytest.mark.parametrize("mode", ["hidden", "reasoning_content"])
def test_completion_shape(mode):
    body = completion(
        id="chatcmpl-1",
        created=5,
        model="m",
        text="",
        thinking="t",
        finish="stop",
        usage=Usage(1, 2),
        thinking_output=mode,
    )
    message = body["choices"][0]["message"]
    assert message["content"] == "" and message["refusal"] is None
    assert ("reasoning_content" in message) is (mode == "reasoning_content")
    assert body["object"] == "chat.completion" and body["choices"][0]["logprobs"] is None


def test_completion_id_format():
    ident = completion_id()
    assert ident.startswith("chatcmpl-") and len(ident) == 33 and ident[9:].isalnum()


@given(st.lists(st.text(min_size=1), min_size=1))
def test_stream_accumulates_to_the_completion(pieces):
    chunks = run(writer(), [TextDelta(p) for p in pieces] + [Finish("stop")])
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "".join(pieces)


@given(
    texts=st.lists(st.text(), min_size=1, max_size=4),
    include_usage=st.booleans(),
    choice_index=st.integers(0, 7),
    model=st.text(max_size=20),
)
def test_the_content_fast_path_writes_exactly_the_general_chunk(texts, include_usage, choice_index, model):
    writer = ChunkWriter(
        id="chatcmpl-x",
        created=1,
        model=model,
        thinking_output="hidden",
        include_usage=include_usage,
        choice_index=choice_index,
    )
    frame = writer.content_frame()
    assert frame is not None
    for text in texts:
        fast = frame[0] + orjson.dumps(text) + frame[1]
        assert fast == encode_event(writer.render(TextDelta(text))[0])


def test_the_content_fast_path_steps_aside_while_think_tags_are_open():
    writer = ChunkWriter(id="chatcmpl-x", created=1, model="m", thinking_output="think_tags")
    stream = ChatStream([writer])
    assert stream.render(0, TextDelta("first")) == encode_event(writer.role()) + encode_event(
        writer.render(TextDelta("first"))[0]
    )
    stream.render(0, ThinkingDelta("hmm"))  # opens <think> again
    assert writer.content_frame() is None
    answer = stream.render(0, TextDelta("answer"))
    assert b"</think>" in answer and b"answer" in answer
    frame = writer.content_frame()
    assert frame is not None
    assert stream.render(0, TextDelta("more")) == frame[0] + orjson.dumps("more") + frame[1]


def rendered_without_shortcuts(writer: ChunkWriter, events: list[TextDelta | ThinkingDelta]) -> bytes:
    """What `ChatStream` must write for one choice: every event through `writer.render`."""
    out = b""
    opened = False
    for event in events:
        chunks = writer.render(event)
        if chunks and not opened:
            opened = True
            chunks = [*writer.opening(), *chunks]
        out += b"".join(encode_event(chunk) for chunk in chunks)
    return out


@given(
    events=st.lists(
        st.one_of(st.builds(TextDelta, st.text(max_size=8)), st.builds(ThinkingDelta, st.text(max_size=8))),
        max_size=12,
    ),
    thinking_output=st.sampled_from(["hidden", "reasoning_content", "think_tags"]),
)
def test_the_stream_writes_what_the_writer_renders_whatever_the_order_of_text_and_thinking(
    events, thinking_output
):
    def writer() -> ChunkWriter:
        return ChunkWriter(id="chatcmpl-x", created=1, model="m", thinking_output=thinking_output)

    stream = ChatStream([writer()])
    assert b"".join(stream.render(0, event) for event in events) == rendered_without_shortcuts(
        writer(), events
    )
