"""The unary and JSON endpoints (SIM-29…SIM-32): models, dry run, server config, profile, usage,
token refresh, and Cursor's update feed (upstream-2026.md §1). Each handler takes the simulator's
config plus the request and returns a `Respond` (the feed: a plan, since it can be down).

Unary Connect bodies are raw protobuf (no envelope), optionally gzipped both ways.
"""

from __future__ import annotations

import gzip
import json
import math
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from google.protobuf.message import DecodeError

from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import catalog
from tests.fakes.config import SimConfig
from tests.fakes.identity import make_jwt, parse_jwt, user_id_of
from tests.fakes.steps import Abort, Respond, Step, json_response, text_response
from tests.fakes.validate import Rejection, version_at_least
from tests.fakes.wire import (
    ErrorDetail,
    WireError,
    connect_error,
    error_detail_json,
    gunzip_bounded,
    pb_bytes,
    pb_varint,
)

CONNECT_STATUS: Final[dict[str, int]] = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}

OAUTH_CLIENT_ID: Final = "KbZUR41cY7W6zRSdpSUJ7I7mLYBKOCmB"


def rejection_error_json(rejection: Rejection) -> dict[str, Any]:
    """The Connect error object for a Connect-level rejection."""
    if rejection.error is None:
        return connect_error(rejection.code, "Error")
    item = ErrorDetail(
        rejection.error,
        title=rejection.title,
        detail=rejection.detail,
        action_required=rejection.action_required,
    )
    return connect_error(
        rejection.code, "Error", [error_detail_json(item, catalog.error_name(rejection.error))]
    )


def unary_error(error: dict[str, Any], *, shape: str = "wrapped", status: int | None = None) -> Respond:
    """A non-200 unary error: `{"error": {...}}` (wrapped, §10.1) or plain Connect `{code, ...}`."""
    body = {"error": error} if shape == "wrapped" else error
    return json_response(status or CONNECT_STATUS.get(str(error.get("code")), 500), json.dumps(body).encode())


def rejection_response(rejection: Rejection) -> Respond:
    if rejection.status is not None:
        return Respond(rejection.status, (("content-type", rejection.content_type),), rejection.body)
    return unary_error(rejection_error_json(rejection))


def unary_body(headers: Mapping[str, str], body: bytes) -> bytes:
    """The raw protobuf of a unary request; gunzipped if it still is (the h2 front never inflates)."""
    if headers.get("content-encoding", "").lower() == "gzip" and body[:2] == b"\x1f\x8b":
        return gunzip_bounded(body)
    return body


def proto_response(headers: Mapping[str, str], payload: bytes, config: SimConfig) -> Respond:
    out: list[tuple[str, str]] = [("content-type", "application/proto")]
    if config.unary_gzip and "gzip" in headers.get("accept-encoding", "").lower():
        payload = gzip.compress(payload, mtime=0)
        out.append(("content-encoding", "gzip"))
    return Respond(200, tuple(out), payload)


# ---------------------------------------------------------------- Connect unary


def available_models(config: SimConfig, headers: Mapping[str, str], body: bytes) -> Respond:
    try:
        pb.AvailableModelsRequest.FromString(unary_body(headers, body))
    except (DecodeError, WireError):
        return unary_error(connect_error("invalid_argument", "cannot decode AvailableModelsRequest"))
    response = pb.AvailableModelsResponse()
    for spec in config.models:
        model = response.models.add(name=spec.name, default_on=spec.default_on)
        model.supports_agent = spec.supports_agent
        model.is_chat_only = spec.is_chat_only
        model.supports_thinking = spec.supports_thinking
        model.supports_images = spec.supports_images
        model.supports_max_mode = spec.supports_max_mode
        model.supports_non_max_mode = spec.supports_non_max_mode
        model.context_token_limit = spec.context_token_limit
        if spec.context_token_limit_for_max_mode is not None:
            model.context_token_limit_for_max_mode = spec.context_token_limit_for_max_mode
        if spec.degradation_status is not None:
            model.degradation_status = cast(
                "pb.AvailableModelsResponse.DegradationStatus", spec.degradation_status
            )
        if spec.client_display_name is not None:
            model.client_display_name = spec.client_display_name
        if spec.server_model_name is not None:
            model.server_model_name = spec.server_model_name
        if spec.price is not None:
            model.price = spec.price
    return proto_response(headers, response.SerializeToString(deterministic=True), config)


