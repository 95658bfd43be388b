"""Kilo Code CLI (`kilo run --auto --format json`, provider `@ai-sdk/openai-compatible`) through the
gateway and the simulator's agent mode: tool-calls.md §12.9, G5, and T2 with a prose-first reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.checks import (
    AGENT_SERVICE_RUNS,
    CONTENT,
    TASK,
    assert_agent_strategy,
    assert_strategy,
    corrective_retries,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def run_kilo(stack, workspace: Path, home: Path, **settings: object):
    return await clients.run_through(clients.kilo, stack, workspace, home, TASK, **settings)


def assert_task_done(done: clients.Finished, workspace: Path) -> None:
    assert done.returncode == 0, done.describe()
    events = clients.json_lines(done.stdout)
    assert [e for e in events if e.get("type") == "error"] == [], done.describe()
    tools = [e["part"] for e in events if e.get("type") == "tool_use"]
    assert [(t["tool"], t["state"]["status"]) for t in tools] == [
        ("write", "completed"),
        ("read", "completed"),
    ]
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    final = [e["part"]["text"] for e in events if e.get("type") == "text"][-1]
    assert CONTENT in final, done.describe()


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_kilo_creates_and_reads_back_a_file(stack, workspace, home, tool_mode) -> None:
    """12.9: the file task completes through Kilo's `write` and `read` tools in either strategy."""
    gateway, done = await run_kilo(stack, workspace, home, tool_mode=tool_mode)
    assert_task_done(done, workspace)
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)


async def test_kilo_strict_mode_survives_a_prose_first_reply(stack, workspace, home) -> None:
    """12.9 / T2, T5, T6: with KILO_TOOL_STRICT the gateway retries a reply that only talks, and the
    task completes without a missing-tool error."""
    gateway, done = await run_kilo(
        stack, workspace, home, scenario="agent prose_first=true", kilo_tool_strict="true"
    )
    assert_task_done(done, workspace)
    assert corrective_retries(gateway.sim) >= 2  # the write turn and the read turn were each retried


async def test_kilo_accepts_fragmented_tool_arguments(stack, workspace, home) -> None:
    """O9 with a real AI-SDK client: arguments streamed in 16-character pieces still complete the task."""
    gateway, done = await run_kilo(
        stack, workspace, home, tool_stream_mode="fragmented", tool_args_chunk_chars=16
    )
    assert_task_done(done, workspace)
    assert_strategy(gateway.sim, "native", turns=3)


@AGENT_SERVICE_RUNS
async def test_kilo_creates_and_reads_back_a_file_over_the_agent_service(
    stack, workspace, home, tool_mode, http2, upstream_rpc
) -> None:
    """The same task through Cursor's agent service: RunSSE + BidiAppend, or the bidirectional Run;
    either chosen (UPSTREAM_RPC=agent), or reached with UPSTREAM_RPC=auto from a ChatService that
    answers retired, each request moved to the agent service before its first byte."""
    gateway, done = await run_kilo(
        stack,
        workspace,
        home,
        tool_mode=tool_mode,
        upstream_rpc=upstream_rpc,
        http2=http2,
        chat_retired=upstream_rpc == "auto",
    )
    assert_task_done(done, workspace)
    strategy = "native" if tool_mode == "native" else "emulated"
    assert_agent_strategy(gateway.sim, strategy, turns=3, chat_retired=upstream_rpc == "auto")
