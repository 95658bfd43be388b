"""Failover across tokens in `ChatService.attempt`, end to end against the simulator (§10.4).

The simulator answers chosen tokens with auth / rate-limit / usage-limit errors
(`SimConfig.token_errors`); the gateway must move to the next healthy token before the first
byte, mark the failing one, and stop after MAX_TOKEN_ATTEMPTS tokens.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway import keys
from gateway.tokens.jwt import fingerprint
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import new_identity
from tests.conftest import MODEL
from tests.fakes import Scenario, SimConfig, make_jwt
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"


def body(stream: bool = False, text: str = "Hello there") -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": text}]}


def pool_of(*names: str) -> tuple[TokenPool, dict[str, str]]:
    jwts = {name: make_jwt(sub=f"auth0|user_{name}") for name in names}
    pool = TokenPool.fixed([TokenEntry(name, jwt, jwt, new_identity()) for name, jwt in jwts.items()])
    return pool, jwts


def states(pool: TokenPool) -> dict[str, str]:
    return {status.alias: status.state for status in pool.snapshot()}


def subs_tried(sim) -> list[str]:
    return [record.sub.rsplit("_", 1)[-1] for record in sim.chat_records]


async def test_auth_and_rate_errors_fail_over_to_a_healthy_token(sim_gateway):
    pool, jwts = pool_of("a", "b", "c")
    config = SimConfig(
        seed=0,
        token_errors={"user_a": "unauthorized", fingerprint(jwts["b"]): "rate_limit"},
    )
    client, sim = await sim_gateway(config, pool=pool)
    response = await client.post(CHAT, json=body())
    assert response.status == 200
    assert "Hello there" in (await response.json())["choices"][0]["message"]["content"]
    assert subs_tried(sim) == ["a", "b", "c"]
    assert states(pool) == {"a": "disabled", "b": "cooling_down", "c": "active"}
    metrics = (await (await client.get("/metrics")).text()).splitlines()
    assert 'cursor2api_token_failovers_total{error_class="auth"} 1.0' in metrics
    assert 'cursor2api_token_failovers_total{error_class="rate"} 1.0' in metrics
    assert 'cursor2api_token_state{state="disabled"} 1.0' in metrics
    # The disabled and cooling tokens are skipped by the next requests.
    sim.records.clear()
    for _ in range(3):
        assert (await client.post(CHAT, json=body())).status == 200
    assert subs_tried(sim) == ["c", "c", "c"]


async def test_usage_limit_exhausts_the_token_and_streaming_fails_over_before_the_first_byte(sim_gateway):
    pool, _ = pool_of("a", "b")
    client, sim = await sim_gateway(SimConfig(seed=0, token_errors={"user_a": "usage_limit"}), pool=pool)
    response = await client.post(CHAT, json=body(stream=True))
    assert response.status == 200
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
    assert subs_tried(sim) == ["a", "b"]
    [a] = [s for s in pool.snapshot() if s.alias == "a"]
    assert a.state == "exhausted" and a.until > time.time() + 3000 and a.errors == 1
    assert "insufficient_quota" in a.last_error


async def test_all_tokens_rejected_gives_503_then_no_healthy_token(sim_gateway):
    pool, _ = pool_of("a", "b")
    config = SimConfig(seed=0, token_errors={"user_a": "unauthorized", "user_b": "expired"})
    client, sim = await sim_gateway(config, pool=pool)
    response = await client.post(CHAT, json=body())
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "no_available_tokens"
    assert subs_tried(sim) == ["a", "b"]
    response = await client.post(CHAT, json=body())
    error = (await response.json())["error"]
    assert response.status == 503 and error["code"] == "no_available_tokens"
    assert "2 disabled" in error["message"]
    assert len(sim.chat_records) == 2  # no upstream call without a usable token


async def test_attempts_are_bounded_by_max_token_attempts(sim_gateway):
    pool, _ = pool_of("a", "b", "c")
    config = SimConfig(
        seed=0, token_errors={f"user_{n}": Scenario("http_error", status=429, retry_after=7) for n in "abc"}
    )
    client, sim = await sim_gateway(config, pool=pool, max_token_attempts=2)
    response = await client.post(CHAT, json=body())
    assert response.status == 429 and response.headers["Retry-After"] == "7"
    assert (await response.json())["error"]["type"] == "rate_limit_error"
    assert len(sim.chat_records) == 2
    cooling = [s for s in pool.snapshot() if s.state == "cooling_down"]
    assert len(cooling) == 2
    assert all(abs(s.until - (time.time() + 7)) < 3 for s in cooling)  # the upstream hint


async def test_no_failover_after_the_first_event(sim_gateway):
    pool, _ = pool_of("a", "b")
    config = SimConfig(seed=0, token_errors={"user_a": Scenario("error", error=50, after_frames=3)})
    client, sim = await sim_gateway(config, pool=pool)
    response = await client.post(CHAT, json=body(stream=True))
    assert response.status == 200
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "rate_limit_exceeded"
    assert subs_tried(sim) == ["a"]
    assert states(pool)["a"] == "cooling_down"  # the token is still marked


async def test_errors_that_are_not_the_tokens_fault_do_not_fail_over(sim_gateway):
    pool, _ = pool_of("a", "b")
    config = SimConfig(seed=0, token_errors={"user_a": Scenario("error", error=43)})  # conversation too long
    client, sim = await sim_gateway(config, pool=pool)
    response = await client.post(CHAT, json=body())
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "context_length_exceeded"
    assert subs_tried(sim) == ["a"] and states(pool) == {"a": "active", "b": "active"}


async def test_a_transient_upstream_error_is_retried_once_without_penalty(sim_gateway):
    pool, _ = pool_of("a", "b", "c")
    errors = {f"user_{n}": Scenario("http_error", status=502) for n in "ab"}
    client, sim = await sim_gateway(SimConfig(seed=0, token_errors=errors), pool=pool)
    response = await client.post(CHAT, json=body())
    assert response.status == 502
    assert subs_tried(sim) == ["a", "b"]  # once, not a third time
    assert set(states(pool).values()) == {"active"}


async def test_the_log_row_names_the_token_that_answered(sim_gateway):
    pool, jwts = pool_of("a", "b")
    client, _ = await sim_gateway(
        SimConfig(seed=0, token_errors={"user_a": "unauthorized"}), pool=pool, auth_token="adm"
    )
    assert (await client.post(CHAT, json=body())).status == 200
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    answer = await (await client.post("/logs", json={}, headers={"Authorization": "Bearer adm"})).json()
    [row] = answer["logs"]
    assert row["token_info"]["alias"] == "b" and row["attempts"] == 2 and row["status"] == "success"
    assert row["token_info"]["fingerprint"] == fingerprint(jwts["b"])
    assert jwts["b"] not in repr(answer)


async def test_no_token_configured_and_no_healthy_token_are_distinct(sim_gateway):
    client, sim = await sim_gateway(pool=TokenPool.fixed([]))
    response = await client.post(CHAT, json=body())
    assert response.status == 503 and (await response.json())["error"]["code"] == "no_token_configured"
    pool, _ = pool_of("a")
    pool.failed(pool.lease(), "rate", "rate_limit_exceeded: slow down", hint=42)
    client, sim = await sim_gateway(pool=pool)
    response = await client.post(CHAT, json=body())
    error = (await response.json())["error"]
    assert response.status == 503 and error["code"] == "no_available_tokens"
    assert "1 cooling down" in error["message"] and 40 <= int(response.headers["Retry-After"]) <= 42
    assert sim.chat_records == []


# ---------------------------------------------------------------- the error values of 2026 (upstream-2026.md §4)

# value: (status, type, code, words of the message, token state after, another token tried?)
ERRORS_2026 = {
    54: (403, "permission_error", "suspicious_usage_blocked", "suspicious usage", "cooling_down", True),
    55: (504, "server_error", "upstream_timeout", "extension host", "active", True),
    56: (502, "server_error", "upstream_error", "network failure", "active", True),
    57: (502, "server_error", "upstream_error", "provider failed", "active", True),
    58: (403, "permission_error", "model_blocked", "may not use the model", "active", True),
    59: (502, "server_error", "upstream_error", "internal error", "active", True),
    60: (403, "permission_error", "max_mode_required", "only in Max mode", "active", False),
    61: (404, "invalid_request_error", "model_not_found", "/v1/models", "active", False),
    62: (403, "permission_error", "pricing_confirmation_required", "pricing", "active", True),
    63: (429, "rate_limit_error", "rate_limit_exceeded", "slow pool", "cooling_down", True),
    64: (403, "permission_error", "unsupported_region", "region", "active", False),
}


@pytest.mark.parametrize("value", sorted(ERRORS_2026))
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_each_2026_error_through_the_http_layer(sim_gateway, value, stream):
    status, type_, code, words, state, _ = ERRORS_2026[value]
    pool, _ = pool_of("a")
    client, _ = await sim_gateway(
        SimConfig(seed=0, token_errors={"user_a": Scenario("error", error=value)}), pool=pool
    )
    response = await client.post(CHAT, json=body(stream=stream))
    assert response.status == status  # before the first byte: a real HTTP status, streaming or not
    error = (await response.json())["error"]
    assert (error["type"], error["code"]) == (type_, code)
    assert words in error["message"]
    [token] = pool.snapshot()
    assert token.state == state and token.errors == 1 and code in token.last_error
    if value == 54:  # the token rests an hour, and the message says why
        assert abs(token.until - (time.time() + 3600)) < 5
        assert "suspicious usage" in token.last_error
    if value == 61:
        assert f"'{MODEL}'" in error["message"] and "claude-4.5-sonnet" in error["message"]


@pytest.mark.parametrize("value", sorted(ERRORS_2026))
async def test_each_2026_error_moves_to_another_token_or_not(sim_gateway, value):
    *_, moves_on = ERRORS_2026[value]
    pool, _ = pool_of("a", "b")
    client, sim = await sim_gateway(
        SimConfig(seed=0, token_errors={"user_a": Scenario("error", error=value)}), pool=pool
    )
    response = await client.post(CHAT, json=body())
    assert subs_tried(sim) == (["a", "b"] if moves_on else ["a"])
    assert response.status == (200 if moves_on else ERRORS_2026[value][0])
    if value in (58, 62):  # skipped for this model only: the next request goes straight to b
        sim.records.clear()
        assert (await client.post(CHAT, json=body())).status == 200
        assert subs_tried(sim) == ["b"]
