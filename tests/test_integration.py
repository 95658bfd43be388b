"""The gateway against the upstream simulator, over HTTP/1.1 and HTTP/2 (h2c), end to end.

Every case here crosses real sockets: client -> gateway -> transport -> simulator and back.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import MODEL
from tests.fakes import Scenario, SimConfig
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
HTTP_VERSIONS = [pytest.param(False, id="http1.1"), pytest.param(True, id="http2")]


def ask(text="Hi", *, stream=False, model=MODEL, **extra):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


def content_of(events):
    return "".join(
        e["choices"][0]["delta"].get("content", "")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
async def test_echo_non_streaming(sim_gateway, http2):
    client, sim = await sim_gateway(http2=http2)
    response = await client.post(CHAT, json=ask("Grüße 👋 from a test"))
    assert response.status == 200
    body = await response.json()
    assert body["choices"][0]["message"]["content"] == "You said: Grüße 👋 from a test"
    record = sim.chat_records[-1]
    assert record.http_version == ("2" if http2 else "1.1")
    assert record.warnings == [] and record.rejection is None


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
@pytest.mark.parametrize("writes", ["frame", "byte", "split_header", "split_mid", "coalesce", "random"])
async def test_streaming_survives_every_write_boundary(sim_gateway, http2, writes):
    client, sim = await sim_gateway(http2=http2)
    sim.push(Scenario("text", text="Streaming works — ünïcode ✓ across frames.", chunk=3, writes=writes))
    response = await client.post(CHAT, json=ask(stream=True))
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]"
    assert content_of(events) == "Streaming works — ünïcode ✓ across frames."
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


async def test_identity_is_stable_per_token_and_the_prefix_fresh(sim_gateway):
    client, sim = await sim_gateway(SimConfig(seed=0, check_checksum_fresh=True))
    for _ in range(2):
        assert (await client.post(CHAT, json=ask())).status == 200
    first, second = sim.chat_records[-2:]
    assert first.checksum.machine_id == second.checksum.machine_id
    assert first.checksum.mac_machine_id == second.checksum.mac_machine_id
    assert first.checksum.well_formed and first.headers["x-client-key"] == second.headers["x-client-key"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_thinking_model(sim_gateway):
    client, sim = await sim_gateway(thinking_output="reasoning_content")
    body = await (await client.post(CHAT, json=ask(model=MODEL + "-thinking"))).json()
    message = body["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"]
    assert sim.chat_records[-1].chat.thinking_level == 2


async def test_thinking_hidden_by_default(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("thinking", thinking="SECRET-REASONING", text="visible answer"))
    events, _ = parse_sse(
        await (await client.post(CHAT, json=ask(stream=True, model=MODEL + "-thinking"))).text()
    )
    assert content_of(events) == "visible answer"
    assert "SECRET-REASONING" not in str(events)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (1, 503, "no_available_tokens"),
        (5, 404, "model_not_found"),
        (8, 429, "rate_limit_exceeded"),
        (10, 429, "insufficient_quota"),
        (23, 403, "model_requires_pro"),
        (25, 504, "upstream_timeout"),
        (30, 502, "upstream_client_outdated"),
        (43, 400, "context_length_exceeded"),
        (50, 429, "rate_limit_exceeded"),
        (99, 502, "upstream_error"),
    ],
)
async def test_upstream_error_before_content_is_an_http_error(sim_gateway, error, status, code):
    # ChatService's own answer (UPSTREAM_RPC=auto would redo a retired or outdated refusal on AgentService)
    client, sim = await sim_gateway(upstream_rpc="chat")
    sim.push(Scenario("error", error=error, after_frames=0))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_upstream_error_after_content_is_in_band(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("error", error=50, after_frames=3))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == 200
    events, _ = parse_sse(await response.text())
    assert events[-2]["error"]["code"] == "rate_limit_exceeded" and events[-1] == "[DONE]"
    assert content_of(events)


async def test_user_aborted_error_is_a_normal_end(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("error", error=21, after_frames=2))
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True))).text())
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "no_available_tokens"),
        (403, "upstream_error"),
        (404, "upstream_rpc_unavailable"),
        (415, "upstream_client_outdated"),
        (429, "rate_limit_exceeded"),
        (500, "upstream_error"),
        (503, "upstream_error"),
        (505, "upstream_http2_required"),
    ],
)
async def test_http_failures_before_any_frame(sim_gateway, status, code):
    # ChatService's own answer (UPSTREAM_RPC=auto would redo a retired or outdated refusal on AgentService)
    client, sim = await sim_gateway(upstream_rpc="chat")
    sim.push(Scenario("http_error", status=status, retry_after=9))
    response = await client.post(CHAT, json=ask())
    body = await response.json()
    assert body["error"]["code"] == code
    if status == 429:
        assert response.headers["Retry-After"] == "9"


async def test_http2_required_mode(sim_gateway):
    client, _ = await sim_gateway(SimConfig(seed=0, require_http2=True))
    assert (await (await client.post(CHAT, json=ask())).json())["error"]["code"] == "upstream_http2_required"


@pytest.mark.parametrize(
    "kind", ["flag", "too_large", "bad_gzip", "gzip_bomb", "bad_protobuf", "bad_end_json"]
)
async def test_broken_streams_are_protocol_errors(sim_gateway, kind):
    client, sim = await sim_gateway()
    sim.push(Scenario("broken", kind=kind, after_frames=0))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "upstream_protocol_error"


async def test_broken_stream_after_content_is_in_band(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("broken", kind="gzip_bomb", after_frames=2))
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True))).text())
    assert events[-2]["error"]["code"] == "upstream_protocol_error"


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
@pytest.mark.parametrize("at", ["before_headers", "after_headers", "mid_frame"])
async def test_disconnect_before_content(sim_gateway, http2, at):
    client, sim = await sim_gateway(http2=http2)
    sim.push(Scenario("disconnect", at=at, frames=0))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "upstream_connection_error"


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
async def test_disconnect_after_content(sim_gateway, http2):
    client, sim = await sim_gateway(http2=http2)
    sim.push(Scenario("disconnect", at="between_frames", frames=3))
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True))).text())
    assert events[-2]["error"]["code"] == "upstream_disconnected" and events[-1] == "[DONE]"


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
@pytest.mark.parametrize("at", ["before_headers", "after_headers", "heartbeats"])
async def test_stalls_time_out(sim_gateway, http2, at):
    client, sim = await sim_gateway(http2=http2, timeout=0.3, idle_timeout=0.3)
    sim.push(Scenario("stall", at=at))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == 504
    assert (await response.json())["error"]["code"] == "upstream_timeout"


async def test_stall_after_content_is_in_band(sim_gateway):
    client, sim = await sim_gateway(idle_timeout=0.3)
    sim.push(Scenario("stall", at="after_content", frames=2))
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True))).text())
    assert events[-2]["error"]["code"] == "upstream_timeout"


async def test_slow_stream_with_heartbeats_is_not_an_idle_timeout(sim_gateway):
    client, sim = await sim_gateway(idle_timeout=0.3)
    sim.push(Scenario("text", text="slow but alive", chunk=5, pace=0.5, heartbeat_every=0.1))
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True))).text())
    assert content_of(events) == "slow but alive"


async def test_empty_stream_is_502(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("empty"))
    response = await client.post(CHAT, json=ask(stream=True))
    assert response.status == 502 and (await response.json())["error"]["code"] == "upstream_empty_response"


async def test_native_tool_call_ends_the_turn(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("native_tool", text_before="Let me look."))
    body = await (await client.post(CHAT, json=ask())).json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"] == "Let me look."


async def test_native_tool_call_ends_the_turn_even_when_upstream_waits_for_a_result(sim_gateway):
    client, sim = await sim_gateway(idle_timeout=5)
    sim.push(Scenario("native_tool", text_before="Let me look.", end="wait"))
    body = await (await client.post(CHAT, json=ask())).json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"] == "Let me look."


async def test_large_frame_near_the_limit(sim_gateway):
    client, sim = await sim_gateway()
    sim.push(Scenario("large"))
    body = await (await client.post(CHAT, json=ask())).json()
    assert len(body["choices"][0]["message"]["content"]) > 4_000_000


async def test_connection_refused_is_502(make_settings, aiohttp_client):
    from gateway.app import create_app
    from tests.conftest import API_KEY, fixed_pool

    app = create_app(
        make_settings(cursor_base_url="http://127.0.0.1:9", upstream_http_version="1.1"), pool=fixed_pool()
    )
    client = await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
    response = await client.post(CHAT, json=ask())
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "upstream_connection_error"


@pytest.mark.parametrize("http2", HTTP_VERSIONS)
async def test_client_disconnect_stops_the_upstream_stream(sim_gateway, http2):
    client, sim = await sim_gateway(http2=http2)
    sim.push(Scenario("text", text="x" * 400, chunk=1, pace=0.01))
    response = await client.post(CHAT, json=ask(stream=True))
    await response.content.readany()
    response.close()
    for _ in range(300):
        record = sim.chat_records[-1]
        if record.outcome != "completed" and record.finished is not None:
            break
        await asyncio.sleep(0.01)
    assert sim.chat_records[-1].outcome == "client_gone"


async def test_unknown_upstream_model_from_the_seed_list(sim_gateway):
    client, _ = await sim_gateway()
    response = await client.post(CHAT, json=ask(model="gpt-3.5-turbo"))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "model_not_found"
