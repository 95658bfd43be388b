"""GET /v1/models: the models on offer (Cursor's live list when known), each with a `-thinking` twin;
GET /v1/models/{model_id}: one of them (the SDKs' `models.retrieve`), or 404 `model_not_found`."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway import keys
from gateway.chat.catalog import model_entry
from gateway.errors import ModelNotFound


async def list_models(request: web.Request) -> web.Response:
    models = await request.app[keys.MODELS].models()
    body = orjson.dumps({"object": "list", "data": [model_entry(info) for info in models.values()]})
    return web.Response(body=body, content_type="application/json")


async def retrieve_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    info = await request.app[keys.MODELS].resolve(model_id)
    if info is None:
        raise ModelNotFound(model_id, status=404)
    return web.Response(body=orjson.dumps(model_entry(info)), content_type="application/json")
