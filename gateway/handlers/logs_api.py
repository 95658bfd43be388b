"""POST /logs: the request log, newest first, paged and filtered (admin key AUTH_TOKEN).

Body (every field optional): `page` (from 1) and `page_size` (at most 500), or `offset` and
`limit`; filters `status` ("success" | "failure", or an HTTP status number), `model`,
`request_id`. The read runs in a worker thread; nothing here waits on the writer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from aiohttp import web

from gateway import keys
from gateway.errors import InvalidRequest
from gateway.handlers.tokens import json_object
from gateway.reqlog.sink import MAX_PAGE_SIZE, LogPage, LogQuery, RequestLog, iso

FLUSH_SECONDS: Final = 1.0
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"'{name}' must be an integer from {low} to {high}.", param=name)
    return value


def parse_query(body: dict[str, Any]) -> LogQuery:
    if "offset" in body or "limit" in body:
        offset = _int(body, "offset", 0, 0, 2**62)
        limit = _int(body, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    else:
        page = _int(body, "page", 1, 1, 2**40)
        limit = _int(body, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        offset = (page - 1) * limit
    status = body.get("status")
    outcome: str | None = None
    http_status: int | None = None
    if isinstance(status, str) and status in ("success", "failure"):
        outcome = status
    elif isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        http_status = status
    elif status not in (None, "", "all"):
        raise InvalidRequest(
            "'status' must be 'success', 'failure', 'all' or an HTTP status.", param="status"
        )
    filters: dict[str, str | None] = {}
    for name in ("model", "request_id"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"'{name}' must be a string.", param=name)
        filters[name] = value or None
    return LogQuery(offset, limit, outcome, http_status, filters["model"], filters["request_id"])


def fresh(reqlog: RequestLog, read: Callable[[], T]) -> T:
    """`read()` after the rows queued before this call are committed (briefly waited for), so a page
    shows what just happened. Blocking: run it in a worker thread."""
    reqlog.flush(FLUSH_SECONDS)
    return read()


async def query_logs(request: web.Request) -> web.Response:
    query = parse_query(await json_object(request, optional=True))
    reqlog = request.app[keys.REQUEST_LOG]
    page: LogPage = await asyncio.to_thread(fresh, reqlog, lambda: reqlog.query(query))
    return web.json_response(
        {
            "total": page.total,
            "logs": page.rows,
            "timestamp": iso(time.time()),
            "status": "success",
            "offset": query.offset,
            "limit": query.limit,
            "page": query.offset // query.limit + 1,
            "page_size": query.limit,
            "enabled": reqlog.enabled,
            "dropped": reqlog.dropped,
        }
    )
