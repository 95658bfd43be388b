"""User API keys as Cursor's backend treats them: the key exchange, and ChatService retired by token.

* `POST /auth/exchange_user_api_key` (the official SDK's exchange, agent-v1-sdk.md §1): the key is
  the bearer (`Authorization: Bearer <key>`), the body the JSON object `{}` sent as
  `application/json`. A key listed in `SimConfig.api_keys` (key → the account's `sub`) gets
  `{"accessToken": <JWT>, "refreshToken": <the same JWT>}`: an access JWT of type `api_key_token`
  for that `sub`, expiring `access_token_lifetime_s` after now. A missing or unknown key is a 401
  `{"error": {"code": "unauthenticated", "message": …}}`; a body that is not a JSON object is a 400;
  scripted failures (`push_unary(EXCHANGE_PATH, Scenario("http_error", status=503))`, stalls,
  disconnects) come from the unary fault queue like every other unary endpoint's.
* ChatService retired: a chat request whose token matches `SimConfig.chat_retired` (a token key as
  for `token_errors`: JWT `sub`, user id, whole token or its 8-hex fingerprint; or a token kind,
  `session` or `api_key`) gets what a removed RPC answers, HTTP 404 with Connect `unimplemented`.
  Cursor reports the RPC decommissioned for API-key tokens, so `api_key` is retired by default.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Final

from tests.fakes.config import SimConfig
from tests.fakes.identity import make_jwt
from tests.fakes.scenarios import http_error_response
from tests.fakes.script import Params
from tests.fakes.steps import Respond, json_response
from tests.fakes.validate import bearer

EXCHANGE_PATH: Final = "/auth/exchange_user_api_key"
ACCESS_TOKEN_TYPE: Final = "api_key_token"


def _refused(status: int, code: str, message: str) -> Respond:
    return json_response(status, json.dumps({"error": {"code": code, "message": message}}).encode())


def exchange_user_api_key(config: SimConfig, headers: Mapping[str, str], body: bytes) -> Respond:
    key = bearer(headers)
    if not key:
        return _refused(401, "unauthenticated", "Missing API key")
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        parsed = json.loads(body) if content_type == "application/json" else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return _refused(400, "invalid_argument", "Expected a JSON object body")
    sub = config.api_keys.get(key)
    if sub is None:
        return _refused(401, "unauthenticated", "Invalid API key")
    access = make_jwt(sub=sub, exp=int(config.now()) + config.access_token_lifetime_s, type=ACCESS_TOKEN_TYPE)
    return json_response(200, json.dumps({"accessToken": access, "refreshToken": access}).encode())


def token_kind(claims: Mapping[str, Any] | None) -> str | None:
    """`api_key` for an access token from the exchange, `session` for a session JWT."""
    kind = (claims or {}).get("type")
    if kind == ACCESS_TOKEN_TYPE:
        return "api_key"
    return "session" if kind in ("session", "web") else None


def chat_retired(
    config: SimConfig, keys: Collection[str], claims: Mapping[str, Any] | None
) -> Respond | None:
    """The 404 `unimplemented` answer when ChatService is retired for this token, else None."""
    retired = config.chat_retired
    if token_kind(claims) in retired or any(key in retired for key in keys):
        return http_error_response(404, Params({}))
    return None
