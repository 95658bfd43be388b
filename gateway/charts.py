"""The dashboard's charts as geometry: what `web/templates/stats.html` draws as SVG. Pure.

The gateway draws the charts itself (no charting library, nothing for the strict CSP of the
pages to block): this module turns `reqlog.stats.Stats` into rectangles, line paths, axis ticks
and the rows of the data tables that go with each chart; the template only places them, and
jinja's autoescape covers every label (model names and token aliases are client input). Colours
are CSS classes, so light and dark themes come from the stylesheet.

Charts: requests and errors per bucket (stacked bars), latency and time to first token
percentiles per bucket (p50, p90, p99 lines), estimated tokens by model and by token (stacked
horizontal bars: prompt, completion).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from gateway.reqlog.stats import Bucket, Percentiles, Stats, Usage

ROW_H: Final = 24  # one row of a usage chart
LABEL_CHARS: Final = 22
# Time axis: a labelled tick every ... seconds (on the viewer's clock), and the label format.
TIME_TICKS: Final = {"hour": (600, "%H:%M"), "day": (3 * 3600, "%H:%M"), "week": (86400, "%a %d")}
STEP_WORDS: Final = {60: "minute", 900: "15 minutes", 3600: "hour"}
TICK_ROOM: Final = 16  # half a time label's width
DASH: Final = "\u2013"  # an en dash: no value, and time ranges


# ---------------------------------------------------------------- numbers and times as text


def count(value: float) -> str:
    """12, 1,234, 12.3k, 401k, 4.5M."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}"


def duration(ms: float | None) -> str:
    """850 ms, 1.25 s, 12.5 s, 2.0 min; an en dash when there is no value."""
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 10_000:
        return f"{ms / 1000:.2f} s"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def axis_duration(ms: float) -> str:
    """An axis label: 0, 250 ms, 1.5 s, 20 s."""
    if ms == 0:
        return "0"
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def clock(ts: float, utc_offset: int, pattern: str = "%H:%M") -> str:
    return datetime.fromtimestamp(ts + utc_offset * 60, UTC).strftime(pattern)


