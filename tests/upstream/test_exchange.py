"""The API key exchange: the request the official SDK sends, and every answer mapped to a class."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UpstreamError
from gateway.upstream.exchange import EXCHANGE_PATH, KeyExchange
from gateway.upstream.transport import TransportTimeout
from tests.conftest import fake_jwt
from tests.scripted import Reply, ScriptedTransport

KEY = "crsr_" + "0123456789abcdef" * 4
BASE = "https://api2.example"


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply([raw], status=status, headers=headers or {})


async def test_sends_the_key_as_bearer_with_an_empty_json_object_and_reads_the_access_token():
    access = fake_jwt("auth0|user_key")
    transport = ScriptedTransport(answer(200, {"accessToken": access, "refreshToken": access}))
    assert await KeyExchange(transport, BASE)(KEY) == access
    [sent] = transport.sent
    assert sent.url == BASE + EXCHANGE_PATH == BASE + "/auth/exchange_user_api_key"
    assert sent.headers == {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    assert sent.body == b"{}"


@pytest.mark.parametrize(
    ("status", "body", "error_class", "code"),
    [
        (401, {"error": {"message": "Invalid API key"}}, "auth", "no_available_tokens"),
        (403, {"message": "revoked"}, "auth", "no_available_tokens"),
        (429, b"slow down", "rate", "rate_limit_exceeded"),
        (404, b"not found", "retired", "upstream_rpc_unavailable"),
        (400, {"error": "bad"}, "request", "http_400"),
        (500, b"oops", "upstream", "upstream_error"),
        (503, b"<html>down</html>", "upstream", "upstream_error"),
    ],
)
async def test_refusals_map_to_the_class_the_pool_acts_on(status, body, error_class, code):
    transport = ScriptedTransport(answer(status, body, {"Retry-After": "7"}))
    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(transport, BASE)(KEY)
    error = caught.value
    assert (error.error_class, error.code) == (error_class, code)
    assert f"HTTP {status}" in error.message and KEY not in error.message
    assert error.headers.get("Retry-After") == ("7" if status == 429 else None)


async def test_the_refusal_text_is_relayed_without_anything_token_shaped():
    transport = ScriptedTransport(answer(401, {"error": {"message": f"key {KEY} is not valid"}}))
    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(transport, BASE)(KEY)
    assert "key *** is not valid" in caught.value.message


@pytest.mark.parametrize(
    "body", [{}, {"accessToken": ""}, {"accessToken": 5}, [1], b"not json", {"accessToken": "x" * 20000}]
)
async def test_a_success_without_a_usable_access_token_is_a_protocol_error(body):
    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(ScriptedTransport(answer(200, body)), BASE)(KEY)
    assert caught.value.error_class == "protocol"


async def test_connection_failures_and_timeouts_are_transient_classes():
    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(ScriptedTransport(), BASE)(KEY)  # no reply: the connection fails
    assert (caught.value.error_class, caught.value.code) == ("transport", "upstream_connection_error")

    class SlowTransport(ScriptedTransport):
        def post(self, url, headers, body):
            raise TransportTimeout("no response headers")

    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(SlowTransport(), BASE)(KEY)
    assert caught.value.error_class == "timeout"


@given(st.integers(100, 599).filter(lambda s: s != 200), st.binary(max_size=300))
async def test_any_refusal_is_an_upstream_error_without_the_key(status, body):
    with pytest.raises(UpstreamError) as caught:
        await KeyExchange(ScriptedTransport(answer(status, body)), BASE)(KEY)
    assert KEY not in caught.value.message
