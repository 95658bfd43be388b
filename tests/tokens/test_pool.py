"""The token pool: reading the files, picking up new tokens without a restart, selection, health."""

from __future__ import annotations

import os
import random
import stat

from hypothesis import given
from hypothesis import strategies as st

from gateway.tokens.files import TokenFiles
from gateway.tokens.pool import Lease, PoolPolicy, TokenPool, retry_hint
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import new_identity, parse_checksum
from tests.conftest import fake_jwt


def file_pool(tmp_path, **options):
    return TokenPool(
        TokenFiles(tmp_path / ".token", tmp_path / ".token-list", recheck_seconds=0.0), **options
    )


async def test_reads_tokens_and_writes_checksums(tmp_path):
    (tmp_path / ".token").write_text(
        f"# my tokens\nwork::{fake_jwt('auth0|a')}\nuser_01X%3A%3A{fake_jwt('auth0|b')}\n"
    )
    pool = file_pool(tmp_path)
    await pool.load()
    assert pool.size == 2
    assert [pool.lease().alias for _ in range(3)] == ["work", "user_01X", "work"]
    list_file = tmp_path / ".token-list"
    lines = list_file.read_text().splitlines()
    assert len(lines) == 2 and all(parse_checksum(line.rsplit(",", 1)[1]) for line in lines)
    assert stat.S_IMODE(os.stat(list_file).st_mode) == 0o600


async def test_an_api_key_joins_the_pool_with_its_kind_and_never_expires(tmp_path):
    key = "crsr_" + "0123456789abcdef" * 4
    (tmp_path / ".token").write_text(f"ci::{key}\nold::{fake_jwt('auth0|a', exp=1)}\n")
    pool = file_pool(tmp_path)
    await pool.load()
    assert [(s.alias, s.kind, s.state, s.exp) for s in pool.snapshot()] == [
        ("ci", "api_key", "active", None),
        ("old", "session", "expired", 1),
    ]
    [status] = [s.to_json() for s in pool.snapshot() if s.alias == "ci"]
    assert status["kind"] == "api_key" and status["token"] == f"crsr…{key[-4:]}"
    assert (tmp_path / ".token-list").read_text().startswith(f"ci::{key},")  # the key as written
    assert pool.lease().entry.kind == "api_key"


async def test_identity_survives_a_reload(tmp_path):
    (tmp_path / ".token").write_text(fake_jwt() + "\n")
    first = file_pool(tmp_path)
    await first.load()
    second = file_pool(tmp_path)
    await second.load()
    assert first.lease().entry.identity == second.lease().entry.identity


async def test_new_token_is_picked_up_without_restart(tmp_path):
    pool = file_pool(tmp_path)
    await pool.load()
    assert pool.lease() is None
    token_file = tmp_path / ".token"
    token_file.write_text(fake_jwt() + "\n")
    os.utime(token_file, (1, 1))  # a distinct mtime even on coarse clocks
    await pool.refresh()
    assert pool.lease() is not None


async def test_malformed_lines_are_reported_not_fatal(tmp_path):
    (tmp_path / ".token").write_text("not-a-token\n" + fake_jwt() + "\n")
    pool = file_pool(tmp_path)
    await pool.load()
    assert pool.size == 1 and len(pool.problems) == 1 and "not-a-token" not in pool.problems[0]


# ---------------------------------------------------------------- selection and health (pure)


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def entries(n: int, *, exp: int = 4_102_444_800) -> list[TokenEntry]:
    out = []
    for i in range(n):
        jwt = fake_jwt(f"auth0|user_{i}", exp=exp)
        out.append(TokenEntry(f"t{i}", jwt, jwt, new_identity()))
    return out


def make_pool(n: int = 3, strategy: str = "round-robin", **policy) -> tuple[TokenPool, Clock]:
    clock = Clock()
    pool = TokenPool.fixed(
        entries(n),
        policy=PoolPolicy(strategy=strategy, **policy),
        clock=clock,
        wall=lambda: 1_700_000_000 + clock.now,
        rng=random.Random(0),
    )
    return pool, clock


def aliases(pool: TokenPool, count: int, **kwargs) -> list[str]:
    return [pool.lease(**kwargs).alias for _ in range(count)]


