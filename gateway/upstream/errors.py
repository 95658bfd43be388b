"""Classify Cursor's errors (cursor-protocol.md §10) into client-facing `UpstreamError`s.

Two inputs: the `error` object of an end-of-stream frame (or of a unary JSON body), and an HTTP
status that arrived before any frame. Each is mapped to one gateway *class* (auth, rate, usage,
plan, outdated, retired, model, context, request, permission, timeout, upstream, transport), which
fixes the status and OpenAI type/code the client sees. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

from gateway.errors import UpstreamError
from gateway.logs import mask
from gateway.upstream.pb import cursor_pb2 as pb


@dataclass(frozen=True, slots=True)
class ErrorClass:
    status: int
    type: str
    code: str | None  # None: use the upstream error name in snake case


CLASSES: Final[dict[str, ErrorClass]] = {
    "auth": ErrorClass(503, "server_error", "no_available_tokens"),
    "rate": ErrorClass(429, "rate_limit_error", "rate_limit_exceeded"),
    "usage": ErrorClass(429, "insufficient_quota", "insufficient_quota"),
    "plan": ErrorClass(403, "permission_error", "model_requires_pro"),
    "outdated": ErrorClass(502, "server_error", "upstream_client_outdated"),
    "retired": ErrorClass(502, "server_error", "upstream_rpc_unavailable"),
    "model": ErrorClass(404, "invalid_request_error", "model_not_found"),
    "context": ErrorClass(400, "invalid_request_error", "context_length_exceeded"),
    "request": ErrorClass(400, "invalid_request_error", None),
    "permission": ErrorClass(403, "permission_error", "upstream_permission_denied"),
    "timeout": ErrorClass(504, "server_error", "upstream_timeout"),
    "upstream": ErrorClass(502, "server_error", "upstream_error"),
    "transport": ErrorClass(502, "server_error", "upstream_connection_error"),
    "http2": ErrorClass(502, "server_error", "upstream_http2_required"),
    "protocol": ErrorClass(502, "server_error", "upstream_protocol_error"),
}

# ErrorDetails.Error value -> (upstream name, gateway class). §10.2.
ERRORS: Final[dict[int, tuple[str, str]]] = {
    0: ("UNSPECIFIED", "upstream"),
    1: ("BAD_API_KEY", "auth"),
    2: ("NOT_LOGGED_IN", "auth"),
    3: ("INVALID_AUTH_ID", "auth"),
    4: ("NOT_HIGH_ENOUGH_PERMISSIONS", "permission"),
    5: ("BAD_MODEL_NAME", "model"),
    6: ("USER_NOT_FOUND", "auth"),
    7: ("FREE_USER_RATE_LIMIT_EXCEEDED", "rate"),
    8: ("PRO_USER_RATE_LIMIT_EXCEEDED", "rate"),
    9: ("FREE_USER_USAGE_LIMIT", "usage"),
    10: ("PRO_USER_USAGE_LIMIT", "usage"),
    11: ("AUTH_TOKEN_NOT_FOUND", "auth"),
    12: ("AUTH_TOKEN_EXPIRED", "auth"),
    13: ("OPENAI", "upstream"),
    14: ("OPENAI_RATE_LIMIT_EXCEEDED", "rate"),
    15: ("OPENAI_ACCOUNT_LIMIT_EXCEEDED", "rate"),
    16: ("TASK_UUID_NOT_FOUND", "request"),
    17: ("TASK_NO_PERMISSIONS", "permission"),
    18: ("AGENT_REQUIRES_LOGIN", "auth"),
    19: ("AGENT_ENGINE_NOT_FOUND", "request"),
    20: ("MAX_TOKENS", "request"),
    21: ("USER_ABORTED_REQUEST", "end"),
    22: ("GENERIC_RATE_LIMIT_EXCEEDED", "rate"),
    23: ("PRO_USER_ONLY", "plan"),
    24: ("API_KEY_NOT_SUPPORTED", "auth"),
    25: ("TIMEOUT", "timeout"),
    26: ("SLASH_EDIT_FILE_TOO_LONG", "request"),
    27: ("FILE_UNSUPPORTED", "request"),
    28: ("GPT_4_VISION_PREVIEW_RATE_LIMIT", "rate"),
    29: ("CUSTOM_MESSAGE", "upstream"),
    30: ("OUTDATED_CLIENT", "outdated"),
    31: ("CLAUDE_IMAGE_TOO_LARGE", "request"),
    32: ("GITGRAPH_NOT_FOUND", "request"),
    33: ("FILE_NOT_FOUND", "request"),
    34: ("API_KEY_RATE_LIMIT", "rate"),
    35: ("DEBOUNCED", "rate"),
    36: ("BAD_REQUEST", "request"),
    37: ("REPOSITORY_SERVICE_REPOSITORY_IS_NOT_INITIALIZED", "upstream"),
    38: ("UNAUTHORIZED", "auth"),
    39: ("NOT_FOUND", "request"),
    40: ("DEPRECATED", "outdated"),
    41: ("RESOURCE_EXHAUSTED", "usage"),
    42: ("BAD_USER_API_KEY", "auth"),
    43: ("CONVERSATION_TOO_LONG", "context"),
    44: ("USAGE_PRICING_REQUIRED", "usage"),
    45: ("USAGE_PRICING_REQUIRED_CHANGEABLE", "usage"),
    46: ("GITHUB_NO_USER_CREDENTIALS", "permission"),
    47: ("GITHUB_USER_NO_ACCESS", "permission"),
    48: ("GITHUB_APP_NO_ACCESS", "permission"),
    49: ("GITHUB_MULTIPLE_OWNERS", "upstream"),
    50: ("RATE_LIMITED", "rate"),
    51: ("RATE_LIMITED_CHANGEABLE", "rate"),
    52: ("CUSTOM", "upstream"),
    53: ("HOOKS_BLOCKED", "permission"),
}
_NOT_FOUND_VALUES: Final = frozenset({16, 19, 32, 33, 39})

CONNECT_CODES: Final[dict[str, str]] = {
    "unauthenticated": "auth",
    "permission_denied": "permission",
    "resource_exhausted": "rate",
    "invalid_argument": "request",
    "failed_precondition": "request",
    "out_of_range": "request",
    "not_found": "request",
    "deadline_exceeded": "timeout",
    "unavailable": "upstream",
    "unimplemented": "retired",
    "internal": "upstream",
    "unknown": "upstream",
    "data_loss": "upstream",
    "canceled": "upstream",
}

_OUTDATED_TEXT = re.compile(
    r"update required|outdated version|update to the latest version|no longer supported", re.IGNORECASE
)
_TOO_MANY_COMPUTERS = re.compile(r"too many computers", re.IGNORECASE)

_HINTS: Final[dict[str, str]] = {
    "auth": "Cursor rejected the token (a session token or API key); replace it in the token file",
    "outdated": "Cursor says this client version is outdated; raise CURSOR_CLIENT_VERSION",
    "retired": "Cursor no longer serves this RPC; the gateway needs a newer upstream adapter",
    "http2": "Cursor requires HTTP/2; set UPSTREAM_HTTP_VERSION=2",
}


@dataclass(frozen=True, slots=True)
class Detail:
    value: int | None
    title: str
    detail: str


def decode_details(raw: object) -> list[Detail]:
    """Decode the `details` list of a Connect error; tolerant of every malformed shape."""
    if not isinstance(raw, list):
        return []
    out: list[Detail] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        decoded = _decode_value(item.get("value"))
        if decoded is None:
            decoded = _decode_debug(item.get("debug"))
        if decoded is not None:
            out.append(decoded)
    return out


def _decode_value(value: object) -> Detail | None:
    if not isinstance(value, str) or not value:
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        message = pb.ErrorDetails.FromString(data)
    except (binascii.Error, ValueError, DecodeError):
        return None
    return Detail(message.error, message.details.title, message.details.detail)


def _decode_debug(debug: object) -> Detail | None:
    if not isinstance(debug, Mapping):
        return None
    name = debug.get("error")
    value = None
    if isinstance(name, str):
        short = name.removeprefix("ERROR_")
        value = next((number for number, (known, _) in ERRORS.items() if known == short), None)
    details = debug.get("details")
    title = detail = ""
    if isinstance(details, Mapping):
        title = str(details.get("title") or "")
        detail = str(details.get("detail") or "")
    if value is None and not title and not detail:
        return None
    return Detail(value, title, detail)


def _class_of(detail: Detail) -> str:
    text = f"{detail.title} {detail.detail}"
    if detail.value == 28 and _OUTDATED_TEXT.search(text):
        return "outdated"
    if detail.value is None:
        return "outdated" if _OUTDATED_TEXT.search(text) else "upstream"
    _, error_class = ERRORS.get(detail.value, ("UNKNOWN", "upstream"))
    if error_class == "upstream" and _OUTDATED_TEXT.search(text):
        return "outdated"
    return error_class


def _name_of(detail: Detail) -> str:
    if detail.value is None:
        return "UNKNOWN"
    return ERRORS.get(detail.value, (f"UNKNOWN_{detail.value}", ""))[0]


def build_error(
    error_class: str,
    message: str,
    *,
    name: str | None = None,
    not_found: bool = False,
    retry_after: str | None = None,
) -> UpstreamError:
    """An `UpstreamError` for a gateway class, with the operator hint where one helps."""
    spec = CLASSES.get(error_class, CLASSES["upstream"])
    code = spec.code or (name or "upstream_request_error").lower()
    status = 404 if (error_class == "request" and not_found) else spec.status
    hint = _HINTS.get(error_class)
    message = mask(message)  # upstream text is untrusted: never relay anything token-shaped
    text = f"{message} ({hint})" if hint else message
    headers = {"Retry-After": retry_after} if retry_after and error_class == "rate" else None
    return UpstreamError(
        text, error_class=error_class, status=status, type=spec.type, code=code, headers=headers
    )


def from_connect_error(error: Mapping[str, object]) -> UpstreamError | None:
    """Map the `error` object of an end-of-stream frame; None means "treat as a normal end"."""
    details = decode_details(error.get("details"))
    connect_code = str(error.get("code") or "unknown")
    if not details:
        error_class = CONNECT_CODES.get(connect_code, "upstream")
        text = str(error.get("message") or "") or connect_code
        return build_error(error_class, f"Cursor error {connect_code}: {text}")
    relevant = [d for d in details if _class_of(d) != "end"]
    if not relevant:
        return None
    # Several details: the one whose class has the highest status decides, as known clients do.
    chosen = max(relevant, key=lambda d: CLASSES.get(_class_of(d), CLASSES["upstream"]).status)
    error_class = _class_of(chosen)
    summary = " & ".join(filter(None, (_describe(d) for d in relevant))) or connect_code
    return build_error(
        error_class,
        f"Cursor error {_name_of(chosen)}: {summary}",
        name=_name_of(chosen),
        not_found=chosen.value in _NOT_FOUND_VALUES,
    )


def _describe(detail: Detail) -> str:
    parts = [part for part in (detail.title.strip(), detail.detail.strip()) if part]
    return ": ".join(parts)


def too_many_computers(error: UpstreamError) -> bool:
    """The account-level "too many computers" notice (a token cooldown signal for the pool)."""
    return bool(_TOO_MANY_COMPUTERS.search(error.message))


def from_http_status(status: int, body: str, retry_after: str | None = None) -> UpstreamError:
    """Map an HTTP failure that arrived before any frame (body already capped by the caller)."""
    snippet = " ".join(body.split())[:200]
    if status == 401:
        error_class = "auth"
    elif status == 403:
        # An HTML 403 is the edge's bot protection, not the token's fault.
        error_class = "upstream" if "<html" in body.lower() else "permission"
    elif status == 404:
        error_class = "retired"
    elif status == 415:
        error_class = "outdated"
    elif status == 429:
        error_class = "rate"
    elif status == 505:
        error_class = "http2"
    elif 400 <= status < 500:
        error_class = "request"
    else:
        error_class = "upstream"
    text = f"Cursor answered HTTP {status}" + (f": {snippet}" if snippet else "")
    return build_error(error_class, text, name=f"http_{status}", retry_after=retry_after)
