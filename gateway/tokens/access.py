"""What a pool token presents upstream: a session JWT as it is, a user API key as an access token.

A user API key is never sent to the chat RPCs. It is exchanged for a short-lived access token
(`upstream/exchange.py`) the way Cursor's official SDK does it, and the access token is kept in
memory only (never written anywhere):

* **expiry:** the access token's JWT `exp`; a token without one is taken to last `FALLBACK_TTL`;
* **refresh point:** the later of "`REFRESH_BEFORE` before expiry" and "half the remaining lifetime
  from now", as the SDK computes it. `keep_fresh()` runs in the background and exchanges every
  key whose refresh point has passed, so requests find a valid access token waiting;
* **the request path** (`identity()`) exchanges only when a key has no access token, or its token
  expires within `EXPIRY_MARGIN`;
* **single flight:** everyone who needs a key's token while it is being exchanged shares that one
  exchange (a request that goes away does not cancel it for the others);
* **failures:** a transient failure keeps the current access token while it is valid and is tried
  again `RETRY_SECONDS` later; a refusal (class auth: HTTP 401/403) drops the access token, stops
  the background refreshes of that key until a request needs it again (after an operator reset),
  and `keep_fresh()` disables the key in the pool, like any auth error.

Time is the wall clock (expiry comes from `exp`); it is injected for tests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.tokens.jwt import TokenFormatError, fingerprint, read_claims
from gateway.tokens.pool import Lease, TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.identity import UpstreamIdentity

log = logging.getLogger(__name__)

Exchange = Callable[[str], Awaitable[str]]

FALLBACK_TTL: Final = 30 * 60.0
REFRESH_BEFORE: Final = 5 * 60.0
EXPIRY_MARGIN: Final = 60.0
RETRY_SECONDS: Final = 30.0
POLL_SECONDS: Final = 30.0


@dataclass(slots=True)
class _KeyState:
    access: str | None = None
    expires: float = 0.0  # wall seconds
    refresh_at: float = 0.0  # wall seconds
    exchanged_at: float | None = None
    retry_at: float | None = None  # after a transient failure
    rejected: bool = False
    last_error: str | None = None
    exchanges: int = 0
    inflight: asyncio.Task[str] | None = None


def _next_exchange(state: _KeyState, now: float) -> float | None:
    """When the background refresh exchanges this key next; None while refused or being exchanged."""
    if state.rejected or state.inflight is not None:
        return None
    if state.retry_at is not None:
        return state.retry_at
    return state.refresh_at if state.access is not None else now


def refresh_point(expires: float, now: float) -> float:
    """When to exchange again: `REFRESH_BEFORE` before expiry, but never before half the lifetime left."""
    return max(expires - REFRESH_BEFORE, now + (expires - now) / 2)


def expiry_of(access: str, now: float) -> float:
    """The access token's `exp`, or `FALLBACK_TTL` from now when it has none."""
    try:
        exp = read_claims(access).exp
    except TokenFormatError:
        exp = None
    return float(exp) if exp is not None else now + FALLBACK_TTL


