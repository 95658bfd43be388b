"""The `.token` and `.token-list` files: parse, merge, render, load.

This module owns cursor-protocol.md §5.4. `.token` is the user's file (`token`, `alias::token`,
`alias::user_id::token`, the cookie value `user_id%3A%3Atoken`, `#` comments); `.token-list` is
ours (`[alias::]token,checksum`). A token is a session JWT or a user API key (`apikey.py`); its
kind is read from its shape, and both take the same line forms (`alias::crsr_…`). Parsing, merging
and rendering are pure functions of text; the file I/O (`load_files()`, `file_mtimes()`, and
`gateway.atomic.write_atomic()`) is synchronous, and callers on the
event loop run it in `asyncio.to_thread`.

Rules decided here where the protocol text leaves room:

* Aliases. An alias written before the first `::` is *given*. The cookie form `user_id%3A%3AJWT`
  (first separator URL-encoded, two parts) has no given alias: the user id becomes the alias and
  stays part of the raw token text. A bare token gets a *generated* alias `unnamed-<n>` (the
  lowest free `n`). Aliases may not contain `:`, `,` or control characters, and may not look
  like a JWT or an API key. A duplicate alias in one file gets `-2`, `-3`, … (first wins). A repeated token in
  one file is ignored after its first line.
* Rendering. A line is `raw,checksum` when the alias is generated or the raw text already implies
  it (the cookie form), otherwise `alias::raw,checksum`. So generated aliases are never written,
  and parsing the rendered text gives back the same aliases, raw texts and identities.
* Problems are reported as `<file>:<line>: <why>` and never contain token text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from gateway.atomic import write_atomic
from gateway.tokens.apikey import is_api_key
from gateway.tokens.jwt import SEPARATOR, decode_separators, is_jwt
from gateway.upstream.checksum import Identity, new_identity, parse_checksum, stored_checksum
from gateway.upstream.identity import TokenKind

GENERATED_PREFIX: Final = "unnamed-"

_FIRST_SEPARATOR: Final = re.compile(r"::|%3a%3a", re.IGNORECASE)
_BAD_LABEL: Final = re.compile(r"[:,\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One token of the pool.

    `raw` is the token text exactly as written in the file (minus a given alias); `jwt` is the
    credential: for a session token the JWT that goes upstream, for an API key (`kind` "api_key")
    the key, which is exchanged for an access token before use (`access.py`). `identity` comes
    from `.token-list` and is set for every merged entry. `generated_alias` marks `unnamed-<n>`
    aliases, which are never written to a file.
    """

    alias: str
    raw: str
    jwt: str
    identity: Identity | None = None
    generated_alias: bool = False
    kind: TokenKind = "session"


@dataclass(frozen=True, slots=True)
class ParseResult:
    entries: list[TokenEntry]
    problems: list[str]


@dataclass(frozen=True, slots=True)
class _Line:
    lineno: int
    alias: str | None  # None: generate one
    raw: str
    jwt: str
    kind: TokenKind
    identity: Identity | None
    bad_checksum: bool = False


class _LineError(ValueError):
    pass


def token_kind(text: str) -> TokenKind | None:
    """The kind of a credential by its shape: a session JWT, a user API key, or neither (None)."""
    if is_jwt(text):
        return "session"
    if is_api_key(text):
        return "api_key"
    return None


def _parse_token_text(text: str) -> tuple[str | None, str, str, TokenKind]:
    """`(alias or None, raw, credential, kind)` of one token text (rule 3 plus §5.1); raises `_LineError`."""
    text = text.strip()
    parts = [part.strip() for part in decode_separators(text).split(SEPARATOR)]
    if len(parts) > 3:
        raise _LineError(f"{len(parts)} '::'-separated parts; at most 3 (alias::user_id::token) are allowed")
    if any(not part for part in parts):
        raise _LineError("empty alias or user id around '::'")
    credential = parts[-1]
    kind = token_kind(credential)
    if kind is None:
        raise _LineError(
            "not a Cursor token (expected a session JWT: three base64url segments starting with 'eyJ', "
            "or a user API key starting with 'crsr_' or 'key_')"
        )
    for label in parts[:-1]:
        if token_kind(label) is not None:
            raise _LineError("more than one token on the line")
        if _BAD_LABEL.search(label):
            raise _LineError("an alias or user id contains ':', ',' or a control character")
    if len(parts) == 1:
        return None, text, credential, kind
    first = _FIRST_SEPARATOR.search(text)
    assert first is not None  # two or more parts imply a separator
    if len(parts) == 2 and first.group() != SEPARATOR:
        return (
            parts[0],
            text,
            credential,
            kind,
        )  # cookie value: the user id is the alias, part of the raw text
    return parts[0], text[first.end() :].strip(), credential, kind


