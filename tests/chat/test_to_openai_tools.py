"""Tool-call output shapes (tool-calls.md §8.1, §8.2): complete and fragmented streams, O1-O11."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.to_openai import ChunkWriter, completion
from gateway.neutral.model import (
    Event,
    Finish,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)


def call(index: int, name: str, arguments: str) -> list[Event]:
    return [
        ToolCallStart(index, f"call_{index:024d}", name),
        ToolCallArgs(index, arguments),
        ToolCallEnd(index, arguments),
    ]


def render(events: list[Event], **options: Any) -> list[dict[str, Any]]:
    writer = ChunkWriter(
        id="chatcmpl-x", created=1, model="m", thinking_output=options.pop("thinking", "hidden"), **options
    )
    chunks = [writer.role()]
    for event in events:
        chunks.extend(writer.render(event))
    return chunks


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What an OpenAI client builds from the deltas (G4)."""
    message: dict[str, Any] = {"content": "", "tool_calls": {}}
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            message["content"] += delta.get("content") or ""
            for piece in delta.get("tool_calls", []):
                slot = message["tool_calls"].setdefault(
                    piece["index"], {"id": None, "name": "", "arguments": ""}
                )
                slot["id"] = piece.get("id", slot["id"])
                function = piece.get("function", {})
                slot["name"] += function.get("name", "")
                slot["arguments"] += function.get("arguments", "")
            finish = choice["finish_reason"] or finish
    return {
        "content": message["content"],
        "calls": [message["tool_calls"][i] for i in sorted(message["tool_calls"])],
        "finish": finish,
    }


def test_complete_mode_sends_each_call_as_one_delta_o8() -> None:
    events = [
        TextDelta("Reading."),
        *call(0, "read", '{"path":"a"}'),
        *call(1, "read", '{"path":"b"}'),
        Finish("tool_calls"),
    ]
    chunks = render(events)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    tool_deltas = [d["tool_calls"] for d in deltas if "tool_calls" in d]
    assert tool_deltas == [
        [
            {
                "index": 0,
                "id": "call_" + "0" * 24,
                "type": "function",
                "function": {"name": "read", "arguments": '{"path":"a"}'},
            }
        ],
        [
            {
                "index": 1,
                "id": "call_" + "0" * 23 + "1",
                "type": "function",
                "function": {"name": "read", "arguments": '{"path":"b"}'},
            }
        ],
    ]
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


@given(st.text(min_size=1, max_size=300), st.integers(16, 64))
def test_fragmented_mode_pieces_add_up_to_the_arguments_o9(value: str, size: int) -> None:
    arguments = orjson.dumps({"content": value}).decode()
    chunks = render(
        [*call(0, "write", arguments), Finish("tool_calls")],
        tool_stream_mode="fragmented",
        args_chunk_chars=size,
    )
    pieces = [
        c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert pieces[0]["function"] == {"name": "write", "arguments": ""} and pieces[0]["id"]
    assert all(len(p["function"]["arguments"]) <= size for p in pieces[1:])
    assert all(set(p) == {"index", "function"} for p in pieces[1:])
    assert accumulate(chunks)["calls"] == [{"id": pieces[0]["id"], "name": "write", "arguments": arguments}]


def test_stream_and_completion_agree_g4() -> None:
    events = [
        ThinkingDelta("hmm"),
        TextDelta("Doing it."),
        *call(0, "read", '{"path":"a"}'),
        Usage(3, 4),
        Finish("tool_calls"),
    ]
    for mode in ("complete", "fragmented"):
        for thinking in ("hidden", "reasoning_content", "think_tags"):
            streamed = accumulate(
                render(events, tool_stream_mode=mode, args_chunk_chars=16, thinking=thinking)
            )
            body = completion(
                id="x",
                created=1,
                model="m",
                text="Doing it.",
                thinking="hmm",
                finish="tool_calls",
                usage=Usage(3, 4),
                thinking_output=thinking,
                tool_calls=[("call_" + "0" * 24, "read", '{"path":"a"}')],
            )
            message = body["choices"][0]["message"]
            assert streamed["content"] == (message["content"] or "")
            assert streamed["calls"] == [{"id": c["id"], **c["function"]} for c in message["tool_calls"]]
            assert streamed["finish"] == body["choices"][0]["finish_reason"]


def test_think_tags_close_alone_before_a_call_k4() -> None:
    chunks = render(
        [ThinkingDelta("plan"), *call(0, "read", "{}"), Finish("tool_calls")], thinking="think_tags"
    )
    assert accumulate(chunks)["content"] == "<think>plan</think>"


def test_completion_content_is_null_with_calls_and_no_text_o1() -> None:
    body = completion(
        id="x",
        created=1,
        model="m",
        text="",
        thinking="",
        finish="tool_calls",
        usage=Usage(1, 1),
        thinking_output="hidden",
        tool_calls=[("call_a", "read", "{}")],
    )
    message = body["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] is None
    assert message["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "read", "arguments": "{}"}}
    ]
    plain = completion(
        id="x",
        created=1,
        model="m",
        text="",
        thinking="",
        finish="stop",
        usage=Usage(1, 1),
        thinking_output="hidden",
    )
    assert (
        plain["choices"][0]["message"]["content"] == "" and "tool_calls" not in plain["choices"][0]["message"]
    )
