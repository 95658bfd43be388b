"""The incremental parser of the emulation grammar (tool-calls.md §5). Sans-IO and pure.

`CallParser.feed(text)` returns the events the text completes; `end(clean)` flushes. Text is
released as soon as it cannot be part of a marker (P1: at most 24 characters are held, none when
the tail has no `<`); markers and calls never leak into text (P2). Call bodies are scanned with
string and escape state, so markers inside JSON strings are content (P6). Every character is
examined O(1) times amortised (P15).
"""

from __future__ import annotations

import re
from typing import Final, Literal

from gateway.neutral.toolcalls import (
    MISSING_END,
    NO_JSON_BODY,
    TOO_LARGE,
    UNBALANCED,
    WRONG_MARKER,
    ParserEvent,
    RawCall,
    Terminate,
    Text,
    Thinking,
    Truncated,
)
from gateway.tools.grammar import Delimiters

State = Literal["text", "think", "call", "after", "done"]
Phase = Literal["pre", "body", "post", "raw"]

LOOKAHEAD: Final = 512
FENCE_MAX: Final = 32
_MARKER: Final = re.compile(r"<<(call|think|result|end):([A-Za-z0-9_-]{0,16})>>")
_ID_CHARS: Final = re.compile(r"[A-Za-z0-9_-]{0,16}>?")
_OUTSIDE: Final = re.compile(r'["{}\[\]<]')
_INSIDE: Final = re.compile(r'["\\<]')
_FENCE_LINE: Final = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n")
_WS: Final = " \t\r\n"


