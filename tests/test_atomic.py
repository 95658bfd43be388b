"""`write_atomic`: all or nothing, mode 0600, no temp file left behind by a failure."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway import atomic
from gateway.atomic import write_atomic

REPO = Path(__file__).resolve().parent.parent


def test_write_atomic_creates_and_replaces_with_mode_0600(tmp_path):
    target = tmp_path / ".token-list"
    write_atomic(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.chmod(0o644)
    write_atomic(str(target), "sécond\r\n")
    assert target.read_bytes() == "sécond\r\n".encode()  # utf-8, newlines untouched
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".token-list"]


def test_write_atomic_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / ".token-list"
    target.write_text("old\n", encoding="utf-8")

    def failing_replace(src, dst):
        assert Path(src).read_text(encoding="utf-8") == "new\n"  # fully written before the rename
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".token-list"]


def test_write_atomic_failure_while_writing(tmp_path, monkeypatch):
    target = tmp_path / "t"
    target.write_text("old\n", encoding="utf-8")

    def failing_fsync(fd):
        raise OSError("EIO")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="EIO"):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t"]


def test_write_atomic_killed_mid_write_leaves_the_old_file(tmp_path):
    """SIGKILL the writer after the temp file is written and synced, just before the rename."""
    target = tmp_path / ".token-list"
    target.write_text("old content\n", encoding="utf-8")
    script = textwrap.dedent(
        """
        import os, signal, sys
        from gateway import atomic
        atomic.os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
        atomic.write_atomic(sys.argv[1], "new content\\n" * 1000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(target)], cwd=REPO, check=False, timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text(encoding="utf-8") == "old content\n"
    leftovers = [p for p in tmp_path.iterdir() if p.name != ".token-list"]
    # A crash cannot clean up: the temp file is a hidden sibling, complete, and never the target.
    assert len(leftovers) == 1
    assert leftovers[0].name.startswith(".token-list.")
    assert leftovers[0].name.endswith(".tmp")
    assert stat.S_IMODE(leftovers[0].stat().st_mode) == 0o600


def test_write_atomic_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomic("rel.txt", "x")
    assert (tmp_path / "rel.txt").read_text(encoding="utf-8") == "x"
    assert os.listdir(tmp_path) == ["rel.txt"]
