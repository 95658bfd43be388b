"""The dialect-neutral chat model: one request shape in, one stream of events out.

Client dialects (OpenAI now, Anthropic later) translate into `ChatRequest`; the upstream client
turns Cursor frames into the events below; dialect writers turn events into wire JSON. None of
these types know about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant"]
FinishReason = Literal["stop", "tool_calls", "length"]


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn after system text was taken out (roles are user or assistant)."""

    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model the gateway offers: the public id and what is sent upstream."""

    id: str
    upstream_name: str
    thinking: bool
    owned_by: str
    max_tokens: int | None
    context_window: int | None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything the upstream client needs for one attempt."""

    model: ModelInfo
    system: str
    messages: tuple[Message, ...]
    stream: bool
    include_usage: bool = False
    stop: tuple[str, ...] = ()


@dataclass(slots=True)
class Timing:
    """`time.perf_counter()` readings of one chat request: metrics and the overhead header."""

    received: float
    upstream_sent: float | None = None
    # When the upstream answer we relay was there: its first event when streaming, its end otherwise.
    upstream_answer: float | None = None
    first_output: float | None = None

    def overhead(self) -> float | None:
        """Seconds the gateway itself added: before the upstream call, and from its first event to us."""
        if self.upstream_sent is None or self.upstream_answer is None or self.first_output is None:
            return None
        return (self.upstream_sent - self.received) + max(self.first_output - self.upstream_answer, 0.0)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallArgs:
    index: int
    fragment: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    index: int
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0
    estimated: bool = True

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


Event = TextDelta | ThinkingDelta | ToolCallStart | ToolCallArgs | ToolCallEnd | Usage | Finish
