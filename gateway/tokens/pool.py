"""The token pool: which Cursor session token the next request uses, and each token's health.

Owns selection (round-robin, least-recently-used or random over the *usable* tokens), the health
state machine of cursor-protocol.md §5.5 / §10.4, per-token counters and the masked snapshot the
admin API shows. Pure: no I/O and no aiohttp; clocks and randomness are injected. Reading and
writing the token files is a `TokenSource`'s job (`files.py`), awaited by `load()`, `refresh()`
and `save()`.

States of a token (health is keyed by the JWT, so it survives a reload of unchanged tokens):

    active                    usable
    cooling_down(until)       rate-limited: the upstream hint (Retry-After / "try again in N s"),
                              else 60 s doubling per repeated limit, capped by TOKEN_COOLDOWN_MAX;
                              an hour after "too many computers" or SUSPICIOUS_USAGE_BLOCKED
    exhausted(until)          usage limit: out for EXHAUSTED_RECHECK seconds or until an operator reset
    disabled                  auth error: kept in the files, out of rotation until an operator reset
                              (a replaced token is a new token, with fresh health)
    expired                   the JWT's `exp` is less than 60 s away (computed, never stored); a
                              user API key has no `exp` of its own (its access tokens are renewed
                              by `access.py`), so it never expires here

A plan error (a model the account may not use) skips the token for that model only, for an hour.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final, Literal, Protocol

from gateway.tokens.jwt import TokenFormatError, fingerprint, read_claims
from gateway.tokens.mask import mask_identity, mask_token
from gateway.tokens.store import Loaded, TokenEntry
from gateway.upstream.identity import TokenKind

Strategy = Literal["round-robin", "least-recently-used", "random"]
State = Literal["active", "cooling_down", "exhausted", "disabled", "expired"]
STATES: Final[tuple[State, ...]] = ("active", "cooling_down", "exhausted", "disabled", "expired")

# What went wrong with one attempt, as far as the token is concerned (see outcome.py).
FailureKind = Literal["auth", "rate", "debounce", "usage", "plan", "computers", "suspicious", "other"]

LAST_ERROR_CHARS: Final = 300


class TokenSource(Protocol):
    """Where the pool's tokens come from (the two token files); see `files.TokenFiles`."""

    async def read(self) -> tuple[int, Loaded]:
        """Read both files now: `(sequence number, result)`; raises `OSError` / `ValueError`."""
        ...

    async def changed(self) -> bool:
        """Whether the files changed since the last read (cheap; rate-limited by the source)."""
        ...

    async def save(self, tokens: str, token_list: str | None) -> tuple[int, Loaded]:
        """Replace the files' contents (None: keep `.token-list`), then read them back."""
        ...

    async def texts(self) -> tuple[str, str]:
        """The current text of `.token` and `.token-list`."""
        ...


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    strategy: Strategy = "round-robin"
    cooldown_base: float = 60.0
    cooldown_max: float = 900.0
    debounce_cooldown: float = 10.0
    exhausted_for: float = 3600.0
    computers_cooldown: float = 3600.0
    suspicious_cooldown: float = 3600.0
    plan_skip: float = 3600.0
    expiry_margin: float = 60.0


@dataclass(frozen=True, slots=True)
class Lease:
    alias: str
    jwt: str
    entry: TokenEntry

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.jwt)


@dataclass(slots=True)
class Health:
    """Mutable per-token state; `until` and `last_used_at` are monotonic, the `*_wall` twins wall time."""

    exp: int | None = None
    state: State = "active"
    until: float | None = None
    until_wall: float | None = None
    requests: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_wall: float | None = None
    last_used: float = -math.inf
    last_used_wall: float | None = None
    rate_strikes: int = 0
    plan_blocked: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """What the admin API shows of one token: never the token itself."""

    alias: str
    kind: TokenKind
    token: str  # masked
    checksum: str | None  # masked
    fingerprint: str
    exp: int | None
    state: State
    until: float | None  # wall-clock seconds when a cooldown / exhaustion ends
    requests: int
    errors: int
    last_error: str | None
    last_error_at: float | None
    last_used: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "alias": self.alias,
            "kind": self.kind,
            "token": self.token,
            "checksum": self.checksum,
            "fingerprint": self.fingerprint,
            "exp": self.exp,
            "state": self.state,
            "until": self.until,
            "requests": self.requests,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_used": self.last_used,
        }


_RETRY_TEXT: Final = re.compile(
    r"(?:try again|retry|wait)(?: it)?(?: (?:in|after))? (\d+(?:\.\d+)?)\s*"
    r"(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b",
    re.IGNORECASE,
)
_UNIT_SECONDS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0}