def _lines(text: str) -> list[tuple[int, str]]:
    """Rules 1-2: CRLF -> LF, trimmed, without blank lines and `#` comments."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((lineno, line))
    return out


def _next_free(base: str, taken: set[str]) -> str:
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _next_generated(taken: set[str], start: int) -> tuple[str, int]:
    n = start
    while f"{GENERATED_PREFIX}{n}" in taken:
        n += 1
    return f"{GENERATED_PREFIX}{n}", n + 1


def _finish(lines: list[_Line], problems: list[tuple[int, str]], source: str) -> ParseResult:
    """Rule 6 inside one file: drop repeated tokens, make aliases unique, name the unnamed."""
    first_line: dict[str, int] = {}
    kept: list[_Line] = []
    for line in lines:
        if line.jwt in first_line:
            problems.append((line.lineno, f"repeats the token of line {first_line[line.jwt]}; ignored"))
            continue
        first_line[line.jwt] = line.lineno
        kept.append(line)
    given = {line.alias for line in kept if line.alias is not None}
    taken: set[str] = set()
    alias_line: dict[str, int] = {}
    entries: list[TokenEntry] = []
    counter = 1
    for line in kept:
        if line.alias is None:
            alias, counter = _next_generated(taken | given, counter)
        elif line.alias in taken:
            alias = _next_free(line.alias, taken | given)
            problems.append(
                (
                    line.lineno,
                    f"alias '{line.alias}' is already used on line {alias_line[line.alias]}; renamed to '{alias}'",
                )
            )
        else:
            alias = line.alias
        taken.add(alias)
        alias_line.setdefault(alias, line.lineno)
        if line.bad_checksum:
            problems.append((line.lineno, f"invalid checksum for '{alias}'; a new one will be generated"))
        entries.append(TokenEntry(alias, line.raw, line.jwt, line.identity, line.alias is None, line.kind))
    problems.sort(key=lambda item: item[0])
    return ParseResult(entries, [f"{source}:{lineno}: {why}" for lineno, why in problems])


def parse_token_file(text: str, *, source: str = ".token") -> ParseResult:
    """Parse the user's `.token` (§5.4 rules 1-3 and 6). Entries have no identity yet."""
    lines: list[_Line] = []
    problems: list[tuple[int, str]] = []
    for lineno, line in _lines(text):
        if "," in line:
            problems.append((lineno, "',' is not allowed here (checksums belong in .token-list); ignored"))
            continue
        try:
            alias, raw, jwt, kind = _parse_token_text(line)
        except _LineError as exc:
            problems.append((lineno, f"{exc}; ignored"))
            continue
        lines.append(_Line(lineno, alias, raw, jwt, kind, None))
    return _finish(lines, problems, source)


def parse_token_list(text: str, *, source: str = ".token-list") -> ParseResult:
    """Parse the gateway's `.token-list` (rule 4). `#` lines are skipped (and so disappear on the
    next rewrite); an invalid checksum gives an entry with identity None plus a problem line."""
    lines: list[_Line] = []
    problems: list[tuple[int, str]] = []
    for lineno, line in _lines(text):
        fields = line.split(",")
        if len(fields) != 2:
            problems.append(
                (lineno, f"expected 'token,checksum' (one ','), found {len(fields) - 1}; ignored")
            )
            continue
        try:
            alias, raw, jwt, kind = _parse_token_text(fields[0])
        except _LineError as exc:
            problems.append((lineno, f"{exc}; ignored"))
            continue
        identity = parse_checksum(fields[1])
        lines.append(_Line(lineno, alias, raw, jwt, kind, identity, bad_checksum=identity is None))
    return _finish(lines, problems, source)


