"""Authentication on every non-public route, error envelope for routing errors, request ids."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app import create_app
from gateway.middlewares import PUBLIC_ROUTES, key_matches
from tests.conftest import API_KEY, fixed_pool
from tests.scripted import ScriptedTransport


@pytest.fixture
async def bare_client(aiohttp_client, make_settings):
    async def start(**overrides):
        app = create_app(make_settings(**overrides), transport=ScriptedTransport(), pool=fixed_pool())
        return await aiohttp_client(app), app

    return start


async def test_every_non_public_route_needs_a_key(bare_client):
    client, app = await bare_client()
    checked = 0
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical.replace("{name}", "shared.js")  # the one path parameter
        response = await client.request(route.method, path)
        if route.name in PUBLIC_ROUTES:
            assert response.status == 200, path
        else:
            assert response.status == 401, path
            error = (await response.json())["error"]
            if (route.name or "").startswith("anthropic."):  # Anthropic's envelope has no code
                assert error["type"] == "authentication_error" and set(error) == {"type", "message"}
            else:
                assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {API_KEY}"},
        {"authorization": f"bearer {API_KEY}"},
        {"x-api-key": API_KEY},
        {"Authorization": "Bearer admin-secret"},
    ],
)
async def test_accepted_keys(bare_client, headers):
    client, _ = await bare_client(auth_token="admin-secret")
    assert (await client.get("/v1/models", headers=headers)).status == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}, {"Authorization": "Bearer "}],
)
async def test_refused_keys(bare_client, headers):
    client, _ = await bare_client()
    response = await client.get("/v1/models", headers=headers)
    assert response.status == 401


async def test_empty_admin_token_is_not_a_key(bare_client):
    client, _ = await bare_client(auth_token="")
    assert (await client.get("/v1/models", headers={"Authorization": "Bearer "})).status == 401


def test_key_matches_is_exact():
    assert key_matches("abc", ("x", "abc"))
    assert not key_matches("ab", ("abc",)) and not key_matches("abcd", ("abc",))


async def test_unknown_route_and_wrong_method_use_the_envelope(bare_client):
    client, _ = await bare_client()
    response = await client.get("/v2/nothing")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await client.get("/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_route_prefix(bare_client):
    client, _ = await bare_client(route_prefix="/cursor")
    assert (await client.get("/cursor/health")).status == 200
    assert (await client.get("/health")).status == 404
    assert (await client.get("/cursor/v1/models", headers={"x-api-key": API_KEY})).status == 200


async def test_request_id_header(bare_client):
    client, _ = await bare_client()
    first = (await client.get("/health")).headers["X-Request-Id"]
    second = (await client.get("/health")).headers["X-Request-Id"]
    assert len(first) == 32 and first != second


async def test_non_utf8_header_bytes_are_refused_not_a_crash(bare_client):
    client, _ = await bare_client()
    port = client.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /v1/models HTTP/1.1\r\nHost: x\xff\r\nAuthorization: Bearer k\xe9\xff\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    status = await reader.readline()
    writer.close()
    assert b" 401 " in status
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\xff\r\nConnection: close\r\n\r\n")
    await writer.drain()
    status = await reader.readline()
    writer.close()
    assert b" 200 " in status