def retry_hint(retry_after: str | None, text: str, *, now_wall: float) -> float | None:
    """Seconds the upstream asked us to wait: `Retry-After` (seconds or HTTP date), else a
    "try again in N seconds/minutes" phrase in the error text; None when there is no hint."""
    if retry_after:
        value = retry_after.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - now_wall
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = math.nan
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    match = _RETRY_TEXT.search(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    scale = 0.001 if unit.startswith(("ms", "milli")) else _UNIT_SECONDS[unit[0]]
    return float(match.group(1)) * scale


class TokenPool:
    """The tokens of the token files (or a fixed list, for demo mode and tests) and their health."""

    def __init__(
        self,
        source: TokenSource | None = None,
        *,
        policy: PoolPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._source = source
        self.policy = policy or PoolPolicy()
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self._entries: tuple[TokenEntry, ...] = ()
        self._health: dict[str, Health] = {}
        self._next = 0
        self._applied = -1
        self.problems: tuple[str, ...] = ()

    @classmethod
    def fixed(cls, entries: Iterable[TokenEntry], **options: object) -> TokenPool:
        pool = cls(None, **options)  # type: ignore[arg-type]
        pool.replace(tuple(entries), ())
        return pool

    # ---------------------------------------------------------------- contents

    @property
    def size(self) -> int:
        return len(self._entries)

    @property
    def has_files(self) -> bool:
        return self._source is not None

    @property
    def entries(self) -> tuple[TokenEntry, ...]:
        return self._entries

    def replace(self, entries: tuple[TokenEntry, ...], problems: tuple[str, ...]) -> None:
        """Swap in a new token list; tokens that stay keep their health and counters."""
        health: dict[str, Health] = {}
        for entry in entries:
            old = self._health.get(entry.jwt)
            health[entry.jwt] = old if old is not None else Health(exp=_exp_of(entry.jwt))
        self._entries, self._health, self.problems = entries, health, problems
        if self._entries:
            self._next %= len(self._entries)
        else:
            self._next = 0

    def _apply(self, sequence: int, loaded: Loaded) -> None:
        if sequence >= self._applied:  # a slower, older read never overwrites a newer one
            self._applied = sequence
            self.replace(loaded.entries, loaded.problems)

    async def load(self) -> None:
        """Read both files now; on a read error keep serving the tokens already loaded."""
        if self._source is None:
            return
        try:
            sequence, loaded = await self._source.read()
        except (OSError, ValueError) as exc:
            self.problems = (f"token files could not be read or written: {exc}",)
            return
        self._apply(sequence, loaded)

    async def refresh(self) -> None:
        """Re-read the files if they changed on disk; cheap when called per request."""
        if self._source is not None and await self._source.changed():
            await self.load()

    async def save(self, tokens: str, token_list: str | None) -> None:
        """Replace the files' contents and reload (raises `OSError`, `ValueError`, `RuntimeError`)."""
        if self._source is None:
            raise RuntimeError("this pool has no token files")
        sequence, loaded = await self._source.save(tokens, token_list)
        self._apply(sequence, loaded)

    async def texts(self) -> tuple[str, str]:
        if self._source is None:
            raise RuntimeError("this pool has no token files")
        return await self._source.texts()

    # ---------------------------------------------------------------- selection

    def state_of(self, jwt: str) -> State:
        """The token's state now (lazily ends cooldowns and exhaustion that have run out)."""
        return self._state(self._health[jwt], self._clock(), self._wall() + self.policy.expiry_margin)

    @staticmethod
    def _state(health: Health, now: float, expires_before: float) -> State:
        if health.state in ("cooling_down", "exhausted") and health.until is not None and health.until <= now:
            health.state, health.until, health.until_wall = "active", None, None
        if health.state == "active" and health.exp is not None and health.exp <= expires_before:
            return "expired"
        return health.state

    def lease(self, *, exclude: Collection[str] = (), model: str | None = None) -> Lease | None:
        """The next usable token not in `exclude` (JWTs), per the strategy; None if there is none."""
        count = len(self._entries)
        now = self._clock()
        expires_before = self._wall() + self.policy.expiry_margin
        candidates = []
        for i, entry in enumerate(self._entries):
            if entry.identity is None or entry.jwt in exclude:
                continue
            health = self._health[entry.jwt]
            if self._state(health, now, expires_before) != "active":
                continue
            if model is not None and health.plan_blocked.get(model, -math.inf) > now:
                continue
            candidates.append(i)
        if not candidates:
            return None
        strategy = self.policy.strategy
        if strategy == "random":
            index = self._rng.choice(candidates)
        elif strategy == "least-recently-used":
            index = min(candidates, key=lambda i: (self._health[self._entries[i].jwt].last_used, i))
        else:
            index = min(candidates, key=lambda i: (i - self._next) % count)
            self._next = (index + 1) % count
        entry = self._entries[index]
        health = self._health[entry.jwt]
        health.requests += 1
        health.last_used = self._clock()
        health.last_used_wall = self._wall()
        return Lease(entry.alias, entry.jwt, entry)

    # ---------------------------------------------------------------- outcomes

    def succeeded(self, lease: Lease) -> None:
        health = self._health.get(lease.jwt)
        if health is not None:
            health.rate_strikes = 0

    def failed(
        self,
        lease: Lease,
        kind: FailureKind,
        message: str,
        *,
        hint: float | None = None,
        model: str | None = None,
    ) -> None:
        """Count a failed attempt and move the token to the state its failure calls for."""
        health = self._health.get(lease.jwt)
        if health is None:  # the token was removed from the files meanwhile
            return
        health.errors += 1
        health.last_error = message[:LAST_ERROR_CHARS]
        health.last_error_wall = self._wall()
        policy = self.policy
        if kind == "auth":
            self._set(health, "disabled", None)
        elif kind == "rate":
            if hint is None:
                hint = policy.cooldown_base * 2 ** min(health.rate_strikes, 16)
            health.rate_strikes += 1
            self._set(health, "cooling_down", min(hint, policy.cooldown_max))
        elif kind == "debounce":
            self._set(health, "cooling_down", min(hint or policy.debounce_cooldown, policy.cooldown_max))
        elif kind == "computers":
            self._set(health, "cooling_down", policy.computers_cooldown)
        elif kind == "suspicious":
            self._set(health, "cooling_down", policy.suspicious_cooldown)
        elif kind == "usage":
            self._set(health, "exhausted", policy.exhausted_for)
        elif kind == "plan" and model is not None:
            health.plan_blocked[model] = self._clock() + policy.plan_skip

    def _set(self, health: Health, state: State, seconds: float | None) -> None:
        health.state = state
        if seconds is None:
            health.until = health.until_wall = None
        else:
            seconds = max(seconds, 0.0)
            health.until = self._clock() + seconds
            health.until_wall = self._wall() + seconds

    def reset(self, alias: str) -> bool:
        """Operator reset: the token is active again, its cooldown and plan blocks forgotten."""
        for entry in self._entries:
            if entry.alias == alias or fingerprint(entry.jwt) == alias:
                health = self._health[entry.jwt]
                self._set(health, "active", None)
                health.rate_strikes = 0
                health.plan_blocked.clear()
                return True
        return False

    # ---------------------------------------------------------------- what operators see

    def snapshot(self) -> list[TokenStatus]:
        out = []
        for entry in self._entries:
            health = self._health[entry.jwt]
            state = self.state_of(entry.jwt)
            out.append(
                TokenStatus(
                    alias=entry.alias,
                    kind=entry.kind,
                    token=mask_token(entry.jwt),
                    checksum=mask_identity(entry.identity) if entry.identity is not None else None,
                    fingerprint=fingerprint(entry.jwt),
                    exp=health.exp,
                    state=state,
                    until=health.until_wall if state in ("cooling_down", "exhausted") else None,
                    requests=health.requests,
                    errors=health.errors,
                    last_error=health.last_error,
                    last_error_at=health.last_error_wall,
                    last_used=health.last_used_wall,
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATES, 0)
        for entry in self._entries:
            counts[self.state_of(entry.jwt)] += 1
        return counts

    def unavailable_reason(self) -> tuple[str, float | None]:
        """Why no token is usable, for the 503 message, and seconds until one may be again."""
        counts = self.counts()
        labels = {
            "disabled": "disabled after an auth error",
            "cooling_down": "cooling down after a rate limit",
            "exhausted": "out of usage quota",
            "expired": "expired",
            "active": "not usable for this model",
        }
        parts = [f"{n} {labels[state]}" for state, n in counts.items() if n]
        now = self._clock()
        waits = [
            h.until - now
            for h in self._health.values()
            if h.state in ("cooling_down", "exhausted") and h.until is not None and h.until > now
        ]
        wait = min(waits) if waits else None
        text = ", ".join(parts) or "none loaded"
        if wait is not None:
            text += f"; the next one is ready in {math.ceil(wait)} s"
        return text, wait


def _exp_of(jwt: str) -> int | None:
    try:
        return read_claims(jwt).exp
    except TokenFormatError:
        return None
