"""Classifying Cursor errors (cursor-protocol.md §10) into client-facing statuses and codes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream import errors
from gateway.upstream.errors import decode_details, from_connect_error, from_http_status, too_many_computers
from gateway.upstream.pb import cursor_pb2 as pb

RATE_LIMITED_EXAMPLE = {
    "code": "resource_exhausted",
    "message": "Error",
    "details": [
        {
            "type": "aiserver.v1.ErrorDetails",
            "value": "CDISIQoMUmF0ZSBsaW1pdGVkEhFQbGVhc2Ugc2xvdyBkb3duLhgB",
            "debug": {"error": "ERROR_RATE_LIMITED"},
        }
    ],
}


def detail(value: int, title: str = "", text: str = "", urlsafe: bool = False) -> dict:
    raw = pb.ErrorDetails(
        error=value, details=pb.CustomErrorDetails(title=title, detail=text)
    ).SerializeToString()
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return {"type": "aiserver.v1.ErrorDetails", "value": encode(raw).decode().rstrip("=")}


def test_protocol_doc_example_decodes():
    [d] = decode_details(RATE_LIMITED_EXAMPLE["details"])
    assert (d.value, d.title, d.detail) == (50, "Rate limited", "Please slow down.")
    error = from_connect_error(RATE_LIMITED_EXAMPLE)
    assert (error.status, error.type, error.code) == (429, "rate_limit_error", "rate_limit_exceeded")
    assert "Rate limited: Please slow down." in error.message


@pytest.mark.parametrize(
    ("value", "status", "type_", "code"),
    [
        (1, 503, "server_error", "no_available_tokens"),
        (2, 503, "server_error", "no_available_tokens"),
        (5, 404, "invalid_request_error", "model_not_found"),
        (8, 429, "rate_limit_error", "rate_limit_exceeded"),
        (9, 429, "insufficient_quota", "insufficient_quota"),
        (10, 429, "insufficient_quota", "insufficient_quota"),
        (12, 503, "server_error", "no_available_tokens"),
        (20, 400, "invalid_request_error", "max_tokens"),
        (23, 403, "permission_error", "model_requires_pro"),
        (25, 504, "server_error", "upstream_timeout"),
        (30, 502, "server_error", "upstream_client_outdated"),
        (33, 404, "invalid_request_error", "file_not_found"),
        (35, 429, "rate_limit_error", "rate_limit_exceeded"),
        (36, 400, "invalid_request_error", "bad_request"),
        (41, 429, "insufficient_quota", "insufficient_quota"),
        (43, 400, "invalid_request_error", "context_length_exceeded"),
        (44, 429, "insufficient_quota", "insufficient_quota"),
        (4, 403, "permission_error", "upstream_permission_denied"),
        (0, 502, "server_error", "upstream_error"),
        (99, 502, "server_error", "upstream_error"),
        # the 2026 values (upstream-2026.md §4)
        (54, 403, "permission_error", "suspicious_usage_blocked"),
        (55, 504, "server_error", "upstream_timeout"),
        (56, 502, "server_error", "upstream_error"),
        (57, 502, "server_error", "upstream_error"),
        (58, 403, "permission_error", "model_blocked"),
        (59, 502, "server_error", "upstream_error"),
        (60, 403, "permission_error", "max_mode_required"),
        (61, 404, "invalid_request_error", "model_not_found"),
        (62, 403, "permission_error", "pricing_confirmation_required"),
        (63, 429, "rate_limit_error", "rate_limit_exceeded"),
        (64, 403, "permission_error", "unsupported_region"),
    ],
)
def test_each_error_value(value, status, type_, code):
    error = from_connect_error({"code": "unknown", "details": [detail(value, "T", "D")]})
    assert (error.status, error.type, error.code) == (status, type_, code)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (54, "suspicious usage"),
        (55, "extension host"),
        (56, "network failure"),
        (57, "provider failed"),
        (58, "may not use the model"),
        (59, "internal error"),
        (60, "only in Max mode"),
        (61, "no longer serves this model"),
        (62, "accept the model's pricing"),
        (63, "slow pool"),
        (64, "region"),
    ],
)
def test_the_2026_values_say_what_they_mean(value, words):
    error = from_connect_error({"code": "unknown", "details": [detail(value, "Title", "Detail")]})
    assert error.message.startswith(f"Cursor error {pb.ErrorDetails.Error.Name(value)[6:]}: Title: Detail (")
    assert words in error.message


def test_enum_names_decode_from_the_debug_object_too():
    error = from_connect_error({"details": [{"value": "!!", "debug": {"error": "ERROR_UNSUPPORTED_REGION"}}]})
    assert error.code == "unsupported_region"
    error = from_connect_error(
        {"details": [{"debug": {"error": "ERROR_NOT_A_VALUE", "details": {"title": "T"}}}]}
    )
    assert error.code == "upstream_error" and "UNKNOWN" in error.message


def test_update_required_as_a_plain_http_400_or_a_bare_connect_error_is_outdated():
    """upstream-2026.md §2: `Update Required for Composer 2` in a text body is no client mistake."""
    assert from_http_status(400, "Update Required for Composer 2").code == "upstream_client_outdated"
    assert from_http_status(426, "").code == "upstream_client_outdated"
    assert from_http_status(400, "bad field").code == "http_400"  # any other 400 stays a request error
    bare = from_connect_error({"code": "failed_precondition", "message": "Update required: old client"})
    assert bare.code == "upstream_client_outdated"
    # A model that is no longer supported is not an outdated client.
    retired = from_connect_error(
        {"details": [detail(61, "Model no longer supported", "This model is no longer supported")]}
    )
    assert retired.code == "model_not_found"


def test_user_aborted_is_a_normal_end():
    assert from_connect_error({"code": "canceled", "details": [detail(21)]}) is None


def test_28_is_outdated_when_the_text_says_update():
    error = from_connect_error(
        {"details": [detail(28, "Update Required", "Your version of Cursor is no longer supported.")]}
    )
    assert error.code == "upstream_client_outdated" and "'Client version'" in error.message
    assert from_connect_error({"details": [detail(28, "Slow down")]}).code == "rate_limit_exceeded"


def test_too_many_computers_text():
    error = from_connect_error({"details": [detail(29, "Too many computers used within the last 24 hours")]})
    assert error.code == "upstream_error" and too_many_computers(error)


def test_multi_detail_highest_status_wins_and_texts_join():
    error = from_connect_error({"details": [detail(36, "A"), detail(25, "B", "b")]})
    assert error.status == 504 and "A & B: b" in error.message


def test_urlsafe_value_and_debug_fallback():
    assert from_connect_error({"details": [detail(50, urlsafe=True)]}).status == 429
    error = from_connect_error({"details": [{"value": "!!", "debug": {"error": "ERROR_PRO_USER_ONLY"}}]})
    assert error.code == "model_requires_pro"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("unauthenticated", 503),
        ("resource_exhausted", 429),
        ("unimplemented", 502),
        ("deadline_exceeded", 504),
    ],
)
def test_bare_connect_codes(code, status):
    error = from_connect_error({"code": code, "message": "x"})
    assert error.status == status
    if code == "unimplemented":
        assert error.code == "upstream_rpc_unavailable"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, "", "no_available_tokens"),
        (403, "<html>blocked</html>", "upstream_error"),
        (403, "denied", "upstream_permission_denied"),
        (404, "", "upstream_rpc_unavailable"),
        (415, "", "upstream_client_outdated"),
        (429, "", "rate_limit_exceeded"),
        (500, "boom", "upstream_error"),
        (503, "", "upstream_error"),
        (505, "", "upstream_http2_required"),
    ],
)
def test_http_statuses(status, body, code):
    error = from_http_status(status, body, retry_after="7")
    assert error.code == code
    assert (error.headers.get("Retry-After") == "7") is (status == 429)
    assert 400 <= error.status < 600 and error.status not in (500, 533)


@given(
    st.recursive(st.none() | st.text() | st.integers(), lambda s: st.lists(s) | st.dictionaries(st.text(), s))
)
def test_garbage_error_objects_never_crash(garbage):
    result = from_connect_error({"code": "unknown", "details": garbage})
    assert result is None or 400 <= result.status < 600


def test_an_http_answer_with_a_connect_error_body_maps_by_its_details():
    body = b'{"error":{"code":"resource_exhausted","message":"slow down"}}'
    error = errors.from_http_answer(429, body, "12")
    assert error.error_class == "rate" and error.headers["Retry-After"] == "12"
    plain = errors.from_http_answer(404, b"<html>not here</html>")
    assert plain.error_class == "retired" and "HTTP 404" in plain.message


def test_a_broken_connection_is_a_disconnect_only_after_content():
    assert errors.disconnected(False, "reset").code == "upstream_connection_error"
    assert errors.disconnected(True, "reset").code == "upstream_disconnected"


def test_a_broken_stream_is_classed_by_how_it_broke():
    from gateway.upstream.framing import FramingError, UndecodableFrame
    from gateway.upstream.transport import TransportError, TransportTimeout

    assert errors.stream_failure(FramingError("truncated", "cut"), True).code == "upstream_disconnected"
    assert errors.stream_failure(FramingError("bad_flags", "x"), True).code == "upstream_protocol_error"
    assert errors.stream_failure(UndecodableFrame("x"), False).code == "upstream_protocol_error"
    assert errors.stream_failure(TransportTimeout("slow"), True).code == "upstream_timeout"
    assert errors.stream_failure(TransportError("reset"), False).code == "upstream_connection_error"


def test_a_conversation_over_the_frame_limit_is_a_413():
    from gateway.errors import InvalidRequest
    from gateway.upstream.framing import MAX_FRAME_BYTES

    errors.check_request_size(b"x" * MAX_FRAME_BYTES)
    with pytest.raises(InvalidRequest) as refused:
        errors.check_request_size(b"x" * (MAX_FRAME_BYTES + 1))
    assert (refused.value.status, refused.value.code, refused.value.param) == (
        413,
        "request_too_large",
        "messages",
    )
