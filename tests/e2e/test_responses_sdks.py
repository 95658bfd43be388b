"""The JavaScript clients of the Responses API through the gateway and the simulator's agent mode:
openai-node (`responses.create` and `responses.stream` in a tool loop) and the Vercel AI SDK
(`createOpenAI({baseURL, apiKey})(model)`, which speaks the Responses API), streaming text and
running tools. Versions pinned in `tests/e2e/package.json`; the script is `responses_sdks.mjs`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import clients
from tests.e2e.checks import CONTENT, TASK, assert_strategy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def run_sdk(
    stack, workspace: Path, home: Path, scenario: str, **settings: object
) -> tuple[Any, dict[str, Any]]:
    build = functools.partial(clients.node_sdk, scenario)
    gateway, done = await clients.run_through(build, stack, workspace, home, TASK, **settings)
    assert done.returncode == 0, done.describe()
    return gateway, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
@pytest.mark.parametrize("scenario", ["openai-create", "openai-stream"])
async def test_openai_node_tool_loop(stack, workspace, home, scenario, tool_mode) -> None:
    gateway, result = await run_sdk(stack, workspace, home, scenario, tool_mode=tool_mode)
    assert result["files"] == {"hello.txt": CONTENT}
    assert result["status"] == "completed" and CONTENT in result["text"]
    if scenario == "openai-stream":
        assert {
            "response.output_text.delta",
            "response.function_call_arguments.done",
            "response.completed",
        } <= set(result["events"])
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)


async def test_ai_sdk_streams_text(stack, workspace, home) -> None:
    _, result = await run_sdk(stack, workspace, home, "ai-sdk-text")
    assert (
        result["errors"] == []
        and result["text"] == "You said: Stream this sentence back to me in several pieces."
    )
    assert result["deltas"] >= 2 and result["finishReason"] == "stop"


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_ai_sdk_runs_tools(stack, workspace, home, tool_mode) -> None:
    """The AI SDK refers to earlier assistant messages by id (`item_reference`), as OpenAI stores
    responses by default; the gateway's item store answers them."""
    gateway, result = await run_sdk(stack, workspace, home, "ai-sdk-tools", tool_mode=tool_mode)
    assert result["errors"] == [], result
    assert result["files"] == {"hello.txt": CONTENT}
    assert result["calls"] == ["write_file", "read_file"]
    assert CONTENT in result["text"] and result["finishReason"] == "stop"
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=3)