def zone(utc_offset: int) -> str:
    sign = "+" if utc_offset >= 0 else "-"
    hours, minutes = divmod(abs(utc_offset), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


# ---------------------------------------------------------------- frames and axes


@dataclass(frozen=True, slots=True)
class Frame:
    """A chart's SVG coordinate box (its viewBox) and the plot area inside the margins."""

    width: int
    height: int
    left: int = 56
    right: int = 12
    top: int = 10
    bottom: int = 26

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def base(self) -> int:
        return self.top + self.plot_h


WIDE: Final = Frame(1000, 220)  # the requests chart, the page's full width
HALF: Final = Frame(490, 220)  # the percentile charts, two side by side
USAGE_LABEL_W: Final = 160
USAGE_VALUE_W: Final = 56


def nice_axis(maximum: float, *, whole: bool = False, parts: int = 5) -> tuple[float, float]:
    """`(top, step)` of a value axis from 0 that holds `maximum` in at most `parts` steps of 1, 2,
    2.5 or 5 times a power of ten (no 2.5 and at least 1 for `whole` numbers)."""
    if maximum < 1e-9:  # nothing to show (or too little to tell from nothing)
        return 1.0, 1.0
    rough = maximum / parts
    power = 10.0 ** math.floor(math.log10(rough))
    factors = (1, 2, 5, 10) if whole and power < 10 else (1, 2, 2.5, 5, 10)
    step = next(f * power for f in factors if f * power >= rough * (1 - 1e-9))
    if whole:
        step = max(step, 1.0)
    return max(step * max(1, math.ceil(maximum / step - 1e-9)), maximum), step  # max(): float rounding


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixel position along the axis
    label: str


def value_ticks(frame: Frame, top: float, step: float, fmt: Callable[[float], str]) -> list[Tick]:
    """A tick every `step` from 0 to `top` on the vertical axis."""
    steps = round(top / step)
    return [Tick(round(frame.base - frame.plot_h * i / steps, 1), fmt(step * i)) for i in range(steps + 1)]


def time_ticks(frame: Frame, stats: Stats) -> list[Tick]:
    every, pattern = TIME_TICKS[stats.window.name]
    shift = stats.utc_offset * 60
    first = math.ceil((stats.start + shift) / every) * every - shift
    ticks = []
    at = first
    while at < stats.end:
        x = frame.left + frame.plot_w * (at - stats.start) / stats.window.span
        if x <= frame.width - frame.right - TICK_ROOM:  # a label at the very end would be cut off
            ticks.append(Tick(round(x, 1), clock(at, stats.utc_offset, pattern)))
        at += every
    return ticks


# ---------------------------------------------------------------- the charts


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str


@dataclass(frozen=True, slots=True)
class Column:
    """One bucket of a time chart: its bars, and a hover area with the tooltip text."""

    x: float
    w: float
    rects: list[Rect]
    tip: str


@dataclass(frozen=True, slots=True)
class Line:
    css: str
    path: str  # SVG path data; each run of two or more buckets with a value starts with "M"
    dots: list[tuple[float, float]]  # buckets with a value but no neighbour to join: drawn as dots


@dataclass(frozen=True, slots=True)
class TimeChart:
    id: str
    title: str
    description: str
    frame: Frame
    empty: str | None  # the message drawn instead of data, when there is none
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    columns: list[Column]
    lines: list[Line]
    legend: list[tuple[str, str]]  # (css class, label)
    head: list[str]  # the data table's column names
    rows: list[list[str]]  # the data table: one row per bucket with data


def _span(bucket: Bucket, stats: Stats) -> str:
    end = bucket.start + stats.window.step
    text = f"{clock(bucket.start, stats.utc_offset)}{DASH}{clock(end, stats.utc_offset)}"
    return (
        f"{clock(bucket.start, stats.utc_offset, '%a %d %b')} {text}" if stats.window.name == "week" else text
    )


def _slots(frame: Frame, stats: Stats) -> tuple[float, list[float]]:
    width = frame.plot_w / stats.window.buckets
    return width, [frame.left + i * width for i in range(stats.window.buckets)]


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def requests_chart(stats: Stats, frame: Frame = WIDE) -> TimeChart:
    """Requests per bucket as bars, the failed part stacked on top in the error colour."""
    width, xs = _slots(frame, stats)
    top, step = nice_axis(max((b.requests for b in stats.buckets), default=0), whole=True)
    bar_w = round(width - (1.0 if width >= 4 else 0.0), 2)
    columns = []
    for x, bucket in zip(xs, stats.buckets, strict=True):
        ok_h = frame.plot_h * (bucket.requests - bucket.errors) / top
        bad_h = frame.plot_h * bucket.errors / top
        rects = [
            Rect(round(x, 2), round(y, 2), bar_w, round(h, 2), css)
            for y, h, css in ((frame.base - ok_h, ok_h, "s-ok"), (frame.base - ok_h - bad_h, bad_h, "s-bad"))
            if h > 0
        ]
        errors = f", {_plural(bucket.errors, 'error')}" if bucket.errors else ""
        tip = f"{_span(bucket, stats)}: {_plural(bucket.requests, 'request')}{errors}"
        columns.append(Column(round(x, 2), round(width, 2), rects, tip))
    rate = f" ({100 * stats.errors / stats.requests:.1f} %)" if stats.requests else ""
    return TimeChart(
        id="chart-requests",
        title="Requests and errors",
        description=(
            f"{_plural(stats.requests, 'request')} and {_plural(stats.errors, 'error')}{rate} in the last "
            f"{stats.window.name}, per {STEP_WORDS[stats.window.step]}."
        ),
        frame=frame,
        empty=None if stats.requests else f"No request in the last {stats.window.name}.",
        y_ticks=value_ticks(frame, top, step, count),
        x_ticks=time_ticks(frame, stats),
        columns=columns,
        lines=[],
        legend=[("s-ok", "succeeded"), ("s-bad", "failed")],
        head=["Time", "Requests", "Errors"],
        rows=[[_span(b, stats), f"{b.requests:,}", f"{b.errors:,}"] for b in stats.buckets if b.requests],
    )


def percentile_chart(stats: Stats, which: str, frame: Frame = HALF) -> TimeChart:
    """Latency (`which` "latency") or time to first token ("ttft") per bucket: p50, p90, p99."""
    width, xs = _slots(frame, stats)
    series: list[Percentiles] = [getattr(b, which) for b in stats.buckets]
    top, step = nice_axis(max((p.p99 or 0.0 for p in series), default=0.0))
    lines = []
    for name in ("p50", "p90", "p99"):
        runs: list[list[tuple[float, float]]] = [[]]
        for x, p in zip(xs, series, strict=True):
            value: float | None = getattr(p, name)
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((round(x + width / 2, 1), round(frame.base - frame.plot_h * value / top, 1)))
        path = "".join("M" + "L".join(f"{x} {y}" for x, y in run) for run in runs if len(run) > 1)
        dots = [run[0] for run in runs if len(run) == 1]
        lines.append(Line(f"s-{name}", path, dots))
    columns = [
        Column(
            round(x, 2),
            round(width, 2),
            [],
            f"{_span(b, stats)}: p50 {duration(p.p50)}, p90 {duration(p.p90)}, p99 {duration(p.p99)}"
            if p.p50 is not None
            else f"{_span(b, stats)}: no timed request",
        )
        for x, b, p in zip(xs, stats.buckets, series, strict=True)
    ]
    overall: Percentiles = getattr(stats, which)
    title = "Latency" if which == "latency" else "Time to first token"
    return TimeChart(
        id=f"chart-{which}",
        title=title,
        description=(
            f"{title} in the last {stats.window.name}: p50 {duration(overall.p50)}, p90 {duration(overall.p90)}, "
            f"p99 {duration(overall.p99)}; per {STEP_WORDS[stats.window.step]}."
        ),
        frame=frame,
        empty=None if overall.p50 is not None else f"No timed request in the last {stats.window.name}.",
        y_ticks=value_ticks(frame, top, step, axis_duration),
        x_ticks=time_ticks(frame, stats),
        columns=columns,
        lines=lines,
        legend=[(f"s-{name}", name) for name in ("p50", "p90", "p99")],
        head=["Time", "p50", "p90", "p99"],
        rows=[
            [_span(b, stats), duration(p.p50), duration(p.p90), duration(p.p99)]
            for b, p in zip(stats.buckets, series, strict=True)
            if p.p50 is not None
        ],
    )


@dataclass(frozen=True, slots=True)
class Bar:
    y: float  # the row's top
    label: str  # shortened to fit the label column
    rects: list[Rect]
    value_x: float  # where the value is written: just past the bar
    value: str
    tip: str


@dataclass(frozen=True, slots=True)
class UsageChart:
    id: str
    title: str
    description: str
    frame: Frame
    empty: str | None
    bars: list[Bar]
    legend: list[tuple[str, str]]
    head: list[str]
    rows: list[list[str]]


def _usage_label(row: Usage, kind: str) -> str:
    if row.other:
        return "all others"
    if kind == "model":
        return row.name if row.name is not None else "(no model)"
    if row.key is None:
        return "(not sent to Cursor)"
    return f"{row.name or 'unnamed'} · {row.key}"


def usage_chart(stats: Stats, kind: str, width: int = HALF.width) -> UsageChart:
    """Estimated tokens by model (`kind` "model") or by Cursor token ("token"), largest first."""
    rows: Sequence[Usage] = stats.by_model if kind == "model" else stats.by_token
    frame = Frame(
        width, 2 * 8 + max(len(rows), 1) * ROW_H, left=USAGE_LABEL_W, right=USAGE_VALUE_W, top=8, bottom=8
    )
    top = max((u.total_tokens for u in rows), default=0) or 1  # the largest bar fills the row
    bars = []
    for i, usage in enumerate(rows):
        y = frame.top + i * ROW_H
        label = _usage_label(usage, kind)
        prompt_w = frame.plot_w * usage.prompt_tokens / top
        completion_w = frame.plot_w * usage.completion_tokens / top
        rects = [
            Rect(round(frame.left + x, 2), y + 5, round(w, 2), ROW_H - 10, css)
            for x, w, css in ((0.0, prompt_w, "s-prompt"), (prompt_w, completion_w, "s-completion"))
            if w > 0
        ]
        tip = (
            f"{label}: {usage.total_tokens:,} tokens ({usage.prompt_tokens:,} prompt, "
            f"{usage.completion_tokens:,} completion), {_plural(usage.requests, 'request')}, "
            f"{_plural(usage.errors, 'error')}"
        )
        end = round(frame.left + prompt_w + completion_w + 6, 2)
        bars.append(Bar(y, short(label), rects, end, count(usage.total_tokens), tip))
    noun = "model" if kind == "model" else "Cursor token"
    return UsageChart(
        id=f"chart-by-{kind}",
        title=f"Tokens by {noun}",
        description=(
            f"Estimated prompt and completion tokens per {noun} in the last {stats.window.name}, largest first."
        ),
        frame=frame,
        empty=None if rows else f"No request in the last {stats.window.name}.",
        bars=bars,
        legend=[("s-prompt", "prompt"), ("s-completion", "completion")],
        head=[noun.capitalize(), "Requests", "Errors", "Prompt tokens", "Completion tokens"],
        rows=[
            [
                _usage_label(u, kind),
                f"{u.requests:,}",
                f"{u.errors:,}",
                f"{u.prompt_tokens:,}",
                f"{u.completion_tokens:,}",
            ]
            for u in rows
        ],
    )


@dataclass(frozen=True, slots=True)
class Tile:
    label: str
    value: str
    detail: str
    css: str = ""


def tiles(stats: Stats) -> list[Tile]:
    """The headline numbers above the charts."""
    rate = 100 * stats.errors / stats.requests if stats.requests else 0.0
    return [
        Tile("Requests", f"{stats.requests:,}", f"last {stats.window.name}"),
        Tile("Errors", f"{stats.errors:,}", f"{rate:.1f} % of requests", "bad" if stats.errors else ""),
        Tile(
            "Latency p50",
            duration(stats.latency.p50),
            f"p90 {duration(stats.latency.p90)} · p99 {duration(stats.latency.p99)}",
        ),
        Tile(
            "First token p50",
            duration(stats.ttft.p50),
            f"p90 {duration(stats.ttft.p90)} · p99 {duration(stats.ttft.p99)}",
        ),
        Tile(
            "Tokens (estimated)",
            count(stats.prompt_tokens + stats.completion_tokens),
            f"{count(stats.prompt_tokens)} prompt · {count(stats.completion_tokens)} completion",
        ),
    ]
