"""Hostile clients over the real HTTP API: a client's mistake is a 4xx in the envelope, never a 5xx.

One gateway (a scripted upstream that always answers) is served for the whole module on a loop
this module owns; each hypothesis example is one or more real HTTP requests against it. Requests
the aiohttp client cannot send (non-UTF-8 header bytes, raw paths, odd methods) go over a plain
socket. A response that carries `X-Request-Id` came from the application and must use the
envelope; one without it was refused by aiohttp's HTTP parser before the app, and may only be a
400.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from gateway import keys
from gateway.app import create_app
from gateway.config import Settings
from gateway.server import handler_options
from tests.chat.test_images import data_url, png
from tests.conftest import API_KEY, MODEL, fixed_pool
from tests.hostile_fields import Mutation, Raw, encode, mutations, replaced
from tests.scripted import ScriptedTransport, ToolCallingModel, reply
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
MAX_BODY = 64 * 1024
REQUEST_TIMEOUT = 10.0
T = TypeVar("T")

# Each example is a real request (~5-10 ms): `fast` fits pytest.ini's 60 s easily; the `deep`
# profile's 10,000 examples per test need more, so the budget scales with the loaded profile.
pytestmark = pytest.mark.timeout(max(60, settings.default.max_examples // 20))


class HealthyUpstream(ScriptedTransport):
    """Answers every call with a short clean reply, so a valid request always succeeds."""

    def post(self, url, headers, body):
        self.replies.append(reply("Hello", " there"))
        return super().post(url, headers, body)


@dataclass
class Served:
    loop: asyncio.AbstractEventLoop
    client: TestClient
    transport: ScriptedTransport

    @property
    def port(self) -> int:
        port = self.client.server.port
        assert port is not None
        return port

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await make()

        return self.loop.run_until_complete(bounded())


def serve(tmp, transport: ScriptedTransport, **overrides: str) -> Iterator[Served]:
    """The gateway on a loop of its own, shared by every example of the tests that use it."""
    settings = Settings.from_mapping(
        {
            "API_KEY": API_KEY,
            "TOKEN_FILE": str(tmp / ".token"),
            "TOKEN_LIST_FILE": str(tmp / ".token-list"),
            "CURSOR_BASE_URL": "http://127.0.0.1:9",
            "MAX_BODY_BYTES": str(MAX_BODY),
            "DATA_DIR": str(tmp / "data"),
            **overrides,
        }
    )
    loop = asyncio.new_event_loop()

    async def start() -> TestClient:
        app = create_app(settings, transport=transport, pool=fixed_pool())
        server = TestServer(app, **handler_options(settings))  # the production handler options
        client = TestClient(server, headers={"Authorization": f"Bearer {API_KEY}"})
        await client.start_server()
        return client

    try:
        client = loop.run_until_complete(start())
        try:
            yield Served(loop, client, transport)
        finally:
            loop.run_until_complete(client.close())
        leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
        assert leftover == [], leftover
        assert transport.opened == transport.closed
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("hostile"), HealthyUpstream())


# ---------------------------------------------------------------- checking answers


def assert_envelope(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    assert 400 <= status < 500, (status, body[:300])
    assert content_type.startswith("application/json"), content_type
    document = json.loads(body)
    assert isinstance(document, dict) and list(document) == ["error"], document
    error = document["error"]
    assert isinstance(error, dict) and sorted(error) == ["code", "message", "param", "type"], error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    return error


def assert_chat_answer(status: int, content_type: str, body: bytes, *, from_app: bool = True) -> None:
    """200 with a complete answer (JSON or SSE ending in [DONE]), or a 4xx envelope.

    `from_app=False` (no X-Request-Id): aiohttp's HTTP parser refused the request before the app
    ran (e.g. a `br`/`zstd` Content-Encoding without the optional decoder installed); that
    answer is aiohttp's plain-text 400, which the gateway cannot shape.
    """
    if not from_app:
        assert status == 400, (status, body[:300])
        return
    if status != 200:
        assert_envelope(status, content_type, body)
        return
    if content_type.startswith("text/event-stream"):
        events, _ = parse_sse(body.decode())
        assert events[-1] == "[DONE]"
        assert not any(isinstance(e, dict) and "error" in e for e in events), events
    else:
        assert json.loads(body)["object"] == "chat.completion"


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    from_app: bool

    def check(self) -> None:
        code = json.loads(self.body)["error"]["code"] if self.from_app and self.status >= 400 else None
        event(f"status {self.status} {code or ''}".strip())
        assert_chat_answer(self.status, self.content_type, self.body, from_app=self.from_app)


async def post(
    served: Served, body: bytes, headers: dict[str, str] | None = None, *, route: str = CHAT
) -> Answer:
    async with served.client.post(route, data=body, headers=headers or {}) as response:
        return Answer(
            response.status,
            response.headers.get("Content-Type", ""),
            await response.read(),
            "X-Request-Id" in response.headers,
        )


# ---------------------------------------------------------------- raw HTTP/1.1 over a socket


@dataclass
class RawResponse:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def from_app(self) -> bool:
        return b"x-request-id" in self.headers

    @property
    def content_type(self) -> str:
        return self.headers.get(b"content-type", b"").decode("latin-1")


async def raw_request(served: Served, head: bytes, body: bytes = b"") -> RawResponse:
    """Send `head` (request line + header lines, no blank line) and read to EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get(b"content-length")
    if length is not None:
        rest = rest[: int(length)]
    return RawResponse(int(status_line.split()[1]), headers, rest)


