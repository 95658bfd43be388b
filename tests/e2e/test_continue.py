"""Continue CLI (`cn -p --auto`, provider `openai` with `apiBase` at the gateway) through the gateway and
the simulator's agent mode: tool-calls.md §12.9, G5."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.checks import AGENT_SERVICE_RUNS, CONTENT, TASK, assert_agent_strategy, assert_strategy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def run_continue(stack, workspace: Path, home: Path, task: str, **settings: object):
    return await clients.run_through(clients.continue_cli, stack, workspace, home, task, **settings)


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_continue_creates_and_reads_back_a_file(stack, workspace, home, tool_mode) -> None:
    gateway, done = await run_continue(stack, workspace, home, TASK, tool_mode=tool_mode)
    assert done.returncode == 0, done.describe()
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    assert "I read hello.txt" in done.stdout and CONTENT in done.stdout, done.describe()
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)


async def test_continue_reads_a_file_and_answers(stack, workspace, home) -> None:
    """12.9: a read-then-answer task completes."""
    (workspace / "notes.md").write_text("# Notes\nThe build is green on 2026-11-23.\n", encoding="utf-8")
    gateway, done = await run_continue(
        stack, workspace, home, "Read the file notes.md and tell me what it says."
    )
    assert done.returncode == 0, done.describe()
    assert "The build is green on 2026-11-23." in done.stdout, done.describe()
    assert_strategy(gateway.sim, "native", turns=2)


@AGENT_SERVICE_RUNS
async def test_continue_creates_and_reads_back_a_file_over_the_agent_service(
    stack, workspace, home, tool_mode, http2, upstream_rpc
) -> None:
    """The same task through Cursor's agent service: RunSSE + BidiAppend, or the bidirectional Run;
    either chosen (UPSTREAM_RPC=agent), or reached with UPSTREAM_RPC=auto from a ChatService that
    answers retired, each request moved to the agent service before its first byte."""
    gateway, done = await run_continue(
        stack,
        workspace,
        home,
        TASK,
        tool_mode=tool_mode,
        upstream_rpc=upstream_rpc,
        http2=http2,
        chat_retired=upstream_rpc == "auto",
    )
    assert done.returncode == 0, done.describe()
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    assert "I read hello.txt" in done.stdout and CONTENT in done.stdout, done.describe()
    strategy = "native" if tool_mode == "native" else "emulated"
    assert_agent_strategy(gateway.sim, strategy, turns=3, chat_retired=upstream_rpc == "auto")
