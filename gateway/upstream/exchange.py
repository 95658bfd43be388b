"""Exchange a Cursor user API key for an access token, the way Cursor's official SDK does.

`POST {CURSOR_BASE_URL}/auth/exchange_user_api_key` with `Authorization: Bearer <key>`,
`Content-Type: application/json` and the body `{}`; the JSON answer's `accessToken` is the bearer
for every RPC. Nothing else of the answer is used (its `refreshToken` expires with the access
token: a refresh is simply another exchange). When the access token expires is read from its JWT
`exp` by the caller (`tokens/access.py`), which also decides when to exchange.

Every failure is an `UpstreamError` whose class the token pool acts on:

| answer                        | class     | the key                  |
|-------------------------------|-----------|--------------------------|
| 401, 403                      | auth      | disabled                 |
| 429                           | rate      | cooling down             |
| 404                           | retired   | unchanged (wrong base URL, or the endpoint is gone) |
| other 4xx                     | request   | unchanged                |
| 5xx, connection failure       | upstream, transport | unchanged; tried again later |
| timeout                       | timeout   | unchanged; tried again later |
| 2xx without an `accessToken`  | protocol  | unchanged                |
"""

from __future__ import annotations

from typing import Final

import orjson

from gateway.errors import UpstreamError
from gateway.upstream.errors import build_error, from_http_status
from gateway.upstream.transport import TransportError, TransportTimeout, UpstreamTransport, read_capped

EXCHANGE_PATH: Final = "/auth/exchange_user_api_key"
BODY_LIMIT: Final = 64 * 1024
ACCESS_TOKEN_LIMIT: Final = 16 * 1024


class KeyExchange:
    """Exchanges keys over the gateway's upstream transport; call it with a key."""

    def __init__(self, transport: UpstreamTransport, base_url: str) -> None:
        self._transport = transport
        self._url = base_url + EXCHANGE_PATH

    async def __call__(self, key: str) -> str:
        """The access token for `key`; raises `UpstreamError` (see the module's table)."""
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        try:
            async with self._transport.post(self._url, headers, b"{}") as response:
                raw = await read_capped(response, BODY_LIMIT)
                status, retry_after = response.status, response.headers.get("retry-after")
        except TransportTimeout as exc:
            raise build_error("timeout", f"Cursor's API key exchange did not answer in time: {exc}") from exc
        except TransportError as exc:
            raise build_error("transport", f"Cursor's API key exchange could not be reached: {exc}") from exc
        if status != 200:
            raise _refusal(status, raw, retry_after)
        return _access_token(raw)


def _refusal(status: int, raw: bytes, retry_after: str | None) -> UpstreamError:
    said = _message(raw)
    suffix = f": {said}" if said else ""
    if status in (401, 403):
        return build_error("auth", f"Cursor refused the API key (HTTP {status}){suffix}")
    error_class = from_http_status(status, said).error_class
    return build_error(
        error_class,
        f"Cursor's API key exchange failed with HTTP {status}{suffix}",
        name=f"http_{status}",
        retry_after=retry_after,
    )


def _message(raw: bytes) -> str:
    """What the refusal says: `error.message`, `message` or `error` of a JSON body, else its text."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return " ".join(raw.decode("utf-8", "replace").split())[:200]
    if isinstance(body, dict):
        error = body.get("error")
        for value in (error.get("message") if isinstance(error, dict) else error, body.get("message")):
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:200]
    return ""


def _access_token(raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    token = body.get("accessToken") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > ACCESS_TOKEN_LIMIT:
        raise build_error("protocol", "Cursor's API key exchange answered without a usable accessToken")
    return token.strip()
