"""The emulation grammar's texts (tool-calls.md §3): nonce, delimiters, preamble, notes.

Everything here is a pure function of its arguments, so the texts are byte-stable from one turn
of a conversation to the next (B1) and prompt caching survives.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from gateway.neutral.model import ToolChoice, ToolSpec

NONCE_LABEL: Final = b"cursor2api-nonce-v1\x00"
NEUTRAL: Final = "NONCE"
# Every delimiter starts with "<<" and is at most this long (P1).
MAX_PATTERN: Final = 25


def conversation_nonce(secret: bytes, anchor: str) -> str:
    """M2: the first 8 hex digits of HMAC-SHA256(secret, label + anchor)."""
    return hmac.new(
        secret, NONCE_LABEL + anchor.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()[:8]


def random_nonce() -> str:
    """M3: a fresh nonce for one request."""
    return secrets.token_hex(4)


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The five markers of one nonce (§3.2)."""

    nonce: str

    @property
    def tools_open(self) -> str:
        return f"<<tools:{self.nonce}>>"

    @property
    def call_open(self) -> str:
        return f"<<call:{self.nonce}>>"

    @property
    def result_open(self) -> str:
        return f"<<result:{self.nonce}>>"

    @property
    def think_open(self) -> str:
        return f"<<think:{self.nonce}>>"

    @property
    def note_open(self) -> str:
        return f"<<note:{self.nonce}>>"

    @property
    def end(self) -> str:
        return f"<<end:{self.nonce}>>"

    def neutralise(self, text: str) -> str:
        """M6: client or historical text written inside a block never contains the nonce."""
        return text.replace(self.nonce, NEUTRAL)


def catalog_line(tool: ToolSpec) -> str:
    """One compact JSON line per tool; description omitted when empty; schema key order kept."""
    name = orjson.dumps(tool.name).decode()
    parameters = tool.schema_json
    if tool.description:
        description = orjson.dumps(tool.description).decode()
        return f'{{"name":{name},"description":{description},"parameters":{parameters}}}'
    return f'{{"name":{name},"parameters":{parameters}}}'


def sorted_tools(tools: Iterable[ToolSpec]) -> list[ToolSpec]:
    """Catalog order for both strategies: by name, in code points (N1, §3.4)."""
    return sorted(tools, key=lambda t: t.name)


_INTRO: Final = (
    'You can call the tools listed below. Each line between the markers describes one tool as JSON: its "name", '
    'its "description" and, in "parameters", the JSON Schema of its arguments.'
)
_HISTORY_ONLY: Final = "No tools are available now. Call and result blocks earlier in this conversation are a record of past tool use."
_CALLING: Final = """## Calling a tool

To call a tool, write a call block:

{call}
{{"name":"TOOL_NAME","arguments":{{"ARGUMENT":"VALUE"}}}}
{end}

- The line between the markers is one JSON object: "name" is a tool name from the list and "arguments" is an \
object that satisfies that tool's parameters schema.
- Write strict JSON: double-quoted keys and strings, no comments, no trailing commas. Inside strings, write a line \
break as \\n, a tab as \\t, a double quote as \\" and a backslash as \\\\.
- Write call blocks as plain text, never inside code fences, quotes or thinking.
- For several calls that do not depend on each other, write one call block per call, one after another. When a \
call needs the result of another call, make only the first call and wait.
- You may write a short message before your first call block. Write nothing after your last call block: end your \
reply there.
- Each result comes back in a later message as a result block, which you must never write yourself:

{result}
{{"id":"call_...","name":"TOOL_NAME","is_error":false}}
TOOL OUTPUT
{end}

- The note at the end of the latest message says whether this reply may, must or must not call tools."""
_THINKING: Final = """## Thinking

You may think before you reply, in one thinking block at the very start of your reply:

{think}
YOUR REASONING
{end}

The thinking block is kept apart from your reply. Never put call blocks inside it."""


