"""GET /health, GET /v1/models and the status page."""

from __future__ import annotations

import time

from gateway.chat.catalog import CATALOG
from gateway.tokens.pool import TokenPool


async def test_health_needs_no_key(gateway):
    client, _ = await gateway()
    response = await client.get("/health", headers={"Authorization": ""})
    body = await response.json()
    assert response.status == 200 and body["status"] == "ok" and abs(body["timestamp"] - time.time()) < 5


async def test_models_list(gateway):
    client, _ = await gateway()
    body = await (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == list(CATALOG)
    assert "claude-3.5-sonnet-thinking" in ids and "claude-sonnet-4-5-20250929-thinking" in ids
    for entry in body["data"]:
        assert set(entry) == {"id", "object", "created", "owned_by", "max_tokens", "context_window"}


async def test_status_page_without_token_says_how_to_add_one(gateway, make_settings):
    settings = make_settings(api_key="super-secret-key")
    client, _ = await gateway(settings=settings, pool=TokenPool.fixed([]))
    response = await client.get("/", headers={"Authorization": ""})
    page = await response.text()
    assert response.status == 200 and "text/html" in response.headers["Content-Type"]
    assert "No Cursor token is configured" in page and settings.token_file in page
    assert "super-secret-key" not in page
    assert f"http://{client.host}:{client.port}/v1" in page
