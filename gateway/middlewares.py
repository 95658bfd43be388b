"""Request middlewares: request id + access log, error rendering, bearer-key authentication.

Order (outermost first): `request_context` gives every request an id and writes one access-log
line (with `upstream=chat|agent`, the upstream RPC that answered, on the logged routes);
`render_errors` turns every error raised before a response starts into the envelope of the
request's dialect (`dialect()`: Anthropic's on the `anthropic.` routes and for any request that
carries `anthropic-version`, OpenAI's otherwise); `refuse_encoded_bodies` answers 415 to a request
whose `Content-Encoding` is not identity, before anything reads its body (the server never
decompresses request bodies, see `server.py`);
`authenticate` checks the client key on every route that is not in `PUBLIC_ROUTES`; routes whose
name starts with `ADMIN_PREFIX` (`admin.`) take only the admin key `AUTH_TOKEN` (an API key is
refused), and answer 403 `admin_disabled` to the API key while AUTH_TOKEN is empty.

For the routes in `reqlog.record.LOGGED_ROUTES`, `request_context` also keeps a `RequestRecord`
(`request[keys.REQUEST_RECORD]`, and current for the request's task) and hands it to the request
log when the request ends, whatever the outcome (a `put_nowait`: it never waits), provided the
client's key was accepted: a refused request is counted in the metrics
(`cursor2api_requests_total{status="401"}`, `cursor2api_errors_total{code="invalid_api_key"}`)
but writes no row, so nobody without a key can push real rows out under LOG_MAX_ROWS.

Every value that comes from the client (method, path) is escaped in log lines by the formatter
(`logs.py`), so a `%0a` in a path cannot start a forged line.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import keys
from gateway.errors import (
    AdminDisabled,
    AuthenticationFailed,
    Dialect,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    RequestTooLarge,
    UnsupportedEncoding,
    anthropic_error,
)
from gateway.reqlog.record import LOGGED_ROUTES, RequestRecord, activate, deactivate

log = logging.getLogger("gateway.access")
error_log = logging.getLogger(__name__)

# Route names reachable without a key.
PUBLIC_ROUTES: Final = frozenset(
    {
        "health",
        "index",
        "page.tokeninfo",
        "page.logs",
        "page.config",
        "page.env_example",
        "page.static",
        "page.static_builtin",
    }
)
# Route names starting with this take only the admin key (AUTH_TOKEN).
ADMIN_PREFIX: Final = "admin."
# Route names starting with this speak Anthropic's Messages dialect.
ANTHROPIC_PREFIX: Final = "anthropic."
ANTHROPIC_VERSION_HEADER: Final = "anthropic-version"
REQUEST_ID_HEADER: Final = "X-Request-Id"


def dialect(request: web.Request) -> Dialect:
    """Whose error envelope the request gets: the route's dialect, or the client's."""
    name = request.match_info.route.name or ""
    if name.startswith(ANTHROPIC_PREFIX) or ANTHROPIC_VERSION_HEADER in request.headers:
        return "anthropic"
    return "openai"


def error_response(error: GatewayError, kind: Dialect = "openai") -> web.Response:
    status, body = anthropic_error(error) if kind == "anthropic" else (error.status, error.body())
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=error.response_headers(),
    )


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    request[keys.REQUEST_ID] = request_id
    started = request[keys.REQUEST_STARTED] = time.perf_counter()
    status = 500
    record = None
    endpoint_name = request.match_info.route.name
    if endpoint_name in LOGGED_ROUTES:
        settings = request.app[keys.SETTINGS]
        record = request[keys.REQUEST_RECORD] = RequestRecord(
            request_id,
            endpoint_name,
            time.time(),
            started,
            log_prompts=settings.log_prompts,
            prompt_cap=settings.log_prompt_max_chars,
        )
    context = activate(record)
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = 499  # the client went away before the answer was complete
        raise
    finally:
        deactivate(context)
        if record is not None and request.get(keys.KEY_ACCEPTED):
            record.finish(status)
            request.app[keys.REQUEST_LOG].submit(record)
        elapsed = time.perf_counter() - started
        endpoint = request.match_info.route.name or "unmatched"
        metrics = request.app[keys.METRICS]
        metrics.requests.labels(endpoint, str(status)).inc()
        metrics.duration.labels(endpoint).observe(elapsed)
        log.info(
            "request_id=%s method=%s path=%s status=%s upstream=%s duration_ms=%.1f",
            request_id,
            request.method,
            request.path,
            status,
            (record.upstream_rpc if record is not None else None) or "-",
            elapsed * 1000,
        )


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: every response, streamed or not, names its request id."""
    request_id = request.get(keys.REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


@web.middleware
async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as exc:
        error = exc
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[keys.SETTINGS].max_body_bytes
        error = RequestTooLarge(f"The request body is larger than {limit} bytes (MAX_BODY_BYTES).")
    except web.HTTPNotFound:
        error = NotFound(f"No route for {request.method} {request.path}.")
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        error = MethodNotAllowed(
            f"Method {request.method[:20]} is not allowed here; use {allowed}.", headers={"Allow": allowed}
        )
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001 - last resort: a bug still answers in the envelope
        error_log.exception("unhandled error request_id=%s", request.get(keys.REQUEST_ID))
        error = GatewayError("The gateway failed unexpectedly; see its log.", code="internal_error")
    count_error(request, error)
    return error_response(error, dialect(request))


def count_error(request: web.Request, error: GatewayError) -> None:
    """Every error reported to a client passes here: metrics, and the request's log row."""
    request.app[keys.METRICS].errors.labels(error.code or error.type).inc()
    record = request.get(keys.REQUEST_RECORD)
    if record is not None:
        record.fail(error)


def body_encoding(values: Iterable[str]) -> str | None:
    """The first content coding other than identity among `Content-Encoding` header values."""
    for value in values:
        for token in value.split(","):
            coding = token.strip().lower()
            if coding not in ("", "identity"):
                return coding
    return None


@web.middleware
async def refuse_encoded_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """415 for a compressed (or otherwise encoded) request body: no client of ours sends one, and
    inflating one costs the event loop far more than it cost the sender."""
    coding = body_encoding(request.headers.getall("Content-Encoding", ()))
    if coding is not None:
        raise UnsupportedEncoding(
            f"Request bodies with 'Content-Encoding: {coding[:40]}' are not accepted; send the body "
            "uncompressed (no Content-Encoding header, or 'Content-Encoding: identity')."
        )
    return await handler(request)


def presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    api_key = request.headers.get("x-api-key", "").strip()
    return api_key or None


def key_matches(presented: str, accepted: tuple[str, ...]) -> bool:
    """Constant-time comparison against every accepted key (no early exit on a match)."""
    # Header bytes that are not UTF-8 arrive surrogate-escaped; they simply never match.
    given = presented.encode("utf-8", "surrogateescape")
    matched = False
    for key in accepted:
        matched |= hmac.compare_digest(given, key.encode("utf-8", "surrogateescape"))
    return matched


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if route.name in PUBLIC_ROUTES or request.match_info.http_exception is not None:
        return await handler(request)
    settings = request.app[keys.SETTINGS]
    admin = (route.name or "").startswith(ADMIN_PREFIX)
    presented = presented_key(request)
    if presented is None:
        raise AuthenticationFailed(
            "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
        )
    if admin:
        if not settings.auth_token:
            if key_matches(presented, (settings.api_key,)):
                raise AdminDisabled("Admin access is disabled: set AUTH_TOKEN to use this route.")
            raise AuthenticationFailed("Incorrect API key provided.")
        if not key_matches(presented, (settings.auth_token,)):
            raise AuthenticationFailed("This route needs the admin key (AUTH_TOKEN), not an API key.")
    elif not key_matches(presented, tuple(k for k in (settings.api_key, settings.auth_token) if k)):
        raise AuthenticationFailed("Incorrect API key provided.")
    request[keys.KEY_ACCEPTED] = True
    return await handler(request)
