"""OpenAI parameters end to end (gateway + simulator): stop, max_tokens, response_format, n, K2."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway import keys
from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import MODEL, eventually
from tests.fakes import Scenario
from tests.scripted import END, Reply, reply, text
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "count", "schema": SCHEMA, "strict": True}}


def ask(text="Hi", *, stream=False, model=MODEL, **extra):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


def chunks_of(events):
    return [e for e in events if isinstance(e, dict)]


def content_by_choice(events):
    out: dict[int, str] = {}
    for chunk in chunks_of(events):
        for choice in chunk["choices"]:
            out[choice["index"]] = out.get(choice["index"], "") + (choice["delta"].get("content") or "")
    return out


def finishes(events):
    return {
        choice["index"]: choice["finish_reason"]
        for chunk in chunks_of(events)
        for choice in chunk["choices"]
        if choice["finish_reason"]
    }


async def outcome_of(sim, index=-1):
    await eventually(lambda: sim.chat_records[index].outcome is not None, 2.0)
    return sim.chat_records[index].outcome


# ---------------------------------------------------------------- stop


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
async def test_stop_streaming_split_across_frames(sim_gateway, chunk):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text="\n\nThe answer is 42.<END> and then more text", chunk=chunk))
    response = await client.post(CHAT, json=ask(stream=True, stop=["<END>", "never"]))
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]"
    assert content_by_choice(events) == {0: "The answer is 42."}
    assert finishes(events) == {0: "stop"}


async def test_stop_non_streaming(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text="line one\nline two\nline three", chunk=4))
    body = await (await client.post(CHAT, json=ask(stop="\nline t"))).json()
    assert body["choices"][0]["message"]["content"] == "line one"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 2  # the 8 characters shown, estimated


async def test_stop_closes_the_upstream_without_waiting_for_its_end(gateway):
    never = asyncio.Event()
    client, transport = await gateway(Reply([text("done. STOP"), never, text("unseen"), END]))
    response = await asyncio.wait_for(client.post(CHAT, json=ask(stream=True, stop="STOP")), 5)
    events, _ = parse_sse(await asyncio.wait_for(response.text(), 5))
    assert content_by_choice(events) == {0: "done. "} and events[-1] == "[DONE]"
    assert transport.closed == transport.opened == 1


async def test_stop_through_the_simulator_ends_the_upstream_call(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text="first STOP " + "x" * 400, chunk=4, pace=0.02))
    body = await (await client.post(CHAT, json=ask(stop="STOP"))).json()
    assert body["choices"][0]["message"]["content"] == "first "
    assert await outcome_of(sim) == "client_gone"


# ---------------------------------------------------------------- max_tokens


@pytest.mark.parametrize("stream", [False, True])
async def test_max_tokens_cuts_with_finish_length(sim_gateway, stream):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text="abcdefghijklmnopqrstuvwxyz", chunk=3))
    response = await client.post(CHAT, json=ask(stream=stream, max_tokens=3))
    if stream:
        events, _ = parse_sse(await response.text())
        assert content_by_choice(events) == {0: "abcdefghijkl"} and finishes(events) == {0: "length"}
    else:
        body = await response.json()
        assert body["choices"][0]["message"]["content"] == "abcdefghijkl"
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [10_000_000, 10_000_001, 2**31, 2**63 - 1, 2**64 - 1])
async def test_any_positive_max_tokens_is_clamped_not_refused(sim_gateway, field, value):
    client, _ = await sim_gateway()
    response = await client.post(CHAT, json=ask("ping", **{field: value}))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["choices"][0]["message"]["content"] == "You said: ping"
    assert body["choices"][0]["finish_reason"] == "stop"


# ---------------------------------------------------------------- response_format


@pytest.mark.parametrize("stream", [False, True])
async def test_response_format_retries_once_after_invalid_output(sim_gateway, stream):
    client, sim = await sim_gateway()
    sim.push(
        Scenario("text", text="Sure! The count is three.", chunk=4),
        Scenario("text", text='```json\n{"n": 3}\n```', chunk=4),
    )
    response = await client.post(CHAT, json=ask(stream=stream, response_format=JSON_SCHEMA))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        assert content_by_choice(events) == {0: '{"n": 3}'} and finishes(events) == {0: "stop"}
    else:
        body = await response.json()
        assert body["choices"][0]["message"]["content"] == '{"n": 3}'
    first, second = (record.chat for record in sim.chat_records[-2:])
    assert first is not None and second is not None
    assert orjson.dumps(SCHEMA).decode() in first.explicit_context.context
    assert "rejected" not in first.explicit_context.context
    assert "rejected because it is not valid JSON" in second.explicit_context.context


async def test_json_object_output_is_checked_and_passes_first_time(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text='{"ok": true}', chunk=2))
    body = await (await client.post(CHAT, json=ask(response_format={"type": "json_object"}))).json()
    assert orjson.loads(body["choices"][0]["message"]["content"]) == {"ok": True}
    assert len(sim.chat_records) == 1
    assert "exactly one JSON object" in sim.chat_records[0].chat.explicit_context.context


@pytest.mark.parametrize("stream", [False, True])
async def test_response_format_still_invalid_is_a_502(sim_gateway, stream):
    client, sim = await sim_gateway()
    sim.push(Scenario("text", text="no JSON here"), Scenario("text", text='{"n": "three"}'))
    response = await client.post(CHAT, json=ask(stream=stream, response_format=JSON_SCHEMA))
    assert response.status == 502
    error = (await response.json())["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "server_error",
        "response_format_failed",
        "response_format",
    )
    assert len(sim.chat_records) == 2


async def test_streamed_response_format_sends_keep_alives_while_holding_output(sim_gateway):
    client, sim = await sim_gateway(keepalive_seconds=0.05)
    sim.push(Scenario("text", text='{"n": 12345}', chunk=2, pace=0.05))
    response = await client.post(CHAT, json=ask(stream=True, response_format=JSON_SCHEMA))
    raw = await response.text()
    assert raw.startswith(": keep-alive")
    events, _ = parse_sse(raw)
    content = [c["choices"][0]["delta"]["content"] for c in chunks_of(events) if c["choices"][0]["delta"]]
    assert content == ["", '{"n": 12345}']  # the role chunk, then the validated JSON in one piece


# ---------------------------------------------------------------- n


async def test_n_non_streaming_returns_n_choices_and_summed_usage(sim_gateway):
    client, sim = await sim_gateway()
    body = await (await client.post(CHAT, json=ask("triple", n=3))).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert all(c["message"]["content"] == "You said: triple" for c in body["choices"])
    assert len(sim.chat_records) == 3
    single = await (await client.post(CHAT, json=ask("triple"))).json()
    assert body["usage"]["completion_tokens"] == 3 * single["usage"]["completion_tokens"]
    assert body["usage"]["prompt_tokens"] == 3 * single["usage"]["prompt_tokens"]


async def test_n_streaming_interleaves_choices_each_finishing(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(
        Scenario("text", text="zero zero zero", chunk=2, pace=0.01),
        Scenario("text", text="one", chunk=1),
        Scenario("text", text="two two", chunk=3, pace=0.02),
    )
    response = await client.post(CHAT, json=ask(stream=True, n=3, stream_options={"include_usage": True}))
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]"
    chunks = chunks_of(events)
    assert sorted(content_by_choice(events).values()) == ["one", "two two", "zero zero zero"]
    assert finishes(events) == {0: "stop", 1: "stop", 2: "stop"}
    # Each choice opens with its own role chunk; one usage chunk closes the whole response.
    roles = [c["choices"][0]["index"] for c in chunks if c["choices"] and "role" in c["choices"][0]["delta"]]
    assert sorted(roles) == [0, 1, 2]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1]) and len({c["id"] for c in chunks}) == 1


async def test_n_above_max_n_is_a_400(sim_gateway):
    client, _ = await sim_gateway(max_n=2)
    response = await client.post(CHAT, json=ask(n=3))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["param"], error["code"]) == ("n", "invalid_value")


async def test_n_with_stop_applies_the_stop_to_every_choice(sim_gateway):
    client, _ = await sim_gateway()
    body = await (await client.post(CHAT, json=ask("alpha beta", n=2, stop=" beta"))).json()
    assert [c["message"]["content"] for c in body["choices"]] == ["You said: alpha"] * 2


# ---------------------------------------------------------------- K2 thinking level


@pytest.mark.parametrize(
    ("model", "setting", "effort", "level"),
    [
        (MODEL + "-thinking", "high", None, pb.THINKING_LEVEL_HIGH),
        (MODEL + "-thinking", "medium", None, pb.THINKING_LEVEL_MEDIUM),
        (MODEL + "-thinking", "high", "minimal", pb.THINKING_LEVEL_MEDIUM),
        (MODEL + "-thinking", "high", "low", pb.THINKING_LEVEL_MEDIUM),
        (MODEL + "-thinking", "high", "medium", pb.THINKING_LEVEL_MEDIUM),
        (MODEL + "-thinking", "medium", "high", pb.THINKING_LEVEL_HIGH),
        (MODEL + "-thinking", "medium", "xhigh", pb.THINKING_LEVEL_HIGH),
        (MODEL + "-thinking", "medium", "max", pb.THINKING_LEVEL_HIGH),
        (MODEL + "-thinking", "high", "none", pb.THINKING_LEVEL_UNSPECIFIED),  # answered without thinking
        (MODEL, "high", None, pb.THINKING_LEVEL_UNSPECIFIED),
        (MODEL, "medium", "high", pb.THINKING_LEVEL_UNSPECIFIED),
        (MODEL, "high", "bogus", pb.THINKING_LEVEL_UNSPECIFIED),  # ignored on a base model
    ],
)
async def test_k2_thinking_level_sent_upstream(sim_gateway, model, setting, effort, level):
    client, sim = await sim_gateway(thinking_level=setting)
    extra = {} if effort is None else {"reasoning_effort": effort}
    response = await client.post(CHAT, json=ask(model=model, **extra))
    assert response.status == 200
    record = sim.chat_records[-1].chat
    assert record is not None and record.thinking_level == level
    assert record.model_details.model_name == "claude-4.5-sonnet"


@pytest.mark.parametrize("effort", ["maximum", "", "off"])
async def test_k2_unknown_reasoning_effort_on_a_twin_is_a_400(sim_gateway, effort):
    client, sim = await sim_gateway()
    response = await client.post(CHAT, json=ask(model=MODEL + "-thinking", reasoning_effort=effort))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["param"], error["code"]) == ("reasoning_effort", "invalid_reasoning_effort")
    assert sim.chat_records == []


async def test_logprobs_true_is_refused_not_ignored(sim_gateway):
    client, sim = await sim_gateway()
    response = await client.post(CHAT, json=ask(logprobs=True))
    assert response.status == 400
    assert (await response.json())["error"]["param"] == "logprobs"
    assert sim.chat_records == []


async def test_request_log_keeps_the_usage_of_all_choices(gateway, make_settings):
    client, _ = await gateway(reply("a" * 40), reply("b" * 80), settings=make_settings(auth_token="adm"))
    body = await (await client.post(CHAT, json=ask(model="claude-3.5-sonnet", n=2))).json()
    assert sorted(c["message"]["content"] for c in body["choices"]) == ["a" * 40, "b" * 80]
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    rows = (await (await client.post("/logs", json={}, headers={"Authorization": "Bearer adm"})).json())[
        "logs"
    ]
    assert rows[0]["usage"]["completion_tokens"] == body["usage"]["completion_tokens"] == 10 + 20
