"""Choosing the upstream RPC end to end, through both real adapters against the simulator: the
simulator plays ChatService retired (or refusing every client version), the router redoes the
request on AgentService before the first byte, and every trace names the RPC that answered. An
API key is exchanged and answered by AgentService."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway import keys
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream import version as version_module
from gateway.upstream.checksum import new_identity
from tests.conftest import MODEL, eventually, runs_ended
from tests.fakes import EXCHANGE_PATH, SimConfig, make_jwt
from tests.sse_reader import answer_text, parse_sse

CHAT = "/v1/chat/completions"
ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
CARRIERS = [pytest.param(False, id="http1.1"), pytest.param(True, id="http2")]
ANSWER = "You said: Hello there"  # the simulator's echo, on either RPC
KEY = "crsr_" + "0123456789abcdef" * 4


def body(stream: bool) -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "Hello there"}]}


def session_pool(*subs: str) -> TokenPool:
    entries = []
    for sub in subs:
        jwt = make_jwt(sub=f"auth0|{sub}")
        entries.append(TokenEntry(sub, jwt, jwt, new_identity()))
    return TokenPool.fixed(entries)


@pytest.mark.parametrize("http2", CARRIERS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_chatservice_retired_switches_to_agentservice_before_the_first_byte(
    sim_gateway, http2, stream, caplog
):
    caplog.set_level(logging.INFO, logger="gateway.access")
    pool = session_pool("user_retired")
    client, sim = await sim_gateway(
        SimConfig(seed=0, chat_retired={"user_retired"}), http2=http2, pool=pool, auth_token=ADMIN
    )
    response = await client.post(CHAT, json=body(stream))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
        deltas = [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]
        assert [d.get("role") for d in deltas].count("assistant") == 1  # one answer, begun once
        assert "".join(d.get("content") or "" for d in deltas) == ANSWER  # nothing lost or doubled
    else:
        assert (await response.json())["choices"][0]["message"]["content"] == ANSWER
    # ChatService was asked once and refused; AgentService answered with the same token.
    assert [r.rejection for r in sim.chat_records] == ["chat_retired"]
    assert await runs_ended(sim)
    [run] = sim.agent_records
    assert run.sub == "auth0|user_retired" and run.rejection is None
    assert run.agent.carrier == ("bidi" if http2 else "sse")
    # The refusal is no failure of the token.
    [status] = pool.snapshot()
    assert (status.state, status.errors, status.last_error) == ("active", 0, None)
    # Every trace names the RPC that answered.
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    [row] = (await (await client.post("/logs", json={}, headers=AS_ADMIN)).json())["logs"]
    assert row["upstream"] == "agent" and row["attempts"] == 1 and row["status"] == "success"
    access = [r.getMessage() for r in caplog.records if r.name == "gateway.access" and CHAT in r.getMessage()]
    assert len(access) == 1 and " upstream=agent " in access[0]
    [token] = (await (await client.get("/api/tokens", headers=AS_ADMIN)).json())["tokens"]
    assert token["upstream"]["rpc"] == "agent" and "retired" in token["upstream"]["reason"]
    assert token["upstream"]["recheck_at"] > token["upstream"]["since"]
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_upstream_switches_total{reason="retired"} 1.0' in metrics
    assert 'cursor2api_upstream_calls_total{outcome="answered",rpc="agent"} 1.0' in metrics
    assert 'cursor2api_upstream_calls_total{outcome="switched",rpc="chat"} 1.0' in metrics


async def test_the_token_stays_on_agentservice_and_another_token_stays_on_chatservice(sim_gateway):
    pool = session_pool("user_retired", "user_served")
    client, sim = await sim_gateway(SimConfig(seed=0, chat_retired={"user_retired"}), pool=pool)
    for _ in range(4):  # round robin: retired, served, retired, served
        response = await client.post(CHAT, json=body(False))
        assert (await response.json())["choices"][0]["message"]["content"] == ANSWER
    # The retired token was refused once, then went straight to AgentService; the other stayed.
    assert [r.sub for r in sim.chat_records] == [
        "auth0|user_retired",
        "auth0|user_served",
        "auth0|user_served",
    ]
    assert await runs_ended(sim, 2)
    assert [r.sub for r in sim.agent_records] == ["auth0|user_retired", "auth0|user_retired"]


async def test_chatservice_answering_names_chat_everywhere(sim_gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    client, sim = await sim_gateway(SimConfig(seed=0), pool=session_pool("user_a"), auth_token=ADMIN)
    assert (await (await client.post(CHAT, json=body(False))).json())["choices"][0]["message"][
        "content"
    ] == ANSWER
    assert sim.agent_records == []
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    [row] = (await (await client.post("/logs", json={}, headers=AS_ADMIN)).json())["logs"]
    assert row["upstream"] == "chat"
    assert any(" upstream=chat " in r.getMessage() for r in caplog.records if r.name == "gateway.access")


@pytest.mark.parametrize("http2", CARRIERS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_an_api_key_works_end_to_end_on_agentservice(sim_gateway, http2, stream):
    pool = TokenPool.fixed([TokenEntry("ci", KEY, KEY, new_identity(), kind="api_key")])
    config = SimConfig(seed=0, api_keys={KEY: "auth0|user_keyowner"})
    client, sim = await sim_gateway(config, http2=http2, pool=pool, auth_token=ADMIN)
    for _ in range(2):
        assert await answer_text(await client.post(CHAT, json=body(stream))) == ANSWER
    # Exchanged once; each run went to AgentService with the access token, never the key, and
    # ChatService (decommissioned for API keys) was never asked.
    assert len([r for r in sim.records if r.path == EXCHANGE_PATH]) == 1
    assert await runs_ended(sim, 2)
    for run in sim.agent_records:
        assert run.token != KEY and run.claims["type"] == "api_key_token" and run.sub == "auth0|user_keyowner"
    assert sim.chat_records == []
    [token] = (await (await client.get("/api/tokens", headers=AS_ADMIN)).json())["tokens"]
    assert (
        token["kind"] == "api_key"
        and token["upstream"]["rpc"] == "agent"
        and token["access"]["state"] == "valid"
    )
    assert KEY not in repr(token)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_still_outdated_after_the_newest_version_switches_to_agentservice(
    sim_gateway, monkeypatch, stream
):
    # The floor moves milliseconds after the last feed read here, not hours: no rate limit on reads.
    monkeypatch.setattr(version_module, "MIN_FEED_GAP", 0.0)
    pool = session_pool("user_a")
    client, sim = await sim_gateway(SimConfig(seed=0, min_client_version="3.30.0"), pool=pool)
    versions = client.app[keys.CLIENT_VERSION]
    assert await eventually(lambda: versions.last_read is not None)  # the start-up read: nothing newer yet
    built_in = versions.current.version
    sim.config.feed_version = "3.21.4"  # a new release, still below the floor
    assert await answer_text(await client.post(CHAT, json=body(stream))) == ANSWER
    # ChatService refused the version in use, then the newest one the feed offered; then AgentService.
    assert [r.headers["x-cursor-client-version"] for r in sim.chat_records] == [built_in, "3.21.4"]
    assert [r.rejection for r in sim.chat_records] == ["client_outdated", "client_outdated"]
    assert await runs_ended(sim)
    assert len(sim.agent_records) == 1
    [status] = pool.snapshot()
    assert (status.state, status.errors) == ("active", 0)
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_upstream_switches_total{reason="outdated"} 1.0' in metrics


async def test_a_fixed_version_refused_switches_to_agentservice_at_once(sim_gateway):
    config = SimConfig(seed=0, min_client_version="3.30.0")
    client, sim = await sim_gateway(config, pool=session_pool("user_a"), cursor_client_version="3.20.14")
    assert (await (await client.post(CHAT, json=body(False))).json())["choices"][0]["message"][
        "content"
    ] == ANSWER
    assert [r.headers["x-cursor-client-version"] for r in sim.chat_records] == ["3.20.14"]
    assert await runs_ended(sim)
    assert len(sim.agent_records) == 1


async def test_upstream_rpc_chat_never_switches(sim_gateway):
    client, sim = await sim_gateway(
        SimConfig(seed=0, chat_retired={"user_a"}), pool=session_pool("user_a"), upstream_rpc="chat"
    )
    response = await client.post(CHAT, json=body(False))
    assert response.status == 502 and (await response.json())["error"]["code"] == "upstream_rpc_unavailable"
    assert sim.agent_records == []
