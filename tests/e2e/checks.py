"""What every end-to-end test checks about the simulator's side of a client run."""

from __future__ import annotations

from typing import Final

import pytest

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import CursorSimulator, SimRecord

TASK: Final = "create a file hello.txt with content 'hi from cursor2api', then read it back"
CONTENT: Final = "hi from cursor2api"
MISS_HINT: Final = "did not call a tool"

# The agent-service runs of the file task: (tool_mode, http2, upstream_rpc). With "auto" the
# simulator plays ChatService retired: the first request reaches the agent service by a switch,
# and the token stays there for the rest of the task.
AGENT_SERVICE_RUNS: Final = pytest.mark.parametrize(
    ("tool_mode", "http2", "upstream_rpc"),
    [
        pytest.param("native", False, "agent", id="native-sse"),
        pytest.param("emulate", False, "agent", id="emulate-sse"),
        pytest.param("native", True, "agent", id="native-run"),
        pytest.param("native", False, "auto", id="auto-chat-retired-native-sse"),
        pytest.param("emulate", True, "auto", id="auto-chat-retired-emulate-run"),
    ],
)


def tool_records(sim: CursorSimulator) -> list[SimRecord]:
    """Chat requests that carried tools, in either strategy (a title request carries none)."""
    out: list[SimRecord] = []
    for record in sim.chat_records:
        chat = record.chat
        if chat is not None and (chat.mcp_tools or "<<tools:" in chat.explicit_context.context):
            out.append(record)
    return out


def assert_strategy(sim: CursorSimulator, mode: str, *, turns: int) -> None:
    """Every upstream request was accepted, and the tool turns used `mode` (§2.2 N1/N2 or §2.3)."""
    assert [r.rejection for r in sim.chat_records] == [None] * len(sim.chat_records)
    records = tool_records(sim)
    assert len(records) >= turns, [r.to_json()["request"] for r in sim.chat_records]
    for record in records:
        chat = record.chat
        assert chat is not None
        if mode == "native":
            assert chat.mcp_tools and chat.is_agentic
            assert list(chat.supported_tools) == [pb.CLIENT_SIDE_TOOL_V2_MCP]
            assert "<<tools:" not in chat.explicit_context.context
        else:
            assert not chat.mcp_tools and "<<tools:" in chat.explicit_context.context


def last_human(record: SimRecord) -> str:
    chat = record.chat
    if chat is None:
        return ""
    humans = [m.text for m in chat.conversation if m.type == pb.MESSAGE_TYPE_HUMAN]
    return humans[-1] if humans else ""


def corrective_retries(sim: CursorSimulator) -> int:
    """Upstream attempts that carried the gateway's MISS note (T7)."""
    return sum(MISS_HINT in last_human(r) for r in sim.chat_records)


def assert_agent_strategy(sim: CursorSimulator, mode: str, *, turns: int, chat_retired: bool = False) -> None:
    """Every run on the agent service was accepted and answered in full, and the tool turns used
    `mode`: client tools as MCP tools (with MCP calls allowed), or the emulation grammar in the text.

    With `chat_retired` ChatService was asked once (UPSTREAM_RPC=auto tries it first for a session
    token), refused, and never asked again: the token stayed on AgentService; otherwise it was
    never asked."""
    runs = sim.agent_records
    if chat_retired:
        refusals = [r.rejection for r in sim.chat_records]
        assert refusals == ["chat_retired"], refusals
    else:
        assert sim.chat_records == []
    assert [(r.rejection, r.agent.protocol_error) for r in runs if r.agent] == [(None, None)] * len(runs)
    tool_runs = [
        r for r in runs if r.agent and (r.agent.run.mcp_tools.mcp_tools or "<<tools:" in r.agent.user_text)
    ]
    assert len(tool_runs) >= turns, [r.to_json()["agent"] for r in runs]
    for record in tool_runs:
        assert record.agent is not None and record.agent.run is not None
        declared = record.agent.run.mcp_tools.mcp_tools
        allowed = record.headers.get("x-cursor-agent-allowed-tools")
        if mode == "native":
            assert declared and "<<tools:" not in record.agent.user_text
            assert allowed == "mcp_tool_call,get_mcp_tools_tool_call"
        else:
            assert not declared and "<<tools:" in record.agent.user_text and allowed == ""
