"""The error tree mapped onto Anthropic's status codes and error types (the one place that does it)."""

from __future__ import annotations

import pytest

from gateway.errors import (
    ANTHROPIC_TYPES,
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
