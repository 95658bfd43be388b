"""`ChatRequest` -> `Prompt`: the conversation one upstream attempt sends (tool-calls.md §3-§4).

Three encoders, one per strategy:

- `plain_prompt`: the inert path (S1): no tools, no tool history, no thinking emulation. System
  text goes to the system context unchanged; consecutive turns of one role are merged.
- `emulated_prompt`: tools described in text (§2.3). The preamble (§3.4, M7, M8) follows the
  client's system text after a blank line; calls and results in history become call and result
  blocks (H5, H6), consecutive HUMAN or AI messages are merged (H7) and the note (§3.5) ends the
  last HUMAN message.
- `native_prompt`: tools as `mcp_tools` (N1, N3); historical calls and results are replayed as
  `tool_results` (H10); a note only when it says more than "auto" (M9).

`with_retry` adds a failed attempt and its corrective note (T7). User and system text is never
scanned or rewritten (H8). Every encoding of a historical message depends only on that message,
its results and the nonce (B2), so requests of one conversation share their prefix (B3). Pure.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from typing import Final, Literal

import orjson

from gateway.neutral.model import (
    ChatRequest,
    Image,
    Message,
    Prompt,
    PromptMessage,
    ReplayedResult,
    ToolChoice,
)
from gateway.tools import grammar
from gateway.tools.grammar import Delimiters

# H10: client ids upstream can take as they are.
REPLAY_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
NONE_CHOICE: Final = ToolChoice("none")


def plain_prompt(chat: ChatRequest) -> Prompt:
    """S1: the conversation as it is. Tool history (which the inert path never gets from a
    tool-aware caller) is kept as plain text lines so that nothing is lost."""
    messages: list[PromptMessage] = []
    for m in chat.messages:
        if m.role == "tool":
            _append(
                messages, "user", "\n\n".join(f"[tool result {r.call_id}]\n{r.content}" for r in m.results)
            )
            continue
        lines = [f"[tool call {c.id}] {c.name}({c.arguments})" for c in m.tool_calls]
        _append(
            messages,
            m.role,
            "\n".join([m.text, *lines]) if m.text and lines else m.text or "\n".join(lines),
            m.images,
        )
    if not messages:
        messages.append(PromptMessage("user", ""))
    return Prompt(system=chat.system, messages=tuple(messages), anchor=anchor(chat))


def anchor(chat: ChatRequest) -> str:
    """M2: the first user message's text, or ""."""
    return next((m.text for m in chat.messages if m.role == "user"), "")


# ---------------------------------------------------------------- emulation


def emulated_prompt(chat: ChatRequest, d: Delimiters, choice: ToolChoice, *, thinking: bool) -> Prompt:
    """The emulated request for `chat` with the effective `choice` (§7.2, decided by the caller)."""
    tool_history = chat.has_tool_history
    preamble = grammar.preamble(d, chat.tools, tool_history=tool_history, thinking=thinking)
    system = f"{chat.system}\n\n{preamble}" if chat.system and preamble else chat.system or preamble
    messages: list[PromptMessage] = []
    for m in chat.messages:
        if m.role == "user":
            _append(messages, "user", m.text, m.images)
        elif m.role == "assistant":
            _append(messages, "assistant", assistant_text(d, m))
        else:
            _append(messages, "user", results_text(d, m))
    if not messages:
        messages.append(PromptMessage("user", ""))
    if chat.tools or tool_history:
        sentences = grammar.note_sentences(
            choice if chat.tools else NONE_CHOICE, parallel=chat.parallel_tool_calls, native=False
        )
        _add_note(messages, grammar.emulated_note(d, sentences))
    return Prompt(system=system, messages=tuple(messages), anchor=anchor(chat))


def assistant_text(d: Delimiters, m: Message) -> str:
    """H5: the text, a blank line if there is text, then the call blocks joined by a line break."""
    if not m.tool_calls:
        return m.text
    blocks = "\n".join(grammar.call_block(d, c.id, c.name, arguments_json(c.arguments)) for c in m.tool_calls)
    return f"{m.text}\n\n{blocks}" if m.text else blocks


def arguments_json(arguments: str) -> str:
    """H5: the client's arguments as compact JSON in their own key order, else as a JSON string."""
    try:
        return orjson.dumps(orjson.loads(arguments)).decode()
    except orjson.JSONDecodeError:
        return orjson.dumps(arguments).decode()


