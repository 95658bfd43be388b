"""The dashboard's numbers: windows and buckets, percentiles, errors, usage by model and by token,
the empty log, and the covering index (also on a database made by an earlier version)."""

from __future__ import annotations

import math
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.reqlog import stats
from gateway.reqlog.record import RequestRecord
from gateway.reqlog.sink import DB_NAME, RequestLog, Retention
from gateway.reqlog.stats import WINDOWS, Percentiles, Usage, bounds, percentile, top

NOW = 1_800_000_000.0  # a whole hour in UTC: 2027-01-15T08:00:00Z
HOUR, DAY, WEEK = WINDOWS["hour"], WINDOWS["day"], WINDOWS["week"]


def row(
    ts: float,
    *,
    endpoint: str = "chat_completions",
    model: str | None = "gpt-4o",
    status: int = 200,
    error: str | None = None,
    latency: float | None = 100.0,
    ttft: float | None = 50.0,
    alias: str | None = "work",
    fingerprint: str | None = "aaaa1111",
    prompt: int | None = 10,
    completion: int | None = 5,
) -> RequestRecord:
    r = RequestRecord(f"r{ts}", endpoint, ts, 0.0, model=model, stream=True)
    r.status, r.error, r.latency_ms, r.ttft_ms = status, error, latency, ttft
    if fingerprint is not None:
        r.token_alias, r.token_fingerprint = alias, fingerprint
    if prompt is not None and completion is not None:
        r.prompt_tokens, r.completion_tokens, r.total_tokens = prompt, completion, prompt + completion
    return r


@pytest.fixture
def log(tmp_path):
    sink = RequestLog(tmp_path, Retention(1e12, 1_000_000))
    sink.open()

    def add(*records: RequestRecord) -> RequestLog:
        for record in records:
            sink.submit(record)
        assert sink.flush()
        return sink

    yield add
    sink.close()


# ---------------------------------------------------------------- percentiles and windows


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (None, None, None)),
        ([7.0], (7.0, 7.0, 7.0)),
        ([1.0, 2.0], (1.0, 2.0, 2.0)),
        ([float(i) for i in range(1, 101)], (50.0, 90.0, 99.0)),
        ([float(i) for i in range(1, 11)], (5.0, 9.0, 10.0)),
    ],
)
def test_percentiles_by_nearest_rank(values, expected) -> None:
    assert tuple(Percentiles.of(values).as_dict().values()) == expected


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=300), st.integers(1, 100))
def test_percentile_is_the_smallest_value_covering_p_percent(values, p) -> None:
    ordered = sorted(values)
    value = percentile(ordered, p)
    assert value in ordered
    at_or_below = sum(v <= value for v in ordered)
    below = sum(v < value for v in ordered)
    assert at_or_below * 100 >= p * len(ordered)  # covers p %
    assert below * 100 < p * len(ordered)  # and nothing smaller does


@given(
    st.sampled_from(list(WINDOWS.values())),
    st.floats(1e9, 3e9),
    st.integers(-stats.MAX_UTC_OFFSET, stats.MAX_UTC_OFFSET),
)
def test_a_window_is_whole_buckets_on_the_viewers_clock_ending_with_now(window, now, offset) -> None:
    start, end = bounds(window, now, offset)
    assert start <= now < end and end - start == window.span
    assert math.isclose((end + offset * 60) % window.step, 0, abs_tol=1e-3) or math.isclose(
        (end + offset * 60) % window.step, window.step, abs_tol=1e-3
    )
    assert end - now <= window.step


def test_window_shapes() -> None:
    assert [(w.name, w.buckets, w.step) for w in WINDOWS.values()] == [
        ("hour", 60, 60),
        ("day", 96, 900),
        ("week", 168, 3600),
    ]
    # Half-hour time zones get buckets on their own hours.
    start, end = bounds(WEEK, NOW, 330)
    assert (start + 330 * 60) % 3600 == 0 and end == NOW + 1800


# ---------------------------------------------------------------- computed from the log