def merge(
    tokens: ParseResult, listed: ParseResult, *, make_identity: Callable[[], Identity] = new_identity
) -> list[TokenEntry]:
    """Rules 5-7: the pool from `.token` and `.token-list`; `.token` wins.

    A `.token` entry takes the identity of the listed entry with the same JWT; failing that (and
    only for a given, not generated, alias) the identity of the listed entry with the same
    alias, whose token it replaces. Otherwise, and for listed entries without a valid checksum,
    `make_identity()` is called, in output order. Order: `.token` entries, then the listed
    entries nobody claimed, in their old order. Aliases come out unique: a listed alias that
    clashes with a `.token` one gets a `-2`-style suffix, and generated ones are renumbered to
    the lowest free `unnamed-<n>` (exactly what re-reading the rendered file would assign).
    """
    old = listed.entries
    by_jwt: dict[str, int] = {}
    by_alias: dict[str, int] = {}
    for index, entry in enumerate(old):
        by_jwt.setdefault(entry.jwt, index)
        if not entry.generated_alias:
            by_alias.setdefault(entry.alias, index)
    claimed: set[int] = set()
    match: list[int | None] = [None] * len(tokens.entries)
    for position, entry in enumerate(tokens.entries):
        found = by_jwt.get(entry.jwt)
        if found is not None and found not in claimed:
            match[position] = found
            claimed.add(found)
    for position, entry in enumerate(tokens.entries):
        if match[position] is None and not entry.generated_alias:
            found = by_alias.get(entry.alias)
            if found is not None and found not in claimed:
                match[position] = found
                claimed.add(found)

    result: list[TokenEntry] = []
    aliases: set[str] = set()
    jwts: set[str] = set()
    for entry, found in zip(tokens.entries, match, strict=True):
        identity = old[found].identity if found is not None else None
        identity = identity or entry.identity or make_identity()
        result.append(replace(entry, identity=identity))
        aliases.add(entry.alias)
        jwts.add(entry.jwt)
    # Entries only in `.token-list` keep their place after the `.token` ones. Their aliases are
    # renamed exactly as parsing the rendered file would name them, so the rewrite is stable:
    # given aliases first (a `-2` suffix on a clash), then `unnamed-<n>`, lowest free n in order.
    rest: list[TokenEntry] = []
    for index, entry in enumerate(old):
        if index not in claimed and entry.jwt not in jwts:
            rest.append(entry)
            jwts.add(entry.jwt)
    reserved = aliases | {entry.alias for entry in rest if not entry.generated_alias}
    final: list[str | None] = []
    for entry in rest:
        if entry.generated_alias:
            final.append(None)
        elif entry.alias in aliases:
            alias = _next_free(entry.alias, reserved | aliases)
            final.append(alias)
            aliases.add(alias)
        else:
            final.append(entry.alias)
            aliases.add(entry.alias)
    counter = 1
    for entry, chosen in zip(rest, final, strict=True):
        if chosen is None:
            chosen, counter = _next_generated(aliases | reserved, counter)
            aliases.add(chosen)
        result.append(replace(entry, alias=chosen, identity=entry.identity or make_identity()))
    return result


def _token_text(entry: TokenEntry) -> str:
    """The token part of a `.token-list` line: `raw`, or `alias::raw` when the alias must be written."""
    if "," in entry.raw or "\n" in entry.raw or "\r" in entry.raw:
        raise ValueError(f"the token of '{entry.alias}' contains ',' or a line break")
    if entry.generated_alias:
        return entry.raw
    try:
        implied, raw, _, _ = _parse_token_text(entry.raw)
    except _LineError:
        implied, raw = None, ""
    if implied == entry.alias and raw == entry.raw:
        return entry.raw
    if not entry.alias or _BAD_LABEL.search(entry.alias):
        raise ValueError("an alias may not be empty or contain ':', ',' or control characters")
    return f"{entry.alias}{SEPARATOR}{entry.raw}"


def render_token_list(entries: Sequence[TokenEntry], unix_seconds: int) -> str:
    """`.token-list` text: one `[alias::]raw,checksum` line per entry, each ending in a newline.

    The checksum is the 137- (or 72-) character form with a prefix computed for `unix_seconds`.
    Every entry needs an identity (`merge()` provides one).
    """
    out = []
    for entry in entries:
        if entry.identity is None:
            raise ValueError(f"entry '{entry.alias}' has no identity; merge() first")
        out.append(f"{_token_text(entry)},{stored_checksum(entry.identity, unix_seconds)}\n")
    return "".join(out)


# ---------------------------------------------------------------- loading both files

MAX_TOKEN_FILE_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Loaded:
    entries: tuple[TokenEntry, ...]
    problems: tuple[str, ...]
    mtimes: tuple[float | None, float | None]


def load_files(token_file: Path, list_file: Path) -> Loaded:
    """Read and merge both files; rewrite `.token-list` when its content changes. SYNC (blocking).

    Callers on the event loop use `asyncio.to_thread`. Raises `OSError`, or `ValueError` for a file
    over `MAX_TOKEN_FILE_BYTES`.
    """
    token_text, token_mtime = _read(token_file)
    list_text, _ = _read(list_file)
    tokens = parse_token_file(token_text, source=str(token_file))
    listed = parse_token_list(list_text, source=str(list_file))
    entries = merge(tokens, listed)
    rendered = render_token_list(entries, int(time.time())) if entries else ""
    if entries and _without_prefixes(rendered) != _without_prefixes(list_text):
        write_atomic(list_file, rendered)
    return Loaded(tuple(entries), (*tokens.problems, *listed.problems), (token_mtime, _mtime(list_file)))


def file_mtimes(token_file: Path, list_file: Path) -> tuple[float | None, float | None]:
    """Modification times (None for a missing file), to notice edits cheaply. SYNC."""
    return _mtime(token_file), _mtime(list_file)


def _read(path: Path) -> tuple[str, float | None]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "", None
    if stat.st_size > MAX_TOKEN_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_TOKEN_FILE_BYTES} bytes")
    return path.read_text(encoding="utf-8", errors="replace"), stat.st_mtime


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _without_prefixes(text: str) -> list[str]:
    """`.token-list` lines without the 8-character checksum time prefix (it changes every 1000 s)."""
    lines = []
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        line = raw_line.strip()
        if line.startswith("#"):
            lines.append(line)
        elif line:
            head, _, tail = line.rpartition(",")
            lines.append(f"{head},{tail[8:] if len(tail) in (137, 72) else tail}")
    return lines
