"""The Anthropic TypeScript SDK (`@anthropic-ai/sdk`, `anthropic_sdk.mjs`) against the gateway and the
simulator's agent mode: a streamed message rebuilt by the SDK's MessageStream, and a tool loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.checks import CONTENT, TASK

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_typescript_sdk_streams_and_runs_a_tool_loop(
    stack, workspace: Path, home: Path, tool_mode
) -> None:
    _, done = await clients.run_through(
        clients.anthropic_sdk, stack, workspace, home, TASK, tool_mode=tool_mode
    )
    assert done.returncode == 0, done.describe()
    result = json.loads(done.stdout)
    plain = result["plain"]
    assert "".join(plain["pieces"]) == "You said: stream me, please" and len(plain["pieces"]) > 1
    assert plain["events"][0] == "message_start" and plain["events"][-1] == "message_stop"
    assert plain["message"]["content"] == [{"type": "text", "text": "You said: stream me, please"}]
    assert plain["message"]["stop_reason"] == "end_turn"
    turns = result["tools"]["turns"]
    calls = [b["name"] for turn in turns for b in turn["content"] if b["type"] == "tool_use"]
    assert calls == ["write_file", "read_file"]
    assert [t["stop_reason"] for t in turns] == ["tool_use", "tool_use", "end_turn"]
    assert result["tools"]["files"] == {"hello.txt": CONTENT}
    assert CONTENT in turns[-1]["content"][-1]["text"]