def test_round_robin_skips_unusable_tokens_and_keeps_its_place():
    pool, _ = make_pool(3)
    assert aliases(pool, 4) == ["t0", "t1", "t2", "t0"]
    pool.failed(pool.lease(), "auth", "invalid_api_key: bad")  # t1 disabled
    assert aliases(pool, 4) == ["t2", "t0", "t2", "t0"]


def test_least_recently_used_picks_the_oldest():
    pool, clock = make_pool(3, "least-recently-used")
    first = aliases(pool, 3)
    assert sorted(first) == ["t0", "t1", "t2"]
    clock.now += 1
    lease = pool.lease()
    assert lease.alias == first[0]


def test_random_only_picks_usable_tokens():
    pool, _ = make_pool(4, "random")
    t1 = next(e for e in pool.entries if e.alias == "t1")
    pool.failed(pool_lease_of(pool, "t1"), "usage", "insufficient_quota")
    seen = set(aliases(pool, 200))
    assert seen == {"t0", "t2", "t3"} and t1.alias not in seen


def pool_lease_of(pool: TokenPool, alias: str) -> Lease:
    entry = next(e for e in pool.entries if e.alias == alias)
    return Lease(entry.alias, entry.jwt, entry)


def test_exclude_and_no_usable_token():
    pool, _ = make_pool(2)
    jwts = {e.jwt for e in pool.entries}
    assert pool.lease(exclude=jwts) is None
    one = next(iter(jwts))
    assert pool.lease(exclude={one}).jwt != one


def test_rate_limit_cools_down_with_the_hint_capped():
    pool, clock = make_pool(1, cooldown_max=100)
    pool.failed(pool.lease(), "rate", "rate_limit_exceeded", hint=30)
    assert pool.lease() is None and pool.counts()["cooling_down"] == 1
    clock.now += 29.9
    assert pool.lease() is None
    clock.now += 0.2
    assert pool.lease() is not None
    pool.failed(pool_lease_of(pool, "t0"), "rate", "again", hint=10_000)
    clock.now += 99.9
    assert pool.lease() is None
    clock.now += 0.2
    assert pool.lease() is not None


def test_rate_limit_without_hint_doubles_and_resets_on_success():
    pool, clock = make_pool(1, cooldown_base=60, cooldown_max=900)
    waits = []
    for _ in range(6):
        lease = pool.lease()
        pool.failed(lease, "rate", "limited")
        start = clock.now
        while pool.lease() is None:
            clock.now += 1
        waits.append(round(clock.now - start))
    assert waits == [60, 120, 240, 480, 900, 900]
    pool.succeeded(pool_lease_of(pool, "t0"))
    pool.failed(pool.lease(), "rate", "limited")
    start = clock.now
    while pool.lease() is None:
        clock.now += 1
    assert round(clock.now - start) == 60


def test_usage_limit_exhausts_until_recheck_or_reset():
    pool, clock = make_pool(2, exhausted_for=3600)
    lease = pool.lease()
    pool.failed(lease, "usage", "insufficient_quota: spent")
    status = {s.alias: s for s in pool.snapshot()}
    assert status[lease.alias].state == "exhausted" and status[lease.alias].until is not None
    assert all(pool.lease().alias != lease.alias for _ in range(4))
    clock.now += 3601
    assert lease.alias in aliases(pool, 2)
    pool.failed(pool_lease_of(pool, lease.alias), "usage", "again")
    assert pool.reset(lease.alias)
    assert lease.alias in aliases(pool, 2)


def test_auth_error_disables_until_reset_and_keeps_the_token():
    pool, clock = make_pool(1)
    lease = pool.lease()
    pool.failed(lease, "auth", "no_available_tokens: rejected")
    clock.now += 10 * 86400
    assert pool.lease() is None and pool.size == 1
    [status] = pool.snapshot()
    assert status.state == "disabled" and status.errors == 1 and status.last_error.startswith("no_available")
    assert pool.reset(status.fingerprint)  # a fingerprint works as well as the alias
    assert pool.lease() is not None