def results_text(d: Delimiters, m: Message) -> str:
    """H6: one result block per result, in client order, separated by a blank line."""
    return "\n\n".join(
        grammar.result_block(d, r.call_id, r.name, r.content, is_error=r.is_error) for r in m.results
    )


# ---------------------------------------------------------------- native


def native_prompt(chat: ChatRequest, choice: ToolChoice) -> Prompt:
    """The native request: `mcp_tools` sorted by name, history replayed statelessly (H10)."""
    schemas = {t.name: t.schema_json for t in chat.tools}
    messages: list[PromptMessage] = []
    turns = chat.messages
    for i, m in enumerate(turns):
        if m.role == "user":
            _append(messages, "user", m.text, m.images)
        elif m.role == "assistant":
            if m.text or not m.tool_calls:
                _append(messages, "assistant", m.text)
            if m.tool_calls:
                following = turns[i + 1] if i + 1 < len(turns) and turns[i + 1].role == "tool" else None
                replayed = _replayed(m, following, schemas)
                if replayed:
                    messages.append(PromptMessage("assistant", "", tool_results=replayed))
        # `tool` messages were folded into the replay of the assistant message before them.
    if not messages:
        messages.append(PromptMessage("user", ""))
    if chat.tools and grammar.native_note_needed(choice, parallel=chat.parallel_tool_calls):
        sentences = grammar.note_sentences(choice, parallel=chat.parallel_tool_calls, native=True)
        _add_note(messages, grammar.native_note(sentences))
    return Prompt(
        system=chat.system,
        messages=tuple(messages),
        mcp_tools=tuple(grammar.sorted_tools(chat.tools)),
        anchor=anchor(chat),
    )


def replay_id(call_id: str) -> str:
    """H10: the client id when upstream can take it, else `call_` + 24 chars of base32 SHA-256."""
    if REPLAY_ID_RE.fullmatch(call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).digest()
    return "call_" + base64.b32encode(digest).decode("ascii").lower().rstrip("=")[:24]


def _replayed(m: Message, results: Message | None, schemas: dict[str, str]) -> tuple[ReplayedResult, ...]:
    """One `ReplayedResult` per answered call, in call order; an unanswered call is omitted."""
    by_id = {r.call_id: r for r in results.results} if results is not None else {}
    replayed: list[ReplayedResult] = []
    for index, call in enumerate(m.tool_calls, start=1):
        result = by_id.get(call.id)
        if result is None:
            continue
        replayed.append(
            ReplayedResult(
                tool_call_id=replay_id(call.id),
                name=call.name,
                index=index,
                raw_args=call.arguments,
                parameters_json=schemas.get(call.name),
                content=result.content,
                is_error=result.is_error,
            )
        )
    return tuple(replayed)


# ---------------------------------------------------------------- retries (T7)


def with_retry(prompt: Prompt, failed_text: str, note: str, *, d: Delimiters | None = None) -> Prompt:
    """T7: the same conversation plus the failed attempt (an AI message) and the corrective note.

    `failed_text` is the attempt's visible text and call blocks as written (native: text only);
    with `d` it is neutralised here (M6), otherwise the caller has done so. `note` is the
    finished corrective note (`grammar.corrective_note`).
    """
    text = d.neutralise(failed_text) if d is not None else failed_text
    messages = list(prompt.messages)
    _append(messages, "assistant", text)
    messages.append(PromptMessage("user", note))
    return Prompt(
        system=prompt.system, messages=tuple(messages), mcp_tools=prompt.mcp_tools, anchor=prompt.anchor
    )


# ---------------------------------------------------------------- helpers


def _append(
    messages: list[PromptMessage],
    role: Literal["user", "assistant"],
    text: str,
    images: tuple[Image, ...] = (),
) -> None:
    """H7: a message of the same role as the previous plain message is joined to it by a blank line.

    A message carrying `tool_results` is never merged (H10). Images of merged messages are kept in
    order (cursor-protocol.md §8.2).
    """
    if messages and messages[-1].role == role and not messages[-1].tool_results:
        last = messages[-1]
        messages[-1] = PromptMessage(role, f"{last.text}\n\n{text}", images=last.images + images)
    else:
        messages.append(PromptMessage(role, text, images=images))


def _add_note(messages: list[PromptMessage], note: str) -> None:
    """§3.5: the note ends the last HUMAN message, after a blank line; one is added if none exists."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.role == "user":
            messages[i] = replace(m, text=f"{m.text}\n\n{note}" if m.text else note)
            return
    messages.append(PromptMessage("user", note))