def assert_raw_answer(response: RawResponse, allowed: set[int], *, head: bool = False) -> None:
    if not response.from_app:
        assert response.status == 400, response  # aiohttp's parser refused the request line or headers
        return
    assert response.status in allowed, response
    if response.status >= 400 and not head:
        assert_envelope(response.status, response.content_type, response.body)


# ---------------------------------------------------------------- JSON documents


WORDS = [
    "",
    " ",
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "function",
    "human",
    "ai",
    "robot",
    "text",
    "input_text",
    "image_url",
    "auto",
    "none",
    "required",
    "json_object",
    "gpt-4o",
    "claude-3.5-sonnet",
    MODEL,
    MODEL + "-thinking",
    "nope",
]
RAW_NUMBERS = ["1e400", "-1e400", "1" * 400, "-0", "1E-400", "NaN", "Infinity", "-Infinity", "0.0", "2e0"]

plain_strings = st.sampled_from(WORDS) | st.text(max_size=12)
poison_strings = st.text(st.characters(exclude_categories=()), max_size=6) | st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)  # lone surrogates: `\udXXX` escapes (or CESU-8 bytes when not ASCII-escaped)
plain_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_strings
poison_leaves = (
    st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.sampled_from(RAW_NUMBERS).map(Raw)
    | poison_strings
)


def either(valid: st.SearchStrategy[Any], anything: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value for the field, sometimes anything at all."""
    return valid | valid | valid | valid | anything


def optional_fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def any_json(strings: st.SearchStrategy[str], leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Any JSON value built from `strings` (as keys) and `leaves`."""
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
        max_leaves=12,
    )


def documents(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]],
    anything: st.SearchStrategy[Any],
) -> st.SearchStrategy[Any]:
    """Mostly a document with its required fields, sometimes one missing them, sometimes anything."""
    return (
        st.fixed_dictionaries(required, optional=optional)
        | st.fixed_dictionaries(required, optional=optional)
        | st.fixed_dictionaries({}, optional={**required, **optional})
        | anything
    )


def plain_and_poisoned(
    documents_with: Callable[[st.SearchStrategy[str], st.SearchStrategy[Any]], st.SearchStrategy[Any]],
) -> st.SearchStrategy[Any]:
    """The documents of a route built from plain strings and leaves, or from poisoned ones too."""
    return documents_with(plain_strings, plain_leaves) | documents_with(
        plain_strings | poison_strings, plain_leaves | poison_leaves
    )


