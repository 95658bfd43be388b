"""Authentication on every non-public route, error envelope for routing errors, request ids."""

from __future__ import annotations

import asyncio
import gzip
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.middlewares import PUBLIC_ROUTES, body_encoding, key_matches
from tests.conftest import API_KEY, fixed_pool
from tests.scripted import ScriptedTransport


@pytest.fixture
async def bare_client(aiohttp_client, make_settings):
    async def start(**overrides):
        app = create_app(make_settings(**overrides), transport=ScriptedTransport(), pool=fixed_pool())
        return await aiohttp_client(app), app

    return start


# A value for every path parameter of the route table; `slash` is the optional trailing slash.
PARAMETERS = {"name": "shared.js", "model_id": "gpt-4o"}


def paths_of(route) -> list[str]:
    canonical = route.resource.canonical
    path = re.sub(r"\{(\w+)\}", lambda m: PARAMETERS.get(m.group(1), m.group(0)), canonical)
    if "{slash}" not in path:
        return [path]
    return [path.replace("{slash}", ""), path.replace("{slash}", "/")]


async def test_every_non_public_route_needs_a_key(bare_client):
    client, app = await bare_client()
    checked = 0
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        for path in paths_of(route):
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


async def test_every_api_path_answers_with_or_without_a_trailing_slash(bare_client):
    client, app = await bare_client()
    api = [route for route in app.router.routes() if route.resource.canonical.startswith("/v1/")]
    assert {route.name for route in api} >= {"models", "model", "chat_completions"}
    for route in api:
        assert "{slash}" in route.resource.canonical, route.name
        for path in paths_of(route):
            response = await client.request(route.method, path, headers={"x-api-key": API_KEY}, json={})
            assert response.status not in (404, 405), path  # routed (a bad body is still a 400)


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
    assert response.headers["Allow"] == "POST"
    response = await client.delete("/v1/models")
    assert response.status == 405 and set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


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


async def test_a_compressed_body_is_refused_with_415_on_every_route_before_the_key(bare_client):
    client, app = await bare_client()
    bomb = gzip.compress(b"\0" * (1 << 20))
    checked = 0
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical.replace("{name}", "shared.js")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {API_KEY}"}):
            response = await client.request(
                route.method, path, data=bomb, headers={**headers, "Content-Encoding": "gzip"}
            )
            assert response.status == 415, (route.method, path)
            error = (await response.json())["error"]
            if (route.name or "").startswith("anthropic."):  # Anthropic's envelope has no code
                assert error["type"] == "invalid_request_error"
            else:
                assert error["code"] == "unsupported_content_encoding"
                assert error["type"] == "invalid_request_error"
            assert "Content-Encoding" in error["message"]
            checked += 1
    assert checked >= 3 * 15


codings = st.sampled_from(["gzip", "deflate", "br", "zstd", "x-gzip", "compress", "GZIP", "*"]) | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","), min_size=1
)
identities = st.sampled_from(["identity", "IDENTITY", " identity", ""])


@given(
    before=st.lists(identities, max_size=3), coding=codings, after=st.lists(identities | codings, max_size=3)
)
def test_any_coding_but_identity_is_found_wherever_it_stands(before, coding, after):
    expected = None if coding.strip().lower() in ("", "identity") else coding.strip().lower()
    as_one_header = [", ".join([*before, coding, *after])]
    as_headers = [*before, coding, *after]
    if expected is not None:
        assert body_encoding(as_one_header) == expected
        assert body_encoding(as_headers) == expected


@given(values=st.lists(identities, max_size=4))
def test_identity_alone_is_no_encoding(values):
    assert body_encoding(values) is None
    assert body_encoding([", ".join(values)]) is None


@pytest.mark.parametrize("value", ["identity", "Identity", " identity ", ""])
async def test_identity_or_no_encoding_passes(bare_client, value):
    client, _ = await bare_client()
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Encoding": value}
    assert (await client.get("/v1/models", headers=headers)).status == 200
