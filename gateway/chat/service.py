"""The chat service: lease a token, call upstream, yield events, estimate usage, log the outcome.

`ChatService.events()` is what handlers consume: an async generator of chat events that always
ends with `Usage` then `Finish`, or raises a `GatewayError`. Closing it early (the client hung up)
closes the upstream call. Usage is estimated (characters / 4): Cursor's stream carries none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import AsyncGenerator

from gateway.chat.turn import ToolOptions, ToolTurn, next_before, tool_layer_active
from gateway.errors import NoHealthyToken, NoTokenConfigured, UpstreamError
from gateway.metrics import Metrics
from gateway.neutral.model import (
    ChatRequest,
    Event,
    Finish,
    Prompt,
    TextDelta,
    ThinkingDelta,
    Timing,
    Usage,
    estimate_tokens,
)
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.reqlog.record import current_record
from gateway.tokens.access import Credentials
from gateway.tokens.outcome import classify
from gateway.tokens.pool import TokenPool
from gateway.tools.encode import plain_prompt
from gateway.upstream.base import Upstream, UpstreamEvent
from gateway.upstream.version import ClientOutdated

log = logging.getLogger(__name__)


class ChatService:
    def __init__(
        self,
        pool: TokenPool,
        upstream: Upstream,
        *,
        credentials: Credentials,
        token_file: str,
        max_attempts: int = 3,
        tools: ToolOptions | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._pool = pool
        self._upstream = upstream
        self._credentials = credentials
        self._token_file = token_file
        self._max_attempts = max_attempts
        self._tools = tools or ToolOptions(nonce_secret=secrets.token_bytes(32))
        self._metrics = metrics

    async def attempt(
        self, chat: ChatRequest, prompt: Prompt, timing: Timing | None = None
    ) -> AsyncGenerator[UpstreamEvent, None]:
        """One upstream answer: lease a token and relay the upstream events as they come.

        Until the first event has been yielded, a failure the next token may not share (see
        `tokens/outcome.py`) marks the failing token and moves on to another healthy one, up to
        MAX_TOKEN_ATTEMPTS tokens; after the first event, errors pass through unchanged. When Cursor
        refuses the announced client version, the request is sent once more if a newer version is
        known (`ClientOutdated.source`); that is no fault of the token and no token attempt.
        """
        await self._pool.refresh()
        if self._pool.size == 0:
            raise NoTokenConfigured(
                "No Cursor token is configured. Add your token (the WorkosCursorSessionToken cookie value "
                f"or a user API key, optionally as alias::token) as a line of {self._token_file}; it is "
                "picked up without a restart. See the README section 'Adding a Cursor token'."
            )
        record = current_record()
        model = chat.model.id
        tried: set[str] = set()
        refused: list[str] = []  # client versions Cursor refused for this request
        transient_retried = False
        last_error: UpstreamError | None = None
        while True:
            lease = self._pool.lease(exclude=tried, model=model)
            if lease is None:
                if last_error is not None:
                    raise last_error
                reason, wait = self._pool.unavailable_reason()
                raise NoHealthyToken(
                    f"No Cursor token is usable right now ({reason}). An operator can reset tokens "
                    "with POST /api/tokens/reset, or add tokens to the token file.",
                    headers={"Retry-After": str(math.ceil(wait))} if wait is not None else None,
                )
            tried.add(lease.jwt)
            if record is not None:
                record.use_token(lease.entry)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "chat model=%s token=%s attempt=%d",
                    chat.model.upstream_name,
                    lease.fingerprint,
                    len(tried),
                )
            relayed = False
            try:
                # An API key's access token: cached, or exchanged now when it has none (a refusal is
                # this token's auth error, handled below like any other).
                who = await self._credentials.identity(lease.entry)
                upstream = self._upstream.chat(chat, prompt, who, timing)
                # aclosing: when our caller closes us, the upstream call is closed now, not by a finalizer.
                async with contextlib.aclosing(upstream):
                    async for event in upstream:
                        relayed = True
                        yield event
            except UpstreamError as caught:
                exc = caught
                if isinstance(exc, ClientOutdated) and not relayed:
                    if not refused and await exc.source.after_refusal(exc.refused) is not None:
                        log.info(
                            "Cursor refused client version %s; sending the request again as %s",
                            exc.refused,
                            exc.source.current.version,
                        )
                        refused.append(exc.refused)
                        tried.discard(lease.jwt)
                        continue
                    exc = exc.after(refused)  # says every version tried, and what the feed said
                outcome = classify(exc, now_wall=time.time())
                if outcome.kind == "auth":
                    self._credentials.drop(lease.entry)
                self._pool.failed(
                    lease, outcome.kind, f"{exc.code}: {exc.message}", hint=outcome.hint, model=model
                )
                may_retry = outcome.retry == "always" or (outcome.retry == "once" and not transient_retried)
                if relayed or not may_retry or len(tried) >= self._max_attempts:
                    if exc is caught:
                        raise
                    raise exc from caught
                transient_retried = transient_retried or outcome.retry == "once"
                last_error = exc
                if self._metrics is not None:
                    self._metrics.failovers.labels(exc.error_class).inc()
                log.info(
                    "token %s failed (%s, %s); trying another token",
                    lease.fingerprint,
                    exc.error_class,
                    exc.code,
                )
                continue
            self._pool.succeeded(lease)
            return

    def prompt_tokens(self, chat: ChatRequest) -> int:
        """The estimated prompt tokens of `chat`'s first attempt, as its usage will count them."""
        if tool_layer_active(chat):
            prompt = ToolTurn(self.attempt, chat, self._tools).base_prompt()
        else:
            prompt = plain_prompt(chat)
        return estimate_tokens(prompt.chars)

    async def events(self, chat: ChatRequest, timing: Timing | None = None) -> AsyncGenerator[Event, None]:
        """The client-visible events of one chat request, ending with `Usage` then `Finish`."""
        if tool_layer_active(chat):
            turn = ToolTurn(self.attempt, chat, self._tools, timing, metrics=self._metrics)
            async with contextlib.aclosing(turn.events()) as tool_events:
                async for tool_event in tool_events:
                    yield tool_event
            return
        prompt = plain_prompt(chat)
        prompt_chars = prompt.chars
        text_chars = thinking_chars = 0
        # No tools are declared on this path, so a tool request is never relayed. Cursor waits for
        # the result of a completed one, which never comes, unless it carries on by itself (in a
        # recorded session the editor answered it): the turn ends when no event follows a completed
        # call within NATIVE_TOOL_SETTLE_MS.
        settle_until: float | None = None
        loop = asyncio.get_running_loop()
        upstream = self.attempt(chat, prompt, timing)
        async with contextlib.aclosing(upstream):
            while True:
                if settle_until is None:  # the usual step, without a call in between
                    try:
                        frame = await upstream.__anext__()
                    except StopAsyncIteration:
                        frame = None
                else:
                    frame = await next_before(upstream, settle_until)
                event: TextDelta | ThinkingDelta | Finish
                if isinstance(frame, NativeToolFrame):
                    if frame.is_streaming and not frame.is_last_message:
                        settle_until = None
                    else:
                        log.warning("upstream asked for tool %s (%r); not relayed", frame.tool, frame.name)
                        settle_until = loop.time() + self._tools.settle_seconds
                    continue
                if frame is None:  # nothing followed a completed tool call: the turn ends
                    event = Finish("stop")
                else:
                    settle_until = None
                    event = frame
                if isinstance(event, TextDelta):
                    text_chars += len(event.text)
                elif isinstance(event, ThinkingDelta):
                    thinking_chars += len(event.text)
                elif isinstance(event, Finish):
                    if text_chars == 0 and thinking_chars == 0:
                        raise UpstreamError(
                            "Cursor ended the stream without any content", code="upstream_empty_response"
                        )
                    reasoning = estimate_tokens(thinking_chars)
                    yield Usage(
                        prompt_tokens=estimate_tokens(prompt_chars),
                        completion_tokens=estimate_tokens(text_chars) + reasoning,
                        reasoning_tokens=reasoning,
                    )
                    yield event
                    return
                yield event
