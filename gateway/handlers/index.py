"""GET /: a small status page (no authentication, never shows a key or a token)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway import __version__, keys
from gateway.chat.catalog import CATALOG


def base_url(request: web.Request) -> str:
    """The API base URL as this client reached the gateway."""
    prefix = request.app[keys.SETTINGS].route_prefix
    host = request.host.encode("utf-8", "replace").decode("utf-8")  # a Host header is client input
    return f"{request.scheme}://{host}{prefix}/v1"


@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    pool = request.app[keys.POOL]
    await pool.refresh()
    return {
        "version": __version__,
        "base_url": base_url(request),
        "token_count": pool.size,
        "token_file": settings.token_file,
        "demo": settings.demo,
        "default_key": settings.api_key == "0000",
        "models": list(CATALOG.values()),
        "example_model": "claude-3.5-sonnet",
    }
