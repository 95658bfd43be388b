"""CORS for browser clients of the API routes (every path under `<ROUTE_PREFIX>/v1/`).

Off unless CORS_ORIGINS is set (`create_app` then installs `install(app, policy)`: a middleware
for preflights and an `on_response_prepare` hook for the headers of every answer). Only the API routes take part: the pages and the admin API never send a CORS
header, so no other site can read them from a browser.

* A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on an API path is
  answered here, before authentication (browsers send preflights without the key): 204 with the
  methods of the API routes, the requested headers the API knows (the OpenAI and Anthropic SDK
  headers, `x-stainless-*`, …), `Access-Control-Max-Age`; or 403 `cors_origin_not_allowed` without
  CORS headers when the origin is not allowed, so the browser refuses and the answer says why.
* Every other answer on an API path (JSON, SSE streams, errors such as 401) carries
  `Access-Control-Allow-Origin` (the origin when it is listed, `*` when any origin is allowed, so
  no client text is ever echoed) and exposes `X-Request-Id`, `X-Gateway-Overhead-Ms` and
  `Retry-After` when the origin is allowed, and `Vary: Origin` always.
  The headers are added in `on_response_prepare`, so a stream has them when it commits.

No credentials: `Access-Control-Allow-Credentials` is never sent; the key travels in a header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from gateway.errors import CorsOriginNotAllowed

# Request headers a browser may send to the API: the auth and body headers, and what the
# official OpenAI and Anthropic SDKs add in a browser (checked against openai 7 and
# @anthropic-ai/sdk 1: `Accept`, `X-Stainless-*`, `OpenAI-Organization`, `OpenAI-Project`,
# `anthropic-version`, `anthropic-beta`, `anthropic-dangerous-direct-browser-access`,
# `Idempotency-Key`; Firefox lets them set `User-Agent` too).
ALLOWED_HEADERS: Final = frozenset(
    {"authorization", "content-type", "x-api-key", "accept", "user-agent", "idempotency-key"}
)
ALLOWED_HEADER_PREFIXES: Final = ("x-stainless-", "anthropic-", "openai-")
EXPOSED_HEADERS: Final = "X-Request-Id, X-Gateway-Overhead-Ms, Retry-After"
MAX_AGE: Final = "7200"  # seconds; Chromium caps preflight caching at two hours


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may call the API from a browser, and which paths are the API."""

    origins: frozenset[str]
    any_origin: bool
    api_prefix: str  # "<ROUTE_PREFIX>/v1/"

    @classmethod
    def of(cls, origins: tuple[str, ...], route_prefix: str) -> CorsPolicy:
        return cls(frozenset(origins) - {"*"}, "*" in origins, f"{route_prefix}/v1/")

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.lower() in self.origins

    def covers(self, request: web.Request) -> bool:
        return request.path.startswith(self.api_prefix)


def allowed_request_headers(requested: str) -> str:
    """The headers of `Access-Control-Request-Headers` the API accepts, in the order asked."""
    names = [name.strip().lower() for name in requested.split(",") if name.strip()]
    accepted = [n for n in names if n in ALLOWED_HEADERS or n.startswith(ALLOWED_HEADER_PREFIXES)]
    return ", ".join(dict.fromkeys(accepted))


def api_methods(app: web.Application, policy: CorsPolicy) -> str:
    """Every method some API route answers (the router is frozen once the app runs)."""
    methods = {
        route.method
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(policy.api_prefix)
    }
    return ", ".join(sorted(methods - {hdrs.METH_ANY}))


def _is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


def preflight_middleware(policy: CorsPolicy) -> Middleware:
    """Preflights on API paths end here, before authentication; everything else passes."""

    @web.middleware
    async def answer_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (_is_preflight(request) and policy.covers(request)):
            return await handler(request)
        if not policy.allows(request.headers[hdrs.ORIGIN]):
            raise CorsOriginNotAllowed(
                "This origin may not call the API from a browser: it is not listed in CORS_ORIGINS."
            )
        headers = {
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: api_methods(request.app, policy),
            hdrs.ACCESS_CONTROL_MAX_AGE: MAX_AGE,
        }
        requested = allowed_request_headers(request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, ""))
        if requested:
            headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = requested
        return web.Response(status=204, headers=headers)

    return answer_preflight


def response_hook(policy: CorsPolicy) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An on_response_prepare hook: the CORS headers of every answer on an API path."""

    async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
        if not policy.covers(request):
            return
        preflight = _is_preflight(request)
        vary = response.headers.get(hdrs.VARY)
        added = "Origin, Access-Control-Request-Headers" if preflight else "Origin"
        response.headers[hdrs.VARY] = f"{vary}, {added}" if vary else added
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or not policy.allows(origin):
            return
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*" if policy.any_origin else origin
        if not preflight:
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS

    return add_cors_headers
