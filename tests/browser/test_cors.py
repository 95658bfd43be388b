"""CORS in headless Chromium: a page on another origin streams a chat from the gateway with `fetch`,
and with the official OpenAI and Anthropic SDKs (Chat Completions, Messages), when its origin is
in CORS_ORIGINS, and is refused when it is not. Screenshots go to `tests/artifacts/browser/cors/`.

The page and the SDK bundle (esbuild, from the pinned packages of `package.json`) are served by a
second small server on another port: `http://127.0.0.1:<port>` is allowed, the same server reached
as `http://refused.test:<port>` (mapped to 127.0.0.1 inside Chromium) is not.
"""

from __future__ import annotations

import subprocess
from typing import Final

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.cors import allowed_request_headers
from tests.browser.support import ARTIFACTS, HERE, drive, ensure_packages
from tests.conftest import API_KEY, MODEL, fixed_pool
from tests.fakes import CursorSimulator, SimConfig, make_jwt, start_http

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REFUSED_HOST: Final = "refused.test"
PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>A browser client on another origin</title></head>
<body><h1>A browser client on another origin</h1><pre id="out">not run yet</pre></body></html>
"""


def bundle(target) -> None:
    """The SDKs as one browser module, the way a web app ships them."""
    subprocess.run(
        [
            str(HERE / "node_modules" / ".bin" / "esbuild"),
            str(HERE / "sdks.mjs"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--log-level=error",
            f"--outfile={target}",
        ],
        check=True,
        timeout=120,
    )


async def test_a_page_on_another_origin(aiohttp_server, make_settings, tmp_path) -> None:
    ensure_packages()
    bundle(tmp_path / "sdks.js")

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def sdks(_: web.Request) -> web.FileResponse:
        return web.FileResponse(tmp_path / "sdks.js")

    site = web.Application()
    site.router.add_get("/", page)
    site.router.add_get("/sdks.js", sdks)
    pages = await aiohttp_server(site)
    allowed = f"http://127.0.0.1:{pages.port}"

    sim = CursorSimulator(SimConfig(seed=0))
    front = await start_http(sim, "127.0.0.1", 0)
    settings = make_settings(cors_origins=allowed, cursor_base_url=front.url, upstream_http_version="1.1")
    gateway_app = create_app(settings, pool=fixed_pool(make_jwt()))
    answered: list[dict[str, str | int]] = []

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        answered.append(
            {
                "method": request.method,
                "path": request.path,
                "origin": request.headers.get("Origin", ""),
                "asked": request.headers.get("Access-Control-Request-Headers", ""),
                "status": response.status,
                "allow_origin": response.headers.get("Access-Control-Allow-Origin", ""),
                "allow_headers": response.headers.get("Access-Control-Allow-Headers", ""),
            }
        )

    gateway_app.on_response_prepare.append(note)
    gateway = await aiohttp_server(gateway_app)
    artifacts = ARTIFACTS / "cors"
    artifacts.mkdir(parents=True, exist_ok=True)
    config = {
        "gateway": str(gateway.make_url("")).rstrip("/"),
        "allowedPage": f"{allowed}/",
        "refusedPage": f"http://{REFUSED_HOST}:{pages.port}/",
        "refusedHost": REFUSED_HOST,
        "apiKey": API_KEY,
        "model": MODEL,
        "artifacts": str(artifacts),
    }
    try:
        seen = await drive("cors.mjs", config, tmp_path)
    finally:
        await front.close()

    ok = seen["allowed"]
    # The only console line is the wrong key's 401, which the page then reads.
    assert seen["errors"]["allowed"] == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    assert ok["status"] == 200 and ok["contentType"].startswith("text/event-stream") and ok["done"] is True
    assert ok["text"] == "You said: hello from another origin"
    assert len(ok["requestId"]) == 32 and float(ok["overheadMs"]) >= 0  # exposed to the page
    assert ok["error"]["status"] == 401 and ok["error"]["body"]["error"]["code"] == "invalid_api_key"
    assert ok["openai"] == "You said: hello from the SDK"
    assert ok["anthropicModels"] >= 10 and ok["anthropic"] == "You said: hello from Claude's SDK"

    refused = seen["refused"]
    assert refused["origin"] == config["refusedPage"].rstrip("/")
    assert "Failed to fetch" in refused["fetchError"] and "Failed to fetch" in refused["errorFetchError"]
    assert "Connection error" in refused["openaiError"] and "Connection error" in refused["anthropicError"]
    assert any("CORS policy" in line for line in seen["errors"]["refused"])

    # The gateway's side: every preflight of the allowed page was answered with all it asked for
    # (the SDKs' own headers included), and the refused page never got past its preflights.
    preflights = [a for a in answered if a["method"] == "OPTIONS" and a["origin"] == allowed]
    assert len(preflights) >= 3 and all(a["status"] == 204 for a in preflights)
    for preflight in preflights:
        asked = str(preflight["asked"])
        assert allowed_request_headers(asked).split(", ") == [h.strip().lower() for h in asked.split(",")]
        assert preflight["allow_headers"] == allowed_request_headers(asked)
    asked_by_sdks = {h.strip().lower() for a in preflights for h in str(a["asked"]).split(",")}
    assert {
        "authorization",
        "content-type",
        "anthropic-version",
        "anthropic-dangerous-direct-browser-access",
        "x-stainless-os",
        "x-stainless-timeout",
    } <= asked_by_sdks
    from_allowed = [a for a in answered if a["origin"] == allowed and a["method"] != "OPTIONS"]
    assert {(a["method"], a["path"], a["status"]) for a in from_allowed} == {
        ("POST", "/v1/chat/completions", 200),
        ("GET", "/v1/models", 401),
        ("GET", "/v1/models", 200),
        ("POST", "/v1/messages", 200),
    }
    assert all(a["allow_origin"] == allowed for a in from_allowed)
    from_refused = [a for a in answered if REFUSED_HOST in str(a["origin"])]
    assert from_refused and all(
        a["method"] == "OPTIONS" and a["status"] == 403 and a["allow_origin"] == "" for a in from_refused
    )
    assert sorted(p.name for p in artifacts.glob("*.png")) == ["allowed-origin.png", "refused-origin.png"]
