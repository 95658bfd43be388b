"""POST /config: read, change or reset the runtime options and the custom page contents.

The route is named `admin.config`, so it takes only the admin key (see middlewares.py).

Body `{action: get|update|reset, path, content, content_type: default|text|html,
enable_stream_check, vision_ability: none|base64|all, enable_slow_pool}`; every field but `action`
is optional. The answer is `{status, message, data: {page_content, content_type,
enable_stream_check, vision_ability, enable_slow_pool}}`, where `page_content` is the custom
content of `path` (null when the page is the built-in one or no path was given).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from aiohttp import web

from gateway import keys
from gateway.config import VisionAbility
from gateway.errors import InvalidRequest
from gateway.handlers.body import read_body
from gateway.runtime_config import (
    CONTENT_TYPES,
    VISION_CHOICES,
    ContentType,
    RuntimeConfigError,
    RuntimeOptions,
    Update,
    check_path,
)

ACTIONS = ("get", "update", "reset")


def _field(data: dict[str, Any], name: str, kind: type, label: str) -> Any:
    value = data.get(name)
    if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
        raise InvalidRequest(f"'{name}' must be {label}.", param=name, code="invalid_type")
    return value


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(name)
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"'{name}' must be one of: {', '.join(allowed)}.", param=name, code="invalid_value"
        )
    return cast(str | None, value)


def _answer(options: RuntimeOptions, path: str | None, message: str) -> web.Response:
    page = options.pages.get(path) if path is not None else None
    payload = {
        "status": "success",
        "message": message,
        "data": {
            "page_content": page.content if page else None,
            "content_type": page.content_type if page else "default",
            "enable_stream_check": options.enable_stream_check,
            "vision_ability": options.vision_ability,
            "enable_slow_pool": options.enable_slow_pool,
        },
    }
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def config_api(request: web.Request) -> web.Response:
    raw = await read_body(request)
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Invalid JSON body: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    action = _choice(data, "action", ACTIONS) or "get"
    path = _field(data, "path", str, "a string")
    content = _field(data, "content", str, "a string")
    config = request.app[keys.RUNTIME_CONFIG]
    try:
        if path is not None:
            check_path(path)
        if action == "get":
            return _answer(config.current, path, "Current configuration.")
        if action == "reset":
            options = await config.reset(path)
            done = f"Page {path} restored." if path else "Every option and page restored to its default."
            return _answer(options, path, done)
        update = Update(
            enable_stream_check=_field(data, "enable_stream_check", bool, "true or false"),
            vision_ability=cast(VisionAbility | None, _choice(data, "vision_ability", VISION_CHOICES)),
            enable_slow_pool=_field(data, "enable_slow_pool", bool, "true or false"),
            path=path,
            content_type=cast(ContentType | None, _choice(data, "content_type", CONTENT_TYPES)),
            content=content,
        )
        options = await config.update(update)
    except RuntimeConfigError as exc:
        raise InvalidRequest(str(exc), param=exc.field, code="invalid_value") from None
    return _answer(options, path, "Configuration saved and applied.")