def test_suspicious_usage_rests_the_token_for_an_hour():
    pool, clock = make_pool(2)
    lease = pool.lease()
    pool.failed(lease, "suspicious", "suspicious_usage_blocked: Cursor blocked this account")
    [status] = [s for s in pool.snapshot() if s.alias == lease.alias]
    assert status.state == "cooling_down" and status.until == 1_700_000_000 + clock.now + 3600
    assert "suspicious" in status.last_error
    assert aliases(pool, 3) == ["t1", "t1", "t1"]
    clock.now += 3601
    assert lease.alias in aliases(pool, 2)


def test_plan_error_skips_the_token_for_that_model_only():
    pool, clock = make_pool(1)
    pool.failed(pool.lease(), "plan", "model_requires_pro", model="gpt-5")
    assert pool.lease(model="gpt-5") is None
    assert pool.lease(model="claude") is not None
    clock.now += 3601
    assert pool.lease(model="gpt-5") is not None


def test_expired_tokens_are_not_leased_and_shown_expired():
    clock = Clock()
    wall = 1_700_000_000.0
    jwt = fake_jwt(exp=int(wall) + 30)  # inside the 60 s margin
    pool = TokenPool.fixed([TokenEntry("old", jwt, jwt, new_identity())], clock=clock, wall=lambda: wall)
    assert pool.lease() is None
    [status] = pool.snapshot()
    assert status.state == "expired" and status.exp == int(wall) + 30
    reason, wait = pool.unavailable_reason()
    assert "1 expired" in reason and wait is None


def test_counters_and_snapshot_are_masked():
    pool, clock = make_pool(2)
    first = pool.lease()
    pool.failed(first, "other", "upstream_error: boom")
    pool.lease()
    snapshot = {s.alias: s.to_json() for s in pool.snapshot()}
    assert snapshot[first.alias]["requests"] == 1 and snapshot[first.alias]["errors"] == 1
    assert snapshot[first.alias]["state"] == "active"  # a transient error does not penalise
    assert snapshot[first.alias]["last_used"] == 1_700_000_000 + clock.now
    for entry in pool.entries:
        text = repr(snapshot)
        assert entry.jwt not in text and entry.identity.machine_id not in text


def test_health_survives_a_reload_of_the_same_token():
    pool, _ = make_pool(2)
    lease = pool.lease()
    pool.failed(lease, "auth", "bad")
    pool.replace(tuple(reversed(pool.entries)), ())
    assert {s.alias: s.state for s in pool.snapshot()}[lease.alias] == "disabled"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["lease", "auth", "rate", "usage", "ok", "tick", "reset"]), st.integers(0, 4)
        ),
        max_size=60,
    ),
    st.sampled_from(["round-robin", "least-recently-used", "random"]),
)
def test_property_a_lease_is_always_usable_and_counters_add_up(ops, strategy):
    pool, clock = make_pool(4, strategy)
    leases = {}
    requests = 0
    for op, arg in ops:
        if op == "lease":
            lease = pool.lease()
            usable = [e for e in pool.entries if pool.state_of(e.jwt) == "active"]
            if lease is None:
                assert not usable
            else:
                requests += 1
                assert pool.state_of(lease.jwt) == "active"
                leases[lease.alias] = lease
        elif op in ("auth", "rate", "usage") and leases:
            pool.failed(list(leases.values())[arg % len(leases)], op, op)
        elif op == "ok" and leases:
            pool.succeeded(list(leases.values())[arg % len(leases)])
        elif op == "tick":
            clock.now += arg * 400
        elif op == "reset":
            pool.reset(f"t{arg % 4}")
    assert sum(s.requests for s in pool.snapshot()) == requests
    assert sum(pool.counts().values()) == pool.size


def test_retry_hint_sources():
    assert retry_hint("30", "", now_wall=0) == 30
    assert retry_hint("Wed, 21 Oct 2015 07:28:30 GMT", "", now_wall=1445412480) == 30
    assert retry_hint(None, "Rate limited: please try again in 2 minutes", now_wall=0) == 120
    assert retry_hint(None, "retry after 500ms", now_wall=0) == 0.5
    assert retry_hint(None, "slow down", now_wall=0) is None
    assert retry_hint("garbage", "try again in 5 seconds", now_wall=0) == 5
