"""Events -> legacy `text_completion` chunks and objects, validated against the OpenAI SDK's models."""

from __future__ import annotations

import os
from pathlib import Path

from openai.types import Completion

from gateway.chat.collect import Answer
from gateway.chat.to_completions import TextWriter, text_completion
from gateway.chat.to_openai import ChatStream
from gateway.errors import UpstreamError
from gateway.neutral.model import Finish, TextDelta, ThinkingDelta, Usage
from tests.sse_reader import parse_sse

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "completions" / "two-choices-echo-usage.sse"


def stream(n=1, echo="", usage=False) -> ChatStream:
    return ChatStream([TextWriter("cmpl-1", 1, "m", i, echo, usage) for i in range(n)])


def test_two_interleaved_choices_with_echo_and_usage_match_the_golden_transcript() -> None:
    s = stream(2, echo="Say: ", usage=True)
    events = [
        (0, ThinkingDelta("hidden")),
        (0, TextDelta("Hi")),
        (1, TextDelta("Hello")),
        (0, Usage(2, 1)),
        (0, Finish("stop")),
        (1, Usage(2, 2)),
        (1, Finish("length")),
    ]
    sse = "".join(s.render(i, e).decode() for i, e in events) + s.finish().decode()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(sse, encoding="utf-8")
    assert sse == SNAPSHOT.read_text(encoding="utf-8")
    chunks, _ = parse_sse(sse)
    assert chunks[-1] == "[DONE]"
    texts = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks[:-2]:
        assert isinstance(chunk, dict) and chunk["object"] == "text_completion"
        [choice] = chunk["choices"]
        texts[choice["index"]] += choice["text"]
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "Say: Hi", 1: "Say: Hello"} and finishes == {0: "stop", 1: "length"}
    usage = chunks[-2]
    assert isinstance(usage, dict) and usage["choices"] == [] and usage["usage"]["total_tokens"] == 7


def test_the_last_chunk_of_a_choice_validates_as_an_sdk_completion() -> None:
    [last] = TextWriter("cmpl-1", 1, "m", 0).render(Finish("stop"))
    Completion.model_validate(last, strict=False)


def test_an_error_is_the_openai_envelope_then_done() -> None:
    body = stream().error(UpstreamError("broken", code="upstream_disconnected")).decode()
    chunks, _ = parse_sse(body)
    assert chunks[-1] == "[DONE]" and chunks[0]["error"]["code"] == "upstream_disconnected"  # type: ignore[index]


def test_the_non_streaming_object() -> None:
    body = text_completion(
        [Answer(text="Hi", usage=Usage(1, 1)), Answer(text="Yo", usage=Usage(1, 2), finish="length")],
        ["P: ", ""],
        id="cmpl-1",
        created=1,
        model="m",
    )
    completion = Completion.model_validate(body, strict=False)
    assert [(c.index, c.text, c.finish_reason) for c in completion.choices] == [
        (0, "P: Hi", "stop"),
        (1, "Yo", "length"),
    ]
    assert completion.usage is not None and completion.usage.total_tokens == 5