def test_an_empty_log_has_empty_buckets(log, tmp_path) -> None:
    result = log().stats(DAY, NOW)
    assert len(result.buckets) == 96 and result.requests == 0 and result.errors == 0
    assert result.latency == Percentiles() and result.ttft == Percentiles()
    assert result.by_model == [] and result.by_token == []
    assert result.buckets[0].start == result.start and result.buckets[-1].start == result.end - 900
    disabled = RequestLog(None, Retention(1, 10)).stats(HOUR, NOW)
    assert len(disabled.buckets) == 60 and disabled.requests == 0


def test_requests_and_errors_land_in_their_buckets(log) -> None:
    start, end = bounds(HOUR, NOW)
    sink = log(
        row(start),  # the first instant of the window
        row(start + 59.9),
        row(start + 60, status=502, error="upstream_error: x"),
        row(start + 61, status=200, error="upstream_disconnected: mid-stream"),  # failed in-stream
        row(start + 62, status=499, error="client_closed_request: gone"),
        row(start + 30 * 60, status=401, endpoint="models", model=None, fingerprint=None),
        row(end - 0.001),
        row(start - 0.001),  # before the window
        row(end),  # after it
    )
    result = sink.stats(HOUR, NOW)
    counts = [(b.requests, b.errors) for b in result.buckets]
    assert counts[0] == (2, 0) and counts[1] == (3, 3) and counts[30] == (1, 1) and counts[59] == (1, 0)
    assert sum(c for c, _ in counts) == result.requests == 7 and result.errors == 4


def test_latency_and_ttft_percentiles_per_bucket_and_overall(log) -> None:
    start, _ = bounds(DAY, NOW)
    first = [row(start + i, latency=float(i + 1), ttft=float(i + 1) / 10) for i in range(100)]
    second = [row(start + 900 + i, latency=1000.0 + i, ttft=None) for i in range(10)]  # failed early: no TTFT
    untimed = [
        row(start + 5, endpoint="models", model=None, latency=99999.0, ttft=None),
        row(start + 6, endpoint="anthropic.count_tokens", latency=88888.0, ttft=None),
    ]
    result = log(*first, *second, *untimed).stats(DAY, NOW)
    one, two, three = result.buckets[:3]
    assert one.requests == 102  # the model list and the token count are counted …
    assert (one.latency.p50, one.latency.p90, one.latency.p99) == (50.0, 90.0, 99.0)  # … but not timed
    assert (one.ttft.p50, one.ttft.p99) == (5.0, 9.9)
    assert (two.latency.p50, two.latency.p90) == (1004.0, 1008.0) and two.ttft == Percentiles()
    assert three.latency == Percentiles() and three.requests == 0
    assert (result.latency.p50, result.latency.p90, result.latency.p99) == (55.0, 99.0, 1008.0)
    assert result.ttft.p50 == 5.0 and result.ttft.p99 == 9.9


def test_usage_by_model_and_by_token(log) -> None:
    start, _ = bounds(WEEK, NOW)
    sink = log(
        row(start + 10, model="gpt-4o", alias="work", fingerprint="aaaa1111", prompt=100, completion=50),
        row(start + 20, model="gpt-4o", alias="home", fingerprint="bbbb2222", prompt=10, completion=5),
        row(
            start + 30,
            model="claude-4.5-sonnet",
            alias="work",
            fingerprint="aaaa1111",
            prompt=1000,
            completion=1,
        ),
        row(
            start + 40,
            model="claude-4.5-sonnet",
            status=429,
            error="rate",
            alias="home",
            fingerprint="bbbb2222",
            prompt=None,
            completion=None,
        ),
        row(
            start + 50,
            model="nope",
            status=400,
            error="model_not_found",
            fingerprint=None,
            prompt=None,
            completion=None,
        ),
        row(start + 60, endpoint="models", model=None, fingerprint=None, prompt=None, completion=None),
        row(NOW - 8 * 86400, model="old", prompt=10**6, completion=0),  # outside the week
    )
    result = sink.stats(WEEK, NOW)
    models = [(u.name, u.requests, u.errors, u.prompt_tokens, u.completion_tokens) for u in result.by_model]
    assert models == [
        ("claude-4.5-sonnet", 2, 1, 1000, 1),
        ("gpt-4o", 2, 0, 110, 55),
        (None, 1, 0, 0, 0),  # the model list names no model
        ("nope", 1, 1, 0, 0),
    ]
    tokens = [(u.name, u.key, u.requests, u.errors, u.total_tokens) for u in result.by_token]
    assert tokens == [
        ("work", "aaaa1111", 2, 0, 1151),
        ("home", "bbbb2222", 2, 1, 15),
        (None, None, 2, 1, 0),  # never sent upstream
    ]
    assert result.prompt_tokens == 1110 and result.completion_tokens == 56
    assert result.requests == 6 and result.errors == 2


