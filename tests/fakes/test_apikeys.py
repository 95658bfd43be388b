"""The simulator's user API keys: the exchange endpoint, and ChatService retired for chosen tokens."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.fakes import CHAT_PATH, EXCHANGE_PATH, CursorSimulator, Scenario, make_jwt, parse_jwt
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request

Client = TestClient[web.Request, web.Application]
KEY = "crsr_" + "0123456789abcdef" * 4
SUB = "auth0|user_01KEYOWNER000000000000000"


async def exchange(client: Client, key: str | None = KEY, body: bytes = b"{}", **headers: str):
    sent = {"content-type": "application/json", **headers}
    if key is not None:
        sent["authorization"] = f"Bearer {key}"
    async with client.post(EXCHANGE_PATH, data=body, headers=sent) as response:
        return response.status, await response.json()


async def chat(client: Client, token: str) -> tuple[int, bytes]:
    body = frame_request(build_request("Hello"))
    async with client.post(CHAT_PATH, data=body, headers=chat_headers(token)) as response:
        return response.status, await response.read()


async def test_a_known_key_gets_a_short_lived_access_jwt_for_its_account(
    client: Client, sim: CursorSimulator
):
    sim.config.api_keys[KEY] = SUB
    sim.config.now = lambda: 1_900_000_000
    status, body = await exchange(client)
    assert status == 200 and body["refreshToken"] == body["accessToken"]
    claims = parse_jwt(body["accessToken"])
    assert claims["sub"] == SUB and claims["type"] == "api_key_token"
    assert claims["exp"] == 1_900_000_000 + sim.config.access_token_lifetime_s
    [record] = sim.records
    assert (
        record.path == EXCHANGE_PATH
        and record.token == KEY
        and "authorization" not in record.to_json()["headers"]
    )


@pytest.mark.parametrize(
    ("key", "body", "headers", "status", "code"),
    [
        (None, b"{}", {}, 401, "unauthenticated"),
        ("crsr_" + "9" * 40, b"{}", {}, 401, "unauthenticated"),
        (KEY, b"", {}, 400, "invalid_argument"),
        (KEY, b"[]", {}, 400, "invalid_argument"),
        (KEY, b"{}", {"content-type": "text/plain"}, 400, "invalid_argument"),
    ],
)
async def test_refusals(client: Client, sim: CursorSimulator, key, body, headers, status, code):
    sim.config.api_keys[KEY] = SUB
    got, answer = await exchange(client, key, body, **headers)
    assert got == status and answer["error"]["code"] == code and answer["error"]["message"]


async def test_scripted_exchange_failures_come_from_the_unary_queue(client: Client, sim: CursorSimulator):
    sim.config.api_keys[KEY] = SUB
    sim.push_unary(EXCHANGE_PATH, Scenario("http_error", status=503))
    async with client.post(
        EXCHANGE_PATH,
        data=b"{}",
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
    ) as response:
        assert response.status == 503
    assert (await exchange(client))[0] == 200


async def test_chatservice_is_retired_for_api_key_tokens_by_default(client: Client, sim: CursorSimulator):
    sim.config.api_keys[KEY] = SUB
    _, body = await exchange(client)
    status, raw = await chat(client, body["accessToken"])
    assert status == 404 and json.loads(raw)["code"] == "unimplemented"
    assert sim.records[-1].rejection == "chat_retired"
    # A session token of the same account is served.
    status, raw = await chat(client, make_jwt(sub=SUB))
    assert status == 200 and "You said: Hello" in decode_stream(raw).text
    # Cleared, the access token is served too.
    sim.config.chat_retired.clear()
    status, raw = await chat(client, body["accessToken"])
    assert status == 200 and "You said: Hello" in decode_stream(raw).text


async def test_chatservice_retired_for_chosen_tokens_or_every_session_token(
    client: Client, sim: CursorSimulator
):
    chosen, other = make_jwt(sub="auth0|user_chosen"), make_jwt(sub="auth0|user_other")
    sim.config.chat_retired = {"user_chosen"}
    assert (await chat(client, chosen))[0] == 404
    assert (await chat(client, other))[0] == 200
    sim.config.chat_retired = {"session"}
    assert (await chat(client, other))[0] == 404
