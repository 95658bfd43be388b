"""The seam every upstream adapter sits behind: a neutral request in, neutral events out.

An adapter speaks one Cursor RPC family (`chatservice/`: `aiserver.v1.ChatService`; more may sit
beside it). The chat service leases a token and calls `chat()`; it never knows which RPC answered.
Adapters share the framing (`framing.py`), the transports (`transport.py`, `transport_h2.py`), the
identity headers (`identity.py`), the client version they announce (`version.py`, one
`VersionSource` per client product) and the error classes (`errors.py`), and raise every failure
as an `UpstreamError`; a refused client version as a `version.ClientOutdated`, which the chat
service heals once through its source.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from gateway.neutral.model import ChatRequest, Finish, LiveModel, Prompt, TextDelta, ThinkingDelta, Timing
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.upstream.identity import UpstreamIdentity

# What an adapter yields: text and thinking as they arrive, tool-call frames for the tool layer to
# assemble and judge, and one `Finish` at a clean end.
UpstreamEvent = TextDelta | ThinkingDelta | NativeToolFrame | Finish


class Upstream(Protocol):
    def chat(
        self, chat: ChatRequest, prompt: Prompt, who: UpstreamIdentity, timing: Timing | None = None
    ) -> AsyncGenerator[UpstreamEvent, None]:
        """One answer, as events; closing the generator early cancels the upstream call at once."""
        ...

    async def available_models(self, who: UpstreamIdentity) -> list[LiveModel]:
        """The upstream's model list, as seen with this token."""
        ...
