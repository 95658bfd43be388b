"""Tests that need a program the machine may lack: skipped with the reason locally, failed in CI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_ALL, require_program

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_program_skips_with_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        require_program("chromium", "chromium-browser", install="the Debian package chromium")
    assert "chromium or chromium-browser is not installed (the Debian package chromium)" in str(info.value)


def test_a_missing_program_fails_where_everything_is_required(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv(REQUIRE_ALL, "1")
    with pytest.raises(pytest.fail.Exception) as info:
        require_program("npm", install="the Debian package npm")
    assert REQUIRE_ALL in str(info.value)


def test_a_present_program_is_found(monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert require_program("no-such-program", Path(sys.executable).name, install="x") == sys.executable


def test_ci_requires_every_component():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert f"export {REQUIRE_ALL}=1" in ci
    readme_command = next(line for line in ci if line.startswith("python3 -m venv .venv"))
    assert ci.index(f"export {REQUIRE_ALL}=1") < ci.index(readme_command)
