"""Where a token's agent runs go: `aiserver.v1.ServerConfigService/GetServerConfig` on the API host.

Cursor names an agent host per account in `GetServerConfigResponse.agent_url_config`:
`agent_url` for accounts in privacy mode, `agentn_url` for accounts that allow training on
their data; a region-pinned team is refused on any other host. The gateway always announces
privacy mode (`x-ghost-mode: true`), so it takes `agent_url`, else `agentn_url`. The answer also
says whether Cursor wants the bidirectional `Run` (`http2_config`).

The answer is remembered per token for `AGENT_HOST_TTL` seconds (it is the account's, not the
gateway's). When the call fails, or names no usable host, runs go to `CURSOR_BASE_URL` itself,
which is where Cursor's official SDK sends every agent call; a failure is retried after
`FAILURE_TTL` seconds. A named host is used only on the base URL's scheme and either its host
or a host of the same parent domain (`*.cursor.sh` for `api2.cursor.sh`), so an answer can never
send a token elsewhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from google.protobuf.message import DecodeError

from gateway.upstream.framing import FramingError, gunzip_bounded
from gateway.upstream.identity import UpstreamIdentity
from gateway.upstream.pb import aiserver_agent_pb2 as pb
from gateway.upstream.transport import TransportError, UpstreamTransport, read_capped

log = logging.getLogger(__name__)

SERVER_CONFIG_PATH: Final = "/aiserver.v1.ServerConfigService/GetServerConfig"
FAILURE_TTL: Final = 60.0
MAX_TOKENS: Final = 4096  # remembered tokens; the least recently used is forgotten first
BODY_LIMIT: Final = 1024 * 1024
BIDI_OFF: Final = frozenset({pb.HTTP2_CONFIG_FORCE_ALL_DISABLED, pb.HTTP2_CONFIG_FORCE_BIDI_DISABLED})
BIDI_ON: Final = frozenset({pb.HTTP2_CONFIG_FORCE_ALL_ENABLED, pb.HTTP2_CONFIG_FORCE_BIDI_ENABLED})


@dataclass(frozen=True, slots=True)
class AgentHost:
    """A token's agent base URL; `bidi` is Cursor's say on `Run` vs `RunSSE` (None: no say)."""

    base_url: str
    bidi: bool | None = None


def acceptable(url: str, api_base: str) -> bool:
    """Whether `url` may receive the token: same scheme as `api_base`, same host or parent domain."""
    try:
        candidate, base = urlsplit(url), urlsplit(api_base)
        candidate_host, base_host = candidate.hostname or "", base.hostname or ""
        candidate.port  # noqa: B018  # a malformed port raises here
    except ValueError:
        return False
    if candidate.scheme != base.scheme or not candidate_host or candidate.username or candidate.password:
        return False
    if candidate.path not in ("", "/") or candidate.query or candidate.fragment:
        return False
    if candidate_host == base_host:
        return True
    labels = base_host.split(".")
    parent = ".".join(labels[-2:]) if len(labels) >= 2 and not base_host.replace(".", "").isdigit() else ""
    return bool(parent) and candidate_host.endswith("." + parent)


def parse_server_config(raw: bytes, api_base: str) -> AgentHost:
    """The agent host a `GetServerConfigResponse` names, or `api_base` when it names none usable."""
    answer = pb.GetServerConfigResponse.FromString(raw)
    bidi = False if answer.http2_config in BIDI_OFF else True if answer.http2_config in BIDI_ON else None
    urls = answer.agent_url_config
    for url in (urls.agent_url, urls.agentn_url):
        if url and acceptable(url, api_base):
            return AgentHost(url.rstrip("/"), bidi)
        if url:
            log.warning("ignored an agent host Cursor named outside %s", api_base)
    return AgentHost(api_base, bidi)


class AgentHosts:
    """The per-token cache in front of `GetServerConfig`; one lookup at a time per token."""

    def __init__(
        self,
        transport: UpstreamTransport,
        api_base: str,
        headers: Callable[[UpstreamIdentity], Mapping[str, str]],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._api_base = api_base
        self._headers = headers
        self._ttl = ttl
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, AgentHost]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[AgentHost]] = {}

    async def host(self, who: UpstreamIdentity) -> AgentHost:
        key = hashlib.sha256(who.jwt.encode()).hexdigest()
        known = self._known.get(key)
        if known is not None and known[0] > self._clock():
            self._known.move_to_end(key)
            return known[1]
        task = self._pending.get(key)
        if task is None:
            # Its own task: a caller that goes away does not cancel the lookup others wait for.
            task = asyncio.get_running_loop().create_task(self._remember(key, who))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(task)

    async def _remember(self, key: str, who: UpstreamIdentity) -> AgentHost:
        host, ttl = await self._lookup(who)
        self._known[key] = (self._clock() + ttl, host)
        self._known.move_to_end(key)
        while len(self._known) > MAX_TOKENS:
            self._known.popitem(last=False)
        return host

    async def _lookup(self, who: UpstreamIdentity) -> tuple[AgentHost, float]:
        url = self._api_base + SERVER_CONFIG_PATH
        try:
            body = pb.GetServerConfigRequest(telem_enabled=False).SerializeToString()
            async with self._transport.post(url, self._headers(who), body) as response:
                raw = await read_capped(response, BODY_LIMIT + 1)
                if response.status != 200:
                    raise TransportError(f"HTTP {response.status}")
            if len(raw) > BODY_LIMIT:
                raise TransportError(f"the answer is over {BODY_LIMIT} bytes")
            if raw[:2] == b"\x1f\x8b":  # Content-Encoding: gzip, not inflated by the transport
                raw = gunzip_bounded(raw, BODY_LIMIT)
            return parse_server_config(raw, self._api_base), self._ttl
        except (TransportError, FramingError, DecodeError) as exc:
            log.warning("GetServerConfig failed (%s); agent runs go to %s for now", exc, self._api_base)
            return AgentHost(self._api_base), FAILURE_TTL
