"""Replace a small file all or nothing: the token files, the runtime options, the saved client version.

Synchronous (it fsyncs): callers on the event loop run it in `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Final

FILE_MODE: Final = 0o600


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Replace the file at `path` with `text` (UTF-8), all or nothing, mode 0600. Blocking.

    A temporary file in the same directory is written, flushed and fsynced, then renamed over
    `path`, and the directory is fsynced so the rename survives a crash. On any error the
    temporary file is removed and the old file is untouched. A symlink at `path` is replaced,
    not followed.
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    hidden = name if name.startswith(".") else f".{name}"
    fd, temp = tempfile.mkstemp(prefix=f"{hidden}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return  # e.g. a platform that cannot open directories; the rename itself has happened
    try:
        with contextlib.suppress(OSError):  # some filesystems reject fsync on a directory (EINVAL)
            os.fsync(fd)
    finally:
        os.close(fd)
