"""Who the gateway is upstream: a token with its persisted machine ids, and the identity headers.

cursor-protocol.md §3 (headers) and §4 (checksum). Every upstream adapter builds its calls'
headers here, so a token presents itself the same way on every RPC. Pure: time comes in as an
argument, request ids from `uuid4`; nothing is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

from gateway.upstream import checksum

USER_AGENT: Final = "connect-es/1.6.1"

# What kind of credential a pool token is: a session token (the `WorkosCursorSessionToken` JWT,
# sent as is) or a user API key (exchanged for an access token first; `tokens/access.py`).
TokenKind = Literal["session", "api_key"]


@dataclass(frozen=True, slots=True)
class UpstreamIdentity:
    """What identifies one token upstream.

    `jwt` is the bearer sent upstream: the session JWT, or the access token an API key was
    exchanged for. `identity` holds the token's persisted machine ids. `kind` says which credential
    the pool token is, so adapters and the upstream router can decide by it. `token_id` names the
    pool token stably (its fingerprint; the access token of a key changes at every refresh); empty
    when the caller has no pool token, and then `jwt` names it.
    """

    jwt: str
    identity: checksum.Identity
    kind: TokenKind = "session"
    token_id: str = ""

    @property
    def key(self) -> str:
        """What names the pool token behind this identity."""
        return self.token_id or self.jwt


@dataclass(frozen=True, slots=True)
class HeaderOptions:
    client_version: str
    timezone: str
    alphabet: checksum.Alphabet


def build_headers(
    who: UpstreamIdentity, options: HeaderOptions, *, unix_seconds: int, unary: bool = False
) -> dict[str, str]:
    """The headers of one streaming call, or of a unary one (§3.1); the checksum is fresh per call."""
    request_id = str(uuid.uuid4())
    encoding = (
        {"accept-encoding": "gzip"}
        if unary
        else {"connect-accept-encoding": "gzip", "connect-content-encoding": "gzip"}
    )
    return {
        "authorization": f"Bearer {who.jwt}",
        "content-type": "application/proto" if unary else "application/connect+proto",
        "connect-protocol-version": "1",
        **encoding,
        "user-agent": USER_AGENT,
        "x-cursor-client-version": options.client_version,
        "x-cursor-checksum": checksum.checksum_header(who.identity, unix_seconds, options.alphabet),
        "x-client-key": checksum.client_key(who.identity),
        "x-session-id": checksum.session_id(who.identity),
        "x-request-id": request_id,
        "x-amzn-trace-id": f"Root={request_id}",
        "x-cursor-timezone": options.timezone,
        "x-ghost-mode": "true",
        "x-cursor-client-type": "ide",
        "x-cursor-client-device-type": "desktop",
        "x-cursor-streaming": "true",
        "x-new-onboarding-completed": "false",
    }