def _tokens(text: str) -> int:
    return math.ceil(len(text.encode()) / 4)


def prompt_dry_run(config: SimConfig, headers: Mapping[str, str], body: bytes) -> Respond:
    """SIM-30: counts = ceil(UTF-8 bytes / 4) of the last HUMAN message / of everything."""
    try:
        wrapper = pb.StreamUnifiedChatRequestWithTools.FromString(unary_body(headers, body))
    except (DecodeError, WireError):
        return unary_error(connect_error("invalid_argument", "cannot decode the request"))
    request = wrapper.stream_unified_chat_request
    humans = [m.text for m in request.conversation if m.type == pb.MESSAGE_TYPE_HUMAN]
    user = _tokens(humans[-1]) if humans else 0
    full = _tokens(request.explicit_context.context + "".join(m.text for m in request.conversation))
    payload = b""
    if config.dry_run_fields in ("both", "user"):
        payload += pb_bytes(4, pb_varint(2, user))
    if config.dry_run_fields in ("both", "full"):
        payload += pb_bytes(5, pb_varint(2, full))
    return proto_response(headers, payload, config)


def server_config(config: SimConfig, headers: Mapping[str, str], body: bytes) -> Respond:
    """The config version, Cursor's say on the bidirectional run, and the agent hosts."""
    answer = bidi_pb.GetServerConfigResponse(
        config_version=config.server_config_version,
        http2_config=config.http2_config,  # type: ignore[arg-type]
        agent_url_config=bidi_pb.AgentUrlConfig(agent_url=config.agent_url, agentn_url=config.agentn_url),
    )
    return proto_response(headers, answer.SerializeToString(deterministic=True), config)


# ---------------------------------------------------------------- JSON endpoints


def _claims_user(config: SimConfig, token: str | None) -> tuple[str, dict[str, Any]] | None:
    claims = parse_jwt(token) if token else None
    if claims is None or not isinstance(claims.get("sub"), str):
        return None
    exp = claims.get("exp")
    if isinstance(exp, int) and exp <= config.now():
        return None
    return user_id_of(claims["sub"]), claims


def _membership(config: SimConfig, user: str, sub: str) -> str:
    return config.memberships.get(user) or config.memberships.get(sub) or config.membership


def _unauthorized() -> Respond:
    return json_response(401, json.dumps({"error": "Unauthorized"}).encode())


def stripe_profile(config: SimConfig, headers: Mapping[str, str], token: str | None) -> Respond:
    found = _claims_user(config, token)
    if found is None:
        return _unauthorized()
    user, claims = found
    membership = _membership(config, user, claims["sub"])
    body = {
        "membershipType": membership,
        "individualMembershipType": membership,
        "paymentId": None if membership in ("free", "free_trial") else "cus_sim" + user[-8:],
        "subscriptionStatus": "trialing" if membership == "free_trial" else "active",
        "daysRemainingOnTrial": 7 if membership == "free_trial" else 0,
        "isTeamMember": membership == "enterprise",
        "isOnStudentPlan": False,
        "verifiedStudent": False,
        "trialEligible": membership == "free",
    }
    return json_response(200, json.dumps(body).encode())


def usage_summary(config: SimConfig, headers: Mapping[str, str]) -> Respond:
    """SIM-32: requires `WorkosCursorSessionToken=<user_id>%3A%3A<JWT>`."""
    cookie = ""
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "WorkosCursorSessionToken":
            cookie = value
    user_part, sep, jwt = urllib.parse.unquote(cookie).partition("::")
    found = _claims_user(config, jwt) if sep else None
    if found is None or found[0] != user_part:
        return _unauthorized()
    user, claims = found
    now = datetime.fromtimestamp(config.now(), UTC).replace(microsecond=0)
    start, end = now - timedelta(days=10), now + timedelta(days=20)
    limit = config.plan_limit
    used = (
        limit if (user in config.exhausted_users or claims["sub"] in config.exhausted_users) else limit // 5
    )
    body = {
        "billingCycleStart": start.isoformat().replace("+00:00", ".000Z"),
        "billingCycleEnd": end.isoformat().replace("+00:00", ".000Z"),
        "membershipType": _membership(config, user, claims["sub"]),
        "limitType": "user",
        "isUnlimited": False,
        "individualUsage": {
            "plan": {
                "enabled": True,
                "used": used,
                "limit": limit,
                "remaining": limit - used,
                "breakdown": {"included": used, "bonus": 0, "total": used},
            },
            "onDemand": {"enabled": False, "used": 0, "limit": None, "remaining": None},
        },
        "teamUsage": {},
    }
    return json_response(200, json.dumps(body).encode())


