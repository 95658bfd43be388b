"""CORS on the API routes: preflights, the headers of every answer (JSON, streams, errors), refusals,
and never a CORS header on the pages or the admin API."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.cors import allowed_request_headers
from tests.conftest import API_KEY, fixed_pool
from tests.scripted import Reply, ScriptedTransport, reply

ALLOWED = "https://app.example"
OTHER = "https://evil.example"
ADMIN = "admin-secret"
CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
SDK_HEADERS = (
    "authorization, content-type, accept, x-stainless-lang, x-stainless-os, x-stainless-retry-count, "
    "x-stainless-timeout, openai-organization, openai-project, anthropic-version, anthropic-beta, "
    "anthropic-dangerous-direct-browser-access, x-api-key"
)


@pytest.fixture
def cors_gateway(aiohttp_client, make_settings):
    async def start(*replies: Reply, extra_routes=None, **overrides):
        overrides.setdefault("cors_origins", f"{ALLOWED},http://localhost:5173")
        app = create_app(
            make_settings(auth_token=ADMIN, **overrides),
            transport=ScriptedTransport(*replies),
            pool=fixed_pool(),
        )
        if extra_routes:
            extra_routes(app)
        return await aiohttp_client(app)

    return start


def preflight(origin: str = ALLOWED, method: str = "POST", headers: str = "authorization, content-type"):
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def as_browser(origin: str = ALLOWED, key: str = API_KEY) -> dict[str, str]:
    return {"Origin": origin, "Authorization": f"Bearer {key}"}


def assert_no_cors(response) -> None:
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def assert_cors(response, origin: str = ALLOWED) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "x-gateway-overhead-ms", "retry-after"} <= exposed
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_preflight_is_answered_without_a_key(cors_gateway) -> None:
    client = await cors_gateway()
    response = await client.options(CHAT, headers=preflight(headers=SDK_HEADERS + ", x-evil"))
    assert response.status == 204 and await response.read() == b""
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert {"GET", "POST"} <= set(response.headers["Access-Control-Allow-Methods"].split(", "))
    allowed = response.headers["Access-Control-Allow-Headers"].split(", ")
    assert allowed == SDK_HEADERS.split(", ")  # every SDK header, in order; not x-evil
    assert int(response.headers["Access-Control-Max-Age"]) >= 600
    assert {"Origin", "Access-Control-Request-Headers"} <= set(response.headers["Vary"].split(", "))
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers


async def test_preflight_covers_every_v1_route_generically(cors_gateway) -> None:
    async def answer(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    def add(app: web.Application) -> None:
        app.router.add_delete("/v1/things/{id}", answer, name="things")

    client = await cors_gateway(extra_routes=add)
    for path in ("/v1/models", "/v1/things/42", "/v1/messages", "/v1/responses"):
        response = await client.options(path, headers=preflight(method="DELETE"))
        assert response.status == 204, path
        assert "DELETE" in response.headers["Access-Control-Allow-Methods"].split(", ")
    response = await client.delete("/v1/things/42", headers=as_browser())
    assert response.status == 200
    assert_cors(response)


async def test_a_disallowed_origin_gets_no_cors_headers(cors_gateway) -> None:
    client = await cors_gateway(reply("hello"))
    response = await client.options(CHAT, headers=preflight(OTHER))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "cors_origin_not_allowed"
    assert_no_cors(response)
    for origin in ("null", "https://app.example.evil", "http://app.example", "https://app.example:8443"):
        response = await client.options(CHAT, headers=preflight(origin))
        assert response.status == 403, origin
        assert_no_cors(response)
    response = await client.post(CHAT, json=BODY, headers=as_browser(OTHER))
    assert response.status == 200  # answered, but the browser will not hand it to the page
    assert_no_cors(response)
    assert response.headers["Vary"] == "Origin"


async def test_json_answers_streams_and_errors_carry_the_headers(cors_gateway) -> None:
    client = await cors_gateway(
        reply("hello"),
        reply("streamed"),
        Reply([b"slow down"], status=429, headers={"Retry-After": "12"}),
    )
    response = await client.post(CHAT, json=BODY, headers=as_browser())
    assert response.status == 200 and (await response.json())["choices"]
    assert_cors(response)
    response = await client.post(CHAT, json={**BODY, "stream": True}, headers=as_browser())
    assert response.status == 200 and response.content_type == "text/event-stream"
    assert_cors(response)
    assert (await response.text()).endswith("data: [DONE]\n\n")
    response = await client.post(CHAT, json=BODY, headers=as_browser())
    assert response.status == 429 and response.headers["Retry-After"] == "12"
    assert_cors(response)
    for status, code, request in [
        (401, "invalid_api_key", client.post(CHAT, json=BODY, headers=as_browser(key="wrong"))),
        (401, "invalid_api_key", client.get("/v1/models", headers={"Origin": ALLOWED})),
        (400, "invalid_json", client.post(CHAT, data=b"{", headers=as_browser())),
        (404, "not_found", client.get("/v1/nothing", headers=as_browser())),
        (405, "method_not_allowed", client.get(CHAT, headers=as_browser())),
    ]:
        response = await request
        assert response.status == status and (await response.json())["error"]["code"] == code
        assert_cors(response)


async def test_any_origin_with_a_strong_key(cors_gateway) -> None:
    client = await cors_gateway(cors_origins="*", api_key="a-strong-key-for-cors")
    response = await client.options(CHAT, headers=preflight("https://anything.example"))
    assert response.status == 204 and response.headers["Access-Control-Allow-Origin"] == "*"
    response = await client.get("/v1/models", headers=as_browser(OTHER, "a-strong-key-for-cors"))
    assert response.status == 200
    assert_cors(response, "*")


async def test_an_origin_header_of_any_bytes_is_never_echoed(cors_gateway) -> None:
    client = await cors_gateway(cors_origins="*", api_key="a-strong-key-for-cors")
    for origin in (b"https://a.example\xff\xfe", b"null", b"x" * 4000):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(
            b"OPTIONS /v1/models HTTP/1.1\r\nHost: gw\r\nOrigin: "
            + origin
            + b"\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        head = (await reader.read()).split(b"\r\n\r\n")[0]
        writer.close()
        assert head.startswith(b"HTTP/1.1 204 ")
        assert b"\r\nAccess-Control-Allow-Origin: *" in head and origin not in head


async def test_pages_and_the_admin_api_never_get_cors(cors_gateway) -> None:
    client = await cors_gateway(cors_origins="*", api_key="a-strong-key-for-cors")
    checked = 0
    for route in client.app.router.routes():
        path = route.resource.canonical.replace("{name}", "shared.js")
        if route.method == "HEAD" or path.startswith("/v1/"):
            continue
        headers = {"Origin": OTHER, "Authorization": f"Bearer {ADMIN}"}
        response = await client.request(route.method, path, headers=headers, json={})
        assert_no_cors(response)
        assert "Vary" not in response.headers or "Origin" not in response.headers["Vary"]
        response = await client.options(path, headers=preflight(OTHER))
        assert response.status == 405, path
        assert_no_cors(response)
        checked += 1
    assert checked >= 15


async def test_no_cors_at_all_when_off(cors_gateway) -> None:
    client = await cors_gateway(reply("hello"), cors_origins="")
    response = await client.options(CHAT, headers=preflight())
    assert response.status == 405
    assert_no_cors(response)
    response = await client.post(CHAT, json=BODY, headers=as_browser())
    assert response.status == 200
    assert_no_cors(response)
    assert "Vary" not in response.headers


async def test_the_route_prefix_is_respected(cors_gateway) -> None:
    client = await cors_gateway(route_prefix="/cursor")
    response = await client.options("/cursor/v1/models", headers=preflight(method="GET"))
    assert response.status == 204 and response.headers["Access-Control-Allow-Origin"] == ALLOWED
    response = await client.options("/v1/models", headers=preflight(method="GET"))
    assert response.status == 404
    assert_no_cors(response)


async def test_origins_compare_as_browsers_send_them(cors_gateway) -> None:
    client = await cors_gateway(cors_origins="HTTPS://App.Example:443/, http://localhost:5173")
    for origin in (ALLOWED, "http://localhost:5173"):
        response = await client.options(CHAT, headers=preflight(origin))
        assert response.status == 204 and response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    ("requested", "allowed"),
    [
        ("", ""),
        ("Authorization", "authorization"),
        (" X-Stainless-OS ,Content-Type,,cookie", "x-stainless-os, content-type"),
        ("x-forwarded-for, host, x-api-key, x-api-key", "x-api-key"),
    ],
)
def test_allowed_request_headers(requested, allowed) -> None:
    assert allowed_request_headers(requested) == allowed
