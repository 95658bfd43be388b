"""Claude Code (`claude -p`, on Anthropic Messages with `ANTHROPIC_BASE_URL` at the gateway) through
the gateway and the simulator's agent mode: the file task the Kilo and Continue tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.checks import CONTENT, TASK, assert_strategy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_claude_code_creates_and_reads_back_a_file(
    stack, workspace: Path, home: Path, tool_mode
) -> None:
    gateway, done = await clients.run_through(
        clients.claude_code, stack, workspace, home, TASK, tool_mode=tool_mode
    )
    assert done.returncode == 0, done.describe()
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    messages = clients.json_lines(done.stdout)
    calls = [
        block["name"]
        for m in messages
        if m.get("type") == "assistant"
        for block in m["message"]["content"]
        if block["type"] == "tool_use"
    ]
    assert calls == ["Write", "Read"], done.describe()
    results = [
        block
        for m in messages
        if m.get("type") == "user"
        for block in m["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 2 and not any(r.get("is_error") for r in results), done.describe()
    [final] = [m for m in messages if m.get("type") == "result"]
    assert final["subtype"] == "success" and not final["is_error"]
    assert "I read hello.txt" in final["result"] and CONTENT in final["result"], done.describe()
    # Claude Code turns thinking on: every tool turn went to the model's thinking twin.
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)
