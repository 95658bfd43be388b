"""The HTML pages and their static files: status (`/`), tokens, logs and config, `/env-example`.

The pages need no key: they show nothing secret by themselves. The token, log and config pages
ask for the admin key in the browser and call the admin JSON API with it (see
`web/static/shared.js`). Any page listed in `runtime_config.CUSTOMISABLE_PATHS` can be replaced by
an operator through `POST /config`.

Every answer here, built-in or replaced, carries `PAGE_HEADERS` (a strict Content-Security-Policy,
no framing, no content sniffing): each handler is wrapped by `page()`. The `/config` page, which
undoes replacements, loads its script and style from `/static/builtin/…`, which always serves the
shipped files, so a replaced `/static/shared.js` cannot take it over.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import __version__, keys
from gateway.config import SETTINGS
from gateway.runtime_config import CUSTOMISABLE_PATHS

STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript"}
STATIC_FILES: Final = (
    "shared-styles.css",
    "shared.js",
    "tokeninfo.js",
    "config.js",
    "logs.js",
    "dashboard.css",
    "dashboard.js",
)
# The built-in pages load scripts and styles from this gateway only, and no inline script runs.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# The examples use the first of these on offer (a current model: Cursor's live name, then the seed
# alias that resolves to it), else the first model without thinking.
EXAMPLE_MODELS: Final[tuple[str, ...]] = ("claude-4.5-sonnet", "claude-sonnet-4-5-20250929")
VERSION_SOURCES: Final = {
    "feed": "from Cursor's update feed",
    "saved": "saved from Cursor's update feed by an earlier run",
    "built-in": "built in (Cursor's update feed has not answered yet)",
    "fixed": "set by CURSOR_CLIENT_VERSION",
}


def page(handler: Handler) -> Handler:
    """`handler`, with `PAGE_HEADERS` on whatever it answers (a built-in or a replaced page)."""

    @functools.wraps(handler)
    async def secured(request: web.Request) -> web.StreamResponse:
        return _secured(await handler(request))

    return secured


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(PAGE_HEADERS)
    return response


def base_url(request: web.Request) -> str:
    """The API base URL as this client reached the gateway (behind a proxy only if trusted)."""
    settings = request.app[keys.SETTINGS]
    scheme, host = request.scheme, request.host
    if settings.trust_forwarded_headers:
        scheme = request.headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip() or scheme
        host = request.headers.get("X-Forwarded-Host", host).split(",")[0].strip() or host
    host = host.encode("utf-8", "replace").decode("utf-8")  # a Host header is client input
    return f"{scheme}://{host}{settings.route_prefix}/v1"


def custom_page(request: web.Request, path: str) -> web.Response | None:
    """The operator's replacement for the page at `path`, if there is one."""
    page = request.app[keys.RUNTIME_CONFIG].current.pages.get(path)
    if page is None:
        return None
    kind = "text/html" if page.content_type == "html" else "text/plain"
    return web.Response(text=page.content, content_type=kind)


def render(
    request: web.Request, template: str, name: str, *, builtin_assets: bool = False, **context: Any
) -> web.Response:
    """The page from `template`; `builtin_assets` loads the shipped script and style, never a replaced one."""
    prefix = request.app[keys.SETTINGS].route_prefix
    static = f"{prefix}/static/builtin" if builtin_assets else f"{prefix}/static"
    context.update(prefix=prefix, static=static, page=name)
    response = aiohttp_jinja2.render_template(template, request, context)
    _secured(response)  # HTML rendered anywhere (pages, the dashboard's fragment) carries the headers
    return response


def _uptime(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


def _key_hint(request: web.Request) -> str:
    settings = request.app[keys.SETTINGS]
    if settings.api_key == "0000":
        return "the default key 0000 (accepted only while the gateway listens on a loopback address; set API_KEY)"
    return "the value of API_KEY on this gateway (ask its operator; it is never shown here)"


@page
async def index(request: web.Request) -> web.StreamResponse:
    custom = custom_page(request, "/")
    if custom is not None:
        return custom
    settings = request.app[keys.SETTINGS]
    pool = request.app[keys.POOL]
    await pool.refresh()
    options = request.app[keys.RUNTIME_CONFIG].current
    models = list((await request.app[keys.MODELS].models()).values())
    offered = {m.id for m in models}
    example = next((m for m in EXAMPLE_MODELS if m in offered), None) or next(
        (m.id for m in models if not m.thinking), EXAMPLE_MODELS[0]
    )
    client_version = request.app[keys.CLIENT_VERSION].current
    return render(
        request,
        "index.html",
        "index",
        version=__version__,
        uptime=_uptime(time.time() - request.app[keys.STARTED_AT]),
        base_url=base_url(request),
        key_hint=_key_hint(request),
        token_count=pool.size,
        counts=pool.counts(),
        token_file=settings.token_file,
        demo=settings.demo,
        admin_enabled=bool(settings.auth_token),
        tool_mode=settings.tool_mode,
        kilo_strict=settings.kilo_tool_strict,
        thinking_output=settings.thinking_output,
        vision=options.vision_ability,
        models=models,
        example_model=example,
        client_version=client_version.version,
        client_version_source=VERSION_SOURCES[client_version.source],
    )


@page
async def tokeninfo_page(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    return custom_page(request, "/tokeninfo") or render(
        request,
        "tokeninfo.html",
        "tokeninfo",
        token_file=Path(settings.token_file).name,
        token_list_file=Path(settings.token_list_file).name,
    )


@page
async def logs_page(request: web.Request) -> web.StreamResponse:
    return custom_page(request, "/logs") or render(request, "logs.html", "logs")


@page
async def config_page(request: web.Request) -> web.StreamResponse:
    return render(request, "config.html", "config", builtin_assets=True, customisable=CUSTOMISABLE_PATHS)


def env_example_text() -> str:
    """Every setting with its default and help, rendered from the settings registry."""
    blocks = [f"# {setting.help}\n{setting.name}={setting.default}\n" for setting in SETTINGS]
    return "# cursor2api settings (copy to .env); each line shows the default.\n\n" + "\n".join(blocks)


@page
async def env_example(request: web.Request) -> web.StreamResponse:
    return custom_page(request, "/env-example") or web.Response(
        text=env_example_text(), content_type="text/plain"
    )


@page
async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    custom = custom_page(request, f"/static/{name}")
    if custom is not None:
        custom.content_type = STATIC_TYPES[Path(name).suffix]
        return custom
    return _shipped(request, name)


@page
async def builtin_static_file(request: web.Request) -> web.StreamResponse:
    """A static file as shipped, whatever `POST /config` replaced (the `/config` page uses these)."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return _shipped(request, name)


def _shipped(request: web.Request, name: str) -> web.FileResponse:
    path = request.app[keys.WEB_DIR] / "static" / name
    return web.FileResponse(
        path, headers={"Content-Type": STATIC_TYPES[path.suffix], "Cache-Control": "no-cache"}
    )
