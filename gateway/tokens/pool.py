"""The token pool: which Cursor session token the next request uses.

Tokens come from `TOKEN_FILE` merged with the checksums kept in `TOKEN_LIST_FILE`; `store.py`
reads and writes the files, in a worker thread. They are re-read when they change on disk (checked
at most every `RECHECK_SECONDS`), so a token added while the gateway runs is used without a
restart. Selection is round-robin; `lease()` is a plain synchronous call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.tokens.jwt import fingerprint
from gateway.tokens.store import TokenEntry, file_mtimes, load_files

log = logging.getLogger(__name__)

RECHECK_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class Lease:
    alias: str
    jwt: str
    entry: TokenEntry

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.jwt)


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
                loaded = await asyncio.to_thread(load_files, self._token_file, self._list_file)
            except (OSError, ValueError) as exc:
                # Keep serving with the tokens already loaded; the operator sees why in the log.
                log.warning("token files not (re)loaded: %s", exc)
                self.problems = (f"token files could not be read or written: {exc}",)
            else:
                for problem in loaded.problems:
                    log.warning("token file: %s", problem)
                self._entries, self.problems, self._mtimes = loaded.entries, loaded.problems, loaded.mtimes
                log.info("token pool: %d token(s) loaded from %s", len(loaded.entries), self._token_file)
            self._checked_at = time.monotonic()

    async def refresh(self) -> None:
        """Re-read the files if they changed since the last read; cheap when called per request."""
        if self._token_file is None or self._list_file is None:
            return
        if time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return
        self._checked_at = time.monotonic()
        mtimes = await asyncio.to_thread(file_mtimes, self._token_file, self._list_file)
        if mtimes != self._mtimes:
            await self.load()