class Credentials:
    """The bearer of each pool token, and the access tokens of the pool's API keys."""

    def __init__(
        self,
        exchange: Exchange,
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._metrics = metrics
        self._keys: dict[str, _KeyState] = {}

    # ---------------------------------------------------------------- the request path

    async def identity(self, entry: TokenEntry) -> UpstreamIdentity:
        """How `entry` presents itself upstream; raises `UpstreamError` when its key cannot be exchanged."""
        assert entry.identity is not None, "the pool only leases entries with an identity"
        token_id = fingerprint(entry.jwt)
        if entry.kind == "session":
            return UpstreamIdentity(entry.jwt, entry.identity, "session", token_id)
        return UpstreamIdentity(await self.access_token(entry.jwt), entry.identity, "api_key", token_id)

    async def access_token(self, key: str) -> str:
        """A valid access token for `key`: the cached one, or a new exchange when it has none."""
        state = self._keys.setdefault(key, _KeyState())
        if state.access is not None and state.expires - EXPIRY_MARGIN > self._clock():
            return state.access
        return await self._shared_exchange(key, state)

    def drop(self, entry: TokenEntry) -> None:
        """Forget the access token of `entry` (Cursor refused it); the next use exchanges again."""
        state = self._keys.get(entry.jwt)
        if state is not None:
            state.access = None

    # ---------------------------------------------------------------- exchanging

    async def _shared_exchange(self, key: str, state: _KeyState) -> str:
        if state.inflight is None:
            task = asyncio.create_task(self._run_exchange(key, state), name="api-key-exchange")
            # Retrieved here, so a failure nobody waits for any more is not reported as unhandled.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            state.inflight = task
        return await asyncio.shield(state.inflight)

    async def _run_exchange(self, key: str, state: _KeyState) -> str:
        try:
            access = await self._exchange(key)
        except UpstreamError as exc:
            state.last_error = f"{exc.code}: {exc.message}"
            if exc.error_class == "auth":
                state.access, state.rejected, state.retry_at = None, True, None
                outcome = "rejected"
            else:
                state.retry_at = self._clock() + RETRY_SECONDS
                outcome = "failed"
            self._count(outcome)
            log.warning("API key %s: the exchange failed (%s)", fingerprint(key), state.last_error)
            raise
        finally:
            state.inflight = None
        now = self._clock()
        state.access, state.exchanged_at = access, now
        state.expires = expiry_of(access, now)
        state.refresh_at = refresh_point(state.expires, now)
        state.rejected, state.retry_at, state.last_error = False, None, None
        state.exchanges += 1
        self._count("ok")
        log.debug("API key %s: new access token, valid for %.0f s", fingerprint(key), state.expires - now)
        return access

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.key_exchanges.labels(outcome).inc()

    # ---------------------------------------------------------------- the background refresh

    def track(self, keys: Iterable[str]) -> None:
        """The keys to keep fresh; every other key's state (and access token) is forgotten."""
        wanted = set(keys)
        for key in [key for key in self._keys if key not in wanted]:
            del self._keys[key]
        for key in wanted:
            self._keys.setdefault(key, _KeyState())

    def due(self) -> list[str]:
        """The keys to exchange now: without a token or past their refresh point (or their retry
        after a failure), and neither refused nor being exchanged."""
        now = self._clock()
        return [key for key, state in self._keys.items() if (_next_exchange(state, now) or math.inf) <= now]

    def seconds_until_due(self, cap: float) -> float:
        """How long the background refresh may sleep: until the next key falls due, at most `cap`."""
        now = self._clock()
        moments = [_next_exchange(state, now) for state in self._keys.values()]
        return max(0.0, min([cap, *(moment - now for moment in moments if moment is not None)]))

    async def refresh_due(self) -> list[tuple[str, UpstreamError]]:
        """Exchange every due key, concurrently; the keys that failed, with why."""
        keys = self.due()
        results = await asyncio.gather(
            *(self._shared_exchange(key, self._keys[key]) for key in keys), return_exceptions=True
        )
        failures = []
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, UpstreamError):
                failures.append((key, result))
            elif isinstance(result, BaseException):
                raise result
        return failures

    async def keep_fresh(self, pool: TokenPool, *, poll: float = POLL_SECONDS) -> None:
        """Run until cancelled: keep an access token ready for every usable API key of the pool.

        A key Cursor refuses is disabled in the pool (an operator reset, or replacing it, brings it back).
        """
        while True:
            try:
                await self._refresh_pool(pool)
            except Exception:  # a bug here must not end the refreshes for good
                log.exception("refreshing the access tokens of API keys failed")
                await asyncio.sleep(poll)
                continue
            await asyncio.sleep(self.seconds_until_due(poll))

    async def _refresh_pool(self, pool: TokenPool) -> None:
        await pool.refresh()
        keys = {
            entry.jwt: entry
            for entry in pool.entries
            if entry.kind == "api_key" and pool.state_of(entry.jwt) != "disabled"
        }
        self.track(keys)
        for key, error in await self.refresh_due():
            if error.error_class == "auth":
                entry = keys[key]
                pool.failed(Lease(entry.alias, entry.jwt, entry), "auth", f"{error.code}: {error.message}")

    # ---------------------------------------------------------------- what operators see

    def status(self, key: str) -> dict[str, object] | None:
        """The access-token side of an API key for `/api/tokens` (never the token): None if unknown."""
        state = self._keys.get(key)
        if state is None:
            return None
        now = self._clock()
        if state.rejected:
            condition = "rejected"
        elif state.access is not None and state.expires > now:
            condition = "valid"
        else:
            condition = "none"
        return {
            "state": condition,
            "expires_at": state.expires if state.access is not None else None,
            "refresh_at": state.refresh_at if state.access is not None else None,
            "exchanged_at": state.exchanged_at,
            "exchanges": state.exchanges,
            "last_error": state.last_error,
        }
