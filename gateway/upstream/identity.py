"""Who the gateway is upstream: a token with its persisted machine ids, and the identity headers.

cursor-protocol.md §3 (headers), §4 (checksum) and upstream-2026.md §6, §7. Every upstream adapter
builds its calls' headers here, so a token presents itself the same way on every RPC: the same
machine (`x-client-key`, `x-session-id`, `x-cursor-config-version`, all derived from its machine
id) on the same platform (`x-cursor-client-os`/`-arch`, the platform whose update feed gives the
announced version). The client version is an argument: each adapter announces its product's
version (`version.py`). Pure: time comes in as an argument, request ids from `uuid4`.
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
class Platform:
    """The OS and CPU the gateway presents as, e.g. `linux` / `x64` (feed name `linux-x64`)."""

    os: str
    arch: str

    @classmethod
    def parse(cls, name: str) -> Platform:
        os_name, _, arch = name.partition("-")
        if not os_name or not arch:
            raise ValueError(f"a platform looks like linux-x64, got {name!r}")
        return cls(os_name, arch)

    @property
    def name(self) -> str:
        return f"{self.os}-{self.arch}"


LINUX_X64: Final = Platform("linux", "x64")


@dataclass(frozen=True, slots=True)
class HeaderOptions:
    timezone: str
    alphabet: checksum.Alphabet
    platform: Platform = LINUX_X64
    gzip_requests: bool = False  # request frames may be gzipped: declare the encoding (§6)


def build_headers(
    who: UpstreamIdentity,
    options: HeaderOptions,
    *,
    client_version: str,
    unix_seconds: int,
    unary: bool = False,
) -> dict[str, str]:
    """The headers of one streaming call, or of a unary one (§3.1); the checksum is fresh per call.

    `connect-content-encoding` is declared only when request frames may be compressed.
    """
    request_id = str(uuid.uuid4())
    encoding = {"accept-encoding": "gzip"} if unary else {"connect-accept-encoding": "gzip"}
    if options.gzip_requests and not unary:
        encoding["connect-content-encoding"] = "gzip"
    return {
        "authorization": f"Bearer {who.jwt}",
        "content-type": "application/proto" if unary else "application/connect+proto",
        "connect-protocol-version": "1",
        **encoding,
        "user-agent": USER_AGENT,
        "x-cursor-client-version": client_version,
        "x-cursor-checksum": checksum.checksum_header(who.identity, unix_seconds, options.alphabet),
        "x-client-key": checksum.client_key(who.identity),
        "x-session-id": checksum.session_id(who.identity),
        "x-cursor-config-version": checksum.config_version(who.identity),
        "x-request-id": request_id,
        "x-amzn-trace-id": f"Root={request_id}",
        "x-cursor-timezone": options.timezone,
        "x-ghost-mode": "true",
        "x-cursor-client-type": "ide",
        "x-cursor-client-os": options.platform.os,
        "x-cursor-client-arch": options.platform.arch,
        "x-cursor-client-device-type": "desktop",
        "x-cursor-streaming": "true",
        "x-new-onboarding-completed": "false",
    }


# ---------------------------------------------------------------- the agent service (agent.v1)

ALLOWED_TOOLS_HEADER: Final = "x-cursor-agent-allowed-tools"


@dataclass(frozen=True, slots=True)
class AgentHeaderOptions:
    """`client_version` is `cli-<build>` (Cursor's CLI) or `sdk-<version>` (its TypeScript SDK)."""

    client_version: str

    @property
    def client_type(self) -> str:
        return self.client_version.partition("-")[0]


def build_agent_headers(
    who: UpstreamIdentity,
    options: AgentHeaderOptions,
    *,
    request_id: str,
    allowed_tools: str | None = None,
    unary: bool = False,
    http1: bool = False,
) -> dict[str, str]:
    """The headers of one agent-service call, as Cursor's CLI and SDK send them.

    No checksum and no machine ids: neither client sends them on this service, and a CLI
    presenting a desktop machine would be an identity no real client has. Every call of one run
    shares `request_id` (the SDK ties RunSSE and its appends together with it).
    `x-cursor-streaming` marks the calls of the HTTP/1.1 carrier, as the SDK does.
    """
    headers = {
        "authorization": f"Bearer {who.jwt}",
        "content-type": "application/proto" if unary else "application/connect+proto",
        "connect-protocol-version": "1",
        "accept-encoding" if unary else "connect-accept-encoding": "gzip",
        "user-agent": USER_AGENT,
        "x-cursor-client-type": options.client_type,
        "x-cursor-client-version": options.client_version,
        "x-ghost-mode": "true",
        "x-request-id": request_id,
        "x-original-request-id": request_id,
    }
    if http1:
        headers["x-cursor-streaming"] = "true"
    if allowed_tools is not None:
        headers[ALLOWED_TOOLS_HEADER] = allowed_tools
    return headers
