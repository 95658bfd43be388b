"""JSON repair for model-written tool calls (tool-calls.md §6.2). Pure.

A strict parse comes first; a value it accepts is never changed (V3). On failure the passes
R1-R8 are applied cumulatively, in order, with a strict parse after each; the first success wins
and the passes used are reported. R7 (closing what is open) runs only for a body the parser saw
end early but cleanly (`unbalanced`, `missing_end`), never for a truncated one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final


class RepairFailed(ValueError):
    """No pass made the text parse; the message is the last parser error."""


_FENCE: Final = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)\r?\n?```\s*$", re.S)
_LEADING_JSON: Final = re.compile(r"^\s*json\b\s*", re.I)
_WORDS: Final = {"True": "true", "False": "false", "None": "null"}
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def strict_loads(text: str) -> object:
    """Standard JSON only (no NaN/Infinity, no raw control characters); lone surrogates -> U+FFFD (V4)."""
    return _clean(json.loads(text, parse_constant=_reject_constant))


def _clean(value: object) -> object:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_SURROGATE.sub("\ufffd", k): _clean(v) for k, v in value.items()}
    return value


def parse_json_lenient(text: str, *, allow_close: bool = False) -> tuple[object, tuple[str, ...]]:
    """The parsed value and the repair passes it needed (empty when strict JSON)."""
    try:
        return strict_loads(text), ()
    except (ValueError, RecursionError) as exc:
        error: Exception = exc
    applied: list[str] = []
    current = text
    for name, repair in PASSES:
        if name == "R7" and not allow_close:
            continue
        changed = repair(current)
        if changed == current:
            continue
        applied.append(name)
        current = changed
        try:
            return strict_loads(current), tuple(applied)
        except (ValueError, RecursionError) as exc:
            error = exc
    raise RepairFailed(_describe(error))


def _describe(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return str(error) or type(error).__name__


# ---------------------------------------------------------------- the passes


def r1_strip_wrappers(text: str) -> str:
    """Strip a BOM, a surrounding code fence and a leading `json` word."""
    text = text.lstrip("\ufeff")
    m = _FENCE.match(text)
    if m is not None:
        text = m.group(1)
    return _LEADING_JSON.sub("", text, count=1) if not text.lstrip().startswith(("{", "[", '"')) else text


def _rewrite_strings(text: str, rewrite: Callable[[str], str], closes: Callable[[str, int], bool]) -> str:
    """Rewrite each character inside double-quoted strings; `closes` says whether a `"` ends one."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if not in_string:
            out.append(ch)
            in_string = ch == '"'
            i += 1
        elif ch == "\\":
            out.append(text[i : i + 2])
            i += 2
        else:
            if ch == '"' and closes(text, i):
                out.append(ch)
                in_string = False
            else:
                out.append(rewrite(ch))
            i += 1
    return "".join(out)


def _any_quote_closes(text: str, i: int) -> bool:
    return True


def _closes_string(text: str, i: int) -> bool:
    """R3: a quote closes a string only before `,` `}` `]` `:` or the end (after whitespace)."""
    j = i + 1
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    return j >= len(text) or text[j] in ",}]:"


_CONTROL_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def r2_escape_controls(text: str) -> str:
    """Escape raw LF, CR and TAB inside strings."""
    return _rewrite_strings(text, lambda ch: _CONTROL_ESCAPES.get(ch, ch), _any_quote_closes)


def r3_escape_inner_quotes(text: str) -> str:
    """A `"` inside a string that is not followed by `,` `}` `]` `:` or the end is content."""
    return _rewrite_strings(text, lambda ch: '\\"' if ch == '"' else ch, _closes_string)


def r4_single_quotes(text: str) -> str:
    """Single-quoted strings and keys (outside double-quoted strings) become double-quoted."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == "'":
            j = i + 1
            inner: list[str] = []
            while j < n and text[j] != "'":
                if text[j] == "\\" and j + 1 < n:
                    inner.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                    continue
                inner.append('\\"' if text[j] == '"' else text[j])
                j += 1
            out.append('"' + "".join(inner) + ('"' if j < n else ""))
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _outside_strings(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply `rewrite` to every stretch of text outside double-quoted strings."""
    out: list[str] = []
    i, n = 0, len(text)
    start = 0
    while i < n:
        if text[i] == '"':
            out.append(rewrite(text[start:i]))
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = start = j + 1
        else:
            i += 1
    out.append(rewrite(text[start:]))
    return "".join(out)


_WORD_RE: Final = re.compile(r"\b(True|False|None)\b")
_TRAILING_COMMA: Final = re.compile(r",(\s*[}\]])")


def r5_python_words(text: str) -> str:
    return _outside_strings(text, lambda part: _WORD_RE.sub(lambda m: _WORDS[m.group(1)], part))


def r6_trailing_commas(text: str) -> str:
    return _outside_strings(text, lambda part: _TRAILING_COMMA.sub(r"\1", part))


def r7_close_open(text: str) -> str:
    """Close an open string before the trailing closers that fit the stack, then add missing closers."""
    stack: list[str] = []
    in_string = False
    i, n = 0, len(text)
    string_start = -1
    while i < n:
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string, string_start = True, i
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack and stack[-1] == ch:
            stack.pop()
        i += 1
    if in_string:
        body = text[string_start:]
        # The longest trailing run of closers that matches the open-bracket stack (innermost first).
        run = 0
        while (
            run < len(body) - 1
            and run < len(stack)
            and body[len(body) - 1 - run] == stack[len(stack) - 1 - run]
        ):
            run += 1
        cut = len(text) - run
        text = text[:cut] + '"' + text[cut:]
        del stack[len(stack) - run :]
    return text + "".join(reversed(stack))


def r8_cut_garbage(text: str) -> str:
    """Cut what follows the first complete top-level value."""
    stripped = text.lstrip()
    try:
        _, end = json.JSONDecoder().raw_decode(stripped)
    except (ValueError, RecursionError):
        return text
    return stripped[:end]


PASSES: Final[tuple[tuple[str, Callable[[str], str]], ...]] = (
    ("R1", r1_strip_wrappers),
    ("R2", r2_escape_controls),
    ("R3", r3_escape_inner_quotes),
    ("R4", r4_single_quotes),
    ("R5", r5_python_words),
    ("R6", r6_trailing_commas),
    ("R7", r7_close_open),
    ("R8", r8_cut_garbage),
)
