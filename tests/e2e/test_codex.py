"""Codex CLI (`codex exec`, a custom provider on the Responses wire API) through the gateway and the
simulator's agent mode: the file task the Kilo and Continue tests use, headless, in its sandbox.

Codex does not know Cursor's model ids, so it offers its default tools and the scripted agent works
through its shell (`exec_command`: `printf … > hello.txt`, then `cat hello.txt`). With a model
catalog that gives the model Codex's free-form `apply_patch` (a `custom` tool), the file is written
by a patch (a `custom_tool_call`), which adds a final newline.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import clients
from tests.e2e.checks import CONTENT, TASK, assert_strategy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def run_codex(stack, workspace: Path, home: Path, *, model_catalog: bool = False, **settings: object):
    build = functools.partial(clients.codex, model_catalog=model_catalog)
    gateway, done = await clients.run_through(build, stack, workspace, home, TASK, **settings)
    assert done.returncode == 0, done.describe()
    events = clients.json_lines(done.stdout)
    assert [e for e in events if e.get("type") in ("error", "turn.failed")] == [], done.describe()
    return gateway, done, [e["item"] for e in events if e.get("type") == "item.completed"]


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if item["type"] == kind]


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_codex_completes_the_file_task_through_its_shell(stack, workspace, home, tool_mode) -> None:
    gateway, done, items = await run_codex(stack, workspace, home, tool_mode=tool_mode)
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    commands = of_type(items, "command_execution")
    assert [(c["exit_code"], c["status"]) for c in commands] == [(0, "completed"), (0, "completed")]
    assert "printf" in commands[0]["command"] and "cat hello.txt" in commands[1]["command"]
    final = of_type(items, "agent_message")[-1]["text"]
    assert final.startswith("I read hello.txt") and CONTENT in final, done.describe()
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_codex_writes_with_its_free_form_apply_patch(stack, workspace, home, tool_mode) -> None:
    gateway, done, items = await run_codex(stack, workspace, home, model_catalog=True, tool_mode=tool_mode)
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode() + b"\n"
    [change] = of_type(items, "file_change")
    assert change["status"] == "completed" and [c["kind"] for c in change["changes"]] == ["add"]
    [read] = of_type(items, "command_execution")
    assert read["exit_code"] == 0 and "cat hello.txt" in read["command"]
    assert CONTENT in of_type(items, "agent_message")[-1]["text"], done.describe()
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)


async def test_codex_shows_the_thinking_of_a_thinking_model(stack, workspace, home) -> None:
    """Thinking shown (`THINKING_OUTPUT=reasoning_content`) reaches Codex as reasoning summaries."""
    gateway = await stack(thinking_output="reasoning_content")
    invocation = clients.codex(
        TASK,
        workspace=workspace,
        home=home,
        base_url=gateway.base_url,
        api_key=gateway.api_key,
        model=f"{gateway.model}-thinking",
    )
    done = await clients.run(invocation, timeout=clients.RUN_TIMEOUT)
    assert done.returncode == 0, done.describe()
    items = [e["item"] for e in clients.json_lines(done.stdout) if e.get("type") == "item.completed"]
    reasoning = of_type(items, "reasoning")
    assert len(reasoning) == 3 and all("Planning the next step" in r["text"] for r in reasoning), (
        done.describe()
    )
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
