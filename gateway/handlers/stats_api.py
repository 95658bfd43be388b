"""GET /api/stats and GET /api/stats/charts: the dashboard's numbers (admin key AUTH_TOKEN).

Query: `window` (`hour`, `day` (default) or `week`) and `utc_offset` (the viewer's clock, minutes
east of UTC, -840 to 840; buckets and time labels follow it). `/api/stats` answers JSON;
`/api/stats/charts` answers the charts as an HTML fragment (SVG and data tables, drawn by
`web/templates/stats.html` from `gateway/charts.py`), which the status and log pages fetch with the
admin key and show. The query runs in a worker thread after the rows queued so far are written.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from aiohttp import web

from gateway import charts, keys
from gateway.errors import InvalidRequest
from gateway.handlers.logs_api import fresh
from gateway.handlers.pages import page, render
from gateway.reqlog.sink import iso
from gateway.reqlog.stats import MAX_UTC_OFFSET, WINDOWS, Stats, Usage, Window

DEFAULT_WINDOW: Final = "day"


def parse_query(request: web.Request) -> tuple[Window, int]:
    name = request.query.get("window", DEFAULT_WINDOW)
    window = WINDOWS.get(name)
    if window is None:
        raise InvalidRequest(f"'window' must be one of {', '.join(WINDOWS)}.", param="window")
    raw = request.query.get("utc_offset", "0")
    try:
        offset = int(raw)
    except ValueError:
        offset = MAX_UTC_OFFSET + 1
    if not -MAX_UTC_OFFSET <= offset <= MAX_UTC_OFFSET:
        raise InvalidRequest(
            f"'utc_offset' must be whole minutes from {-MAX_UTC_OFFSET} to {MAX_UTC_OFFSET}.",
            param="utc_offset",
        )
    return window, offset


async def _stats(request: web.Request) -> tuple[Stats, float]:
    """The statistics the request asks for, and how long the query took in milliseconds."""
    window, offset = parse_query(request)
    reqlog = request.app[keys.REQUEST_LOG]

    def read() -> tuple[Stats, float]:
        started = time.perf_counter()
        stats = reqlog.stats(window, time.time(), offset)
        return stats, round((time.perf_counter() - started) * 1000, 1)

    return await asyncio.to_thread(fresh, reqlog, read)


def _usage(row: Usage, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {name: row.name}
    if name == "alias":
        entry["fingerprint"] = row.key
    return {
        **entry,
        "other": row.other,
        "requests": row.requests,
        "errors": row.errors,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
    }


def stats_body(stats: Stats) -> dict[str, Any]:
    return {
        "window": stats.window.name,
        "from": iso(stats.start),
        "to": iso(stats.end),
        "utc_offset": stats.utc_offset,
        "bucket_seconds": stats.window.step,
        "totals": {
            "requests": stats.requests,
            "errors": stats.errors,
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens,
        },
        "latency_ms": stats.latency.as_dict(),
        "ttft_ms": stats.ttft.as_dict(),
        "series": [
            {
                "start": iso(b.start),
                "requests": b.requests,
                "errors": b.errors,
                "latency_ms": b.latency.as_dict(),
                "ttft_ms": b.ttft.as_dict(),
            }
            for b in stats.buckets
        ],
        "by_model": [_usage(row, "model") for row in stats.by_model],
        "by_token": [_usage(row, "alias") for row in stats.by_token],
    }


async def stats_json(request: web.Request) -> web.Response:
    stats, query_ms = await _stats(request)
    reqlog = request.app[keys.REQUEST_LOG]
    return web.json_response(
        {"status": "success", "enabled": reqlog.enabled, "query_ms": query_ms, **stats_body(stats)}
    )


def charts_context(stats: Stats, *, enabled: bool, query_ms: float) -> dict[str, Any]:
    """What `stats.html` draws: the headline tiles and the five charts."""
    return {
        "stats": stats,
        "enabled": enabled,
        "query_ms": query_ms,
        "zone": charts.zone(stats.utc_offset),
        "tiles": charts.tiles(stats),
        "time_charts": [
            charts.requests_chart(stats),
            charts.percentile_chart(stats, "latency"),
            charts.percentile_chart(stats, "ttft"),
        ],
        "usage_charts": [charts.usage_chart(stats, "model"), charts.usage_chart(stats, "token")],
        "geometry": charts,
    }


@page
async def stats_charts(request: web.Request) -> web.StreamResponse:
    stats, query_ms = await _stats(request)
    enabled = request.app[keys.REQUEST_LOG].enabled
    return render(request, "stats.html", "stats", **charts_context(stats, enabled=enabled, query_ms=query_ms))
