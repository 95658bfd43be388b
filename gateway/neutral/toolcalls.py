"""The types that move between the tool stages: upstream frames and parsed calls in, verdicts out.

Parser events (`Text`, `Thinking`, `RawCall`, `Terminate`, `Truncated`) come from `parser.py`;
`NativeToolFrame` comes from the upstream decoder and is assembled by `native.py` into the same
`RawCall`. `validate.py` turns each `RawCall` into a `ValidCall` or an `InvalidCall`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# ClientSideToolV2 enum value for MCP tools (cursor-protocol.md); the only one we advertise.
MCP_TOOL: Final = 19

# RawCall flags (tool-calls.md §5.2).
MISSING_END: Final = "missing_end"
UNBALANCED: Final = "unbalanced"
NO_JSON_BODY: Final = "no_json_body"
TOO_LARGE: Final = "too_large"
WRONG_MARKER: Final = "wrong_marker"

InvalidKind = Literal[
    "bad_json",
    "not_an_object",
    "missing_name",
    "unknown_tool",
    "arguments_not_object",
    "schema",
    "tools_disabled",
    "not_allowed",
    "wrong_marker",
    "no_json_body",
    "too_large",
]


@dataclass(frozen=True, slots=True)
class NativeToolFrame:
    """One `ClientSideToolV2Call` frame as decoded (N4, N5); `raw_args` is cumulative when streaming."""

    tool_call_id: str
    tool: int
    name: str
    mcp_name: str | None
    raw_args: str
    is_streaming: bool
    is_last_message: bool


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Thinking:
    text: str


@dataclass(frozen=True, slots=True)
class RawCall:
    """A call as the model wrote it, before validation.

    `body` is the text between the markers (emulation) or the final `raw_args` (native, with
    `name` from the frame). `written` is the whole block as it appeared, markers included, so a
    corrective retry can show the model what it wrote (T7).
    """

    body: str
    flags: frozenset[str] = frozenset()
    written: str = ""
    name: str | None = None
    native: bool = False


@dataclass(frozen=True, slots=True)
class Terminate:
    """The turn is over (invented result block, or too much text after a call): close upstream."""


@dataclass(frozen=True, slots=True)
class Truncated:
    """The input ended inside a call or thinking block (P12)."""


ParserEvent = Text | Thinking | RawCall | Terminate | Truncated


@dataclass(frozen=True, slots=True)
class ValidCall:
    name: str
    arguments: str  # compact JSON object text (V13)
    repaired: bool = False
    coerced: bool = False


@dataclass(frozen=True, slots=True)
class InvalidCall:
    """A call that cannot be emitted as is.

    `name`/`arguments` hold the best form reached (after repair and coercion) when the body parsed
    and named a catalog tool, so V14 can still emit a schema-only failure for a non-strict tool.
    """

    reasons: tuple[tuple[InvalidKind, str], ...]
    raw: RawCall
    name: str | None = None
    arguments: str | None = None

    @property
    def schema_only(self) -> bool:
        return all(kind == "schema" for kind, _ in self.reasons) and self.arguments is not None


CallVerdict = ValidCall | InvalidCall
