"""User API keys end to end against the simulator: exchange, reuse, refusal, transient failure, masking.

ChatService serves API-key tokens here (`UPSTREAM_RPC=chat`; the simulator's default retires it
for them, these tests clear that) so the key handling is seen on its own; which RPC a key is
routed to is tested with the upstream router.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway import keys
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import new_identity
from tests.conftest import MODEL
from tests.fakes import EXCHANGE_PATH, Scenario, SimConfig, make_jwt, parse_jwt
from tests.sse_reader import answer_text

KEY = "crsr_" + "0123456789abcdef" * 4
UNKNOWN = "crsr_" + "fedcba9876543210" * 4
OWNER = "auth0|user_01KEYOWNER000000000000000"
ADMIN = "admin-secret"
CHAT = "/v1/chat/completions"


def body(stream: bool = False) -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "Hello there"}]}


def pool_of(*entries: tuple[str, str]) -> TokenPool:
    return TokenPool.fixed(
        TokenEntry(
            alias, secret, secret, new_identity(), kind="api_key" if secret.startswith("crsr_") else "session"
        )
        for alias, secret in entries
    )


def sim_config() -> SimConfig:
    config = SimConfig(seed=0, api_keys={KEY: OWNER})
    config.chat_retired.clear()
    return config


def exchanges(sim) -> list:
    return [record for record in sim.records if record.path == EXCHANGE_PATH]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_a_key_is_exchanged_once_and_its_access_token_goes_upstream(sim_gateway, http2):
    client, sim = await sim_gateway(
        sim_config(), http2=http2, pool=pool_of(("ci", KEY)), auth_token=ADMIN, upstream_rpc="chat"
    )
    for stream in (False, True):
        response = await client.post(CHAT, json=body(stream))
        assert response.status == 200
        assert "Hello there" in await answer_text(response)
    assert len(exchanges(sim)) == 1 and exchanges(sim)[0].token == KEY
    assert exchanges(sim)[0].http_version == ("2" if http2 else "1.1")
    for record in sim.chat_records:
        assert record.token != KEY and record.claims["type"] == "api_key_token" and record.sub == OWNER
    health = await (await client.get("/api/tokens", headers={"Authorization": f"Bearer {ADMIN}"})).json()
    [token] = health["tokens"]
    assert token["kind"] == "api_key" and token["token"] == f"crsr…{KEY[-4:]}"
    access = token["access"]
    assert access["state"] == "valid" and access["exchanges"] == 1 and access["last_error"] is None
    assert access["refresh_at"] < access["expires_at"] == parse_jwt(sim.chat_records[0].token)["exp"]
    assert KEY not in repr(health) and sim.chat_records[0].token not in repr(health)
    # The request log names the key only masked.
    reqlog = client.app[keys.REQUEST_LOG]
    await asyncio.to_thread(reqlog.flush)
    logs = await (await client.post("/logs", json={}, headers={"Authorization": f"Bearer {ADMIN}"})).json()
    assert {row["token_info"]["token"] for row in logs["logs"]} == {f"crsr…{KEY[-4:]}"}
    assert KEY not in repr(logs)


async def test_a_refused_key_is_disabled_and_the_request_fails_over(sim_gateway):
    pool = pool_of(("bad", UNKNOWN), ("session", make_jwt(sub="auth0|user_session")))
    client, sim = await sim_gateway(sim_config(), pool=pool, upstream_rpc="chat")
    response = await client.post(CHAT, json=body())
    assert response.status == 200
    states = {s.alias: (s.state, s.last_error) for s in pool.snapshot()}
    assert states["bad"][0] == "disabled" and "refused the API key (HTTP 401)" in states["bad"][1]
    assert states["session"] == ("active", None)
    assert [record.sub for record in sim.chat_records] == ["auth0|user_session"]
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_key_exchanges_total{outcome="rejected"}' in metrics


async def test_a_transient_exchange_failure_tries_another_token_without_penalty(sim_gateway):
    pool = pool_of(("ci", KEY), ("session", make_jwt(sub="auth0|user_session")))
    config = sim_config()
    client, sim = await sim_gateway(config, pool=pool, upstream_rpc="chat")
    # The background refresh may have run already; make the key need an exchange on this request.
    await asyncio.sleep(0.05)
    client.app[keys.CREDENTIALS].drop(pool.entries[0])
    sim.push_unary(EXCHANGE_PATH, Scenario("http_error", status=503))
    response = await client.post(CHAT, json=body())
    assert response.status == 200
    assert {s.alias: s.state for s in pool.snapshot()} == {"ci": "active", "session": "active"}
    assert sim.chat_records[-1].sub == "auth0|user_session"
