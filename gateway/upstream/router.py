"""Which Cursor RPC answers a call: ChatService or AgentService (`UPSTREAM_RPC`).

`UpstreamRouter` is itself an `Upstream`: the chat service, the tool layer and the handlers call
it as they would call one adapter, and it hands each call to the ChatService adapter (`chat`) or
the AgentService adapter (`agent`).

`UPSTREAM_RPC=chat` or `agent` sends every call to that RPC. `auto` (the default) decides per call:

| token       | remembered for the token          | the request                    | tried first |
|-------------|-----------------------------------|--------------------------------|-------------|
| API key     | -                                 | any                            | agent (Cursor decommissioned ChatService for API-key tokens) |
| session     | nothing, or chat                  | any                            | chat (public clients report composer, tools and `-thinking` need it) |
| session     | agent, for UPSTREAM_RECHECK       | any                            | agent       |
| session     | agent, the re-check is due        | any                            | chat        |

A refusal of ChatService is about the token (or the client version), never about one request, so a
token on AgentService sends every request there until its re-check: an agent whose every request
carries tools does not pay a refused ChatService round trip per request.

A call that went to ChatService is redone on AgentService, **before the first event only**, when
ChatService answers that the RPC is gone (HTTP 404 or Connect `unimplemented`: the `retired`
class) or that the client version is outdated and no newer version is left to try (`outdated`,
see `no_newer_version`: the chat service retries a refused version once when a newer one is
known, and that retry comes back here first). The redo uses the same token and the chat
service never sees the refusal, so it is no failure of the token. Once the first event has been
relayed nothing is redone: one client answer never mixes the two RPCs.

The choice is remembered per token (`UpstreamIdentity.key`): a switch keeps the token on
AgentService for `recheck` seconds, after which ChatService is tried again. Every change of a
token's choice is logged once; metrics count calls by RPC and outcome, and switches by reason.
Each adapter names its RPC in the request's `Timing` as it sends, so the request log and the
access log name the RPC that answered (or, for a failure, the last one tried).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.neutral.model import ChatRequest, LiveModel, Prompt, Timing
from gateway.upstream.base import Upstream, UpstreamEvent
from gateway.upstream.identity import UpstreamIdentity
from gateway.upstream.version import ClientOutdated

log = logging.getLogger(__name__)

Rpc = Literal["chat", "agent"]
Mode = Literal["auto", "chat", "agent"]

NAMES: Final[dict[Rpc, str]] = {"chat": "ChatService", "agent": "AgentService"}
# Error classes of a ChatService refusal that the same request may meet on AgentService.
SWITCH_CLASSES: Final = frozenset({"retired", "outdated"})


async def no_newer_version(error: UpstreamError) -> bool:
    """Whether an `outdated` refusal is final: no newer client version is left to try.

    The chat service sends a refused request once more when the version source knows a newer
    version (`version.py`); that retry comes back through the router, so a refusal only switches
    RPC once the source, asked again (it reads the feed within its own rate limit), has nothing
    newer than the refused version. A fixed CURSOR_CLIENT_VERSION is never replaced: final at once.
    """
    if not isinstance(error, ClientOutdated):
        return True
    return await error.source.after_refusal(error.refused) is None


@dataclass(frozen=True, slots=True)
class Choice:
    """The RPC a token is on, why, since when (wall clock) and until when (monotonic, for agent)."""

    rpc: Rpc
    reason: str
    since: float
    recheck_at: float | None = None


class UpstreamRouter:
    def __init__(
        self,
        chat: Upstream,
        agent: Upstream,
        *,
        mode: Mode = "auto",
        recheck: float = 3600.0,
        outdated_final: Callable[[UpstreamError], Awaitable[bool]] = no_newer_version,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._adapters: dict[Rpc, Upstream] = {"chat": chat, "agent": agent}
        self.mode = mode
        self._recheck = recheck
        self._outdated_final = outdated_final
        self._metrics = metrics
        self._clock = clock
        self._wall = wall
        self._choices: dict[str, Choice] = {}

    # ---------------------------------------------------------------- the Upstream protocol

    async def chat(
        self, chat: ChatRequest, prompt: Prompt, who: UpstreamIdentity, timing: Timing | None = None
    ) -> AsyncGenerator[UpstreamEvent, None]:
        route = self._route(who)
        for position, rpc in enumerate(route):
            stream = self._adapters[rpc].chat(chat, prompt, who, timing)
            relayed = False
            outcome = "failed"
            try:
                async with contextlib.aclosing(stream):
                    async for event in stream:
                        if not relayed:
                            relayed = True
                            self._answered(who, rpc)
                        yield event
                return
            except UpstreamError as exc:
                last = position == len(route) - 1
                if relayed or last or not await self._switches(exc):
                    raise
                outcome = "switched"
                self._switch(who, exc)
            finally:
                self._count(rpc, "answered" if relayed else outcome)

    async def available_models(self, who: UpstreamIdentity) -> list[LiveModel]:
        route = self._route(who)
        for position, rpc in enumerate(route):
            try:
                return await self._adapters[rpc].available_models(who)
            except UpstreamError as exc:
                if position == len(route) - 1 or not await self._switches(exc):
                    raise
                self._switch(who, exc)
        raise AssertionError("a route has at least one RPC")

    # ---------------------------------------------------------------- the policy

    def _route(self, who: UpstreamIdentity) -> tuple[Rpc, ...]:
        """The RPCs to try for one call, in order (a switch moves to the next before the first event)."""
        mode = self.mode
        if mode != "auto":
            self._remember(who, mode, f"UPSTREAM_RPC={mode}")
            return (mode,)
        if who.kind == "api_key":
            self._remember(who, "agent", "an API key (ChatService is decommissioned for them)")
            return ("agent",)
        choice = self._choices.get(who.key)
        on_agent = (
            choice is not None
            and choice.rpc == "agent"
            and choice.recheck_at is not None
            and self._clock() < choice.recheck_at
        )
        if on_agent:
            return ("agent",)
        return ("chat", "agent")

    async def _switches(self, error: UpstreamError) -> bool:
        """Whether a ChatService refusal sends the same call to AgentService."""
        if error.error_class not in SWITCH_CLASSES:
            return False
        return error.error_class == "retired" or await self._outdated_final(error)

    def _switch(self, who: UpstreamIdentity, error: UpstreamError) -> None:
        if self._metrics is not None:
            self._metrics.upstream_switches.labels(error.error_class).inc()
        reason = (
            "ChatService is gone (retired)"
            if error.error_class == "retired"
            else "ChatService refuses the client version (outdated)"
        )
        self._remember(who, "agent", reason, recheck_at=self._clock() + self._recheck)

    def _answered(self, who: UpstreamIdentity, rpc: Rpc) -> None:
        """ChatService answered a session token: it is the token's RPC again (after a re-check)."""
        if rpc == "chat" and self.mode == "auto" and who.kind == "session":
            self._remember(who, "chat", "ChatService answers")

    def _remember(
        self, who: UpstreamIdentity, rpc: Rpc, reason: str, recheck_at: float | None = None
    ) -> None:
        old = self._choices.get(who.key)
        changed = old is None or old.rpc != rpc or old.reason != reason
        if not changed and recheck_at is None:
            return
        since = self._wall() if old is None or old.rpc != rpc else old.since
        self._choices[who.key] = Choice(rpc, reason, since, recheck_at)  # a new switch renews the re-check
        if changed:
            extra = f" for {self._recheck:.0f} s, then ChatService is tried again" if recheck_at else ""
            log.info("token %s: upstream RPC %s (%s)%s", who.token_id or "?", NAMES[rpc], reason, extra)

    def _count(self, rpc: Rpc, outcome: str) -> None:
        """Calls by RPC and outcome: answered (an event was relayed), switched, or failed."""
        if self._metrics is not None:
            self._metrics.upstream_calls.labels(rpc, outcome).inc()

    # ---------------------------------------------------------------- what operators see

    def describe(self, token_id: str, kind: str) -> dict[str, object]:
        """The upstream RPC of one pool token for `/api/tokens`: the remembered choice, or what
        the next call would use."""
        choice = self._choices.get(token_id)
        mode = self.mode
        if choice is None:
            rpc: Rpc
            if mode != "auto":
                rpc, reason = mode, f"UPSTREAM_RPC={mode}"
            elif kind == "api_key":
                rpc, reason = "agent", "an API key (ChatService is decommissioned for them)"
            else:
                rpc, reason = "chat", "a session token (ChatService first)"
            return {"rpc": rpc, "reason": reason, "since": None, "recheck_at": None}
        recheck = None
        if choice.recheck_at is not None:
            recheck = self._wall() + max(choice.recheck_at - self._clock(), 0.0)
        return {"rpc": choice.rpc, "reason": choice.reason, "since": choice.since, "recheck_at": recheck}
