"""The token files as the pool's `TokenSource`: reads, change checks and saves, off the event loop.

Every read and write of `.token` / `.token-list` runs in a worker thread (`asyncio.to_thread`)
under one `asyncio.Lock`, so a save, an API reload and the automatic re-read (which may rewrite
`.token-list` to add checksums) never interleave: no update loses a line. Each read gets a
sequence number taken under the lock, so the pool never applies an older read over a newer one.
Writes are `gateway.atomic.write_atomic` (temp file, fsync, rename): a crash leaves the old file intact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from gateway.atomic import write_atomic
from gateway.tokens.store import MAX_TOKEN_FILE_BYTES, Loaded, file_mtimes, load_files

log = logging.getLogger(__name__)

RECHECK_SECONDS: Final = 2.0


class TokenFiles:
    def __init__(
        self,
        token_file: Path,
        list_file: Path,
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_file = token_file
        self.list_file = list_file
        self._recheck = recheck_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._sequence = 0
        self._mtimes: tuple[float | None, float | None] = (None, None)
        self._checked_at = -float("inf")

    async def read(self) -> tuple[int, Loaded]:
        async with self._lock:
            return self._note(await asyncio.to_thread(load_files, self.token_file, self.list_file))

    async def changed(self) -> bool:
        if self._clock() - self._checked_at < self._recheck:
            return False
        self._checked_at = self._clock()
        mtimes = await asyncio.to_thread(file_mtimes, self.token_file, self.list_file)
        return mtimes != self._mtimes

    async def save(self, tokens: str, token_list: str | None) -> tuple[int, Loaded]:
        for name, text in (("tokens", tokens), ("token_list", token_list or "")):
            if len(text.encode("utf-8", "surrogatepass")) > MAX_TOKEN_FILE_BYTES:
                raise ValueError(f"{name} is larger than {MAX_TOKEN_FILE_BYTES} bytes")
        async with self._lock:
            loaded = await asyncio.to_thread(self._save_sync, tokens, token_list)
            return self._note(loaded)

    def _save_sync(self, tokens: str, token_list: str | None) -> Loaded:
        if token_list is not None:
            write_atomic(self.list_file, _with_newline(token_list))
        write_atomic(self.token_file, _with_newline(tokens))
        return load_files(self.token_file, self.list_file)

    async def texts(self) -> tuple[str, str]:
        async with self._lock:
            return await asyncio.to_thread(self._texts_sync)

    def _texts_sync(self) -> tuple[str, str]:
        return _read_text(self.token_file), _read_text(self.list_file)

    def _note(self, loaded: Loaded) -> tuple[int, Loaded]:
        self._sequence += 1
        self._mtimes = loaded.mtimes
        self._checked_at = self._clock()
        for problem in loaded.problems:
            log.warning("token file: %s", problem)
        log.info("token pool: %d token(s) loaded from %s", len(loaded.entries), self.token_file)
        return self._sequence, loaded


def _with_newline(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text if not text or text.endswith("\n") else text + "\n"


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TOKEN_FILE_BYTES:
            raise ValueError(f"{path} is larger than {MAX_TOKEN_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