def chat_documents_with(
    strings: st.SearchStrategy[str], leaves: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Chat-shaped documents whose every field is sometimes right, sometimes wrong, sometimes absent."""
    anything = any_json(strings, leaves)

    def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return either(valid, anything)

    numbers = st.integers(-3, 3) | st.floats(-3, 3) | leaves
    part = optional_fields(
        type=field(st.sampled_from(["text", "input_text", "image_url", "input_audio", "file", "x"])),
        text=field(strings),
        image_url=anything,
    )
    call = optional_fields(
        id=field(strings),
        type=field(st.just("function")),
        function=field(optional_fields(name=field(strings), arguments=field(strings))),
    )
    message_fields = {
        "role": field(st.sampled_from(WORDS[2:11])),
        "content": field(strings | st.lists(field(part) | strings, max_size=3) | st.none()),
    }
    message = st.fixed_dictionaries(
        message_fields,
        optional={
            "tool_calls": field(st.lists(field(call), max_size=2)),
            "tool_call_id": field(strings),
            "name": field(strings),
        },
    )
    required = {
        "model": field(
            st.sampled_from(["gpt-4o", "claude-3.5-sonnet", MODEL, MODEL + "-thinking", " gpt-4o "])
        ),
        "messages": field(st.lists(field(message), min_size=1, max_size=3)),
    }
    optional = {
        "stream": field(st.booleans()),
        "stream_options": field(optional_fields(include_usage=field(st.booleans()))),
        "temperature": field(numbers),
        "top_p": field(numbers),
        "presence_penalty": field(numbers),
        "frequency_penalty": field(numbers),
        "max_tokens": field(st.integers(-2, 2**70)),
        "max_completion_tokens": field(st.integers(-2, 2**70)),
        "n": field(st.integers(-1, 3)),
        "seed": field(st.integers(-(2**64), 2**64)),
        "stop": field(strings | st.lists(strings, max_size=6)),
        "tools": field(st.lists(anything, max_size=2)),
        "tool_choice": field(st.sampled_from(["auto", "none", "required"])),
        "functions": anything,
        "function_call": anything,
        "logit_bias": field(st.dictionaries(strings, numbers, max_size=3)),
        "logprobs": field(st.booleans()),
        "top_logprobs": field(st.integers(-1, 30)),
        "response_format": field(optional_fields(type=field(st.sampled_from(["text", "json_object", "x"])))),
        "user": field(strings),
        "metadata": anything,
        "store": anything,
        "parallel_tool_calls": anything,
        "reasoning_effort": anything,
    }
    return documents(required, optional, anything)


chat_documents = plain_and_poisoned(chat_documents_with)


VALID = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


@given(document=chat_documents, ascii_only=st.booleans())
@example(document=VALID, ascii_only=True)
@example(document={**VALID, "stream": True, "stream_options": {"include_usage": True}}, ascii_only=True)
@example(document={**VALID, "messages": [{"role": "user", "content": "\udc00"}]}, ascii_only=True)
@example(document={**VALID, "messages": [{"role": "user", "content": "\ud83d"}]}, ascii_only=False)
@example(document={**VALID, "temperature": Raw("1e400")}, ascii_only=True)
@example(document={**VALID, "max_tokens": Raw("1" * 400)}, ascii_only=True)
@example(document={**VALID, "logit_bias": {"\udfff": Raw("NaN")}}, ascii_only=True)
@example(document={**VALID, "n": 2**64}, ascii_only=True)
def test_any_json_document_is_answered_or_refused_in_the_envelope(served, document, ascii_only):
    answer = served.run(lambda: post(served, encode(document, ascii_only)))
    assert answer.from_app
    answer.check()


def test_the_valid_examples_really_succeed(served):
    """Guard for the property above: a healthy upstream makes a valid request a 200."""
    for body in (encode(VALID, True), encode({**VALID, "stream": True}, True)):
        answer = served.run(functools.partial(post, served, body))
        assert answer.status == 200, answer
        assert_chat_answer(answer.status, answer.content_type, answer.body)


# ---------------------------------------------------------------- every field, hostile values

WALK_MAX_BODY = 4 * 1024 * 1024
# What the scripted model answers: long runs of one letter with a different last character, so a
# backtracking regex engine given a pattern like ^(a+)+$ would never finish checking them.
ANSWER = {"answer": "a" * 40 + "!"}
CALL_ARGUMENTS = {
    "path": "a" * 40 + "!",
    "mode": None,
    "lines": [1, 2],
    "options": {"x-" + "a" * 40 + "!": "v"},
}
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "pattern": "^[a-z]+!$", "maxLength": 100}},
    "required": ["answer"],
}
TOOL_SCHEMA = {
    "type": "object",
    "$defs": {"mode": {"type": "string", "enum": ["fast", "careful"]}},
    "properties": {
        "path": {"type": "string", "pattern": "^[^\\x00]+$", "maxLength": 4096},
        "mode": {"$ref": "#/$defs/mode"},
        "lines": {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True},
        "options": {
            "type": "object",
            "patternProperties": {"^x-": {"type": "string"}},
            "additionalProperties": False,
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}
# Every field of POST /v1/chat/completions at every depth the API reads, over two samples: a tool
# turn (whose scripted answer is a call) and a response_format turn (whose answer is checked).
CHAT_COMMON: dict[str, Any] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in JSON."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": data_url(png(2, 2), "image/png"), "detail": "low"},
                },
            ],
            "name": "ada",
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "thinking",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path":"a"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "file a"}]},
        {"role": "user", "content": "And now?"},
    ],
    "stream": False,
    "stream_options": {"include_usage": True},
    "temperature": 0.5,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "max_tokens": 100,
    "max_completion_tokens": 200,
    "n": 2,
    "seed": 7,
    "stop": ["STOP", "END"],
    "logit_bias": {"50256": -100},
    "logprobs": False,
    "top_logprobs": 0,
    "user": "user-1",
    "metadata": {"k": "v"},
    "store": False,
    "reasoning_effort": "low",
}
CHAT_TOOLS_SAMPLE: dict[str, Any] = {
    **CHAT_COMMON,
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file.",
                "parameters": TOOL_SCHEMA,
                "strict": False,
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "read_file"}},
    "parallel_tool_calls": True,
}
CHAT_FORMAT_SAMPLE: dict[str, Any] = {
    **CHAT_COMMON,
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "description": "An answer.",
            "schema": ANSWER_SCHEMA,
            "strict": True,
        },
    },
}
CHAT_FIELDS = {*CHAT_TOOLS_SAMPLE, *CHAT_FORMAT_SAMPLE, "x-unknown-field"}
# A model answer can still break a promise the request asked for (a schema the scripted answer
# does not meet, a tool it does not call): those are 502s, not a client's mistake, and not a crash.
MODEL_OUTPUT_FAILURES = {"response_format_failed", "invalid_tool_call"}


@pytest.fixture(scope="module")
def walker_served(tmp_path_factory) -> Iterator[Served]:
    walker = tmp_path_factory.mktemp("walker")
    model = ToolCallingModel(CALL_ARGUMENTS, json.dumps(ANSWER))
    yield from serve(walker, model, MAX_BODY_BYTES=str(WALK_MAX_BODY), MODEL_SOURCE="static")


def model_output_failures(served: Served) -> float:
    """How many answers failed a promise of their request so far (MODEL_OUTPUT_FAILURES)."""
    registry = served.client.app[keys.METRICS].registry
    return sum(
        registry.get_sample_value("cursor2api_errors_total", {"code": c}) or 0 for c in MODEL_OUTPUT_FAILURES
    )


def first_segment(param: str) -> str:
    return param.split(".", 1)[0].split("[", 1)[0]


def check_openai(answer: Answer, mutation: Mutation, model_failed: bool) -> None:
    """200 with a complete answer, or a 4xx envelope whose `param` names a field of the body."""
    if answer.status == 200:
        assert_chat_answer(answer.status, answer.content_type, answer.body)
        return
    if answer.status == 502:
        error = json.loads(answer.body)["error"]
        assert error["code"] in MODEL_OUTPUT_FAILURES and model_failed, error
        return
    error = assert_envelope(answer.status, answer.content_type, answer.body)
    if error["code"] == "invalid_json":
        return  # the body as a whole does not parse (NaN, 1e400, a lone surrogate, nesting past 1024)
    assert error["param"], error
    assert first_segment(error["param"]) in CHAT_FIELDS, error


@dataclass(frozen=True)
class Dialect:
    """A request route, a valid body using every field, headers, and the judge of an answer to a
    changed body (told whether the answer failed a promise of the request, see MODEL_OUTPUT_FAILURES)."""

    route: str
    sample: dict[str, Any]
    check: Callable[[Answer, Mutation, bool], None]
    headers: dict[str, str] = field(default_factory=dict)


DIALECTS = [Dialect(CHAT, CHAT_TOOLS_SAMPLE, check_openai), Dialect(CHAT, CHAT_FORMAT_SAMPLE, check_openai)]
DIALECT_IDS = ["chat-tools", "chat-response-format"]


def check_samples(served: Served, dialects: list[Dialect]) -> None:
    """Each sample, streamed and not, succeeds, and its call or answer passed its schema check."""
    for dialect in dialects:
        for stream in (False, True):
            document = {**dialect.sample, "stream": stream}
            send = functools.partial(post, served, encode(document), dialect.headers, route=dialect.route)
            answer = served.run(send)
            assert answer.status == 200, answer.body[:500]
            dialect.check(answer, Mutation((), "replace", None, document), False)
            if stream:
                continue
            reply_body = json.loads(answer.body)
            if dialect.route == CHAT:
                message = reply_body["choices"][0]["message"]
                calls = [json.loads(c["function"]["arguments"]) for c in message.get("tool_calls") or []]
                text = message["content"]
            else:  # Anthropic's content blocks
                calls = [block["input"] for block in reply_body["content"] if block["type"] == "tool_use"]
                text = "".join(block["text"] for block in reply_body["content"] if block["type"] == "text")
            if "tools" in document:  # the call passed its schema check (pattern, $ref, …)
                assert [call["path"] for call in calls] == [CALL_ARGUMENTS["path"]]
            else:  # the answer passed its response_format / output_config check
                assert json.loads(text) == ANSWER


def walk_one(served: Served, dialect: Dialect, mutation: Mutation, ascii_only: bool) -> None:
    """Send one changed body and judge the answer."""
    event(mutation.describe().split("[")[0].split(".")[0])
    body = encode(mutation.document, ascii_only)
    failures = model_output_failures(served)
    answer = served.run(lambda: post(served, body, dialect.headers, route=dialect.route))
    assert answer.from_app, answer
    dialect.check(answer, mutation, model_output_failures(served) > failures)


def test_the_samples_succeed_and_are_checked(walker_served):
    check_samples(walker_served, DIALECTS)


@pytest.mark.parametrize("dialect", DIALECTS, ids=DIALECT_IDS)
@given(data=st.data(), ascii_only=st.booleans())
def test_any_field_at_any_depth_with_a_hostile_value(walker_served, dialect, data, ascii_only):
    """Every field of the body, at any depth, replaced by a hostile value of any JSON type, removed,
    or given an unknown sibling: the answer is a 200 or a 4xx naming the field, never a 5xx."""
    walk_one(walker_served, dialect, data.draw(mutations(dialect.sample), label="mutation"), ascii_only)


# Changes that once answered 500 (or hung): kept as explicit cases of the walk above.
TOOL = ("tools", 0, "function", "parameters")
KNOWN_HOSTILE = [
    (TOOL, "replace", {"type": "string"}),
    ((*TOOL, "type"), "replace", ["array", "null"]),
    ((*TOOL, "properties", "mode"), "replace", {"$ref": "#/properties/mode"}),
    ((*TOOL, "$defs", "mode"), "replace", {"anyOf": [{"$ref": "#/$defs/mode"}]}),
    ((*TOOL, "properties", "mode", "$ref"), "replace", "#/$defs/nowhere"),
    ((*TOOL, "properties", "path"), "replace", {"$schema": "https://json-schema.org/draft/2020-12/schema"}),
    ((*TOOL, "properties", "path", "pattern"), "replace", "^(?!x)"),
    ((*TOOL, "properties", "path", "pattern"), "replace", "^(a+)+$"),
    ((*TOOL, "properties", "options", "patternProperties"), "replace", {"^x-(a+)+$": {}}),
    ((*TOOL, "properties", "mode"), "replace", {"type": "string"}),
    ((*TOOL, "properties"), "replace", {f"k{i}": i for i in range(5_000)}),
    (("response_format", "json_schema", "schema", "properties", "answer"), "replace", {"$ref": "#"}),
    (("response_format", "json_schema", "schema", "properties", "answer", "pattern"), "replace", "^(a+)+$"),
    (("messages", 2, "content", 0, "type"), "replace", []),
    (("messages", 2, "content", 1, "image_url", "url"), "replace", "http://[::1/x.png"),
    (
        ("messages", 2, "content", 1, "image_url", "url"),
        "replace",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
    ),
    (("model",), "replace", "m" * 300_000),
]


@pytest.mark.parametrize(("path", "change", "value"), KNOWN_HOSTILE, ids=lambda v: str(v)[:40])
def test_known_hostile_fields(walker_served, path, change, value):
    sample = CHAT_FORMAT_SAMPLE if path[0] == "response_format" else CHAT_TOOLS_SAMPLE
    document = replaced(sample, path, change, value)
    failures = model_output_failures(walker_served)
    answer = walker_served.run(lambda: post(walker_served, encode(document)))
    check_openai(
        answer, Mutation(path, change, value, document), model_output_failures(walker_served) > failures
    )


# ---------------------------------------------------------------- bytes and entity headers

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
encodings = st.sampled_from(
    ["gzip", "deflate", "br", "zstd", "identity", "x-nope", "gzip, deflate", "GZIP", "", "*"]
) | header_text.filter(lambda s: s.strip() == s)


def compress(body: bytes, encoding: str) -> bytes:
    if encoding.lower() == "gzip":
        return gzip.compress(body)
    if encoding.lower() == "deflate":
        return zlib.compress(body)
    return body


@given(
    body=st.binary(max_size=300) | chat_documents.map(lambda d: encode(d, True)),
    content_type=st.none()
    | st.sampled_from(["application/json", "text/plain", "multipart/form-data"])
    | header_text,
    content_encoding=st.none() | encodings,
    encode_body=st.booleans(),
)
@example(body=encode(VALID, True), content_type="application/json", content_encoding="gzip", encode_body=True)
@example(body=encode(VALID, True), content_type=None, content_encoding="deflate", encode_body=True)
@example(body=b"\x1f\x8b\x08\x00garbage", content_type=None, content_encoding="gzip", encode_body=False)
@example(body=b"not brotli", content_type=None, content_encoding="br", encode_body=False)
@example(body=b"not zstd", content_type=None, content_encoding="zstd", encode_body=False)
@example(body=gzip.compress(b"{" * 300_000), content_type=None, content_encoding="gzip", encode_body=False)
def test_any_body_and_entity_headers(served, body, content_type, content_encoding, encode_body):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if content_encoding is not None:
        headers["Content-Encoding"] = content_encoding
        if encode_body:
            body = compress(body, content_encoding)
    served.run(lambda: post(served, body, headers)).check()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_in_the_envelope(served, chunked):
    big = b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + b"x" * MAX_BODY + b'"}]}'

    async def send() -> tuple[int, str, bytes]:
        async def pieces():
            for i in range(0, len(big), 8192):
                yield big[i : i + 8192]

        async with served.client.post(CHAT, data=pieces() if chunked else big) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()

    status, content_type, body = served.run(send)
    assert status == 413
    assert assert_envelope(status, content_type, body)["code"] == "request_too_large"


def test_a_gzip_bomb_is_refused_with_415_without_being_inflated(served):
    bomb = gzip.compress(b" " * (MAX_BODY * 64))
    assert len(bomb) < MAX_BODY
    answer = served.run(lambda: post(served, bomb, {"Content-Encoding": "gzip"}))
    assert answer.status == 415 and answer.from_app
    assert assert_envelope(answer.status, answer.content_type, answer.body)["code"] == (
        "unsupported_content_encoding"
    )


# ---------------------------------------------------------------- credentials

legal_field_bytes = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if c == 0x09 or 0x20 <= c <= 0x7E or c >= 0x80).strip(b" \t")
)
key_values = (
    legal_field_bytes
    | st.sampled_from([b"Bearer ", b"Basic ", b"Token "]).flatmap(
        lambda scheme: legal_field_bytes.map(lambda rest: scheme + rest)
    )
    | st.sampled_from(
        [
            f"Bearer {API_KEY}".encode(),
            f"bearer   {API_KEY}".encode(),
            API_KEY.encode(),
            f"Bearer {API_KEY}\xff".encode("latin-1"),
            "Bearer tést-kéy".encode(),
            b"Bearer \xc3\x28",
            b"Bearer \xed\xa0\x80",  # an encoded surrogate
        ]
    )
)


@given(
    authorization=st.none() | key_values,
    api_key=st.none() | key_values,
    path=st.sampled_from([CHAT, "/v1/models"]),
)
@example(authorization=f"Bearer {API_KEY}".encode(), api_key=None, path=CHAT)
@example(authorization=None, api_key=API_KEY.encode(), path=CHAT)
@example(authorization=b"Bearer \xff\xfe", api_key=None, path=CHAT)
@example(authorization=None, api_key=b"\x80" * 40, path="/v1/models")
def test_any_credential_header_is_accepted_or_401(served, authorization, api_key, path):
    method, body = (b"POST", encode(VALID, True)) if path == CHAT else (b"GET", b"")
    head = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: gateway\r\n"
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    if api_key is not None:
        head += b"x-api-key: " + api_key + b"\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    response = served.run(lambda: raw_request(served, head, body))
    assert response.from_app, response
    assert response.status in (200, 401), response
    if response.status == 401:
        error = assert_envelope(response.status, response.content_type, response.body)
        assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")


@given(value=st.binary(min_size=1, max_size=30), header=st.sampled_from([b"Authorization", b"x-api-key"]))
@example(value=b"Bearer test-key\x00", header=b"Authorization")
@example(value=b"test-key\x7f", header=b"x-api-key")
def test_illegal_credential_bytes_never_reach_a_5xx(served, value, header):
    """Control bytes in a header value: aiohttp may refuse the request (a plain 400) or the app
    may see it; either way, no 5xx and no hang."""
    value = value.replace(b"\r", b"").replace(b"\n", b"")
    head = b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\n" + header + b": " + value + b"\r\n"
    response = served.run(lambda: raw_request(served, head))
    assert_raw_answer(response, {200, 401})


# ---------------------------------------------------------------- paths and methods

ROUTES = {"/": {"GET", "HEAD"}, "/health": {"GET", "HEAD"}, "/v1/models": {"GET", "HEAD"}, CHAT: {"POST"}}
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
path_chars = st.sampled_from([*"/abcdehilmnopstv1.%-_~:@!$&'()*+,;=?#[]\\\"<>{}^|` ", "%00", "%2F", "\x7f"])
paths = (
    st.sampled_from([*ROUTES, "//", "/v1//models", "/v1/models/", "/v1/chat/completions/", "/./v1/models"])
    | st.lists(path_chars, max_size=30).map(lambda parts: "/" + "".join(parts))
    | st.text(max_size=20).map(lambda s: "/" + s)
)
methods = st.sampled_from(
    ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PRI"]
) | st.text(TOKEN_CHARS, min_size=1, max_size=12)


hosts = (
    st.sampled_from([b"gateway", b"127.0.0.1:8000", b"[::1]", b"", b"\xff\xfe", "h\u00f6st".encode()])
    | legal_field_bytes
)


@given(method=methods, path=paths, authorized=st.booleans(), host=hosts)
@example(method="GET", path=CHAT, authorized=True, host=b"gateway")
@example(method="DELETE", path="/v1/models", authorized=False, host=b"gateway")
@example(method="POST", path="/nowhere%00", authorized=True, host=b"gateway")
@example(method="GET", path="/", authorized=False, host=b"\xff\xfe")
def test_any_path_and_method_is_routed_or_refused_in_the_envelope(served, method, path, authorized, host):
    if method == "CONNECT":
        return  # CONNECT takes an authority, not a path: not a request this API can route
    head = (
        method.encode()
        + b" "
        + path.encode("utf-8", "surrogatepass")
        + b" HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
    )
    if authorized:
        head += f"Authorization: Bearer {API_KEY}\r\n".encode()
    body = encode(VALID, True) if method == "POST" else b""
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    response = served.run(lambda: raw_request(served, head, body))
    assert_raw_answer(response, {200, 401, 404, 405}, head=method == "HEAD")
    if response.status == 405:
        assert response.headers.get(b"allow"), response