def preamble(d: Delimiters, tools: Sequence[ToolSpec], *, tool_history: bool, thinking: bool) -> str:
    """The text appended to the system context (§3.4, M7, M8); "" when nothing applies.

    Depends only on the nonce, the catalog, whether tools or tool history are present and
    whether thinking emulation is on (B1).
    """
    sections: list[str] = []
    if tools or tool_history:
        if tools:
            catalog = "\n".join(d.neutralise(catalog_line(t)) for t in sorted_tools(tools))
            head = f"# Tools\n\n{_INTRO}\n\n{d.tools_open}\n{catalog}\n{d.end}"
        else:
            head = f"# Tools\n\n{_HISTORY_ONLY}"
        sections.append(head)
        sections.append(_CALLING.format(call=d.call_open, end=d.end, result=d.result_open))
    if thinking:
        sections.append(_THINKING.format(think=d.think_open, end=d.end))
    return "\n\n".join(sections)


def note_sentences(choice: ToolChoice, *, parallel: bool, native: bool) -> str:
    """The sentences of the note for an effective choice (§3.5)."""
    if choice.mode == "none":
        return "Do not call any tool in this reply. Answer in plain text."
    if choice.mode == "auto":
        text = "You may call tools in this reply or answer without them."
    elif choice.mode == "required":
        text = (
            "This reply must call at least one tool before any text."
            if native
            else "This reply must call at least one tool. Begin with a call block."
        )
    else:
        text = f'This reply must call the tool "{choice.name}" and no other tool.'
        if not native:
            text += f' Begin with a call block for "{choice.name}".'
    if not parallel:
        text += " Call at most one tool in this reply."
    return text


def emulated_note(d: Delimiters, sentences: str) -> str:
    """A marked note block, appended after a blank line to the last HUMAN message (§3.5)."""
    return f"{d.note_open}\n{d.neutralise(sentences)}\n{d.end}"


def native_note(sentences: str) -> str:
    return f"Note on tool use: {sentences}"


def native_note_needed(choice: ToolChoice, *, parallel: bool) -> bool:
    """M9: native mode writes a note only when it says more than `auto` with parallel calls."""
    return not (choice.mode == "auto" and parallel)


def call_block(d: Delimiters, call_id: str | None, name: str, arguments_json: str) -> str:
    """A call block as the gateway writes it in history (H5); `arguments_json` is already JSON text."""
    head = f'{{"id":{orjson.dumps(call_id).decode()},' if call_id is not None else "{"
    body = f'{head}"name":{orjson.dumps(name).decode()},"arguments":{arguments_json}}}'
    return f"{d.call_open}\n{d.neutralise(body)}\n{d.end}"


def result_block(d: Delimiters, call_id: str, name: str, content: str, *, is_error: bool) -> str:
    """A result block (H6): a JSON header line, then the content verbatim but neutralised."""
    header = orjson.dumps({"id": call_id, "name": name, "is_error": is_error}).decode()
    return f"{d.result_open}\n{d.neutralise(header)}\n{d.neutralise(content)}\n{d.end}"


# ---------------------------------------------------------------- corrective notes (T7)


def invalid_reason_line(index: int, reason: str) -> str:
    return f"- call {index}: {reason}"


def invalid_note_sentences(reason_lines: Sequence[str]) -> str:
    lines = ["Your previous reply contained tool calls that could not be used:", *reason_lines]
    lines.append("Reply again with only the corrected call blocks and nothing else.")
    return "\n".join(lines)


def miss_note_sentences(choice: ToolChoice) -> str:
    if choice.mode == "named":
        must = f'Your previous reply did not call a tool, but this reply must call the tool "{choice.name}".'
    else:
        must = "Your previous reply did not call a tool, but this reply must call at least one tool."
    return f"{must} Reply again with only the call block and nothing else."


def corrective_note(d: Delimiters | None, sentences: str) -> str:
    """Marked in emulation, a plain paragraph in native mode (T7)."""
    return emulated_note(d, sentences) if d is not None else native_note(sentences)
