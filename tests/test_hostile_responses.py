"""Hostile clients of the Responses API and legacy completions: every field of a valid body, at any
depth, replaced by a hostile value, removed or given an unknown sibling, gets a complete answer or a
4xx in the OpenAI envelope whose `param` names a field of the body; never a 5xx. Uses the
module-scoped gateway (its scripted model calls the first offered tool) and the walk of
`test_hostile_http.py`."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import MODEL
from tests.hostile_fields import Mutation, mutations
from tests.sse_reader import parse_named_sse, parse_sse
from tests.test_hostile_http import (
    ANSWER,
    ANSWER_SCHEMA,
    CALL_ARGUMENTS,
    MODEL_OUTPUT_FAILURES,
    TOOL_SCHEMA,
    Answer,
    Dialect,
    Served,
    assert_envelope,
    encode,
    first_segment,
    post,
    walk_one,
    walker_served,
)

__all__ = ["walker_served"]  # the module-scoped gateway, shared with test_hostile_http.py

pytestmark = pytest.mark.timeout(max(60, settings.default.max_examples // 20))
RESPONSES = "/v1/responses"
COMPLETIONS = "/v1/completions"

RESPONSES_COMMON: dict[str, Any] = {
    "model": MODEL,
    "instructions": "Answer briefly.",
    "input": [
        {"role": "developer", "content": "Use the tools."},
        {"role": "user", "content": [{"type": "input_text", "text": "Read the file."}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Which one?"}]},
        {"role": "user", "content": "The first."},
    ],
    "max_output_tokens": 4000,
    "temperature": 0.5,
    "top_p": 1,
    "metadata": {"k": "v"},
    "user": "u",
    "truncation": "disabled",
    "service_tier": "auto",
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "reasoning": {"effort": "medium", "summary": "auto"},
}
RESPONSES_TOOLS_SAMPLE: dict[str, Any] = {
    **RESPONSES_COMMON,
    "input": [
        *RESPONSES_COMMON["input"],
        {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": [{"type": "input_text", "text": "none"}],
        },
        {"role": "user", "content": "Try again."},
    ],
    "tools": [
        {
            "type": "function",
            "name": "read_file",
            "description": "Read a file.",
            "parameters": TOOL_SCHEMA,
            "strict": False,
        }
    ],
    "tool_choice": {"type": "function", "name": "read_file"},
    "parallel_tool_calls": True,
}
RESPONSES_FORMAT_SAMPLE: dict[str, Any] = {
    **RESPONSES_COMMON,
    "text": {
        "format": {"type": "json_schema", "name": "answer", "schema": ANSWER_SCHEMA, "strict": True},
        "verbosity": "medium",
    },
}
COMPLETIONS_SAMPLE: dict[str, Any] = {
    "model": MODEL,
    "prompt": ["Say hi", "Say bye"],
    "max_tokens": 4000,
    "n": 1,
    "best_of": 1,
    "echo": True,
    "stop": ["\n\n\n"],
    "temperature": 0.5,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {"50256": -100},
    "seed": 1,
    "user": "u",
    "stream_options": {"include_usage": True},
    "suffix": None,
    "logprobs": None,
}


def _judge(fields: set[str], answer: Answer, model_failed: bool) -> dict[str, Any] | None:
    """A 4xx names a field of the body, a 502 is a broken promise of the answer; the 200 is returned."""
    if answer.status == 200:
        return None
    if answer.status == 502:
        error = json.loads(answer.body)["error"]
        assert error["code"] in MODEL_OUTPUT_FAILURES and model_failed, error
        return None
    error = assert_envelope(answer.status, answer.content_type, answer.body)
    if error["code"] != "invalid_json":  # else the body as a whole does not parse
        assert error["param"] and first_segment(error["param"]) in fields, error
    return error


def check_responses(answer: Answer, mutation: Mutation, model_failed: bool) -> None:
    if (
        _judge({*RESPONSES_TOOLS_SAMPLE, *RESPONSES_FORMAT_SAMPLE}, answer, model_failed)
        or answer.status != 200
    ):
        return
    if answer.content_type.startswith("text/event-stream"):
        events, _ = parse_named_sse(answer.body.decode())
        names = [name for name, _ in events]
        assert names[:2] == ["response.created", "response.in_progress"], names
        assert names[-1] in ("response.completed", "response.incomplete") and "error" not in names, names
    else:
        assert json.loads(answer.body)["object"] == "response"


def check_completions(answer: Answer, mutation: Mutation, model_failed: bool) -> None:
    if _judge(set(COMPLETIONS_SAMPLE), answer, model_failed) or answer.status != 200:
        return
    if answer.content_type.startswith("text/event-stream"):
        events, _ = parse_sse(answer.body.decode())
        assert events[-1] == "[DONE]" and not any(isinstance(e, dict) and "error" in e for e in events)
    else:
        assert json.loads(answer.body)["object"] == "text_completion"


DIALECTS = [
    Dialect(RESPONSES, RESPONSES_TOOLS_SAMPLE, check_responses),
    Dialect(RESPONSES, RESPONSES_FORMAT_SAMPLE, check_responses),
    Dialect(COMPLETIONS, COMPLETIONS_SAMPLE, check_completions),
]
DIALECT_IDS = ["responses-tools", "responses-text-format", "completions"]


def test_the_samples_succeed_and_are_checked(walker_served: Served) -> None:
    """Each sample, streamed and not, succeeds; the call or answer passed its schema check."""
    for dialect in DIALECTS:
        for stream in (False, True):
            document = {**dialect.sample, "stream": stream}
            send = functools.partial(post, walker_served, encode(document), route=dialect.route)
            answer = walker_served.run(send)
            assert answer.status == 200, answer.body[:500]
            dialect.check(answer, Mutation((), "replace", None, document), False)
    body = json.loads(
        walker_served.run(
            functools.partial(post, walker_served, encode(RESPONSES_TOOLS_SAMPLE), route=RESPONSES)
        ).body
    )
    calls = [json.loads(item["arguments"]) for item in body["output"] if item["type"] == "function_call"]
    assert [call["path"] for call in calls] == [CALL_ARGUMENTS["path"]]
    body = json.loads(
        walker_served.run(
            functools.partial(post, walker_served, encode(RESPONSES_FORMAT_SAMPLE), route=RESPONSES)
        ).body
    )
    assert json.loads(body["output"][0]["content"][0]["text"]) == ANSWER


@pytest.mark.parametrize("dialect", DIALECTS, ids=DIALECT_IDS)
@given(data=st.data(), ascii_only=st.booleans())
def test_any_field_at_any_depth_with_a_hostile_value(walker_served, dialect, data, ascii_only):
    walk_one(walker_served, dialect, data.draw(mutations(dialect.sample), label="mutation"), ascii_only)
