"""Request checks the way the upstream answers them (SIM-04…SIM-10).

Owns: header validation (auth, content type, Connect headers, client version, checksum,
identity-header shapes) and the structural check of a decoded `StreamUnifiedChatRequest`.
Each failure is a `Rejection`: either an HTTP status before any frame, or a Connect error
(an end-of-stream error on the chat RPC, a non-200 JSON body on unary calls).
"""

from __future__ import annotations

import dataclasses
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import catalog
from tests.fakes.config import SimConfig
from tests.fakes.identity import ChecksumInfo, parse_checksum, parse_jwt

UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID4_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HEX64_RE: Final = re.compile(r"^[0-9a-f]{64}$")
COOKIE_PREFIX_RE: Final = re.compile(r"^[^.]*(%3A%3A|::)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was refused and how the upstream would say it."""

    reason: str
    status: int | None = None  # an HTTP status before any frame, or None for a Connect error
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    error: int | None = None  # ErrorDetails value, None for a bare Connect code
    code: str = "invalid_argument"
    title: str | None = None
    detail: str | None = None
    action_required: str | None = None


@dataclass(slots=True)
class HeaderReport:
    """What the header checks learned, rejection or not."""

    rejection: Rejection | None = None
    warnings: list[str] = field(default_factory=list)
    token: str | None = None
    claims: dict[str, Any] | None = None
    checksum: ChecksumInfo | None = None

    @property
    def sub(self) -> str | None:
        sub = (self.claims or {}).get("sub")
        return sub if isinstance(sub, str) else None


def _error(
    reason: str, error: int, code: str, title: str | None = None, detail: str | None = None
) -> Rejection:
    default_title, default_detail = catalog.default_texts(error)
    return Rejection(
        reason, error=error, code=code, title=title or default_title, detail=detail or default_detail
    )


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_auth(report: HeaderReport, now: float) -> Rejection | None:
    """SIM-04: Bearer JWT with an integer future `exp` and `type` in {session, web, api_key_token}
    (the last: an access token from the API key exchange)."""
    token, claims = report.token, report.claims
    if not token:
        return _error("auth_missing", 2, "unauthenticated")
    if COOKIE_PREFIX_RE.match(token):
        return _error("auth_cookie_prefix", 3, "unauthenticated")
    if claims is None or claims.get("type") not in ("session", "web", "api_key_token"):
        return _error("auth_malformed", 1, "unauthenticated")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        return _error("auth_malformed", 1, "unauthenticated")
    if exp <= now:
        return _error("auth_expired", 12, "unauthenticated")
    return None


def parse_version(text: str) -> tuple[int, ...] | None:
    parts: list[int] = []
    for piece in text.strip().split("-", 1)[0].split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            return None
        parts.append(int(digits.group()))
    return tuple(parts) if parts else None


def version_at_least(version: str, minimum: str) -> bool:
    have, need = parse_version(version), parse_version(minimum)
    if have is None or need is None:
        return False
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


OUTDATED_VARIANTS: Final = ("update_required", "http_400", "outdated_client", "deprecated")


def check_version(headers: Mapping[str, str], config: SimConfig) -> Rejection | None:
    """SIM-07: semantic comparison against the configured minimum. Below it, the refusal of
    `config.outdated_variant`: `update_required` (the live end-of-stream trailer: error 28 titled
    "Update Required"), `http_400` (the live plain-text HTTP 400), `outdated_client` (30) or
    `deprecated` (40)."""
    if version_at_least(headers.get("x-cursor-client-version", ""), config.min_client_version):
        return None
    variant = config.outdated_variant
    if variant == "update_required":
        rejection = _error(
            "client_outdated",
            28,
            "resource_exhausted",
            catalog.UPDATE_REQUIRED_TITLE,
            catalog.UPDATE_REQUIRED_DETAIL,
        )
        return dataclasses.replace(rejection, action_required="payment")
    if variant == "http_400":
        return Rejection("client_outdated", status=400, body=catalog.UPDATE_REQUIRED_HTTP_BODY.encode())
    if variant == "deprecated":
        return _error("client_outdated", 40, "failed_precondition")
    if variant == "outdated_client":
        return _error("client_outdated", 30, "failed_precondition")
    raise ValueError(f"outdated_variant must be one of {OUTDATED_VARIANTS}, got {variant!r}")


def check_checksum(headers: Mapping[str, str], config: SimConfig, report: HeaderReport) -> Rejection | None:
    """SIM-08: the 137/72-character pattern, and optionally prefix freshness."""
    info = parse_checksum(headers.get("x-cursor-checksum", ""))
    report.checksum = info
    if info is None:
        return _error("checksum_format", 36, "invalid_argument", "Bad request", "Invalid checksum.")
    if config.check_checksum_fresh:
        now_k = int(config.now()) // 1000
        if not info.well_formed or info.k is None or abs(info.k - now_k) > 1:
            return _error("checksum_stale", 36, "invalid_argument", "Bad request", "Invalid checksum.")
    return None


def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def identity_warnings(headers: Mapping[str, str], *, streaming: bool) -> list[str]:
    """SIM-09: shapes of the per-token and per-request identity headers."""
    warnings: list[str] = []
    if not HEX64_RE.match(headers.get("x-client-key", "")):
        warnings.append("x-client-key is not 64 lowercase hex")
    if not UUID_RE.match(headers.get("x-session-id", "")):
        warnings.append("x-session-id is not a lowercase UUID")
    if not UUID4_RE.match(headers.get("x-request-id", "")):
        warnings.append("x-request-id is not a UUID v4")
    trace = headers.get("x-amzn-trace-id", "")
    if not (trace.startswith("Root=") and UUID_RE.match(trace[5:])):
        warnings.append("x-amzn-trace-id is not Root=<uuid>")
    zone = headers.get("x-cursor-timezone", "")
    if not zone or not _valid_zone(zone):
        warnings.append("x-cursor-timezone is not an IANA zone name")
    if headers.get("x-ghost-mode") != "true":
        warnings.append("x-ghost-mode is not true")
    if not headers.get("user-agent", "").startswith("connect-es/"):
        warnings.append("user-agent is not connect-es/*")
    if headers.get("cookie"):
        warnings.append("a cookie header was sent")
    if streaming and "accept-encoding" in headers:
        warnings.append("accept-encoding sent on a streaming call")
    return warnings


def check_headers(
    headers: Mapping[str, str], config: SimConfig, *, streaming: bool, auth: bool = True
) -> HeaderReport:
    """All header checks of one Connect call, in the order the upstream applies them."""
    report = HeaderReport()
    wanted = "application/connect+proto" if streaming else "application/proto"
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if config.check_content_type and content_type != wanted:
        report.rejection = Rejection("content_type", status=415, body=b"Unsupported Media Type")
        return report
    if config.check_connect_headers:
        if headers.get("connect-protocol-version") != "1":
            body = json.dumps({"code": "invalid_argument", "message": "missing connect-protocol-version: 1"})
            report.rejection = Rejection(
                "connect_protocol_version", status=400, body=body.encode(), content_type="application/json"
            )
            return report
        if streaming:
            # The response encoding must be offered; the request's is declared only by clients
            # that compress (upstream-2026.md §6), and then it must be gzip.
            for name, required in (("connect-accept-encoding", True), ("connect-content-encoding", False)):
                value = headers.get(name)
                if (value is None and required) or (value is not None and value.lower() != "gzip"):
                    body = json.dumps({"code": "invalid_argument", "message": f"{name} must be gzip"})
                    report.rejection = Rejection(
                        f"bad_{name}", status=400, body=body.encode(), content_type="application/json"
                    )
                    return report
    report.token = bearer(headers)
    report.claims = parse_jwt(report.token) if report.token else None
    if config.check_identity_headers:
        report.warnings = identity_warnings(headers, streaming=streaming)
    if auth and config.check_auth:
        report.rejection = check_auth(report, config.now())
    if report.rejection is None and config.check_client_version:
        report.rejection = check_version(headers, config)
    if config.check_checksum:
        rejection = check_checksum(headers, config, report)
        report.rejection = report.rejection or rejection
    else:
        report.checksum = parse_checksum(headers.get("x-cursor-checksum", ""))
    if report.rejection is None and config.strict_headers and report.warnings:
        report.rejection = _error(
            "identity_headers", 36, "invalid_argument", "Bad request", report.warnings[0]
        )
    return report


# ---------------------------------------------------------------- body


def known_models(config: SimConfig) -> set[str]:
    names: set[str] = set()
    for model in config.models:
        if model.degradation_status == catalog.DISABLED:
            continue
        names.add(model.name)
        if model.server_model_name:
            names.add(model.server_model_name)
        names.update(model.aliases)
    return names


def _bad(detail: str) -> Rejection:
    return _error("bad_request_body", 36, "invalid_argument", "Bad request", detail)


def check_request(request: pb.StreamUnifiedChatRequest, config: SimConfig) -> Rejection | None:
    """SIM-10: the structure the upstream relies on."""
    conversation = request.conversation
    if not conversation:
        return _bad("conversation is empty")
    headers = request.full_conversation_headers_only
    if len(headers) != len(conversation):
        return _bad("full_conversation_headers_only does not match conversation")
    for i, (message, header) in enumerate(zip(conversation, headers, strict=True)):
        if header.bubble_id != message.bubble_id or header.type != message.type:
            return _bad(f"conversation header {i} does not match its message")
        if message.HasField("server_bubble_id") != (message.type == pb.MESSAGE_TYPE_AI):
            return _bad(f"server_bubble_id on message {i} of type {message.type}")
    details = request.model_details
    if not details.HasField("azure_state"):
        return _bad("model_details.azure_state is missing")
    if config.check_model and details.model_name not in known_models(config):
        return _error("bad_model_name", 5, "invalid_argument")
    has_tools = len(request.mcp_tools) > 0
    if list(request.supported_tools) != ([pb.CLIENT_SIDE_TOOL_V2_MCP] if has_tools else []):
        return _bad("supported_tools must be [MCP] exactly when mcp_tools are declared")
    for tool in request.mcp_tools:
        try:
            json.loads(tool.parameters)
        except ValueError:
            return _bad(f"mcp_tools[{tool.name}].parameters is not JSON")
    for i, message in enumerate(conversation):
        for result in message.tool_results:
            try:
                parsed = json.loads(result.result.mcp_result.result)
            except ValueError:
                return _bad(f"tool result on message {i} is not JSON")
            if not isinstance(parsed, dict) or not isinstance(parsed.get("content"), list):
                return _bad(f"tool result on message {i} has no content array")
    return None
