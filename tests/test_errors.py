"""The error tree: the envelope, and whether a client should repeat a failed request."""

from __future__ import annotations

import openai
import pytest

from gateway.errors import (
    RETRY_HEADER,
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    NoHealthyToken,
    NotFound,
    NoTokenConfigured,
    UpstreamError,
)
from gateway.upstream.errors import CLASSES, build_error
from tests.conftest import MODEL

# For every upstream error class: can repeating the same request help? (None: the client decides.)
UPSTREAM_RETRY = {
    "auth": False,  # every token was refused: no later attempt has a better one
    "rate": True,
    "usage": False,
    "plan": False,
    "outdated": False,
    "retired": False,
    "model": False,
    "context": False,
    "request": False,
    "permission": False,
    "timeout": True,
    "upstream": None,
    "transport": True,
    "http2": False,
    "protocol": None,
}


def advice(error: GatewayError) -> bool | None:
    value = error.response_headers().get(RETRY_HEADER)
    return None if value is None else {"true": True, "false": False}[value]


def test_every_upstream_error_class_is_decided():
    assert set(UPSTREAM_RETRY) == set(CLASSES)  # a new class needs a decision here
    for error_class, expected in UPSTREAM_RETRY.items():
        assert advice(build_error(error_class, "x")) is expected, error_class


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamError("x", code="response_format_failed"), False),
        (UpstreamError("x", code="invalid_tool_call"), False),
        (UpstreamError("x", code="upstream_empty_response"), None),
        (UpstreamError("x", code="gateway_shutting_down"), True),
        (NoTokenConfigured("x"), False),
        (NoHealthyToken("x"), False),
        (NoHealthyToken("x", headers={"Retry-After": "30"}), True),
        (GatewayError("x"), None),  # a bug: the client may try again
        (InvalidRequest("x"), False),
        (ModelNotFound("m"), False),
        (AuthenticationFailed("x"), False),
        (NotFound("x"), False),
        (MethodNotAllowed("x"), False),
    ],
)
def test_retry_advice(error, expected):
    assert advice(error) is expected
    assert {k: v for k, v in error.response_headers().items() if k != RETRY_HEADER} == error.headers


async def test_the_openai_sdk_does_not_repeat_a_request_a_retry_cannot_fix(aiohttp_server, sim_gateway):
    client, sim = await sim_gateway()
    sdk = openai.AsyncOpenAI(base_url=str(client.make_url("/v1")), api_key="test-key", max_retries=2)
    try:
        with pytest.raises(openai.APIStatusError) as info:
            await sdk.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "not json please"}],
                response_format={"type": "json_object"},
            )
    finally:
        await sdk.close()
    assert info.value.status_code == 502 and info.value.code == "response_format_failed"
    assert len(sim.chat_records) == 2  # the answer and its one retry; the SDK did not send it again
