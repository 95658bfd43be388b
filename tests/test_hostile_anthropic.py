"""Hostile clients of the Anthropic routes: a client's mistake is a 4xx in Anthropic's envelope, never a
5xx, and a valid request is a complete message. Uses the module-scoped gateway and JSON helpers of
`test_hostile_http.py`."""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.chat.test_images import png
from tests.conftest import MODEL
from tests.hostile_fields import Mutation, mutations
from tests.sse_reader import parse_named_sse
from tests.test_hostile_http import (
    ANSWER_SCHEMA,
    TOOL_SCHEMA,
    Answer,
    Dialect,
    Raw,
    Served,
    any_json,
    check_samples,
    documents,
    either,
    encode,
    optional_fields,
    plain_and_poisoned,
    served,
    walk_one,
    walker_served,
)

__all__ = ["served", "walker_served"]  # the module-scoped gateways, shared with test_hostile_http.py

pytestmark = pytest.mark.timeout(max(60, settings.default.max_examples // 20))
ROUTES = ("/v1/messages", "/v1/messages/count_tokens")
VALID = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def assert_anthropic_envelope(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    assert 400 <= status < 500, (status, body[:300])
    assert content_type.startswith("application/json"), content_type
    document = json.loads(body)
    assert (
        isinstance(document, dict) and sorted(document) == ["error", "type"] and document["type"] == "error"
    )
    error = document["error"]
    assert sorted(error) == ["message", "type"] and isinstance(error["message"], str) and error["message"]
    assert error["type"] in {"invalid_request_error", "not_found_error", "request_too_large"}, error
    return error


def assert_messages_answer(path: str, status: int, content_type: str, body: bytes) -> str:
    """Checks the answer; returns a label of it for hypothesis' statistics."""
    if status != 200:
        error = assert_anthropic_envelope(status, content_type, body)
        return f"{path} {status} {error['type']}"
    if path.endswith("count_tokens"):
        assert isinstance(json.loads(body)["input_tokens"], int)
    elif content_type.startswith("text/event-stream"):
        events, _ = parse_named_sse(body.decode())
        names = [name for name, _ in events]
        assert names[0] == "message_start" and names[-1] == "message_stop", names
        assert "error" not in names
    else:
        assert json.loads(body)["type"] == "message"
    return f"{path} 200"


async def post(served: Served, path: str, body: bytes) -> tuple[int, str, bytes]:
    async with served.client.post(path, data=body, headers={"anthropic-version": "2023-06-01"}) as response:
        assert "X-Request-Id" in response.headers
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def messages_documents_with(
    strings: st.SearchStrategy[str], leaves: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Messages-shaped documents whose every field is sometimes right, sometimes wrong, sometimes absent."""
    anything = any_json(strings, leaves)

    def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return either(valid, anything)

    kinds = st.sampled_from(
        [
            "text",
            "image",
            "tool_use",
            "tool_result",
            "thinking",
            "redacted_thinking",
            "document",
            "server_tool_use",
            "x",
        ]
    )
    source = optional_fields(
        type=field(st.sampled_from(["base64", "url", "file", "text"])),
        media_type=field(st.sampled_from(["image/png", "image/jpeg", "text/plain", "x"])),
        data=field(st.sampled_from(["iVBORw0KGgo=", "aGVsbG8=", ""]) | strings),
        url=field(st.sampled_from(["https://example.com/a.png", "data:image/png;base64,x"]) | strings),
    )
    block = optional_fields(
        type=field(kinds),
        text=field(strings),
        id=field(st.sampled_from(["toolu_1", "toolu_2"])),
        name=field(strings),
        input=field(st.dictionaries(strings, leaves, max_size=2)),
        tool_use_id=field(st.sampled_from(["toolu_1", "toolu_2"])),
        content=field(strings | st.lists(anything, max_size=2)),
        is_error=field(st.booleans()),
        source=field(source),
        thinking=field(strings),
        signature=field(strings),
    )
    message = st.fixed_dictionaries(
        {
            "role": field(st.sampled_from(["user", "assistant", "system", "tool"])),
            "content": field(strings | st.lists(field(block), max_size=3)),
        }
    )
    tool = optional_fields(
        name=field(st.sampled_from(["get_weather", "read_file"]) | strings),
        description=field(strings),
        input_schema=field(st.just({"type": "object"}) | anything),
        type=field(st.sampled_from(["custom", "web_search_20250305", "bash_20250124"])),
        defer_loading=field(st.booleans()),
    )
    required = {
        "model": field(st.sampled_from([MODEL, MODEL + "-thinking", "gpt-4o", "nope"])),
        "max_tokens": field(st.integers(-2, 2**70)),
        "messages": field(st.lists(field(message), min_size=1, max_size=3)),
    }
    optional = {
        "stream": field(st.booleans()),
        "system": field(
            strings | st.lists(field(optional_fields(type=field(st.just("text")), text=strings)))
        ),
        "stop_sequences": field(st.lists(strings, max_size=3)),
        "tools": field(st.lists(field(tool), max_size=2)),
        "tool_choice": field(
            optional_fields(
                type=field(st.sampled_from(["auto", "any", "tool", "none"])),
                name=field(strings),
                disable_parallel_tool_use=field(st.booleans()),
            )
        ),
        "thinking": field(
            optional_fields(
                type=field(st.sampled_from(["enabled", "adaptive", "disabled"])),
                budget_tokens=field(st.integers(0, 5000)),
                display=field(st.sampled_from(["summarized", "omitted"])),
            )
        ),
        "output_config": field(
            optional_fields(effort=field(st.sampled_from(["low", "max"])), format=anything)
        ),
        "temperature": field(st.floats(-1, 2) | leaves),
        "top_k": field(st.integers(-2, 10)),
        "metadata": field(optional_fields(user_id=field(strings))),
        "container": anything,
        "context_management": anything,
    }
    return documents(required, optional, anything)


messages_documents = plain_and_poisoned(messages_documents_with)


@given(document=messages_documents, path=st.sampled_from(ROUTES), ascii_only=st.booleans())
@example(document=VALID, path=ROUTES[0], ascii_only=True)
@example(document={**VALID, "stream": True}, path=ROUTES[0], ascii_only=True)
@example(
    document={**VALID, "messages": [{"role": "user", "content": "\udc00"}]}, path=ROUTES[0], ascii_only=True
)
@example(document={**VALID, "max_tokens": Raw("1" * 400)}, path=ROUTES[0], ascii_only=True)
@example(document={**VALID, "temperature": Raw("NaN")}, path=ROUTES[1], ascii_only=True)
def test_any_messages_document_is_answered_or_refused_in_anthropics_envelope(
    served, document, path, ascii_only
):
    status, content_type, body = served.run(
        functools.partial(post, served, path, encode(document, ascii_only))
    )
    assert_messages_answer(path, status, content_type, body)


def test_the_valid_examples_really_succeed(served):
    """Guard for the property above: a healthy upstream makes a valid request a 200."""
    for path, document in ((ROUTES[0], VALID), (ROUTES[0], {**VALID, "stream": True}), (ROUTES[1], VALID)):
        status, content_type, body = served.run(functools.partial(post, served, path, encode(document, True)))
        assert status == 200, body
        assert_messages_answer(path, status, content_type, body)


@given(body=st.binary(max_size=300), path=st.sampled_from(ROUTES))
def test_any_bytes_are_refused_in_anthropics_envelope(served, body, path):
    status, content_type, answer = served.run(functools.partial(post, served, path, body))
    event(assert_messages_answer(path, status, content_type, answer))


# ---------------------------------------------------------------- every field, hostile values

ANTHROPIC_COMMON: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 100,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": base64.b64encode(png(2, 2)).decode(),
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "file a"}],
                },
                {"type": "text", "text": "And now?"},
            ],
        },
    ],
    "stream": False,
    "stop_sequences": ["STOP"],
    "temperature": 0.5,
    "top_p": 1,
    "top_k": 5,
    "metadata": {"user_id": "user-1"},
}
ANTHROPIC_TOOLS_SAMPLE: dict[str, Any] = {
    **ANTHROPIC_COMMON,
    "tools": [{"name": "read_file", "description": "Read a file.", "input_schema": TOOL_SCHEMA}],
    "tool_choice": {"type": "tool", "name": "read_file", "disable_parallel_tool_use": False},
}
ANTHROPIC_FORMAT_SAMPLE: dict[str, Any] = {
    **ANTHROPIC_COMMON,
    "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": ANSWER_SCHEMA}},
}


def check_anthropic(answer: Answer, mutation: Mutation, model_failed: bool) -> None:
    """200 with a complete message, or a 4xx in Anthropic's envelope (which names the field in its
    message; it has no `param`)."""
    if answer.status == 500 and model_failed:  # Anthropic's status for a broken promise of the answer
        assert json.loads(answer.body)["error"]["type"] == "api_error"
        return
    assert_messages_answer("/v1/messages", answer.status, answer.content_type, answer.body)


ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}
DIALECTS = [
    Dialect("/v1/messages", ANTHROPIC_TOOLS_SAMPLE, check_anthropic, ANTHROPIC_HEADERS),
    Dialect("/v1/messages", ANTHROPIC_FORMAT_SAMPLE, check_anthropic, ANTHROPIC_HEADERS),
]


def test_the_messages_samples_succeed_and_are_checked(walker_served):
    check_samples(walker_served, DIALECTS)


@pytest.mark.parametrize("dialect", DIALECTS, ids=["messages-tools", "messages-output-config"])
@given(data=st.data(), ascii_only=st.booleans())
def test_any_messages_field_at_any_depth_with_a_hostile_value(walker_served, dialect, data, ascii_only):
    """The walk of test_hostile_http over every field of a Messages body."""
    walk_one(walker_served, dialect, data.draw(mutations(dialect.sample), label="mutation"), ascii_only)
