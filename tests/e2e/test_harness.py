"""The client side on its own: each real CLI against `openai_agent` (the agent planner behind plain
OpenAI shapes, no gateway). A failure here is the harness's or the client's, never the gateway's;
the request facts pin what each client version sends (see tests/fixtures/*-request.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.checks import CONTENT, TASK
from tests.e2e.openai_agent import AgentEndpoint, create_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MODEL = "claude-4.5-sonnet"


async def serve(aiohttp_server) -> tuple[AgentEndpoint, str]:
    endpoint = AgentEndpoint()
    server = await aiohttp_server(create_app(endpoint))
    return endpoint, str(server.make_url("/v1"))


def tool_requests(endpoint: AgentEndpoint) -> list[dict]:
    return [body for body in endpoint.requests if body.get("tools")]


def tool_names(body: dict) -> set[str]:
    return {tool["function"]["name"] for tool in body["tools"]}


async def test_kilo_harness(aiohttp_server, workspace: Path, home: Path) -> None:
    endpoint, base = await serve(aiohttp_server)
    invocation = clients.kilo(
        TASK, workspace=workspace, home=home, base_url=base, api_key="k-e2e", model=MODEL
    )
    done = await clients.run(invocation, timeout=clients.RUN_TIMEOUT)
    assert done.returncode == 0, done.describe()
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    events = clients.json_lines(done.stdout)
    assert [e["part"]["tool"] for e in events if e["type"] == "tool_use"] == ["write", "read"]
    assert CONTENT in [e["part"]["text"] for e in events if e["type"] == "text"][-1]
    turns = tool_requests(endpoint)
    assert len(turns) == 3
    first = turns[0]
    assert {"write", "read", "edit", "bash"} <= tool_names(first)
    assert first["tool_choice"] == "auto" and "parallel_tool_calls" not in first
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert isinstance(first["max_tokens"], int)
    assert all(h["Authorization"] == "Bearer k-e2e" for h in endpoint.headers)
    # The second turn replays the call and its result with Anthropic-style cache hints.
    assistant = next(m for m in turns[1]["messages"] if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["function"]["name"] == "write"
    assert any(m["role"] == "tool" for m in turns[1]["messages"])


async def test_continue_harness(aiohttp_server, workspace: Path, home: Path) -> None:
    endpoint, base = await serve(aiohttp_server)
    invocation = clients.continue_cli(
        TASK, workspace=workspace, home=home, base_url=base, api_key="k-e2e", model=MODEL
    )
    done = await clients.run(invocation, timeout=clients.RUN_TIMEOUT)
    assert done.returncode == 0, done.describe()
    assert (workspace / "hello.txt").read_bytes() == CONTENT.encode()
    assert CONTENT in done.stdout
    turns = tool_requests(endpoint)
    assert len(turns) == 3
    first = turns[0]
    assert {"Read", "Write", "Bash"} <= tool_names(first)
    assert "tool_choice" not in first and "parallel_tool_calls" not in first
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert all(h["Authorization"] == "Bearer k-e2e" for h in endpoint.headers)
