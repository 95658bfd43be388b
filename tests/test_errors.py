"""The error tree: Anthropic's status codes and error types (the one place that maps them), and
whether a client should repeat a failed request (`x-should-retry`)."""

from __future__ import annotations

import openai
import pytest

from gateway.errors import (
    ANTHROPIC_TYPES,
    RETRY_HEADER,
    AdminDisabled,
    AuthenticationFailed,
    ContextTooLong,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    NoHealthyToken,
    NotFound,
    NoTokenConfigured,
    RequestTooLarge,
    UpstreamError,
    anthropic_error,
)
from gateway.upstream.errors import CLASSES, build_error
from tests.conftest import MODEL

CASES = [
    (InvalidRequest("bad", param="messages"), 400, "invalid_request_error"),
    (ContextTooLong("long"), 400, "invalid_request_error"),
    (ModelNotFound("x"), 404, "not_found_error"),
    (UpstreamError("gone", status=404, code="model_not_found", error_class="model"), 404, "not_found_error"),
    (AuthenticationFailed("key"), 401, "authentication_error"),
    (AdminDisabled("off"), 403, "permission_error"),
    (
        UpstreamError("plan", status=403, type="permission_error", code="model_requires_pro"),
        403,
        "permission_error",
    ),
    (NotFound("route"), 404, "not_found_error"),
    (MethodNotAllowed("GET"), 405, "invalid_request_error"),
    (RequestTooLarge("big"), 413, "request_too_large"),
    (UpstreamError("slow down", status=429, code="rate_limit_exceeded"), 429, "rate_limit_error"),
    (UpstreamError("quota", status=429, code="insufficient_quota"), 429, "rate_limit_error"),
    (GatewayError("bug"), 500, "api_error"),
    (UpstreamError("broken"), 500, "api_error"),
    (NoTokenConfigured("none"), 500, "api_error"),
    (NoHealthyToken("cooling"), 529, "overloaded_error"),
    (UpstreamError("timeout", status=504, code="upstream_timeout"), 504, "timeout_error"),
]


@pytest.mark.parametrize(
    ("error", "status", "kind"), CASES, ids=[type(c[0]).__name__ + str(c[1]) for c in CASES]
)
def test_anthropic_status_and_type(error, status, kind):
    assert anthropic_error(error) == (
        status,
        {"type": "error", "error": {"type": kind, "message": error.message}},
    )


def test_every_anthropic_status_has_its_type_and_only_those_are_used():
    for _, status, kind in CASES:
        assert status == 405 or ANTHROPIC_TYPES[status] == kind
    statuses = {anthropic_error(GatewayError("x", status=s))[0] for s in range(400, 600)}
    assert statuses - set(ANTHROPIC_TYPES) <= set(range(400, 500))  # every 5xx becomes one of Anthropic's


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
    "suspicious": False,  # the account is blocked for now; the token rests an hour
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