def oauth_token(config: SimConfig, body: bytes, refresh_counts: dict[str, int]) -> Respond:
    """SIM-31: a valid session JWT as `refresh_token` gets a new JWT with a later `exp`."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("grant_type") != "refresh_token":
        return json_response(400, json.dumps({"error": "unsupported_grant_type"}).encode())
    token = data.get("refresh_token")
    found = _claims_user(config, token if isinstance(token, str) else None)
    if found is None or found[1].get("type") != "session":
        return json_response(401, json.dumps({"error": "invalid_grant", "shouldLogout": True}).encode())
    _, claims = found
    sub = claims["sub"]
    refresh_counts[sub] = refresh_counts.get(sub, 0) + 1
    now = int(config.now())
    exp = max(int(claims.get("exp", now)), now) + config.refresh_lifetime_s
    extra = {k: v for k, v in claims.items() if k not in ("sub", "exp", "type", "time", "randomness")}
    new = make_jwt(sub=sub, exp=exp, type="session", time=str(now), **extra)
    return json_response(
        200, json.dumps({"access_token": new, "id_token": new, "shouldLogout": False}).encode()
    )


# ---------------------------------------------------------------- the update feed

FEED_PREFIX: Final = "/updates/api/"
FEED_COMMIT: Final = "67ac8ff8" + "0" * 32
FEED_MODES: Final = ("ok", "no_update", "error", "garbage", "down")


def _feed_fault(mode: str) -> list[Step] | None:
    if mode == "down":
        return [Abort()]
    if mode == "error":
        return [text_response(503, "upstream connect error or disconnect/reset before headers")]
    if mode == "garbage":
        return [json_response(200, json.dumps({"name": "latest", "version": "3.x"}).encode())]
    if mode == "no_update":
        return [Respond(204, (), b"")]
    if mode != "ok":
        raise ValueError(f"feed modes are {FEED_MODES}, got {mode!r}")
    return None


def update_feed(config: SimConfig, path: str) -> list[Step]:
    """`GET /updates/api/update/<platform>/cursor/<version>[/<machine hash>]/stable` (204 when the
    version asked from is the newest) and `GET /updates/api/download/stable/<platform>/cursor`;
    `config.feed_update` / `config.feed_download` switch each to a failure mode."""
    parts = path.removeprefix(FEED_PREFIX).split("/")
    version = config.feed_version
    if len(parts) in (5, 6) and parts[0] == "update" and parts[2] == "cursor" and parts[-1] == "stable":
        fault = _feed_fault(config.feed_update)
        if fault is not None:
            return fault
        platform, asked = parts[1], parts[3]
        if version_at_least(asked, version):
            return [Respond(204, (), b"")]
        url = f"https://downloads.cursor.com/production/{FEED_COMMIT}/{platform.replace('-', '/')}/Cursor-{version}.zip"
        body = {
            "url": url,
            "name": version,
            "version": version,
            "productVersion": version,
            "sha256hash": "0" * 64,
        }
        return [json_response(200, json.dumps(body).encode())]
    if len(parts) == 4 and parts[:2] == ["download", "stable"] and parts[3] == "cursor":
        fault = _feed_fault(config.feed_download)
        if fault is not None:
            return fault
        url = f"https://downloads.cursor.com/production/{FEED_COMMIT}/{parts[2].replace('-', '/')}/Cursor-{version}.zip"
        body = {"downloadUrl": url, "version": version, "commitSha": FEED_COMMIT}
        return [json_response(200, json.dumps(body).encode())]
    return [text_response(404, "Not Found")]
