"""GET /v1/models: the static model catalog, each base model with its `-thinking` twin."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.chat.catalog import CATALOG, model_entry

_BODY = orjson.dumps({"object": "list", "data": [model_entry(info) for info in CATALOG.values()]})


async def list_models(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json")
