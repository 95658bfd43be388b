"""The dashboard's chart geometry: axes, bars, percentile lines with gaps, usage bars, labels."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import charts
from gateway.reqlog.stats import WINDOWS, Bucket, Percentiles, Stats, Usage, bounds, empty

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a Friday


def span(start: str, end: str) -> str:
    return f"{start}{charts.DASH}{end}"


def stats_with(window: str = "day", offset: int = 0, **changes) -> Stats:
    base = empty(WINDOWS[window], NOW - 1, offset)
    buckets = list(base.buckets)
    for index, bucket in changes.pop("buckets", {}).items():
        buckets[index] = Bucket(base.buckets[index].start, *bucket)
    return Stats(base.window, base.start, base.end, offset, buckets, **changes)


@given(st.floats(0, 1e9), st.booleans())
def test_nice_axis_holds_the_maximum_in_at_most_five_round_steps(maximum, whole) -> None:
    top, step = charts.nice_axis(maximum, whole=whole)
    assert top >= maximum and top / step <= 5 + 1e-9 and math.isclose(top / step, round(top / step))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
    if whole:
        assert step >= 1 and step == int(step)


@pytest.mark.parametrize(
    ("maximum", "whole", "axis"),
    [
        (0, True, (1, 1)),
        (1, True, (1, 1)),
        (22, True, (25, 5)),
        (7, True, (8, 2)),
        (17000, False, (20000, 5000)),
    ],
)
def test_nice_axis_examples(maximum, whole, axis) -> None:
    assert charts.nice_axis(maximum, whole=whole) == axis


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, charts.DASH),
        (12.4, "12 ms"),
        (999.4, "999 ms"),
        (1234, "1.23 s"),
        (45_600, "45.6 s"),
        (150_000, "2.5 min"),
    ],
)
def test_durations(ms, text) -> None:
    assert charts.duration(ms) == text


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (1234, "1,234"), (12_345, "12.3k"), (401_000, "401k"), (2.5e6, "2.5M")]
)
def test_counts(value, text) -> None:
    assert charts.count(value) == text


def test_request_bars_stack_errors_on_successes() -> None:
    chart = charts.requests_chart(stats_with(buckets={0: (10, 0), 5: (20, 5), 95: (1, 1)}))
    frame = chart.frame
    assert len(chart.columns) == 96
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10", "15", "20"]
    ok, bad = chart.columns[5].rects
    assert (ok.css, bad.css) == ("s-ok", "s-bad")
    assert math.isclose(ok.h, frame.plot_h * 15 / 20, abs_tol=0.01) and math.isclose(
        bad.h, frame.plot_h * 5 / 20, abs_tol=0.01
    )
    assert math.isclose(ok.y + ok.h, frame.base, abs_tol=0.01) and math.isclose(
        bad.y + bad.h, ok.y, abs_tol=0.01
    )
    assert [r.css for r in chart.columns[0].rects] == ["s-ok"] and chart.columns[1].rects == []
    assert [r.css for r in chart.columns[95].rects] == ["s-bad"]
    assert chart.columns[5].tip == f"{span('09:15', '09:30')}: 20 requests, 5 errors"
    assert chart.rows == [
        [span("08:00", "08:15"), "10", "0"],
        [span("09:15", "09:30"), "20", "5"],
        [span("07:45", "08:00"), "1", "1"],
    ]
    assert chart.empty is None and "31 requests and 6 errors (19.4 %)" in chart.description


def test_an_empty_window_says_so() -> None:
    stats = stats_with("hour")
    for chart in (charts.requests_chart(stats), charts.percentile_chart(stats, "latency")):
        assert (
            chart.empty == "No request in the last hour."
            or chart.empty == "No timed request in the last hour."
        )
        assert chart.rows == []
    usage = charts.usage_chart(stats, "model")
    assert usage.bars == [] and usage.empty and usage.frame.height > 0


def test_percentile_lines_break_where_a_bucket_has_no_value() -> None:
    timed = Percentiles(100.0, 200.0, 400.0)
    buckets = {0: (1, 0, timed), 1: (1, 0, timed), 3: (1, 0, Percentiles(50.0, 60.0, 70.0)), 5: (1, 1)}
    chart = charts.percentile_chart(stats_with(buckets=buckets, latency=timed), "latency")
    p50 = next(line for line in chart.lines if line.css == "s-p50")
    assert p50.path.count("M") == 1 and p50.path.count("L") == 1  # buckets 0-1 joined …
    assert len(p50.dots) == 1 and p50.dots[0][0] > float(p50.path.split("L")[1].split()[0])  # … 3 alone
    assert [t.label for t in chart.y_ticks][-1] == "400 ms"
    ys = [float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", p50.path)]
    frame = chart.frame
    assert math.isclose(ys[0], frame.base - frame.plot_h * 100 / 400, abs_tol=0.1)
    assert chart.columns[5].tip.endswith("no timed request")
    assert chart.rows[0] == [span("08:00", "08:15"), "100 ms", "200 ms", "400 ms"] and len(chart.rows) == 3


def test_usage_bars_are_proportional_and_labelled() -> None:
    rows = [
        Usage("claude-4.5-sonnet", requests=3, prompt_tokens=800, completion_tokens=200),
        Usage("<b>odd</b>", requests=1, prompt_tokens=100, completion_tokens=0),
        Usage(None, requests=2, other=True, prompt_tokens=1, completion_tokens=1),
    ]
    chart = charts.usage_chart(stats_with(by_model=rows), "model")
    big, odd, other = chart.bars
    frame = chart.frame
    assert math.isclose(sum(r.w for r in big.rects), frame.plot_w, abs_tol=0.02)  # the largest fills the row
    assert math.isclose(sum(r.w for r in odd.rects), frame.plot_w / 10, abs_tol=0.02)
    assert [r.css for r in big.rects] == ["s-prompt", "s-completion"] and odd.label == "<b>odd</b>"
    assert other.label == "all others" and big.value == "1,000"
    assert chart.rows[0] == ["claude-4.5-sonnet", "3", "0", "800", "200"]
    tokens = charts.usage_chart(
        stats_with(by_token=[Usage("work", "5e8f0c1a", 1), Usage(None, None, 4)]), "token"
    )
    assert [b.label for b in tokens.bars] == ["work · 5e8f0c1a", "(not sent to Cursor)"]


def test_long_labels_are_shortened_for_the_chart_only() -> None:
    name = "a-model-name-far-too-long-for-the-label-column"
    chart = charts.usage_chart(stats_with(by_model=[Usage(name, requests=1, prompt_tokens=1)]), "model")
    assert chart.bars[0].label == name[:21] + "…" and name in chart.bars[0].tip and chart.rows[0][0] == name


@pytest.mark.parametrize(
    ("window", "offset", "labels"),
    [
        ("hour", 0, ["07:00", "07:10", "07:20", "07:30", "07:40", "07:50"]),
        ("day", 120, ["12:00", "15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00"]),
        ("week", 0, ["Sat 09", "Sun 10", "Mon 11", "Tue 12", "Wed 13", "Thu 14", "Fri 15"]),
    ],
)
def test_time_ticks_follow_the_viewers_clock(window, offset, labels) -> None:
    stats = stats_with(window, offset)
    ticks = charts.time_ticks(charts.WIDE, stats)
    assert [t.label for t in ticks] == labels
    frame = charts.WIDE
    assert all(frame.left <= t.at <= frame.width - frame.right for t in ticks)


def test_tiles() -> None:
    stats = stats_with(
        buckets={0: (4, 1)},
        latency=Percentiles(1500.0, 2000.0, 9000.0),
        by_model=[Usage("m", requests=4, errors=1, prompt_tokens=12_000, completion_tokens=500)],
    )
    tiles = {t.label: t for t in charts.tiles(stats)}
    assert tiles["Requests"].value == "4" and tiles["Errors"].detail == "25.0 % of requests"
    assert tiles["Errors"].css == "bad" and tiles["Latency p50"].value == "1.50 s"
    assert (
        tiles["Latency p50"].detail == "p90 2.00 s · p99 9.00 s"
        and tiles["First token p50"].value == charts.DASH
    )
    assert tiles["Tokens (estimated)"].value == "12.5k"


def test_zone_names() -> None:
    assert [charts.zone(m) for m in (0, 120, -330, 345)] == [
        "UTC+00:00",
        "UTC+02:00",
        "UTC-05:30",
        "UTC+05:45",
    ]
    assert bounds(WINDOWS["day"], NOW, 0)[1] == NOW + 900
