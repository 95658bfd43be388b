"""Which upstream failures move to another token, and what they do to the failing one (§10.4)."""

from __future__ import annotations

import base64

import pytest

from gateway.tokens.outcome import classify
from gateway.upstream.errors import from_connect_error, from_http_status
from gateway.upstream.pb import cursor_pb2 as pb


def connect(error: int, title: str = "t", detail: str = "d"):
    message = pb.ErrorDetails(error=error)
    message.details.title, message.details.detail = title, detail
    value = base64.b64encode(message.SerializeToString()).decode()
    mapped = from_connect_error({"code": "unknown", "details": [{"value": value}]})
    assert mapped is not None
    return mapped


@pytest.mark.parametrize(
    ("error", "kind", "retry"),
    [
        (38, "auth", "always"),  # UNAUTHORIZED
        (12, "auth", "always"),  # AUTH_TOKEN_EXPIRED
        (50, "rate", "always"),  # RATE_LIMITED
        (35, "debounce", "always"),  # DEBOUNCED
        (10, "usage", "always"),  # PRO_USER_USAGE_LIMIT
        (44, "usage", "always"),  # USAGE_PRICING_REQUIRED
        (23, "plan", "always"),  # PRO_USER_ONLY
        (25, "other", "once"),  # TIMEOUT
        (13, "other", "once"),  # OPENAI (upstream)
        (30, "other", "never"),  # OUTDATED_CLIENT: every token would fail
        (5, "other", "never"),  # BAD_MODEL_NAME
        (43, "other", "never"),  # CONVERSATION_TOO_LONG
        (20, "other", "never"),  # MAX_TOKENS: never penalise the token
        (4, "other", "never"),  # NOT_HIGH_ENOUGH_PERMISSIONS
        (54, "suspicious", "always"),  # SUSPICIOUS_USAGE_BLOCKED: this account, not the next
        (55, "other", "once"),  # EXTENSION_HOST_TIMEOUT
        (56, "other", "once"),  # NETWORK_ERROR
        (57, "other", "once"),  # PROVIDER_ERROR
        (58, "plan", "always"),  # MODEL_BLOCKED: this account and model
        (59, "other", "once"),  # INTERNAL
        (60, "other", "never"),  # MAX_MODE_REQUIRED: every token would fail alike
        (61, "other", "never"),  # MODEL_NO_LONGER_SUPPORTED
        (62, "plan", "always"),  # PRICING_WARNING: this account and model
        (63, "rate", "always"),  # SLOW_POOL
        (64, "other", "never"),  # UNSUPPORTED_REGION: the gateway's region, every token alike
    ],
)
def test_error_values(error, kind, retry):
    outcome = classify(connect(error), now_wall=0)
    assert (outcome.kind, outcome.retry) == (kind, retry)


def test_too_many_computers_cools_the_token_down():
    error = connect(29, "Too many computers", "Too many computers used within the last 24 hours")
    assert (classify(error, now_wall=0).kind, classify(error, now_wall=0).retry) == ("computers", "always")


@pytest.mark.parametrize(
    ("status", "body", "kind", "retry"),
    [
        (401, "", "auth", "always"),
        (429, "", "rate", "always"),
        (403, "<html>blocked</html>", "other", "once"),  # the edge, not the token
        (403, "denied", "other", "never"),
        (404, "", "other", "never"),
        (415, "", "other", "never"),
        (503, "busy", "other", "once"),
        (505, "", "other", "never"),
    ],
)
def test_http_statuses(status, body, kind, retry):
    outcome = classify(from_http_status(status, body), now_wall=0)
    assert (outcome.kind, outcome.retry) == (kind, retry)


def test_rate_hint_from_header_and_text():
    assert classify(from_http_status(429, "", "12"), now_wall=0).hint == 12
    assert classify(connect(50, "Rate limited", "Please try again in 3 minutes"), now_wall=0).hint == 180
    assert classify(connect(50), now_wall=0).hint is None
