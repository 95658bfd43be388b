"""POST /v1/messages and /v1/messages/count_tokens over HTTP against the simulator: shapes, golden SSE
transcripts, Anthropic's error envelope before and inside a stream, request logs, and /v1/models."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path

import orjson
import pytest

from gateway import keys
from gateway.tokens.pool import TokenPool
from gateway.upstream.pb import cursor_pb2 as pb
from tests.chat.test_images import png
from tests.conftest import API_KEY, MODEL
from tests.fakes import Scenario, SimConfig
from tests.sse_reader import parse_named_sse

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "anthropic"
MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"
ANTHROPIC = {"anthropic-version": "2023-06-01"}
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def body(text: str = "Hello there", **fields: object) -> dict[str, object]:
    return {"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": text}], **fields}


async def events_of(response) -> list[tuple[str, dict]]:
    named, _ = parse_named_sse((await response.read()).decode())
    return named  # type: ignore[return-value]


def normalised(raw: str) -> str:
    """The transcript with its random ids replaced (the call ids come from a CSPRNG)."""
    raw = re.sub(r"msg_[0-9a-f]{24}", "msg_ID", raw)
    return re.sub(r"call_[A-Za-z0-9]{24}", "call_ID", raw)


# ---------------------------------------------------------------- golden transcripts

THINKING = {"type": "enabled", "budget_tokens": 2048}
TRANSCRIPTS: dict[str, tuple[Scenario | None, dict[str, object]]] = {
    "text": (None, body(stream=True)),
    "thinking-shown": (Scenario("thinking"), body(stream=True, max_tokens=4096, thinking=THINKING)),
    "thinking-omitted": (
        Scenario("thinking"),
        body(stream=True, max_tokens=4096, thinking={**THINKING, "display": "omitted"}),
    ),
    "thinking-hidden": (Scenario("thinking"), body(stream=True, model=MODEL + "-thinking")),
    "tool-use": (
        Scenario("tool_call", text_before="Checking.", args='{"city": "Paris"}'),
        body("Weather in Paris?", stream=True, tools=[WEATHER]),
    ),
    "tool-use-two-calls": (
        Scenario("tool_call", calls=2, args='{"city": "Rome"}'),
        body("Weather in Rome, twice?", stream=True, tools=[WEATHER]),
    ),
    "stop-sequence": (None, body("one two three", stream=True, stop_sequences=["two"])),
    "max-tokens": (None, body("a long enough message to cut", stream=True, max_tokens=3)),
    "error-mid-stream": (Scenario("error", error=50, after_frames=3), body(stream=True)),
}


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
async def test_golden_sse_transcripts(sim_gateway, name):
    """The exact bytes of each scripted conversation (ids replaced); a diff is a wire-contract change."""
    scenario, request = TRANSCRIPTS[name]
    client, sim = await sim_gateway(tool_mode="native")
    if scenario is not None:
        sim.push(scenario)
    response = await client.post(MESSAGES, json=request)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    text = normalised((await response.read()).decode())
    path = SNAPSHOTS / f"{name}.sse"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


async def test_the_transcripts_say_what_they_are_about(sim_gateway):
    """Guards the golden files themselves: each shows the behaviour it is named after."""
    loaded = {p.stem: parse_named_sse(p.read_text(encoding="utf-8"))[0] for p in SNAPSHOTS.glob("*.sse")}
    assert set(loaded) == set(TRANSCRIPTS)

    def reason(name):
        [delta] = [p["delta"] for n, p in loaded[name] if n == "message_delta"]
        return delta["stop_reason"], delta["stop_sequence"]

    def blocks(name):
        return [p["content_block"]["type"] for n, p in loaded[name] if n == "content_block_start"]

    def deltas(name):
        return {p["delta"]["type"] for n, p in loaded[name] if n == "content_block_delta"}

    assert reason("text") == ("end_turn", None) and blocks("text") == ["text"]
    assert blocks("thinking-shown") == ["thinking", "text"]
    assert deltas("thinking-shown") == {"thinking_delta", "signature_delta", "text_delta"}
    assert blocks("thinking-omitted") == ["thinking", "text"] and "thinking_delta" not in deltas(
        "thinking-omitted"
    )
    assert blocks("thinking-hidden") == ["text"]
    assert blocks("tool-use") == ["text", "tool_use"] and reason("tool-use") == ("tool_use", None)
    assert blocks("tool-use-two-calls") == ["tool_use", "tool_use"]
    assert reason("stop-sequence") == ("stop_sequence", "two")
    assert reason("max-tokens") == ("max_tokens", None)
    names = [n for n, _ in loaded["error-mid-stream"]]
    assert names[-1] == "error" and "message_stop" not in names
    for name, events in loaded.items():
        assert events[0][0] in ("message_start", "error"), name


# ---------------------------------------------------------------- non-streaming shapes


async def test_a_non_streaming_message(sim_gateway):
    client, _ = await sim_gateway()
    response = await client.post(MESSAGES, json=body(system="Be brief."))
    assert response.status == 200 and response.headers["X-Request-Id"]
    message = await response.json()
    assert (
        message["id"].startswith("msg_") and message["type"] == "message" and message["role"] == "assistant"
    )
    assert message["model"] == MODEL and message["content"] == [
        {"type": "text", "text": "You said: Hello there"}
    ]
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    assert message["usage"]["input_tokens"] > 0 and message["usage"]["output_tokens"] > 0


async def test_non_streaming_thinking_tool_use_stop_sequence_and_max_tokens(sim_gateway):
    client, sim = await sim_gateway(tool_mode="native")
    sim.push(Scenario("thinking"))
    thought = await (await client.post(MESSAGES, json=body(max_tokens=4096, thinking=THINKING))).json()
    assert [b["type"] for b in thought["content"]] == ["thinking", "text"]
    assert (
        thought["content"][0]["thinking"].startswith("The user wrote") and thought["content"][0]["signature"]
    )
    sim.push(Scenario("tool_call", args='{"city": "Paris"}'))
    called = await (await client.post(MESSAGES, json=body("Paris?", tools=[WEATHER]))).json()
    [use] = called["content"]
    assert use["type"] == "tool_use" and use["name"] == "get_weather" and use["input"] == {"city": "Paris"}
    assert called["stop_reason"] == "tool_use"
    stopped = await (await client.post(MESSAGES, json=body("one two three", stop_sequences=["two"]))).json()
    assert stopped["content"] == [{"type": "text", "text": "You said: one "}]
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "two")
    cut = await (await client.post(MESSAGES, json=body("long enough to cut", max_tokens=2))).json()
    assert cut["content"] == [{"type": "text", "text": "You said"}] and cut["stop_reason"] == "max_tokens"


async def test_tool_history_is_replayed_upstream_with_results_and_errors(sim_gateway):
    client, sim = await sim_gateway(tool_mode="native")
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": "opaque"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain", "is_error": True}
            ],
        },
    ]
    response = await client.post(MESSAGES, json=body(messages=messages, tools=[WEATHER]))
    assert response.status == 200, await response.text()
    [record] = sim.chat_records
    assert record.chat is not None
    [result] = [r for m in record.chat.conversation for r in m.tool_results]
    assert result.tool_call_id == "toolu_1" and "rain" in result.result.mcp_result.result
    assert orjson.loads(result.result.mcp_result.result)["isError"] is True
    assert "I should call the tool." not in str(record.chat)  # earlier thinking is not sent upstream


async def test_images_go_upstream_and_url_images_follow_vision_ability(sim_gateway):
    client, sim = await sim_gateway()
    data = base64.b64encode(png(8, 6)).decode()
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
    ]
    response = await client.post(MESSAGES, json=body(messages=[{"role": "user", "content": content}]))
    assert response.status == 200, await response.text()
    [record] = sim.chat_records
    [human] = [m for m in record.chat.conversation if m.type == pb.MESSAGE_TYPE_HUMAN]
    assert [(i.dimension.width, i.dimension.height) for i in human.images] == [(8, 6)]
    url = [{"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]
    refused = await client.post(MESSAGES, json=body(messages=[{"role": "user", "content": url}]))
    error = (await refused.json())["error"]
    assert refused.status == 400 and "messages[0].content[0].source.url" in error["message"]
    broken = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}]
    refused = await client.post(MESSAGES, json=body(messages=[{"role": "user", "content": broken}]))
    assert (
        refused.status == 400
        and "messages[0].content[0].source.data" in (await refused.json())["error"]["message"]
    )


# ---------------------------------------------------------------- errors


def assert_anthropic_error(status: int, payload: dict, expected_status: int, kind: str) -> str:
    assert status == expected_status, payload
    assert payload["type"] == "error" and set(payload) == {"type", "error"}
    assert set(payload["error"]) == {"type", "message"} and payload["error"]["type"] == kind
    return payload["error"]["message"]


async def test_errors_before_the_stream_use_anthropics_envelope(sim_gateway, make_settings):
    client, sim = await sim_gateway(max_body_bytes=4096)
    cases = [
        (client.post(MESSAGES, json=body(), headers={"Authorization": ""}), 401, "authentication_error"),
        (
            client.post(MESSAGES, json=body(), headers={"Authorization": "Bearer nope"}),
            401,
            "authentication_error",
        ),
        (client.post(MESSAGES, json=body(model="no-such-model")), 404, "not_found_error"),
        (client.post(MESSAGES, data=b"{not json"), 400, "invalid_request_error"),
        (client.post(MESSAGES, json={"model": MODEL, "messages": []}), 400, "invalid_request_error"),
        (client.post(MESSAGES, json=body("x" * 5000)), 413, "request_too_large"),
        (client.get(MESSAGES, headers=ANTHROPIC), 405, "invalid_request_error"),
        (client.post("/v1/messages/batches", json={}, headers=ANTHROPIC), 404, "not_found_error"),
    ]
    for call, status, kind in cases:
        response = await call
        assert_anthropic_error(response.status, await response.json(), status, kind)
    missing = await client.post(
        MESSAGES, json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    )
    assert "max_tokens" in (await missing.json())["error"]["message"]
    sim.push(Scenario("error", error=50, after_frames=0))
    limited = await client.post(MESSAGES, json=body(stream=True))
    assert_anthropic_error(limited.status, await limited.json(), 429, "rate_limit_error")
    assert sim.chat_records  # the rate limit came from upstream


async def test_the_key_may_come_as_x_api_key_or_bearer(sim_gateway):
    client, _ = await sim_gateway()
    with_header = await client.post(
        MESSAGES, json=body(), headers={"Authorization": "", "x-api-key": API_KEY}
    )
    assert with_header.status == 200
    assert (await client.post(MESSAGES, json=body())).status == 200  # the fixture's bearer key


async def test_no_usable_token_is_overloaded_and_no_token_at_all_is_an_api_error(sim_gateway, make_jwt_pool):
    client, _ = await sim_gateway(pool=TokenPool.fixed([]))
    response = await client.post(MESSAGES, json=body())
    message = assert_anthropic_error(response.status, await response.json(), 500, "api_error")
    assert "token" in message
    client, _ = await sim_gateway(
        SimConfig(seed=0, token_errors={"user_pool": "unauthorized"}), pool=make_jwt_pool
    )
    await client.post(MESSAGES, json=body())  # disables the only token
    response = await client.post(MESSAGES, json=body())
    assert_anthropic_error(response.status, await response.json(), 529, "overloaded_error")


@pytest.fixture
def make_jwt_pool():
    from gateway.tokens.store import TokenEntry
    from gateway.upstream.checksum import new_identity
    from tests.fakes import make_jwt

    jwt = make_jwt(sub="auth0|user_pool")
    return TokenPool.fixed([TokenEntry("only", jwt, jwt, new_identity())])


async def test_an_error_inside_the_stream_is_an_error_event(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("error", error=50, after_frames=3))
    response = await client.post(MESSAGES, json=body(stream=True))
    assert response.status == 200
    events = await events_of(response)
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-1] == "error" and "message_stop" not in names
    assert events[-1][1]["error"]["type"] == "rate_limit_error"
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_requests_total{endpoint="anthropic.messages",status="200"}' in metrics


async def test_models_in_anthropics_shape_when_anthropic_version_is_sent(sim_gateway):
    client, _ = await sim_gateway()
    openai_list = await (await client.get("/v1/models")).json()
    assert openai_list["object"] == "list" and "type" not in openai_list["data"][0]
    page = await (await client.get("/v1/models", headers=ANTHROPIC)).json()
    assert set(page) == {"data", "has_more", "first_id", "last_id"} and len(page["data"]) == 20
    entry = page["data"][0]
    assert entry["type"] == "model" and entry["display_name"] == entry["id"]
    assert entry["created_at"] == "2024-01-31T00:00:00Z" and entry["lifecycle"] == "active"
    assert page["first_id"] == entry["id"] and page["last_id"] == page["data"][-1]["id"] and page["has_more"]
    ids = [m["id"] for m in openai_list["data"]]
    seen = []
    after = None
    while True:
        query = {"limit": "7"} | ({"after_id": after} if after else {})
        chunk = await (await client.get("/v1/models", params=query, headers=ANTHROPIC)).json()
        seen += [m["id"] for m in chunk["data"]]
        if not chunk["has_more"]:
            break
        after = chunk["last_id"]
    assert seen == ids
    before = await (
        await client.get("/v1/models", params={"before_id": ids[5], "limit": "2"}, headers=ANTHROPIC)
    ).json()
    assert [m["id"] for m in before["data"]] == ids[3:5] and before["has_more"]
    for query in (
        {"limit": "0"},
        {"limit": "x"},
        {"after_id": "nope"},
        {"after_id": ids[0], "before_id": ids[1]},
    ):
        response = await client.get("/v1/models", params=query, headers=ANTHROPIC)
        assert_anthropic_error(response.status, await response.json(), 400, "invalid_request_error")


# ---------------------------------------------------------------- count_tokens and usage


@pytest.mark.parametrize("tools", [False, True])
async def test_count_tokens_is_the_estimate_the_usage_starts_from(sim_gateway, tools):
    client, _ = await sim_gateway(tool_mode="native")
    request = body("What is the weather like?", system="You are terse.", stream=True)
    if tools:
        request["tools"] = [WEATHER]
    counted = await client.post(
        COUNT, json={k: v for k, v in request.items() if k not in ("max_tokens", "stream")}
    )
    assert counted.status == 200
    tokens = (await counted.json())["input_tokens"]
    events = await events_of(await client.post(MESSAGES, json=request))
    start = events[0][1]["message"]["usage"]
    [delta] = [p for n, p in events if n == "message_delta"]
    assert tokens > 0 and start["input_tokens"] == tokens == delta["usage"]["input_tokens"]
    if tools:
        plain = await client.post(
            COUNT, json={"model": MODEL, "system": "You are terse.", "messages": request["messages"]}
        )
        assert (await plain.json())["input_tokens"] < tokens  # the tool catalog counts


async def test_count_tokens_validates_like_messages_and_calls_no_upstream(sim_gateway):
    client, sim = await sim_gateway()
    response = await client.post(
        COUNT, json={"model": "nope", "messages": [{"role": "user", "content": "x"}]}
    )
    assert_anthropic_error(response.status, await response.json(), 404, "not_found_error")
    response = await client.post(COUNT, json={"model": MODEL, "messages": [{"role": "bot", "content": "x"}]})
    message = assert_anthropic_error(response.status, await response.json(), 400, "invalid_request_error")
    assert "messages[0].role" in message
    assert sim.chat_records == []


async def test_request_log_rows(sim_gateway):
    client, _ = await sim_gateway(auth_token="adm")
    assert (await client.post(MESSAGES, json=body(stream=True))).status == 200
    assert (
        await client.post(COUNT, json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
    ).status == 200
    assert (await client.post(MESSAGES, json=body(model="nope"))).status == 404
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    rows = (await (await client.post("/logs", json={}, headers={"Authorization": "Bearer adm"})).json())[
        "logs"
    ]
    unknown, counted, streamed = rows
    assert streamed["endpoint"] == "anthropic.messages" and streamed["stream"] is True
    assert streamed["status"] == "success" and streamed["usage"]["completion_tokens"] > 0
    assert streamed["ttft_ms"] is not None and streamed["model"] == MODEL
    assert counted["endpoint"] == "anthropic.count_tokens" and counted["http_status"] == 200
    assert unknown["http_status"] == 404 and unknown["error"].startswith("model_not_found")
