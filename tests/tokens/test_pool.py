"""The token pool: reading the files, picking up new tokens without a restart, round-robin."""

from __future__ import annotations

import os
import stat

from gateway.tokens import pool as pool_module
from gateway.tokens.pool import TokenPool
from gateway.upstream.checksum import parse_checksum
from tests.conftest import fake_jwt


async def test_reads_tokens_and_writes_checksums(tmp_path):
    token_file, list_file = tmp_path / ".token", tmp_path / ".token-list"
    token_file.write_text(f"# my tokens\nwork::{fake_jwt('auth0|a')}\nuser_01X%3A%3A{fake_jwt('auth0|b')}\n")
    pool = TokenPool(token_file, list_file)
    await pool.load()
    assert pool.size == 2
    assert [pool.lease().alias for _ in range(3)] == ["work", "user_01X", "work"]
    lines = list_file.read_text().splitlines()
    assert len(lines) == 2 and all(parse_checksum(line.rsplit(",", 1)[1]) for line in lines)
    assert stat.S_IMODE(os.stat(list_file).st_mode) == 0o600


async def test_identity_survives_a_reload(tmp_path):
    token_file, list_file = tmp_path / ".token", tmp_path / ".token-list"
    token_file.write_text(fake_jwt() + "\n")
    first = TokenPool(token_file, list_file)
    await first.load()
    second = TokenPool(token_file, list_file)
    await second.load()
    assert first.lease().entry.identity == second.lease().entry.identity


async def test_new_token_is_picked_up_without_restart(tmp_path, monkeypatch):
    monkeypatch.setattr(pool_module, "RECHECK_SECONDS", 0.0)
    token_file, list_file = tmp_path / ".token", tmp_path / ".token-list"
    pool = TokenPool(token_file, list_file)
    await pool.load()
    assert pool.lease() is None
    token_file.write_text(fake_jwt() + "\n")
    os.utime(token_file, (1, 1))  # a distinct mtime even on coarse clocks
    await pool.refresh()
    assert pool.lease() is not None


async def test_malformed_lines_are_reported_not_fatal(tmp_path):
    token_file, list_file = tmp_path / ".token", tmp_path / ".token-list"
    token_file.write_text("not-a-token\n" + fake_jwt() + "\n")
    pool = TokenPool(token_file, list_file)
    await pool.load()
    assert pool.size == 1 and len(pool.problems) == 1 and "not-a-token" not in pool.problems[0]
