"""GET /metrics: Prometheus text format (needs a key, like every route but / and /health)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import keys


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[keys.METRICS].render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
