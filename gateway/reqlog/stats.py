"""The dashboard's numbers, computed from the request log for the last hour, day or week.

For one window: requests and errors per time bucket, latency and time-to-first-token percentiles
(p50, p90, p99; nearest rank, exact) per bucket and over the window, and estimated usage (the
prompt and completion tokens of the log rows) by model and by Cursor token. `compute()` runs three
queries on a read connection, all answered from covering indexes (`requests_stats` and
`requests_usage`, see `sink.py`), so the table itself (with its prompts) is never read:

1. requests and errors per bucket (`GROUP BY` in SQLite);
2. latency and time to first token of every timed row, sorted per bucket in Python (the values of
   a window are at most LOG_MAX_ROWS floats);
3. requests, errors and tokens per (model, token), folded here into the two usage tables.

Buckets are aligned to the viewer's clock (`utc_offset`, minutes east of UTC), so a day's
buckets start on the quarter hour and a week's on the hour where the viewer is. Blocking: callers
run it in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

# A failed request: an HTTP error, or an error inside a started stream (also used by `sink.query`).
FAILED_SQL: Final = "(error IS NOT NULL OR http_status >= 400)"
# Endpoints whose rows are counted but not timed (a model list or a token count is not an answer
# to wait for).
UNTIMED_ENDPOINTS: Final = ("models", "anthropic.count_tokens")
PERCENTILES: Final = (50, 90, 99)
MAX_GROUPS: Final = 10  # usage rows per table; the rest are summed into one "other" row
MAX_UTC_OFFSET: Final = 14 * 60


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    span: int  # seconds
    step: int  # seconds per bucket

    @property
    def buckets(self) -> int:
        return self.span // self.step


WINDOWS: Final = {
    "hour": Window("hour", 3600, 60),
    "day": Window("day", 86400, 900),
    "week": Window("week", 7 * 86400, 3600),
}


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, ordered: Sequence[float]) -> Percentiles:
        return cls(*(percentile(ordered, p) for p in PERCENTILES))

    def as_dict(self) -> dict[str, float | None]:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99}


def percentile(ordered: Sequence[float], p: int) -> float | None:
    """The nearest-rank `p`th percentile of sorted values: the smallest value with at least `p`% of
    the values at or below it (None when there are none)."""
    if not ordered:
        return None
    rank = (p * len(ordered) + 99) // 100  # ceil(p/100 * n) in integers
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float
    requests: int = 0
    errors: int = 0
    latency: Percentiles = Percentiles()
    ttft: Percentiles = Percentiles()


@dataclass(slots=True)
class Usage:
    """One row of a usage table: a model, or a token (`name` its alias, `key` its fingerprint)."""

    name: str | None
    key: str | None = None
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    other: bool = False  # the sum of the rows beyond MAX_GROUPS

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, requests: int, errors: int, prompt: int, completion: int) -> None:
        self.requests += requests
        self.errors += errors
        self.prompt_tokens += prompt
        self.completion_tokens += completion


@dataclass(frozen=True, slots=True)
class Stats:
    window: Window
    start: float
    end: float
    utc_offset: int
    buckets: list[Bucket]
    latency: Percentiles = Percentiles()
    ttft: Percentiles = Percentiles()
    by_model: list[Usage] = field(default_factory=list)
    by_token: list[Usage] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(b.requests for b in self.buckets)

    @property
    def errors(self) -> int:
        return sum(b.errors for b in self.buckets)

    @property
    def prompt_tokens(self) -> int:
        return sum(u.prompt_tokens for u in self.by_model)

    @property
    def completion_tokens(self) -> int:
        return sum(u.completion_tokens for u in self.by_model)


def bounds(window: Window, now: float, utc_offset: int = 0) -> tuple[float, float]:
    """`[start, end)` of `window`: whole buckets on the viewer's clock, the last one holding `now`."""
    shift = utc_offset * 60
    end = ((now + shift) // window.step + 1) * window.step - shift
    return end - window.span, end


def empty(window: Window, now: float, utc_offset: int = 0) -> Stats:
    start, end = bounds(window, now, utc_offset)
    return Stats(
        window, start, end, utc_offset, [Bucket(start + i * window.step) for i in range(window.buckets)]
    )


_COUNTS: Final = f"""
SELECT CAST((ts - :start) / :step AS INTEGER) AS bucket, COUNT(*), SUM({FAILED_SQL})
FROM requests WHERE ts >= :start AND ts < :end GROUP BY bucket
"""  # noqa: S608 - fixed SQL
_TIMES: Final = f"""
SELECT CAST((ts - :start) / :step AS INTEGER), latency_ms, ttft_ms
FROM requests WHERE ts >= :start AND ts < :end AND endpoint NOT IN ({", ".join(f"'{e}'" for e in UNTIMED_ENDPOINTS)})
"""  # noqa: S608 - fixed SQL
# In the (model, token) order of `requests_usage` the groups arrive sorted; left to itself SQLite
# takes the time range of `requests_stats` and sorts the window's rows, about five times the work
# on a full log.
_USAGE: Final = f"""
SELECT model, token_fingerprint, MAX(token_alias), COUNT(*), SUM({FAILED_SQL}),
       TOTAL(prompt_tokens), TOTAL(completion_tokens)
FROM requests INDEXED BY requests_usage WHERE ts >= :start AND ts < :end GROUP BY model, token_fingerprint
"""  # noqa: S608 - fixed SQL


def compute(connection: sqlite3.Connection, window: Window, now: float, utc_offset: int = 0) -> Stats:
    """The statistics of `window` ending with the bucket that holds `now`."""
    start, end = bounds(window, now, utc_offset)
    args = {"start": start, "end": end, "step": window.step}
    counts = {row[0]: (row[1], row[2]) for row in connection.execute(_COUNTS, args)}
    latency: dict[int, list[float]] = defaultdict(list)
    ttft: dict[int, list[float]] = defaultdict(list)
    for bucket, latency_ms, ttft_ms in connection.execute(_TIMES, args):
        if latency_ms is not None:
            latency[bucket].append(latency_ms)
        if ttft_ms is not None:
            ttft[bucket].append(ttft_ms)
    for values in (*latency.values(), *ttft.values()):
        values.sort()
    buckets = [
        Bucket(
            start + i * window.step,
            *counts.get(i, (0, 0)),
            latency=Percentiles.of(latency.get(i, ())),
            ttft=Percentiles.of(ttft.get(i, ())),
        )
        for i in range(window.buckets)
    ]
    by_model: dict[str | None, Usage] = {}
    by_token: dict[str | None, Usage] = {}
    for model, fingerprint, alias, requests, errors, prompt, completion in connection.execute(_USAGE, args):
        numbers = (requests, errors, int(prompt), int(completion))
        by_model.setdefault(model, Usage(model)).add(*numbers)
        token = by_token.setdefault(fingerprint, Usage(alias, fingerprint))
        token.add(*numbers)
        if alias is not None and token.name is None:
            token.name = alias
    return Stats(
        window,
        start,
        end,
        utc_offset,
        buckets,
        latency=Percentiles.of(_merged(latency.values())),
        ttft=Percentiles.of(_merged(ttft.values())),
        by_model=top(by_model.values()),
        by_token=top(by_token.values()),
    )


def _merged(runs: Iterable[list[float]]) -> list[float]:
    values = [value for run in runs for value in run]
    values.sort()  # timsort merges the sorted runs in linear time
    return values


def top(rows: Iterable[Usage], limit: int = MAX_GROUPS) -> list[Usage]:
    """The rows by estimated tokens, then requests (largest first); past `limit`, one "other" row."""
    ordered = sorted(rows, key=lambda u: (-u.total_tokens, -u.requests, u.name or "", u.key or ""))
    if len(ordered) <= limit:
        return ordered
    other = Usage(None, other=True)
    for row in ordered[limit - 1 :]:
        other.add(row.requests, row.errors, row.prompt_tokens, row.completion_tokens)
    return [*ordered[: limit - 1], other]
