"""Choosing the upstream RPC end to end: the simulator plays ChatService retired, the router redoes
the request on AgentService before the first byte, and every trace names the RPC that answered.

`ScriptedAgent` stands in for the AgentService adapter: a real `Upstream` whose answer is known,
so the client's answer can be compared with it byte for byte.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway import keys
from gateway.neutral.model import Finish, LiveModel, TextDelta
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream import version as version_module
from gateway.upstream.checksum import new_identity
from tests.conftest import MODEL
from tests.fakes import SimConfig, make_jwt
from tests.sse_reader import answer_text, parse_sse

CHAT = "/v1/chat/completions"
ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
PIECES = ("Answered ", "by the ", "agent service.")


class ScriptedAgent:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def chat(self, chat, prompt, who, timing=None):
        self.calls.append(who.kind)
        for piece in PIECES:
            yield TextDelta(piece)
            await asyncio.sleep(0)
        yield Finish("stop")

    async def available_models(self, who):
        return [LiveModel("claude-4.5-sonnet", "claude-4.5-sonnet", None, None, False)]


def body(stream: bool) -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "Hello there"}]}


def one_session_pool(sub: str = "auth0|user_retired") -> TokenPool:
    jwt = make_jwt(sub=sub)
    return TokenPool.fixed([TokenEntry("main", jwt, jwt, new_identity())])


@pytest.mark.parametrize("stream", [False, True])
async def test_chatservice_retired_switches_to_agentservice_before_the_first_byte(
    sim_gateway, stream, caplog
):
    caplog.set_level(logging.INFO, logger="gateway.access")
    agent, pool = ScriptedAgent(), one_session_pool()
    client, sim = await sim_gateway(
        SimConfig(seed=0, chat_retired={"user_retired"}), pool=pool, agent=agent, auth_token=ADMIN
    )
    response = await client.post(CHAT, json=body(stream))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
        chunks = [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]
        assert [c.get("role") for c in chunks].count("assistant") == 1
        assert [c["content"] for c in chunks if c.get("content")] == list(PIECES)  # nothing lost or doubled
    else:
        answer = await response.json()
        assert answer["choices"][0]["message"]["content"] == "".join(PIECES)
    # ChatService was asked once and refused; AgentService answered with the same token.
    assert [r.rejection for r in sim.chat_records] == ["chat_retired"] and agent.calls == ["session"]
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
    agent = ScriptedAgent()
    retired, served = make_jwt(sub="auth0|user_retired"), make_jwt(sub="auth0|user_served")
    pool = TokenPool.fixed(
        [TokenEntry("r", retired, retired, new_identity()), TokenEntry("s", served, served, new_identity())]
    )
    client, sim = await sim_gateway(SimConfig(seed=0, chat_retired={"user_retired"}), pool=pool, agent=agent)
    for _ in range(4):  # round robin: r, s, r, s
        assert (await client.post(CHAT, json=body(False))).status == 200
    # r was refused once, then went straight to AgentService; s was answered by ChatService.
    assert [r.sub for r in sim.chat_records] == [
        "auth0|user_retired",
        "auth0|user_served",
        "auth0|user_served",
    ]
    assert len(agent.calls) == 2


async def test_chatservice_answering_names_chat_everywhere(sim_gateway):
    agent = ScriptedAgent()
    client, _sim = await sim_gateway(
        SimConfig(seed=0), pool=one_session_pool(), agent=agent, auth_token=ADMIN
    )
    assert (
        "Hello there"
        in (await (await client.post(CHAT, json=body(False))).json())["choices"][0]["message"]["content"]
    )
    assert agent.calls == []
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    [row] = (await (await client.post("/logs", json={}, headers=AS_ADMIN)).json())["logs"]
    assert row["upstream"] == "chat"


async def test_an_api_key_is_routed_to_agentservice(sim_gateway):
    key = "crsr_" + "0123456789abcdef" * 4
    agent = ScriptedAgent()
    pool = TokenPool.fixed([TokenEntry("ci", key, key, new_identity(), kind="api_key")])
    client, sim = await sim_gateway(
        SimConfig(seed=0, api_keys={key: "auth0|user_keyowner"}), pool=pool, agent=agent
    )
    answer = await (await client.post(CHAT, json=body(False))).json()
    assert answer["choices"][0]["message"]["content"] == "".join(PIECES)
    assert agent.calls == ["api_key"] and sim.chat_records == []


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_still_outdated_after_the_newest_version_switches_to_agentservice(
    sim_gateway, monkeypatch, stream
):
    # The floor moves milliseconds after the last feed read here, not hours: no rate limit on reads.
    monkeypatch.setattr(version_module, "MIN_FEED_GAP", 0.0)
    agent, pool = ScriptedAgent(), one_session_pool()
    config = SimConfig(seed=0, min_client_version="3.30.0")
    client, sim = await sim_gateway(config, pool=pool, agent=agent)
    versions = client.app[keys.CLIENT_VERSION]
    await until(lambda: versions.last_read is not None)  # the start-up read: nothing newer yet
    built_in = versions.current.version
    sim.config.feed_version = "3.21.4"  # a new release, still below the floor
    response = await client.post(CHAT, json=body(stream))
    assert response.status == 200
    assert await answer_text(response) == "".join(PIECES)
    # ChatService refused the version in use, then the newest one the feed offered; then AgentService.
    assert [r.headers["x-cursor-client-version"] for r in sim.chat_records] == [built_in, "3.21.4"]
    assert [r.rejection for r in sim.chat_records] == ["client_outdated", "client_outdated"]
    assert agent.calls == ["session"]
    [status] = pool.snapshot()
    assert (status.state, status.errors) == ("active", 0)
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_upstream_switches_total{reason="outdated"} 1.0' in metrics


async def test_a_fixed_version_refused_switches_to_agentservice_at_once(sim_gateway):
    agent = ScriptedAgent()
    config = SimConfig(seed=0, min_client_version="3.30.0")
    client, sim = await sim_gateway(
        config, pool=one_session_pool(), agent=agent, cursor_client_version="3.20.14"
    )
    answer = await (await client.post(CHAT, json=body(False))).json()
    assert answer["choices"][0]["message"]["content"] == "".join(PIECES)
    assert [r.headers["x-cursor-client-version"] for r in sim.chat_records] == ["3.20.14"]
    assert agent.calls == ["session"]
