"""The token admin API (JSON only; admin key AUTH_TOKEN on every route).

    GET  /update-tokeninfo   reload both token files from disk
    POST /update-tokeninfo   {tokens, token_list?}: replace the files (atomic, off the loop), reload
    POST /get-tokeninfo      {reveal?}: the files' text, masked unless `reveal` is true
    GET  /checksum           a new valid 137-character checksum
    GET  /api/tokens         pool health: every token, masked, with kind, state, counters, its
                             upstream RPC and, for an API key, its access token's state (never
                             the token)
    POST /api/tokens/reset   {alias} | {aliases: [...]} | {all: true}: back to active

Malformed lines are never dropped silently: every answer that reads the files lists them in
`problems` (`<file>:<line>: <why>`, never the token text).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from gateway import keys
from gateway.errors import GatewayError, InvalidRequest
from gateway.handlers.body import read_body
from gateway.tokens.mask import mask_file_text
from gateway.tokens.pool import TokenPool
from gateway.upstream.checksum import new_identity, stored_checksum

MAX_RESET_ALIASES = 1000


class TokenFilesUnavailable(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "token_files_unavailable"


async def json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}` when `optional`."""
    raw = await read_body(request)
    if not raw.strip() and optional:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    return body


def _pool_with_files(request: web.Request) -> TokenPool:
    pool = request.app[keys.POOL]
    if not pool.has_files:
        raise TokenFilesUnavailable("This gateway runs with a fixed token list (demo mode); no token files.")
    return pool


def _file_info(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    return {"token_file": settings.token_file, "token_list_file": settings.token_list_file}


def _update_answer(request: web.Request, pool: TokenPool, message: str) -> web.Response:
    return web.json_response(
        {
            "status": "success",
            "message": message,
            **_file_info(request),
            "token_count": pool.size,
            "problems": list(pool.problems),
        }
    )


async def reload_tokens(request: web.Request) -> web.Response:
    pool = _pool_with_files(request)
    await pool.load()
    return _update_answer(request, pool, f"Reloaded {pool.size} token(s) from the token files.")


async def update_tokens(request: web.Request) -> web.Response:
    pool = _pool_with_files(request)
    body = await json_object(request)
    tokens = body.get("tokens")
    if not isinstance(tokens, str):
        raise InvalidRequest("'tokens' must be the text of the token file (a string).", param="tokens")
    token_list = body.get("token_list")
    if token_list is not None and not isinstance(token_list, str):
        raise InvalidRequest(
            "'token_list' must be the text of the token-list file (a string) or null.", param="token_list"
        )
    try:
        await pool.save(tokens, token_list)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="tokens", code="request_too_large", status=413) from None
    except OSError as exc:
        raise GatewayError(
            f"The token files could not be written: {exc}", code="token_files_write_failed"
        ) from None
    return _update_answer(request, pool, f"Saved the token files; {pool.size} token(s) loaded.")


async def get_tokens(request: web.Request) -> web.Response:
    pool = _pool_with_files(request)
    body = await json_object(request, optional=True)
    reveal = body.get("reveal", False)
    if not isinstance(reveal, bool):
        raise InvalidRequest("'reveal' must be true or false.", param="reveal")
    try:
        tokens, token_list = await pool.texts()
    except (OSError, ValueError) as exc:
        raise GatewayError(
            f"The token files could not be read: {exc}", code="token_files_read_failed"
        ) from None
    if not reveal:
        tokens, token_list = mask_file_text(tokens), mask_file_text(token_list)
    return web.json_response(
        {
            "status": "success",
            **_file_info(request),
            "tokens": tokens,
            "token_list": token_list,
            "masked": not reveal,
            "problems": list(pool.problems),
        }
    )


async def checksum(request: web.Request) -> web.Response:
    return web.json_response({"checksum": stored_checksum(new_identity(), int(time.time()))})


async def pool_health(request: web.Request) -> web.Response:
    pool = request.app[keys.POOL]
    credentials, router = request.app[keys.CREDENTIALS], request.app[keys.ROUTER]
    await pool.refresh()
    tokens = []
    for status, entry in zip(pool.snapshot(), pool.entries, strict=True):
        row = status.to_json()
        row["access"] = credentials.status(entry.jwt) if entry.kind == "api_key" else None
        row["upstream"] = router.describe(status.fingerprint, entry.kind)
        tokens.append(row)
    return web.json_response(
        {
            "status": "success",
            "strategy": pool.policy.strategy,
            "token_count": pool.size,
            "counts": pool.counts(),
            "tokens": tokens,
            "problems": list(pool.problems),
            **_file_info(request),
        }
    )


async def reset_tokens(request: web.Request) -> web.Response:
    pool = request.app[keys.POOL]
    body = await json_object(request)
    if body.get("all") is True:
        names = [entry.alias for entry in pool.entries]
    elif isinstance(body.get("alias"), str):
        names = [body["alias"]]
    elif isinstance(body.get("aliases"), list) and all(isinstance(a, str) for a in body["aliases"]):
        names = body["aliases"][:MAX_RESET_ALIASES]
    else:
        raise InvalidRequest(
            "Send {'alias': name}, {'aliases': [names]} or {'all': true}; a name may also be a fingerprint.",
            param="alias",
        )
    reset = [name for name in names if pool.reset(name)]
    unknown = [name for name in names if name not in reset]
    if unknown and not reset:
        raise InvalidRequest(
            f"No token is named {', '.join(unknown[:5])}.", param="alias", code="token_not_found"
        )
    return web.json_response(
        {"status": "success", "message": f"{len(reset)} token(s) reset.", "reset": reset, "unknown": unknown}
    )
