"""GET /v1/models: the models on offer (Cursor's live list when known), each with a `-thinking` twin;
GET /v1/models/{model_id}: one of them (the SDKs' `models.retrieve`), or 404 `model_not_found`.

A request that carries `anthropic-version` gets Anthropic's shapes, and paging of the list (`limit`
1-1000, default 20; `after_id`, `before_id`); others get OpenAI's.
"""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web

from gateway import keys
from gateway.chat.catalog import anthropic_model_entry, anthropic_model_page, model_entry
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.middlewares import ANTHROPIC_VERSION_HEADER
from gateway.neutral.model import ModelInfo

ANTHROPIC_PAGE: Final = (1, 1000, 20)  # limit: least, most, default


async def list_models(request: web.Request) -> web.Response:
    models = await request.app[keys.MODELS].models()
    if ANTHROPIC_VERSION_HEADER in request.headers:
        body = orjson.dumps(_anthropic_page(request, list(models.values())))
    else:
        body = orjson.dumps({"object": "list", "data": [model_entry(info) for info in models.values()]})
    return web.Response(body=body, content_type="application/json")


async def retrieve_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    info = await request.app[keys.MODELS].resolve(model_id)
    if info is None:
        raise ModelNotFound(model_id, status=404)
    entry = anthropic_model_entry(info) if ANTHROPIC_VERSION_HEADER in request.headers else model_entry(info)
    return web.Response(body=orjson.dumps(entry), content_type="application/json")


def _anthropic_page(request: web.Request, models: list[ModelInfo]) -> dict[str, object]:
    least, most, default = ANTHROPIC_PAGE
    raw = request.query.get("limit")
    limit = default
    if raw is not None:
        if not raw.isdigit() or not least <= int(raw) <= most:
            raise InvalidRequest(f"'limit' must be an integer from {least} to {most}.", param="limit")
        limit = int(raw)
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if after is not None and before is not None:
        raise InvalidRequest("Send at most one of 'after_id' and 'before_id'.", param="after_id")
    page = anthropic_model_page(models, limit=limit, after_id=after, before_id=before)
    if page is None:
        name = "after_id" if after is not None else "before_id"
        raise InvalidRequest(f"'{name}' names a model that is not offered.", param=name)
    return page
