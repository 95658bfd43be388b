"""Classify Cursor's errors (cursor-protocol.md §10) into client-facing `UpstreamError`s.

Two inputs: the `error` object of an end-of-stream frame (or of a unary JSON body), and an HTTP
status that arrived before any frame. Each is mapped to one gateway *class* (auth, rate, usage,
plan, outdated, retired, model, context, request, permission, timeout, upstream, transport), which
fixes the status and OpenAI type/code the client sees. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson
from google.protobuf.message import DecodeError

from gateway.errors import InvalidRequest, UpstreamError
from gateway.logs import mask
from gateway.upstream.framing import MAX_FRAME_BYTES, FramingError, UndecodableFrame
from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.transport import TransportError, TransportTimeout


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
    "suspicious": ErrorClass(403, "permission_error", "suspicious_usage_blocked"),
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

E = pb.ErrorDetails  # the values of the `ErrorDetails.Error` enum are attributes of the message

# ErrorDetails.Error value -> gateway class (§10.2; 54-64: upstream-2026.md §4). The names come
# from the enum in proto/cursor.proto.
ERRORS: Final[dict[int, str]] = {
    E.ERROR_UNSPECIFIED: "upstream",
    E.ERROR_BAD_API_KEY: "auth",
    E.ERROR_NOT_LOGGED_IN: "auth",
    E.ERROR_INVALID_AUTH_ID: "auth",
    E.ERROR_NOT_HIGH_ENOUGH_PERMISSIONS: "permission",
    E.ERROR_BAD_MODEL_NAME: "model",
    E.ERROR_USER_NOT_FOUND: "auth",
    E.ERROR_FREE_USER_RATE_LIMIT_EXCEEDED: "rate",
    E.ERROR_PRO_USER_RATE_LIMIT_EXCEEDED: "rate",
    E.ERROR_FREE_USER_USAGE_LIMIT: "usage",
    E.ERROR_PRO_USER_USAGE_LIMIT: "usage",
    E.ERROR_AUTH_TOKEN_NOT_FOUND: "auth",
    E.ERROR_AUTH_TOKEN_EXPIRED: "auth",
    E.ERROR_OPENAI: "upstream",
    E.ERROR_OPENAI_RATE_LIMIT_EXCEEDED: "rate",
    E.ERROR_OPENAI_ACCOUNT_LIMIT_EXCEEDED: "rate",
    E.ERROR_TASK_UUID_NOT_FOUND: "request",
    E.ERROR_TASK_NO_PERMISSIONS: "permission",
    E.ERROR_AGENT_REQUIRES_LOGIN: "auth",
    E.ERROR_AGENT_ENGINE_NOT_FOUND: "request",
    E.ERROR_MAX_TOKENS: "request",
    E.ERROR_USER_ABORTED_REQUEST: "end",
    E.ERROR_GENERIC_RATE_LIMIT_EXCEEDED: "rate",
    E.ERROR_PRO_USER_ONLY: "plan",
    E.ERROR_API_KEY_NOT_SUPPORTED: "auth",
    E.ERROR_TIMEOUT: "timeout",
    E.ERROR_SLASH_EDIT_FILE_TOO_LONG: "request",
    E.ERROR_FILE_UNSUPPORTED: "request",
    E.ERROR_GPT_4_VISION_PREVIEW_RATE_LIMIT: "rate",
    E.ERROR_CUSTOM_MESSAGE: "upstream",
    E.ERROR_OUTDATED_CLIENT: "outdated",
    E.ERROR_CLAUDE_IMAGE_TOO_LARGE: "request",
    E.ERROR_GITGRAPH_NOT_FOUND: "request",
    E.ERROR_FILE_NOT_FOUND: "request",
    E.ERROR_API_KEY_RATE_LIMIT: "rate",
    E.ERROR_DEBOUNCED: "rate",
    E.ERROR_BAD_REQUEST: "request",
    E.ERROR_REPOSITORY_SERVICE_REPOSITORY_IS_NOT_INITIALIZED: "upstream",
    E.ERROR_UNAUTHORIZED: "auth",
    E.ERROR_NOT_FOUND: "request",
    E.ERROR_DEPRECATED: "outdated",
    E.ERROR_RESOURCE_EXHAUSTED: "usage",
    E.ERROR_BAD_USER_API_KEY: "auth",
    E.ERROR_CONVERSATION_TOO_LONG: "context",
    E.ERROR_USAGE_PRICING_REQUIRED: "usage",
    E.ERROR_USAGE_PRICING_REQUIRED_CHANGEABLE: "usage",
    E.ERROR_GITHUB_NO_USER_CREDENTIALS: "permission",
    E.ERROR_GITHUB_USER_NO_ACCESS: "permission",
    E.ERROR_GITHUB_APP_NO_ACCESS: "permission",
    E.ERROR_GITHUB_MULTIPLE_OWNERS: "upstream",
    E.ERROR_RATE_LIMITED: "rate",
    E.ERROR_RATE_LIMITED_CHANGEABLE: "rate",
    E.ERROR_CUSTOM: "upstream",
    E.ERROR_HOOKS_BLOCKED: "permission",
    E.ERROR_SUSPICIOUS_USAGE_BLOCKED: "suspicious",
    E.ERROR_EXTENSION_HOST_TIMEOUT: "timeout",
    E.ERROR_NETWORK_ERROR: "upstream",
    E.ERROR_PROVIDER_ERROR: "upstream",
    E.ERROR_MODEL_BLOCKED: "plan",
    E.ERROR_INTERNAL: "upstream",
    E.ERROR_MAX_MODE_REQUIRED: "permission",
    E.ERROR_MODEL_NO_LONGER_SUPPORTED: "model",
    E.ERROR_PRICING_WARNING: "plan",
    E.ERROR_SLOW_POOL: "rate",
    E.ERROR_UNSUPPORTED_REGION: "permission",
}
_NOT_FOUND_VALUES: Final = frozenset(
    {
        E.ERROR_TASK_UUID_NOT_FOUND,
        E.ERROR_AGENT_ENGINE_NOT_FOUND,
        E.ERROR_GITGRAPH_NOT_FOUND,
        E.ERROR_FILE_NOT_FOUND,
        E.ERROR_NOT_FOUND,
    }
)

# Values whose client-facing code and meaning say more than their class (the 2026 values).
SPECIFIC: Final[dict[int, tuple[str | None, str]]] = {
    E.ERROR_SUSPICIOUS_USAGE_BLOCKED: (
        None,
        "Cursor blocked this account for suspicious usage; the gateway rests its token for an hour "
        "and tries another",
    ),
    E.ERROR_EXTENSION_HOST_TIMEOUT: (None, "Cursor timed out waiting for the editor's extension host"),
    E.ERROR_NETWORK_ERROR: (None, "a network failure inside Cursor"),
    E.ERROR_PROVIDER_ERROR: (None, "the model's provider failed behind Cursor"),
    E.ERROR_INTERNAL: (None, "an internal error in Cursor"),
    E.ERROR_MODEL_BLOCKED: (
        "model_blocked",
        "this account may not use the model (a team or account policy); other tokens are tried",
    ),
    E.ERROR_MAX_MODE_REQUIRED: (
        "max_mode_required",
        "Cursor serves this model only in Max mode, which the gateway does not request; choose another model",
    ),
    E.ERROR_MODEL_NO_LONGER_SUPPORTED: (None, "Cursor no longer serves this model"),
    E.ERROR_PRICING_WARNING: (
        "pricing_confirmation_required",
        "Cursor wants this account to accept the model's pricing first (in Cursor or on cursor.com); other "
        "tokens are tried",
    ),
    E.ERROR_SLOW_POOL: (None, "Cursor's slow pool cannot take the request now; the token cools down"),
    E.ERROR_UNSUPPORTED_REGION: (
        "unsupported_region",
        "Cursor does not serve this from the region the gateway connects from",
    ),
}


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

# "Update Required", "You seem to be using an outdated version of Cursor", "Please update to the
# latest version", "Your version of Cursor is no longer supported" (§10.5, upstream-2026.md §2).
_OUTDATED_TEXT = re.compile(
    r"update required|outdated version|update to the latest version|version of cursor is no longer supported",
    re.IGNORECASE,
)
_TOO_MANY_COMPUTERS = re.compile(r"too many computers", re.IGNORECASE)

_HINTS: Final[dict[str, str]] = {
    "auth": "Cursor rejected the token (a session token or API key); replace it in the token file",
    "outdated": "Cursor refused the client version; see the README section 'Client version'",
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
        with contextlib.suppress(ValueError):
            value = int(E.Error.Value(name))
    details = debug.get("details")
    title = detail = ""
    if isinstance(details, Mapping):
        title = str(details.get("title") or "")
        detail = str(details.get("detail") or "")
    if value is None and not title and not detail:
        return None
    return Detail(value, title, detail)


def _class_of(detail: Detail) -> str:
    """The class of one detail; Cursor reuses 28 (and may use any generic value) for "Update Required"."""
    text = f"{detail.title} {detail.detail}"
    if detail.value == E.ERROR_GPT_4_VISION_PREVIEW_RATE_LIMIT and _OUTDATED_TEXT.search(text):
        return "outdated"
    if detail.value is None:
        return "outdated" if _OUTDATED_TEXT.search(text) else "upstream"
    error_class = ERRORS.get(detail.value, "upstream")
    if error_class == "upstream" and _OUTDATED_TEXT.search(text):
        return "outdated"
    return error_class


def error_name(value: int | None) -> str:
    """`ERROR_MODEL_BLOCKED` -> `MODEL_BLOCKED`; `UNKNOWN_99` for a value the enum does not name."""
    if value is None:
        return "UNKNOWN"
    try:
        return E.Error.Name(value).removeprefix("ERROR_")
    except ValueError:
        return f"UNKNOWN_{value}"


def build_error(
    error_class: str,
    message: str,
    *,
    name: str | None = None,
    not_found: bool = False,
    retry_after: str | None = None,
    code: str | None = None,
    meaning: str | None = None,
) -> UpstreamError:
    """An `UpstreamError` for a gateway class, with the value's `meaning` or the class's operator
    hint where one helps; `code` overrides the class's code."""
    spec = CLASSES.get(error_class, CLASSES["upstream"])
    code = code or spec.code or (name or "upstream_request_error").lower()
    status = 404 if (error_class == "request" and not_found) else spec.status
    hint = meaning or _HINTS.get(error_class)
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
        text = str(error.get("message") or "") or connect_code
        error_class = (
            "outdated" if _OUTDATED_TEXT.search(text) else CONNECT_CODES.get(connect_code, "upstream")
        )
        return build_error(error_class, f"Cursor error {connect_code}: {text}")
    relevant = [d for d in details if _class_of(d) != "end"]
    if not relevant:
        return None
    # Several details: the one whose class has the highest status decides, as known clients do.
    chosen = max(relevant, key=lambda d: CLASSES.get(_class_of(d), CLASSES["upstream"]).status)
    error_class = _class_of(chosen)
    summary = " & ".join(filter(None, (_describe(d) for d in relevant))) or connect_code
    name = error_name(chosen.value)
    code, meaning = SPECIFIC.get(chosen.value, (None, None)) if chosen.value is not None else (None, None)
    return build_error(
        error_class,
        f"Cursor error {name}: {summary}",
        name=name,
        not_found=chosen.value in _NOT_FOUND_VALUES,
        code=code,
        meaning=meaning,
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
    elif status in (415, 426) or (400 <= status < 500 and _OUTDATED_TEXT.search(body)):
        # A changed media type or protocol, "Upgrade Required", or a text body such as
        # "Update Required for Composer 2" (upstream-2026.md §2): this client is too old.
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


def from_http_answer(status: int, body: bytes, retry_after: str | None = None) -> UpstreamError:
    """Map a non-200 answer from its body (a Connect JSON error, text or HTML, already capped)."""
    try:
        parsed = orjson.loads(body) if body.lstrip().startswith(b"{") else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        connect = parsed.get("error", parsed)
        if isinstance(connect, dict) and (connect.get("details") or connect.get("code")):
            mapped = from_connect_error(connect)
            if mapped is not None:
                if retry_after and mapped.error_class == "rate":
                    mapped.headers["Retry-After"] = retry_after
                return mapped
    return from_http_status(status, body.decode("utf-8", "replace"), retry_after)


def disconnected(content_seen: bool, reason: str) -> UpstreamError:
    """The connection broke: `upstream_disconnected` once content was relayed, else a connection error."""
    error = build_error("transport", f"Connection to Cursor failed: {reason}")
    if content_seen:
        error.code = "upstream_disconnected"
    return error


def stream_failure(
    exc: FramingError | UndecodableFrame | TransportError, content_seen: bool
) -> UpstreamError:
    """What a broken answer stream is: a cut frame or a broken connection (a disconnect once
    content was relayed), a malformed or undecodable frame (protocol), or a silence (timeout)."""
    if isinstance(exc, FramingError):
        if exc.kind == "truncated":  # EOF inside a frame is an abrupt disconnect (§6.3, §10.6)
            return disconnected(content_seen, str(exc))
        return build_error("protocol", f"Cursor sent a malformed stream ({exc.kind}): {exc}")
    if isinstance(exc, UndecodableFrame):
        return build_error("protocol", f"Cursor sent an undecodable frame: {exc}")
    if isinstance(exc, TransportTimeout):
        return build_error("timeout", f"Cursor did not answer in time: {exc}")
    return disconnected(content_seen, str(exc))


def check_request_size(payload: bytes) -> None:
    """A 413 for a conversation whose encoded message is over the frame limit (§6.2)."""
    if len(payload) > MAX_FRAME_BYTES:
        raise InvalidRequest(
            f"The conversation encodes to {len(payload)} bytes, over the upstream limit of {MAX_FRAME_BYTES}.",
            param="messages",
            code="request_too_large",
            status=413,
        )
