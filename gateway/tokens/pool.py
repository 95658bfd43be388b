"""The token pool: which Cursor session token the next request uses.

Tokens come from `TOKEN_FILE` merged with the checksums kept in `TOKEN_LIST_FILE` (`store.py`).
The files are re-read when they change on disk (checked at most every `RECHECK_SECONDS`), so a
token added while the gateway runs is used without a restart. Selection is round-robin. File
reads and writes run in a worker thread; `lease()` itself is a plain synchronous call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.tokens.jwt import fingerprint
from gateway.tokens.store import (
    TokenEntry,
    merge,
    parse_token_file,
    parse_token_list,
    render_token_list,
    write_atomic,
)

log = logging.getLogger(__name__)

RECHECK_SECONDS: Final = 2.0
MAX_TOKEN_FILE_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Lease:
    alias: str
    jwt: str
    entry: TokenEntry

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.jwt)


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
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def _mtimes(token_file: Path, list_file: Path) -> tuple[float | None, float | None]:
    return _mtime(token_file), _mtime(list_file)


class TokenPool:
    """Round-robin over the tokens of the token files (or over a fixed list, for demo mode)."""

    def __init__(self, token_file: Path | None, list_file: Path | None) -> None:
        self._token_file = token_file
        self._list_file = list_file
        self._entries: tuple[TokenEntry, ...] = ()
        self._next = 0
        self._mtimes: tuple[float | None, float | None] = (None, None)
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self.problems: tuple[str, ...] = ()

    @classmethod
    def fixed(cls, entries: list[TokenEntry]) -> TokenPool:
        pool = cls(None, None)
        pool._entries = tuple(entries)
        return pool

    @property
    def size(self) -> int:
        return len(self._entries)

    def lease(self) -> Lease | None:
        if not self._entries:
            return None
        entry = self._entries[self._next % len(self._entries)]
        self._next = (self._next + 1) % len(self._entries)
        return Lease(entry.alias, entry.jwt, entry)

    async def load(self) -> None:
        """Read both files now (and write back checksums for new tokens)."""
        if self._token_file is None or self._list_file is None:
            return
        async with self._lock:
            try:
                await asyncio.to_thread(self._load_sync, self._token_file, self._list_file)
            except (OSError, ValueError) as exc:
                # Keep serving with the tokens already loaded; the operator sees why in the log.
                log.warning("token files not (re)loaded: %s", exc)
                self.problems = (f"token files could not be read or written: {exc}",)
            self._checked_at = time.monotonic()

    async def refresh(self) -> None:
        """Re-read the files if they changed since the last read; cheap when called per request."""
        if self._token_file is None or self._list_file is None:
            return
        if time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return
        self._checked_at = time.monotonic()
        mtimes = await asyncio.to_thread(_mtimes, self._token_file, self._list_file)
        if mtimes != self._mtimes:
            await self.load()

    def _load_sync(self, token_file: Path, list_file: Path) -> None:
        token_text, token_mtime = _read(token_file)
        list_text, _ = _read(list_file)
        tokens = parse_token_file(token_text, source=str(token_file))
        listed = parse_token_list(list_text, source=str(list_file))
        entries = merge(tokens, listed)
        problems = (*tokens.problems, *listed.problems)
        for problem in problems:
            log.warning("token file: %s", problem)
        rendered = render_token_list(entries, int(time.time())) if entries else ""
        if entries and _without_prefixes(rendered) != _without_prefixes(list_text):
            write_atomic(list_file, rendered)
        self._entries = tuple(entries)
        self.problems = problems
        self._mtimes = (token_mtime, _mtime(list_file))
        log.info("token pool: %d token(s) loaded from %s", len(entries), token_file)


def _without_prefixes(text: str) -> list[str]:
    """`.token-list` lines without the 8-character checksum time prefix (it changes every 1000 s)."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            if line.startswith("#"):
                lines.append(line)
            continue
        head, _, tail = line.rpartition(",")
        lines.append(f"{head},{tail[8:] if len(tail) in (137, 72) else tail}")
    return lines
