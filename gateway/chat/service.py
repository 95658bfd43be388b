"""The chat service: lease a token, call upstream, yield events, estimate usage, log the outcome.

`ChatService.events()` is what handlers consume: an async generator of chat events that always
ends with `Usage` then `Finish`, or raises a `GatewayError`. Closing it early (the client hung up)
closes the upstream call. Usage is estimated (characters / 4): Cursor's stream carries none.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator
from typing import Final

from gateway.chat.model import ChatRequest, Event, Finish, Prompt, TextDelta, ThinkingDelta, Timing, Usage
from gateway.chat.turn import ToolOptions, ToolTurn, tool_layer_active
from gateway.errors import NoTokenConfigured, UpstreamError
from gateway.metrics import Metrics
from gateway.tokens.pool import TokenPool
from gateway.tools.calls import NativeToolFrame
from gateway.tools.encode import plain_prompt
from gateway.upstream.client import ChatEvent, CursorClient
from gateway.upstream.request import UpstreamIdentity

log = logging.getLogger(__name__)

CHARS_PER_TOKEN: Final = 4


def estimate_tokens(chars: int) -> int:
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


class ChatService:
    def __init__(
        self,
        pool: TokenPool,
        client: CursorClient,
        *,
        token_file: str,
        tools: ToolOptions | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._pool = pool
        self._client = client
        self._token_file = token_file
        self._tools = tools or ToolOptions(nonce_secret=secrets.token_bytes(32))
        self._metrics = metrics

    async def attempt(
        self, chat: ChatRequest, prompt: Prompt, timing: Timing | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        """One upstream attempt: lease a token and relay the upstream events as they come."""
        await self._pool.refresh()
        lease = self._pool.lease()
        if lease is None:
            raise NoTokenConfigured(
                "No Cursor session token is configured. Add your token (the WorkosCursorSessionToken "
                f"cookie value, or alias::token) as a line of {self._token_file}; it is picked up "
                "without a restart. See the README section 'Adding a Cursor token'."
            )
        identity = lease.entry.identity
        assert identity is not None, "merged pool entries always carry an identity"
        if log.isEnabledFor(logging.DEBUG):
            log.debug("chat model=%s token=%s", chat.model.upstream_name, lease.fingerprint)
        upstream = self._client.chat(chat, prompt, UpstreamIdentity(lease.jwt, identity), timing)
        # aclosing: when our caller closes us, the upstream call is closed now, not by a finalizer.
        async with contextlib.aclosing(upstream):
            async for event in upstream:
                yield event

    async def events(self, chat: ChatRequest, timing: Timing | None = None) -> AsyncGenerator[Event, None]:
        """The client-visible events of one chat request, ending with `Usage` then `Finish`."""
        if tool_layer_active(chat):
            turn = ToolTurn(self.attempt, chat, self._tools, timing, metrics=self._metrics)
            async with contextlib.aclosing(turn.events()) as tool_events:
                async for tool_event in tool_events:
                    yield tool_event
            return
        prompt = plain_prompt(chat)
        prompt_chars = len(prompt.system) + sum(len(m.text) for m in prompt.messages)
        text_chars = thinking_chars = 0
        upstream = self.attempt(chat, prompt, timing)
        async with contextlib.aclosing(upstream):
            async for frame in upstream:
                event: TextDelta | ThinkingDelta | Finish
                if isinstance(frame, NativeToolFrame):
                    # No tools are declared on this path: a tool request is not relayed. Once it is
                    # complete the upstream waits for a result that never comes, so the turn ends.
                    if frame.is_streaming and not frame.is_last_message:
                        continue
                    log.warning("upstream asked for tool %s (%r); ending the turn", frame.tool, frame.name)
                    event = Finish("stop")
                else:
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