class CallParser:
    """Parses one attempt's upstream text into text, thinking and raw calls."""

    def __init__(self, delimiters: Delimiters, *, calls: bool, thinking: bool, max_call_bytes: int) -> None:
        self._d = delimiters
        self._nonce = delimiters.nonce
        self._calls = calls
        self._thinking = thinking
        self._max = max_call_bytes
        self._end = delimiters.end
        self.state: State = "text"
        self._hold = ""  # unprocessed text (TEXT, THINK, AFTER, post-body, raw, pre-body)
        self._started = False  # visible non-whitespace text was emitted (P3)
        self._ws = ""  # leading whitespace held until visible text begins
        self._think_first = False  # drop one line break right after THINK_OPEN
        self.calls_emitted = 0
        self._lookahead = ""
        self._after_scan = 0
        self._reset_call("", True)

    @property
    def held(self) -> int:
        """How many characters are held back, not yet processed (P1: at most 24 in TEXT)."""
        return len(self._hold)

    @property
    def decided(self) -> bool:
        """P14: at least one call was emitted and the parser is past it."""
        return self.calls_emitted > 0 and self.state in ("after", "done")

    # ------------------------------------------------------------ public API

    def feed(self, text: str) -> list[ParserEvent]:
        out: list[ParserEvent] = []
        if text and self.state != "done":
            self._run(text, out)
        return out

    def end(self, clean: bool = True) -> list[ParserEvent]:
        out: list[ParserEvent] = []
        if not clean or self.state == "done":
            self.state = "done"
            return out
        if self.state == "text":
            self._emit_text(self._hold, out)
        elif self.state == "think":
            rest = self._hold
            if rest:
                out.append(Thinking(rest))
            out.append(Truncated())
        elif self.state == "call":
            if self._phase == "post":
                self._complete(out, MISSING_END)
            elif self._phase == "body" and self._fallback is not None:
                self._complete(out, UNBALANCED, cut=self._fallback)
            else:
                out.append(Truncated())
        self._hold = ""
        self.state = "done"
        return out

    # ------------------------------------------------------------ the state machine

    def _run(self, text: str, out: list[ParserEvent]) -> None:
        data = self._hold + text
        self._hold = ""
        pos = 0
        while pos < len(data) and self.state != "done":
            if self.state == "text":
                pos = self._text(data, pos, out)
            elif self.state == "think":
                pos = self._think(data, pos, out)
            elif self.state == "call":
                pos = self._call(data, pos, out)
            else:
                pos = self._after(data, pos, out)
            if pos < 0:  # the rest was held
                return

    def _text(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        while True:
            m = _MARKER.search(data, pos)
            if m is None:
                cut = self._holdback(data, pos)
                self._emit_text(data[pos:cut], out)
                self._hold = data[cut:]
                return -1
            kind, ident = m.group(1), m.group(2)
            if kind == "call" and self._calls:
                self._emit_text(data[pos : m.start()], out)
                self._ws = ""
                self._reset_call(m.group(0), ident == self._nonce)
                return m.end()
            if ident == self._nonce and kind == "think" and self._thinking:
                self._emit_text(data[pos : m.start()], out)
                self.state = "think"
                self._think_first = True
                return m.end()
            if ident == self._nonce and kind == "result":
                self._emit_text(data[pos : m.start()], out)
                self.state = "done"
                out.append(Terminate())
                return len(data)
            if ident == self._nonce and kind == "end":  # a stray END is dropped
                self._emit_text(data[pos : m.start()], out)
                pos = m.end()
                continue
            # Not a marker of ours: text. Keep searching after its first character.
            self._emit_text(data[pos : m.start() + 1], out)
            pos = m.start() + 1

    def _think(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        if self._think_first:
            if data.startswith("\r\n", pos):
                pos += 2
            elif data.startswith("\n", pos):
                pos += 1
            elif pos < len(data) and data[pos] == "\r" and pos + 1 == len(data):
                self._hold = data[pos:]
                return -1
            if pos < len(data):
                self._think_first = False
        while True:
            m = _MARKER.search(data, pos)
            if m is None:
                cut = self._holdback(data, pos)
                if cut > pos:
                    out.append(Thinking(data[pos:cut]))
                self._hold = data[cut:]
                return -1
            kind, ident = m.group(1), m.group(2)
            if ident == self._nonce and kind in ("end", "call", "result"):
                if m.start() > pos:
                    out.append(Thinking(data[pos : m.start()]))
                if kind == "end":
                    self.state = "text"
                elif kind == "call":
                    self._reset_call(m.group(0), True)
                else:
                    self.state = "done"
                    out.append(Terminate())
                    return len(data)
                return m.end()
            out.append(Thinking(data[pos : m.start() + 1]))
            pos = m.start() + 1

    def _after(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        look = self._lookahead
        start = len(look)
        look += data[pos:]
        scan = max(0, self._after_scan - 24)
        while True:
            m = _MARKER.search(look, scan)
            if m is None:
                break
            kind, ident = m.group(1), m.group(2)
            if m.start() > LOOKAHEAD:
                break
            if kind == "call":
                self._lookahead = ""
                self._after_scan = 0
                self._reset_call(m.group(0), ident == self._nonce)
                return pos + (m.end() - start)
            if kind == "result" and ident == self._nonce:
                self.state = "done"
                out.append(Terminate())
                return len(data)
            scan = m.start() + 1
        if len(look) - len(look[self._holdback(look, max(0, len(look) - 25)) :]) > LOOKAHEAD:
            self.state = "done"
            out.append(Terminate())
            return len(data)
        self._lookahead = look
        self._after_scan = len(look)
        return -1

    # ------------------------------------------------------------ calls

    def _reset_call(self, opener: str, marker_ok: bool) -> None:
        if opener:
            self.state = "call"
        self._phase: Phase = "pre"
        self._flags: set[str] = set() if marker_ok else {WRONG_MARKER}
        self._written: list[str] = [opener]
        self._body: list[str] = []
        self._body_len = 0
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._fallback: int | None = None
        self._fence_skipped = False
        self._fence_skipped_post = False
        self._lookahead = ""
        self._after_scan = 0

    def _call(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        if self._phase == "pre":
            return self._pre(data, pos)
        if self._phase == "body":
            return self._scan_body(data, pos, out)
        if self._phase == "post":
            return self._post(data, pos, out)
        return self._raw(data, pos, out)

    def _skip_space(self, data: str, pos: int) -> int:
        """Skip whitespace (kept in `written`); returns the first other index."""
        i = pos
        while i < len(data) and data[i] in _WS:
            i += 1
        self._written.append(data[pos:i])
        return i

    def _pre(self, data: str, pos: int) -> int:
        i = self._skip_space(data, pos)
        if i == len(data):
            return i
        if data[i] == "{":
            self._phase = "body"
            return i
        if data[i] == "`" and not self._fence_skipped:
            m = _FENCE_LINE.match(data, i)
            if m is not None:
                self._fence_skipped = True
                self._written.append(m.group(0))
                return m.end()
            rest = data[i:]
            if (
                len(rest) < FENCE_MAX
                and "\n" not in rest
                and re.fullmatch(r"`{1,3}[A-Za-z0-9_-]*[ \t]*\r?", rest)
            ):
                self._hold = rest
                return -1
        self._phase = "raw"
        return i

    def _add_body(self, piece: str) -> None:
        self._written.append(piece)
        if self._body_len + len(piece) > self._max:
            self._flags.add(TOO_LARGE)
            self._body.clear()
        elif TOO_LARGE not in self._flags:
            self._body.append(piece)
        self._body_len += len(piece)

    def _scan_body(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        i = pos
        n = len(data)
        while i < n:
            if self._escape:
                self._escape = False
                i += 1
                continue
            m = (_INSIDE if self._in_string else _OUTSIDE).search(data, i)
            if m is None:
                i = n
                break
            j = m.start()
            ch = data[j]
            if ch == "<":
                tail = data[j : j + len(self._end)]
                if len(tail) < len(self._end) and self._end.startswith(tail):
                    self._add_body(data[pos:j])
                    self._hold = data[j:]
                    return -1
                if tail == self._end:
                    if self._in_string:
                        if self._fallback is None:
                            self._fallback = self._body_len + (j - pos)
                    else:  # P8: END outside a string while the body is open
                        self._add_body(data[pos:j])
                        self._written.append(self._end)
                        self._complete(out, UNBALANCED)
                        return j + len(self._end)
                i = j + 1
                continue
            if self._in_string:
                if ch == "\\":
                    self._escape = True
                else:
                    self._in_string = False
                i = j + 1
                continue
            if ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    self._add_body(data[pos : j + 1])
                    self._phase = "post"
                    return j + 1
            i = j + 1
        self._add_body(data[pos:i])
        return i

    def _post(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        i = self._skip_space(data, pos)
        if i == len(data):
            return i
        rest = data[i : i + 32]
        if data[i] == "`" and not self._fence_skipped_post:
            if rest.startswith("```"):
                self._fence_skipped_post = True
                self._written.append("```")
                return i + 3
            if "```".startswith(rest):
                self._hold = data[i:]
                return -1
        if data[i] == "<":
            m = _MARKER.match(data, i)
            if m is not None and m.group(1) == "end":
                self._written.append(m.group(0))
                self._complete(out)
                return m.end()
            if m is None and _is_marker_prefix(data[i:], ("end",), None):
                self._hold = data[i:]
                return -1
        self._complete(out, MISSING_END)
        return i  # P7: this character is processed again in AFTER

    def _raw(self, data: str, pos: int, out: list[ParserEvent]) -> int:
        k = data.find(self._end, pos)
        if k >= 0:
            self._add_body(data[pos:k])
            self._written.append(self._end)
            self._flags.add(NO_JSON_BODY)
            self._complete(out)
            return k + len(self._end)
        cut = len(data)
        for j in range(max(pos, len(data) - len(self._end) + 1), len(data)):
            if self._end.startswith(data[j:]):
                cut = j
                break
        self._add_body(data[pos:cut])
        self._hold = data[cut:]
        return -1

    def _complete(self, out: list[ParserEvent], flag: str | None = None, *, cut: int | None = None) -> None:
        if flag is not None:
            self._flags.add(flag)
        body = "".join(self._body)
        if cut is not None and TOO_LARGE not in self._flags:
            body = body[:cut]
        out.append(RawCall(body=body, flags=frozenset(self._flags), written="".join(self._written)))
        self.calls_emitted += 1
        self.state = "after"
        self._lookahead = ""
        self._after_scan = 0

    # ------------------------------------------------------------ text helpers

    def _emit_text(self, text: str, out: list[ParserEvent]) -> None:
        if not text:
            return
        if not self._started:
            text = self._ws + text
            if not text.strip(_WS):
                self._ws = text
                return
            self._ws = ""
            self._started = True
        out.append(Text(text))

    def _holdback(self, data: str, pos: int) -> int:
        """P1: where the longest suffix that could still become a marker begins (len if none)."""
        start = max(pos, len(data) - 24)
        k = data.find("<", start)
        while k >= 0:
            if self._could_be_marker(data[k:]):
                return k
            k = data.find("<", k + 1)
        return len(data)

    def _could_be_marker(self, tail: str) -> bool:
        kinds: list[tuple[str, str | None]] = [("result", self._nonce), ("end", self._nonce)]
        if self._calls:
            kinds.append(("call", None))
        if self._thinking or self.state == "think":
            kinds.append(("think", self._nonce))
        return any(_is_marker_prefix(tail, (kind,), ident) for kind, ident in kinds)


def _is_marker_prefix(tail: str, kinds: tuple[str, ...], ident: str | None) -> bool:
    """Whether `tail` is a proper prefix of a marker of one of `kinds` (any id when `ident` is None)."""
    for kind in kinds:
        head = f"<<{kind}:"
        if len(tail) <= len(head):
            if head.startswith(tail):
                return True
            continue
        if not tail.startswith(head):
            continue
        rest = tail[len(head) :]
        if ident is None:
            if _ID_CHARS.fullmatch(rest):
                return True
        elif (ident + ">>").startswith(rest) and rest != ident + ">>":
            return True
    return False
