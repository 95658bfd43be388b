"""GET /v1/models: the models on offer (Cursor's live list when known), each with a `-thinking` twin."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway import keys
from gateway.chat.catalog import model_entry


async def list_models(request: web.Request) -> web.Response:
    models = await request.app[keys.MODELS].models()
    body = orjson.dumps({"object": "list", "data": [model_entry(info) for info in models.values()]})
    return web.Response(body=body, content_type="application/json")
