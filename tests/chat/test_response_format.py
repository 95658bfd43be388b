"""response_format: the instruction, fence stripping, validation, and the one retry."""

from __future__ import annotations

import threading

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat import response_format
from gateway.chat.response_format import (
    FAILED_CODE,
    check_output,
    enforce_response_format,
    instruction,
    strip_fences,
)
from gateway.errors import UpstreamError
from gateway.neutral.model import Finish, ResponseFormat, TextDelta, ThinkingDelta, ToolCallStart, Usage
from tests.chat.test_params import Producer, answer, chat, collect, text_of

JSON_OBJECT = ResponseFormat("json_object")
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
JSON_SCHEMA = ResponseFormat("json_schema", name="count", description="a count", schema=SCHEMA)


def test_instruction_names_the_schema():
    assert "JSON object" in instruction(JSON_OBJECT) and "Schema" not in instruction(JSON_OBJECT)
    text = instruction(JSON_SCHEMA)
    assert '"count"' in text and "a count" in text and orjson.dumps(SCHEMA).decode() in text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('{"a":1}', '{"a":1}'),
        ('  \n{"a":1}\n ', '{"a":1}'),
        ('```json\n{"a":1}\n```', '{"a":1}'),
        ('```\n{"a":1}\n```', '{"a":1}'),
        ('```{"a":1}```', '{"a":1}'),
        ('\n```JSON\n{\n "a": 1\n}\n```\n', '{\n "a": 1\n}'),
        ("```", "```"),
        ('text ```json\n{"a":1}\n```', 'text ```json\n{"a":1}\n```'),
    ],
)
def test_strip_fences(raw, clean):
    assert strip_fences(raw) == clean


@given(
    st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5), max_size=4)
)
def test_fenced_json_objects_pass(value):
    text = orjson.dumps(value).decode()
    for wrapped in (text, f"```json\n{text}\n```", f"\n\n```\n{text}\n```\n"):
        assert check_output(wrapped, JSON_OBJECT) == (text, None)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("Sure! Here it is: {}", JSON_OBJECT),
        ("[1, 2]", JSON_OBJECT),
        ("", JSON_OBJECT),
        ('{"n": "three"}', JSON_SCHEMA),
        ("{}", JSON_SCHEMA),
    ],
)
def test_invalid_outputs_have_a_reason(text, fmt):
    _, reason = check_output(text, fmt)
    assert reason


def test_schema_reason_names_the_place():
    _, reason = check_output('{"n": "x"}', JSON_SCHEMA)
    assert reason is not None and "at n" in reason


def test_a_schema_reference_is_never_fetched():
    fmt = ResponseFormat(
        "json_schema", name="r", schema={"properties": {"a": {"$ref": "http://127.0.0.1:9/x"}}}
    )
    _, reason = check_output('{"a": 1}', fmt)
    assert reason is not None and "reference" in reason


class Attempts:
    """`attempt(request)` for the wrapper: each call answers with the next scripted answer."""

    def __init__(self, *answers: tuple) -> None:
        self.answers = list(answers)
        self.requests = []
        self.producers = []

    def __call__(self, request):
        self.requests.append(request)
        producer = Producer(*self.answers.pop(0))
        self.producers.append(producer)
        return producer.stream()


async def test_a_valid_answer_is_cleaned_and_sent_once():
    attempts = Attempts((ThinkingDelta("think"), *answer("```json\n", '{"n": 3}', "\n```")))
    events = await collect(enforce_response_format(attempts, chat(), JSON_SCHEMA))
    assert events == [ThinkingDelta("think"), TextDelta('{"n": 3}'), Usage(5, 7), Finish("stop")]
    assert len(attempts.requests) == 1 and attempts.producers[0].closed


async def test_an_invalid_answer_is_retried_once_with_the_reason():
    attempts = Attempts(answer("I think n is 3."), answer('{"n": 3}'))
    events = await collect(enforce_response_format(attempts, chat(), JSON_SCHEMA))
    assert text_of(events) == '{"n": 3}'
    assert events[-2] == Usage(10, 14)  # both attempts count
    first, second = attempts.requests
    assert first.system == "sys" and second.system.startswith("sys\n\n") and "not valid JSON" in second.system
    assert second.messages == first.messages


async def test_still_invalid_after_the_retry_is_a_502():
    attempts = Attempts(answer("nope"), answer('{"n": "three"}'))
    with pytest.raises(UpstreamError) as info:
        await collect(enforce_response_format(attempts, chat(), JSON_SCHEMA))
    assert (info.value.status, info.value.code, info.value.param) == (502, FAILED_CODE, "response_format")
    assert len(attempts.requests) == 2


async def test_length_and_tool_call_endings_pass_unchecked():
    attempts = Attempts(answer('{"n": ', reason="length"))
    events = await collect(enforce_response_format(attempts, chat(), JSON_SCHEMA))
    assert events == list(answer('{"n": ', reason="length"))
    calls = (ToolCallStart(0, "call_1", "f"), Usage(1, 1), Finish("tool_calls"))
    events = await collect(enforce_response_format(Attempts(calls), chat(), JSON_OBJECT))
    assert events == list(calls)


async def test_upstream_errors_are_not_retried():
    attempts = Attempts((TextDelta("x"), UpstreamError("boom")))
    with pytest.raises(UpstreamError) as info:
        await collect(enforce_response_format(attempts, chat(), JSON_OBJECT))
    assert info.value.code != FAILED_CODE and len(attempts.requests) == 1


def test_an_evil_pattern_is_checked_in_linear_time():
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}
    fmt = ResponseFormat("json_schema", name="r", schema=schema)
    _, reason = check_output(orjson.dumps({"a": "a" * 100_000 + "!"}).decode(), fmt)
    assert reason is not None and "does not match" in reason


async def test_the_answer_is_checked_off_the_event_loop(monkeypatch):
    seen = []

    def recording(text, fmt):
        seen.append(threading.current_thread())
        return check_output(text, fmt)

    monkeypatch.setattr(response_format, "check_output", recording)
    events = await collect(enforce_response_format(Attempts(answer('{"n": 3}')), chat(), JSON_SCHEMA))
    assert text_of(events) == '{"n": 3}'
    assert seen and threading.main_thread() not in seen
