"""The request bodies the real CLIs send (tests/fixtures/*-request.json, recorded by
`python -m tests.e2e.capture`) replayed against the gateway and the simulator's agent: G5, §8.2.

Each body is a second tool turn (a `write` call and its result in history), so the agent's next step
is the read call; the client must get it as one complete streamed tool call (O8, O10, O11).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.checks import assert_strategy
from tests.sse_reader import parse_sse

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = [
    pytest.param("kilo-cli-7.7.7-request.json", "read", {"filePath": "/workspace/hello.txt"}, id="kilo"),
    pytest.param("continue-cli-1.5.47-request.json", "Read", {"filepath": "hello.txt"}, id="continue"),
]


def tool_call_deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [
        call
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices", [])
        for call in choice["delta"].get("tool_calls", [])
    ]


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
@pytest.mark.parametrize(("fixture", "tool", "arguments"), CASES)
async def test_captured_request_gets_the_next_call(stack, fixture, tool, arguments, tool_mode) -> None:
    gateway = await stack(tool_mode=tool_mode)
    body = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    body["model"] = gateway.model
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers) as response,
    ):
        text = await response.text()
    assert response.status == 200, text
    events, _ = parse_sse(text)
    assert events[-1] == "[DONE]"
    (call,) = tool_call_deltas(events)
    assert call["index"] == 0 and call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == tool
    assert json.loads(call["function"]["arguments"]) == arguments
    finals = [e["choices"][0]["finish_reason"] for e in events[:-1] if isinstance(e, dict) and e["choices"]]
    assert finals[-1] == "tool_calls"
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0  # include_usage
    assert_strategy(gateway.sim, "native" if tool_mode == "native" else "emulated", turns=1)
