"""GET /health: liveness in the seed's shape, no authentication."""

from __future__ import annotations

import time

from aiohttp import web


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "timestamp": int(time.time())})
