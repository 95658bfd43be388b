"""The neutral chat model: one request shape in, one stream of events out.

Client dialects translate their requests into `ChatRequest`; every upstream adapter turns its
frames into the events below (`UpstreamEvent`); dialect renderers turn events into wire JSON. None
of these types know about HTTP, a client dialect or an upstream RPC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["user", "assistant", "tool"]
FinishReason = Literal["stop", "tool_calls", "length"]
ToolChoiceMode = Literal["auto", "none", "required", "named"]
ThinkingLevel = Literal["medium", "high"]

EMPTY_SCHEMA: Final = '{"type":"object","properties":{}}'
# An upstream model name of the composer family: `composer-1`, `composer`, `accounts/x/composer-2`.
COMPOSER: Final = re.compile(r"(?:^|/)composer(?:-|$)")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool of the request's catalog, validated (tool-calls.md §7.1)."""

    name: str
    description: str
    # The JSON Schema as the client sent it (key order kept) and as compact JSON text.
    parameters: dict[str, object]
    parameters_json: str
    strict: bool = False

    @property
    def schema_json(self) -> str:
        """The schema as sent upstream: an empty object schema for a tool without parameters."""
        return self.parameters_json or EMPTY_SCHEMA


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made earlier in the conversation (history), as the client sent it."""

    id: str
    name: str
    arguments: str  # the client's raw text; need not be valid JSON (H5)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The answer to one historical call; `name` comes from the paired call."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    """An image of a user message, ready for upstream: file bytes, media type, pixel size (§8.3)."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode = "auto"
    name: str | None = None  # set when mode == "named"


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn after system text was taken out.

    `user`: text. `assistant`: text (thinking removed, H9) and its `tool_calls`. `tool`: the
    results answering the directly preceding assistant message, in client order (H6); its
    `text` is empty. Consecutive user turns are not merged here: encoders own merging (H7).
    """

    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ToolResult, ...] = ()
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model the gateway offers: the public id and what is sent upstream."""

    id: str
    upstream_name: str
    thinking: bool
    owned_by: str
    max_tokens: int | None
    context_window: int | None

    @property
    def composer(self) -> bool:
        """Cursor's own `composer-*` family (upstream-2026.md §3): these models answer inside the
        thinking field, and write tool calls as text rather than as tool-call frames."""
        return COMPOSER.search(self.upstream_name.lower()) is not None


@dataclass(frozen=True, slots=True)
class LiveModel:
    """One entry of an upstream's model list, reduced to what the catalog uses."""

    name: str
    server_name: str
    context_window: int | None
    supports_thinking: bool | None
    disabled: bool


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """A structured-output request: `json_object`, or `json_schema` with the client's schema.

    `{"type": "text"}` is no constraint and is represented by no `ResponseFormat` at all.
    """

    kind: Literal["json_object", "json_schema"]
    name: str = ""
    description: str = ""
    schema: dict[str, object] | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything the upstream client needs for one attempt."""

    model: ModelInfo
    system: str
    messages: tuple[Message, ...]
    stream: bool
    include_usage: bool = False
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    parallel_tool_calls: bool = True
    slow_pool: bool = False  # the `enable_slow_pool` runtime option
    # Output parameters the gateway enforces itself (Cursor has no field for them).
    max_tokens: int | None = None  # already clamped to the model's limit
    response_format: ResponseFormat | None = None
    # Upstream thinking level of a thinking twin (K2); ignored for a base model.
    thinking_level: ThinkingLevel = "high"

    @property
    def has_tool_history(self) -> bool:
        return any(m.tool_calls or m.results for m in self.messages)


@dataclass(slots=True)
class Timing:
    """`time.perf_counter()` readings of one chat request: metrics and the overhead header."""

    received: float
    upstream_sent: float | None = None
    # When the upstream answer we relay was there: its first event when streaming, its end otherwise.
    upstream_answer: float | None = None
    first_output: float | None = None
    # The upstream RPC family that served the request ("chat" or "agent"), set by its adapter.
    upstream_rpc: str | None = None

    def overhead(self) -> float | None:
        """Seconds the gateway itself added: before the upstream call, and from its first event to us."""
        if self.upstream_sent is None or self.upstream_answer is None or self.first_output is None:
            return None
        return (self.upstream_sent - self.received) + max(self.first_output - self.upstream_answer, 0.0)


# ---------------------------------------------------------------- events


# The two deltas are made once per streamed chunk, so they are not frozen: a frozen dataclass sets
# its fields through `object.__setattr__`, which costs every chunk a call. Nothing changes events.
@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
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


CHARS_PER_TOKEN: Final = 4  # Cursor's stream carries no usage: every count is this estimate


def estimate_tokens(chars: int) -> int:
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0
    estimated: bool = True

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        """The usage of two answers together (n choices, or a retried attempt)."""
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None  # with reason "stop": the client's stop string that ended the text


Event = TextDelta | ThinkingDelta | ToolCallStart | ToolCallArgs | ToolCallEnd | Usage | Finish


# ---------------------------------------------------------------- the encoded upstream prompt


@dataclass(frozen=True, slots=True)
class ReplayedResult:
    """One historical call and its result, replayed natively as a `ToolResult` (H10)."""

    tool_call_id: str
    name: str
    index: int  # 1-based position in its assistant message
    raw_args: str
    parameters_json: str | None
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One upstream `ConversationMessage`: HUMAN (`user`) or AI (`assistant`)."""

    role: Literal["user", "assistant"]
    text: str
    tool_results: tuple[ReplayedResult, ...] = ()
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    """What one upstream attempt sends: built from a `ChatRequest` by `tools/encode.py`.

    A non-empty `mcp_tools` selects the native agent flags (N2); otherwise the chat flags.
    `anchor` is the conversation anchor (M2, M4) the upstream conversation id is derived from.
    """

    system: str
    messages: tuple[PromptMessage, ...]
    mcp_tools: tuple[ToolSpec, ...] = ()
    anchor: str = ""

    @property
    def chars(self) -> int:
        """Characters sent (system, messages, tool results, native tool catalog): the base of the
        prompt-token estimate."""
        tools = sum(len(t.name) + len(t.description) + len(t.schema_json) for t in self.mcp_tools)
        return (
            tools
            + len(self.system)
            + sum(len(m.text) + sum(len(r.content) for r in m.tool_results) for m in self.messages)
        )