def test_only_the_window_counts(log) -> None:
    sink = log(row(NOW - 30), row(NOW - 2 * 3600), row(NOW - 2 * 86400), row(NOW - 8 * 86400))
    assert [sink.stats(w, NOW).requests for w in (HOUR, DAY, WEEK)] == [1, 2, 3]


def test_the_largest_groups_are_kept_and_the_rest_summed() -> None:
    rows = [Usage(f"m{i}", requests=1, prompt_tokens=i) for i in range(15)]
    kept = top(rows, limit=5)
    assert [u.name for u in kept] == ["m14", "m13", "m12", "m11", None] and kept[-1].other
    assert kept[-1].requests == 11 and kept[-1].prompt_tokens == sum(range(11))
    assert top(rows[:5], limit=5) == sorted(rows[:5], key=lambda u: -u.prompt_tokens)


# ---------------------------------------------------------------- the index


def plans(path) -> list[str]:
    connection = sqlite3.connect(path)
    args = {"start": 0.0, "end": 1.0, "step": 60}
    try:
        return [
            " ".join(str(step[3]) for step in connection.execute(f"EXPLAIN QUERY PLAN {query}", args))
            for query in (stats._COUNTS, stats._TIMES, stats._USAGE)
        ]
    finally:
        connection.close()


def test_every_query_reads_only_a_covering_index(log, tmp_path) -> None:
    log(row(NOW))
    counts, times, usage = plans(tmp_path / DB_NAME)
    assert "USING COVERING INDEX requests_stats" in counts and "USING COVERING INDEX requests_stats" in times
    assert "USING COVERING INDEX requests_usage" in usage and "TEMP B-TREE" not in usage


def test_a_database_of_an_earlier_version_gets_the_index(tmp_path) -> None:
    old = sqlite3.connect(tmp_path / DB_NAME)
    old.executescript(
        """
        CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, request_id TEXT NOT NULL,
            endpoint TEXT NOT NULL, model TEXT, stream INTEGER, http_status INTEGER, error TEXT, latency_ms REAL,
            ttft_ms REAL, token_alias TEXT, token_fingerprint TEXT, token_masked TEXT, checksum_masked TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER, completion_tokens INTEGER,
            total_tokens INTEGER, prompt TEXT);
        CREATE INDEX requests_ts ON requests (ts);
        CREATE INDEX requests_model ON requests (model);
        """
    )
    old.execute(
        "INSERT INTO requests (ts, request_id, endpoint, model, http_status, latency_ms, prompt_tokens, "
        "completion_tokens) VALUES (?, 'old', 'chat_completions', 'gpt-4o', 200, 42.0, 3, 4)",
        (NOW - 10,),
    )
    old.commit()
    old.close()
    sink = RequestLog(tmp_path, Retention(1e12, 1000))
    sink.open()
    try:
        result = sink.stats(HOUR, NOW)
        assert result.requests == 1 and result.latency.p50 == 42.0 and result.by_model[0].total_tokens == 7
        with sqlite3.connect(tmp_path / DB_NAME) as db:
            indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {
            "requests_stats",
            "requests_usage",
            "requests_model",
        } <= indexes and "requests_ts" not in indexes
        assert all("COVERING INDEX requests_" in plan for plan in plans(tmp_path / DB_NAME))
    finally:
        sink.close()
