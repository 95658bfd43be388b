"""The pages in headless Chromium: load each, add a token through the form, change a config value,
see a request's log row. Screenshots go to `tests/artifacts/browser/` (git-ignored).

Needs the Debian `chromium` package (CI installs it) and npm; the pinned `playwright-core` of
`tests/browser/package.json` is installed into `tests/browser/node_modules` on first use.
"""

from __future__ import annotations

import json
from typing import Final

import pytest

from gateway.app import create_app
from tests.browser.support import ARTIFACTS, drive, ensure_packages
from tests.conftest import API_KEY, MODEL
from tests.fakes import CursorSimulator, SimConfig, make_jwt, start_http

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ADMIN: Final = "browser-admin-key"


async def test_pages_in_a_real_browser(aiohttp_server, make_settings, tmp_path) -> None:
    ensure_packages()
    sim = CursorSimulator(SimConfig(seed=0))
    front = await start_http(sim, "127.0.0.1", 0)
    first = make_jwt(sub="auth0|user_first")
    (tmp_path / ".token").write_text(f"first::{first}\n")
    settings = make_settings(auth_token=ADMIN, cursor_base_url=front.url, upstream_http_version="1.1")
    server = await aiohttp_server(create_app(settings))
    added = make_jwt(sub="auth0|user_added")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    config = {
        "base": str(server.make_url("")).rstrip("/"),
        "adminKey": ADMIN,
        "apiKey": API_KEY,
        "token": added,
        "alias": "added",
        "model": MODEL,
        "artifacts": str(ARTIFACTS),
    }
    try:
        seen = await drive("drive.mjs", config, tmp_path)
    finally:
        await front.close()
    assert seen["errors"] == []

    index = seen["pages"]["index"]
    assert index["title"] == "cursor2api" and index["baseUrl"] == f"{config['base']}/v1"
    assert index["models"] >= 10 and index["modelOpen"] is True

    tokens = seen["pages"]["tokens"]
    assert tokens["rows"] == 2 and "added" in tokens["listed"]
    assert "session" in tokens["listed"] and "ChatService" in tokens["listed"]  # kind and upstream RPC
    assert added not in json.dumps(seen)  # the page only ever shows the token masked
    token_file = (tmp_path / ".token").read_text()
    assert f"first::{first}" in token_file and f"added::{added}" in token_file  # nothing lost

    assert seen["pages"]["config"]["vision"] == "all"
    saved = json.loads((tmp_path / "data" / "runtime-config.json").read_text())
    assert saved["vision_ability"] == "all"

    assert seen["chat"]["status"] == 200 and seen["chat"]["content"] == "You said: hello from the browser"
    row = seen["pages"]["logs"]["row"]
    assert MODEL in row and "success" in row and "ChatService" in row  # the RPC that answered
    assert seen["pages"]["forgotten"] == 1

    shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    assert shots == [
        "01-status.png",
        "02-tokens-locked.png",
        "03-token-added.png",
        "04-config-saved.png",
        "05-logs.png",
        "06-key-forgotten.png",
    ]
    assert all((ARTIFACTS / name).stat().st_size > 5000 for name in shots)
