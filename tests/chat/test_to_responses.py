"""Events -> Responses API stream events and `response` objects.

Every rendered stream is checked three ways: each event against the OpenAI SDK's own event models
(strictly), the whole sequence through the SDK's stream accumulator (which rejects events out of
order, unknown output indexes and unfinished items), and, for the scripted conversations, against
its golden SSE transcript under `tests/snapshots/responses/` (`UPDATE_SNAPSHOTS=1` rewrites them).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from gateway.chat.collect import Answer, CollectedCall
from gateway.chat.to_responses import ResponseInfo, ResponseStream, custom_input, response_body
from gateway.errors import GatewayError, UpstreamError
from gateway.neutral.model import (
    Finish,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from gateway.schemas.responses import ToolKinds
from tests.sse_reader import parse_named_sse

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "responses"
EVENTS = TypeAdapter(ResponseStreamEvent)
ECHO = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
    "reasoning": {"effort": None, "summary": None},
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "store": False,
    "previous_response_id": None,
    "background": False,
}
KINDS = ToolKinds(frozenset({"apply_patch"}), {"agents__spawn": ("agents", "spawn")})


def ids():
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(counter)}"


def info(show_thinking=False, kinds=KINDS):
    return ResponseInfo("resp_1", 1_700_000_000, "claude-4.5-sonnet", ECHO, kinds, show_thinking)


def call(index, call_id, name, arguments):
    return [
        ToolCallStart(index, call_id, name),
        ToolCallArgs(index, arguments),
        ToolCallEnd(index, arguments),
    ]


def render(events, *, show_thinking=False, error=None, **options) -> str:
    stream = ResponseStream(info(show_thinking), new_id=ids(), **options)
    out = b"".join(stream.render(0, event) for event in events)
    out += stream.error(error) if error is not None else stream.finish()
    return out.decode()


def checked(sse: str) -> list[dict]:
    """The events of `sse`, each valid for the SDK, the sequence accepted by its accumulator."""
    named, comments = parse_named_sse(sse)
    assert comments == []
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    payloads = []
    for expected, (name, payload) in enumerate(named):
        assert isinstance(payload, dict) and name == payload["type"]
        assert payload["sequence_number"] == expected
        state.handle_event(EVENTS.validate_python(payload, strict=False))
        payloads.append(payload)
    return payloads


def types(payloads):
    return [p["type"] for p in payloads]


def final(payloads) -> dict:
    return payloads[-1]["response"]


TEXT = [TextDelta("Hel"), TextDelta("lo"), Usage(5, 2), Finish("stop")]
THINKING = [ThinkingDelta("Let me "), ThinkingDelta("see."), TextDelta("Hi."), Usage(5, 3, 2), Finish("stop")]
CALLS = [
    TextDelta("Reading both."),
    *call(0, "call_a", "read_file", '{"path":"a.txt"}'),
    *call(1, "call_b", "read_file", '{"path":"b.txt"}'),
    Usage(9, 12),
    Finish("tool_calls"),
]
CUSTOM = [
    *call(0, "call_p", "apply_patch", '{"input":"*** Begin Patch\\n*** End Patch\\n"}'),
    *call(1, "call_s", "agents__spawn", "{}"),
    Usage(9, 12),
    Finish("tool_calls"),
]
LENGTH = [TextDelta("Once upon a ti"), Usage(5, 4), Finish("length")]
CONVERSATIONS = {
    "text": (TEXT, {}),
    "thinking-shown": (THINKING, {"show_thinking": True}),
    "thinking-hidden": (THINKING, {}),
    "two-calls": (CALLS, {}),
    "custom-and-namespaced-calls": (CUSTOM, {}),
    "fragmented-call": (
        [*call(0, "call_a", "read_file", '{"path":"a.txt"}'), Finish("tool_calls")],
        {
            "tool_stream_mode": "fragmented",
            "args_chunk_chars": 5,
        },
    ),
    "max-output-tokens": (LENGTH, {}),
    "error-mid-stream": (
        [TextDelta("Hel")],
        {"error": UpstreamError("Cursor's connection broke mid-answer.", code="upstream_disconnected")},
    ),
    "error-before-output": (
        [],
        {"error": UpstreamError("Rate limited.", code="rate_limit_exceeded", status=429)},
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_golden_transcripts(name) -> None:
    events, options = CONVERSATIONS[name]
    sse = render(events, **options)
    checked(sse)
    path = SNAPSHOTS / f"{name}.sse"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sse, encoding="utf-8")
    assert sse == path.read_text(encoding="utf-8")


def test_text_is_one_message_item() -> None:
    payloads = checked(render(TEXT))
    assert types(payloads) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert payloads[0]["response"]["status"] == "in_progress" and payloads[0]["response"]["output"] == []
    response = Response.model_validate(final(payloads), strict=False)
    assert response.status == "completed" and response.output_text == "Hello"
    assert response.usage is not None and (response.usage.input_tokens, response.usage.total_tokens) == (5, 7)


def test_shown_thinking_is_a_reasoning_item_before_the_message() -> None:
    payloads = checked(render(THINKING, show_thinking=True))
    output = final(payloads)["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Let me see."}]
    deltas = [p["delta"] for p in payloads if p["type"] == "response.reasoning_summary_text.delta"]
    assert deltas == ["Let me ", "see."]
    assert final(payloads)["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}


def test_hidden_thinking_sends_nothing() -> None:
    payloads = checked(render(THINKING))
    assert "reasoning" not in json.dumps(types(payloads))
    assert [item["type"] for item in final(payloads)["output"]] == ["message"]


def test_calls_follow_the_text_as_their_own_items() -> None:
    payloads = checked(render(CALLS))
    output = final(payloads)["output"]
    assert [(item["type"], item.get("call_id")) for item in output] == [
        ("message", None),
        ("function_call", "call_a"),
        ("function_call", "call_b"),
    ]
    assert output[1]["arguments"] == '{"path":"a.txt"}' and output[1]["name"] == "read_file"
    added = [p for p in payloads if p["type"] == "response.output_item.added"]
    assert [p["output_index"] for p in added] == [0, 1, 2]
    assert added[1]["item"]["arguments"] == "" and added[1]["item"]["status"] == "in_progress"
    done = [p for p in payloads if p["type"] == "response.function_call_arguments.done"]
    assert [(p["output_index"], p["arguments"]) for p in done] == [
        (1, '{"path":"a.txt"}'),
        (2, '{"path":"b.txt"}'),
    ]


def test_custom_tools_get_their_text_and_namespaced_tools_their_namespace() -> None:
    payloads = checked(render(CUSTOM))
    patch, spawn = final(payloads)["output"]
    assert patch["type"] == "custom_tool_call" and patch["name"] == "apply_patch"
    assert patch["input"] == "*** Begin Patch\n*** End Patch\n"
    assert spawn == {
        "id": "fc_2",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_s",
        "name": "spawn",
        "arguments": "{}",
        "namespace": "agents",
    }
    assert [p["input"] for p in payloads if p["type"] == "response.custom_tool_call_input.done"] == [
        patch["input"]
    ]


def test_fragmented_arguments_arrive_in_pieces() -> None:
    payloads = checked(
        render(
            [*call(0, "c", "read_file", '{"path":"a.txt"}'), Finish("tool_calls")],
            tool_stream_mode="fragmented",
            args_chunk_chars=5,
        )
    )
    pieces = [p["delta"] for p in payloads if p["type"] == "response.function_call_arguments.delta"]
    assert pieces == ['{"pat', 'h":"a', '.txt"', "}"]


def test_max_output_tokens_ends_incomplete() -> None:
    payloads = checked(render(LENGTH))
    assert payloads[-1]["type"] == "response.incomplete"
    response = final(payloads)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"


def test_an_error_after_the_commit_is_an_error_event_then_response_failed() -> None:
    error = UpstreamError("Cursor's connection broke mid-answer.", code="upstream_disconnected")
    payloads = checked(render([TextDelta("Hel")], error=error))
    assert types(payloads)[-2:] == ["error", "response.failed"]
    assert payloads[-2]["code"] == "upstream_disconnected" and "broke" in payloads[-2]["message"]
    failed = final(payloads)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error" and failed["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            GatewayError("x", status=429, code="rate_limit_exceeded", type="rate_limit_error"),
            "rate_limit_exceeded",
        ),
        (GatewayError("x", status=400, code="invalid_image"), "invalid_image"),
        (GatewayError("x", code="gateway_shutting_down"), "server_error"),
    ],
)
def test_failed_responses_carry_one_of_openais_codes(error, code) -> None:
    payloads = checked(render([], error=error))
    assert types(payloads) == ["response.created", "response.in_progress", "error", "response.failed"]
    assert final(payloads)["error"]["code"] == code
    Response.model_validate(final(payloads), strict=False)


def test_the_non_streaming_body_has_the_streams_items() -> None:
    answer = Answer(
        text="Reading.",
        thinking="hm",
        tool_calls=[
            CollectedCall("call_a", "read_file", "{}"),
            CollectedCall("call_p", "apply_patch", '{"input":"x"}'),
        ],
        usage=Usage(3, 4),
        finish="tool_calls",
    )
    body = response_body(answer, info(show_thinking=True), ids())
    response = Response.model_validate(body, strict=False)
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert response.output_text == "Reading." and response.status == "completed"
    assert body["output"][3]["input"] == "x"
    streamed = final(
        checked(
            render(
                [
                    ThinkingDelta("hm"),
                    TextDelta("Reading."),
                    *call(0, "call_a", "read_file", "{}"),
                    *call(1, "call_p", "apply_patch", '{"input":"x"}'),
                    Usage(3, 4),
                    Finish("tool_calls"),
                ],
                show_thinking=True,
            )
        )
    )
    assert streamed == body


def test_the_non_streaming_body_of_a_cut_answer_is_incomplete() -> None:
    body = response_body(Answer(text="Once", usage=Usage(1, 1), finish="length"), info(), ids())
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}


def test_custom_input_falls_back_to_the_raw_arguments() -> None:
    assert custom_input('{"input":"a"}') == "a"
    assert custom_input("not json") == "not json"
    assert custom_input('{"other":1}') == '{"other":1}'


def test_the_response_repeats_the_request_parameters() -> None:
    body = response_body(Answer(text="x"), info(), ids())
    for name, value in ECHO.items():
        assert body[name] == value
    assert orjson.loads(orjson.dumps(body))["object"] == "response"


STEP = st.one_of(
    st.builds(TextDelta, st.text(min_size=1, max_size=5)),
    st.builds(ThinkingDelta, st.text(min_size=1, max_size=5)),
    st.just("call"),
)


@given(
    st.lists(STEP, max_size=12),
    st.booleans(),
    st.sampled_from(["stop", "length", "tool_calls"]),
    st.booleans(),
)
def test_any_event_sequence_renders_a_valid_stream(steps, show_thinking, reason, fail) -> None:
    events = []
    for i, step in enumerate(steps):
        events.extend(call(i, f"call_{i}", "read_file", "{}") if step == "call" else [step])
    events += [Usage(1, 1), Finish(reason)]
    sse = render(events, show_thinking=show_thinking, error=UpstreamError("x") if fail else None)
    payloads = checked(sse)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    output = final(payloads)["output"]
    shown = "".join(part["text"] for item in output if item["type"] == "message" for part in item["content"])
    assert shown == text
    assert [item["call_id"] for item in output if item["type"] == "function_call"] == [
        e.id for e in events if isinstance(e, ToolCallStart)
    ]
