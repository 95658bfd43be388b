"""Access tokens for user API keys: exchange, single flight, refresh timing, failures (injected clock)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.tokens.access import (
    EXPIRY_MARGIN,
    FALLBACK_TTL,
    REFRESH_BEFORE,
    RETRY_SECONDS,
    Credentials,
    expiry_of,
    refresh_point,
)
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.errors import build_error
from tests.conftest import IDENTITY, fake_jwt

KEY = "crsr_" + "0123456789abcdef" * 4
OTHER = "crsr_" + "fedcba9876543210" * 4
T0 = 1_800_000_000.0
HOUR = 3600


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class FakeExchange:
    """Answers each key with a JWT valid for `ttl` seconds from the clock, or a scripted failure."""

    def __init__(self, clock: Clock, ttl: int = HOUR) -> None:
        self.clock, self.ttl = clock, ttl
        self.calls: list[str] = []
        self.failures: list[UpstreamError] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, key: str) -> str:
        self.calls.append(key)
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return fake_jwt(f"auth0|{key[-4:]}-{len(self.calls)}", exp=int(self.clock.now) + self.ttl)


def key_entry(key: str = KEY, alias: str = "ci") -> TokenEntry:
    return TokenEntry(alias, key, key, IDENTITY, kind="api_key")


def setup(ttl: int = HOUR) -> tuple[Clock, FakeExchange, Credentials]:
    clock = Clock()
    exchange = FakeExchange(clock, ttl)
    return clock, exchange, Credentials(exchange, clock=clock)


def test_refresh_point_is_five_minutes_before_expiry_but_never_before_half_the_life():
    assert refresh_point(T0 + HOUR, T0) == T0 + HOUR - REFRESH_BEFORE
    assert refresh_point(T0 + 400, T0) == T0 + 200  # a short-lived token: half its life
    assert expiry_of(fake_jwt(exp=int(T0) + 99), T0) == T0 + 99
    assert expiry_of("opaque-token", T0) == T0 + FALLBACK_TTL


@given(st.floats(1, 10 * HOUR))
def test_the_refresh_point_lies_between_now_and_expiry(life):
    point = refresh_point(T0 + life, T0)
    assert T0 < point < T0 + life


async def test_a_session_token_is_presented_as_it_is():
    _, exchange, credentials = setup()
    jwt = fake_jwt()
    who = await credentials.identity(TokenEntry("s", jwt, jwt, IDENTITY))
    assert (who.jwt, who.kind, who.identity) == (jwt, "session", IDENTITY)
    assert len(who.token_id) == 8 and exchange.calls == []


async def test_a_key_is_exchanged_once_then_its_access_token_reused():
    clock, exchange, credentials = setup()
    first = await credentials.identity(key_entry())
    assert first.kind == "api_key" and first.jwt != KEY and first.jwt.startswith("eyJ")
    clock.now += HOUR - REFRESH_BEFORE - 1  # still well before expiry
    assert (await credentials.identity(key_entry())).jwt == first.jwt
    assert exchange.calls == [KEY]
    # The stable name of the pool token does not change with the access token.
    clock.now = T0 + HOUR - EXPIRY_MARGIN  # about to expire: the request path exchanges again
    second = await credentials.identity(key_entry())
    assert second.jwt != first.jwt and second.token_id == first.token_id and exchange.calls == [KEY, KEY]


async def test_concurrent_needs_share_one_exchange_and_a_cancelled_waiter_does_not_cancel_it():
    _, exchange, credentials = setup()
    exchange.gate = asyncio.Event()
    waiters = [asyncio.create_task(credentials.access_token(KEY)) for _ in range(5)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    await asyncio.sleep(0)
    exchange.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert len(set(results[1:])) == 1 and exchange.calls == [KEY]


async def test_background_refresh_exchanges_at_the_refresh_point_not_before():
    clock, exchange, credentials = setup()
    credentials.track([KEY, OTHER])
    assert sorted(credentials.due()) == sorted([KEY, OTHER])  # no token yet
    assert await credentials.refresh_due() == []
    assert len(exchange.calls) == 2 and credentials.due() == []
    assert credentials.seconds_until_due(cap=10_000) == HOUR - REFRESH_BEFORE
    assert credentials.seconds_until_due(cap=30) == 30
    clock.now += HOUR - REFRESH_BEFORE - 1
    assert credentials.due() == []
    clock.now += 1
    assert sorted(credentials.due()) == sorted([KEY, OTHER])
    before = await credentials.access_token(KEY)  # still valid: the request path does not wait
    assert len(exchange.calls) == 2
    await credentials.refresh_due()
    assert len(exchange.calls) == 4 and await credentials.access_token(KEY) != before


async def test_a_transient_failure_keeps_the_valid_token_and_retries_thirty_seconds_later():
    clock, exchange, credentials = setup()
    credentials.track([KEY])
    await credentials.refresh_due()
    token = await credentials.access_token(KEY)
    clock.now += HOUR - REFRESH_BEFORE
    exchange.failures.append(build_error("upstream", "Cursor answered HTTP 503"))
    [(key, error)] = await credentials.refresh_due()
    assert key == KEY and error.error_class == "upstream"
    assert await credentials.access_token(KEY) == token  # still valid, still used
    assert credentials.due() == [] and credentials.seconds_until_due(cap=1000) == RETRY_SECONDS
    assert credentials.status(KEY)["last_error"].startswith("upstream_error")
    clock.now += RETRY_SECONDS
    assert credentials.due() == [KEY]
    assert await credentials.refresh_due() == [] and credentials.status(KEY)["last_error"] is None


async def test_a_refusal_drops_the_token_and_stops_background_refreshes():
    clock, exchange, credentials = setup()
    metrics = Metrics()
    credentials = Credentials(exchange, clock=clock, metrics=metrics)
    credentials.track([KEY])
    await credentials.refresh_due()
    clock.now += HOUR - REFRESH_BEFORE
    exchange.failures.append(build_error("auth", "Cursor refused the API key (HTTP 401)"))
    [(_, error)] = await credentials.refresh_due()
    assert error.error_class == "auth"
    assert credentials.due() == [] and credentials.status(KEY)["state"] == "rejected"
    clock.now += 10 * HOUR
    assert credentials.due() == []  # never retried in the background
    # A request that needs the key again (an operator reset it) exchanges on the request path.
    assert (await credentials.access_token(KEY)).startswith("eyJ")
    assert credentials.status(KEY)["state"] == "valid"
    text = metrics.render().decode()
    assert 'cursor2api_key_exchanges_total{outcome="ok"} 2.0' in text
    assert 'cursor2api_key_exchanges_total{outcome="rejected"} 1.0' in text


async def test_request_path_failures_raise_and_drop_forgets_the_access_token():
    _, exchange, credentials = setup()
    exchange.failures.append(build_error("auth", "Cursor refused the API key (HTTP 401)"))
    with pytest.raises(UpstreamError) as caught:
        await credentials.identity(key_entry())
    assert caught.value.error_class == "auth"
    token = await credentials.access_token(KEY)
    credentials.drop(key_entry())
    assert await credentials.access_token(KEY) != token and len(exchange.calls) == 3


async def test_track_forgets_keys_no_longer_in_the_pool():
    _, _, credentials = setup()
    credentials.track([KEY, OTHER])
    await credentials.refresh_due()
    credentials.track([OTHER])
    assert credentials.status(KEY) is None and credentials.status(OTHER)["state"] == "valid"


async def test_keep_fresh_exchanges_the_pool_keys_and_disables_a_refused_one():
    clock, exchange, credentials = setup()
    jwt = fake_jwt()
    pool = TokenPool.fixed(
        [key_entry(KEY, "good"), key_entry(OTHER, "bad"), TokenEntry("session", jwt, jwt, IDENTITY)],
        clock=clock,
        wall=clock,
    )
    refused = build_error("auth", "Cursor refused the API key (HTTP 401)")

    async def exchange_or_refuse(key: str) -> str:
        if key == OTHER:
            exchange.calls.append(key)
            raise refused
        return await exchange(key)

    credentials = Credentials(exchange_or_refuse, clock=clock)
    task = asyncio.create_task(credentials.keep_fresh(pool, poll=0.01))
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            disabled = {s.alias: s.state for s in pool.snapshot()}["bad"] == "disabled"
            if disabled and credentials.status(OTHER) is None:  # and a later round has run
                break
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    states = {s.alias: (s.state, s.last_error) for s in pool.snapshot()}
    assert states["bad"][0] == "disabled" and "refused the API key" in states["bad"][1]
    assert states["good"] == ("active", None) and states["session"] == ("active", None)
    assert credentials.status(KEY)["state"] == "valid"
    assert credentials.status(OTHER) is None  # a disabled key is no longer kept fresh
    assert exchange.calls.count(OTHER) == 1 and exchange.calls.count(KEY) == 1
