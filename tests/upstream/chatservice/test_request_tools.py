"""The upstream request with tools: N1, N2, H10, M4, and golden requests per strategy (§12.5)."""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from google.protobuf.json_format import MessageToDict

from gateway import keys
from gateway.chat.catalog import resolve
from gateway.chat.from_openai import to_chat_request
from gateway.neutral.model import ChatRequest, ToolChoice
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.schemas.openai import parse_chat_body
from gateway.tools.encode import emulated_prompt, native_prompt, plain_prompt
from gateway.tools.grammar import Delimiters
from gateway.upstream.chatservice.request import build_message
from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import MODEL
from tests.fakes import Scenario, SimConfig
from tests.fakes.validate import check_request

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots" / "tools-request"
NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
D = Delimiters("0123abcd")

READ = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file from the workspace.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}
GREP = {
    "type": "function",
    "function": {
        "name": "grep",
        "parameters": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
            "required": ["pattern"],
        },
    },
}

# Three turns: a question answered by a call, its result answered by two parallel calls, then a
# follow-up question after the results and a text answer.
THREE_TURNS = {
    "model": "claude-sonnet-4-5-20250929",
    "tools": [READ, GREP],
    "messages": [
        {"role": "system", "content": "You are a careful coding assistant."},
        {"role": "user", "content": "What does main.py import?"},
        {
            "role": "assistant",
            "content": "Let me read it.",
            "tool_calls": [
                {
                    "id": "call_r1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "main.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_r1", "content": "import os\nimport util\n\nprint(util.x)"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_g1",
                    "type": "function",
                    "function": {"name": "grep", "arguments": '{"pattern": "x =", "path": "util.py"}'},
                },
                {
                    "id": "toolu_01 odd/id",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "util.py"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_g1", "content": "util.py:3:x = 42"},
        {"role": "tool", "tool_call_id": "toolu_01 odd/id", "content": 'x = 42\n"""doc"""'},
        {"role": "assistant", "content": "main.py imports os and util; util.x is 42."},
        {"role": "user", "content": "Where is util defined?"},
    ],
}


def chat_of(body: dict) -> ChatRequest:
    parsed = parse_chat_body(orjson.dumps(body))
    model = resolve(parsed.model)
    assert model is not None
    return to_chat_request(parsed, model, inject="", max_input_length=10**8)


def build(chat: ChatRequest, prompt) -> pb.StreamUnifiedChatRequest:
    counter = itertools.count(1)
    message = build_message(
        chat,
        prompt,
        client_version="2.6.21",
        now=NOW,
        new_id=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    return message.stream_unified_chat_request


def test_n2_agent_flags_and_n1_mcp_tools():
    chat = chat_of(THREE_TURNS)
    r = build(chat, native_prompt(chat, ToolChoice()))
    assert r.is_agentic and not r.is_chat
    assert r.unified_mode == pb.UNIFIED_MODE_AGENT and r.unified_mode_name == "Agent"
    assert list(r.supported_tools) == [pb.CLIENT_SIDE_TOOL_V2_MCP]
    assert r.HasField("should_disable_tools") and r.should_disable_tools is False
    assert [(t.name, t.description, t.parameters, t.server_name) for t in r.mcp_tools] == [
        (
            "grep",
            "",
            '{"type":"object","properties":{"pattern":{"type":"string"},"path":{"type":"string"}},"required":["pattern"]}',
            "custom",
        ),
        (
            "read_file",
            "Read a file from the workspace.",
            '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}',
            "custom",
        ),
    ]
    # cursor-protocol.md §8.2: agent HUMAN messages, mode on every message, tools on the last one
    assert all(m.unified_mode == pb.UNIFIED_MODE_AGENT for m in r.conversation)
    assert [m.is_agentic for m in r.conversation] == [m.type == pb.MESSAGE_TYPE_HUMAN for m in r.conversation]
    assert [list(m.supported_tools) for m in r.conversation[:-1]] == [[]] * (len(r.conversation) - 1)
    assert list(r.conversation[-1].supported_tools) == [pb.CLIENT_SIDE_TOOL_V2_MCP]
    # Appendix A: the packed supported_tools field
    assert bytes.fromhex("ea 01 01 13") in r.SerializeToString()
    assert check_request(r, SimConfig(seed=0)) is None


def test_h10_tool_results_fields():
    chat = chat_of(THREE_TURNS)
    r = build(chat, native_prompt(chat, ToolChoice()))
    replays = [m for m in r.conversation if m.tool_results]
    assert len(replays) == 2 and all(m.type == pb.MESSAGE_TYPE_AI and not m.text for m in replays)
    first = replays[0].tool_results[0]
    assert (first.tool_call_id, first.tool_name, first.tool_index, first.raw_args) == (
        "call_r1",
        "mcp_custom_read_file",
        1,
        '{"path": "main.py"}',
    )
    call = first.tool_call
    assert (call.tool, call.tool_call_id, call.name, call.tool_index) == (
        19,
        "call_r1",
        "mcp_custom_read_file",
        1,
    )
    assert [(t.name, t.parameters, t.server_name) for t in call.mcp_params.tools] == [
        (
            "read_file",
            '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}',
            "custom",
        )
    ]
    result = first.result
    assert (result.tool, result.tool_call_id, result.tool_index) == (19, "call_r1", 1)
    assert result.mcp_result.selected_tool == "read_file"
    assert json.loads(result.mcp_result.result) == {
        "content": [{"type": "text", "text": "import os\nimport util\n\nprint(util.x)"}],
        "isError": False,
    }
    assert result.mcp_result.result.startswith('{"content":[{"type":"text","text":')
    second = replays[1].tool_results
    assert [(t.tool_index, t.tool_name) for t in second] == [
        (1, "mcp_custom_grep"),
        (2, "mcp_custom_read_file"),
    ]
    assert second[1].tool_call_id.startswith("call_") and len(second[1].tool_call_id) == 29
    # the pitfall of cursor-protocol.md §7.7: tool_call_id is field 35 in the result, 3 in the call
    wire = second[1].result.SerializeToString()
    assert b"\x9a\x02\x1d" + second[1].tool_call_id.encode() in wire
    assert b"\x88\x03\x02" in wire  # tool_index = 2 is field 49 in the result


def test_emulated_request_uses_the_chat_flags():
    chat = chat_of(THREE_TURNS)
    r = build(chat, emulated_prompt(chat, D, ToolChoice(), thinking=False))
    assert r.is_chat and not r.is_agentic and not r.mcp_tools and not r.supported_tools
    assert r.unified_mode == pb.UNIFIED_MODE_CHAT and r.unified_mode_name == "Ask" and r.should_disable_tools
    assert not any(m.tool_results or m.is_agentic for m in r.conversation)
    assert check_request(r, SimConfig(seed=0)) is None


def test_m4_conversation_id_follows_the_anchor():
    chat = chat_of(THREE_TURNS)
    shorter = chat_of({**THREE_TURNS, "messages": THREE_TURNS["messages"][:2]})
    ids = {
        build(c, p).conversation_id
        for c in (chat, shorter)
        for p in (
            native_prompt(c, ToolChoice()),
            emulated_prompt(c, D, ToolChoice(), thinking=False),
            plain_prompt(c),
        )
    }
    other = chat_of({**THREE_TURNS, "messages": [{"role": "user", "content": "Something else"}]})
    assert len(ids) == 1 and build(other, plain_prompt(other)).conversation_id not in ids


@pytest.mark.parametrize("strategy", ["emulated", "native"])
def test_golden_three_turn_request(strategy):
    """§12.5: the whole upstream message, decoded to JSON, against a reviewed snapshot."""
    chat = chat_of(THREE_TURNS)
    prompt = (
        emulated_prompt(chat, D, ToolChoice(), thinking=False)
        if strategy == "emulated"
        else native_prompt(chat, ToolChoice("required"))
    )
    decoded = MessageToDict(build(chat, prompt), preserving_proto_field_name=True)
    text = json.dumps(decoded, indent=2, ensure_ascii=False) + "\n"
    path = SNAPSHOTS / f"{strategy}-three-turns.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


async def test_the_simulator_accepts_native_requests_and_returns_tool_frames(sim_gateway):
    """The whole path: a native prompt with replayed results through the real client and transport."""
    client, sim = await sim_gateway()
    sim.push(Scenario("tool_call", text_before="Checking."))
    chat = chat_of({**THREE_TURNS, "model": MODEL})
    service = client.app[keys.CHAT]
    events = [e async for e in service.attempt(chat, native_prompt(chat, ToolChoice()))]
    record = sim.chat_records[-1]
    assert record.rejection is None and record.chat is not None
    assert [t.name for t in record.chat.mcp_tools] == ["grep", "read_file"]
    assert sum(len(m.tool_results) for m in record.chat.conversation) == 3
    frames = [e for e in events if isinstance(e, NativeToolFrame)]
    assert frames and all(f.tool == 19 and f.mcp_name == "grep" for f in frames)
    assert frames[-1].is_last_message and json.loads(frames[-1].raw_args)


async def test_s1_plain_request_through_the_gateway_reaches_upstream_unchanged(sim_gateway):
    """S1, H8: no tools, no history: no preamble, no note, and `<<call:` in user text is sent as is."""
    client, sim = await sim_gateway()
    user = "Explain <<call:0123abcd>> and <write_to_file><path>a</path></write_to_file>"
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": user}],
        "tool_choice": "auto",
        "tools": [],
    }
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200
    record = sim.chat_records[-1].chat
    assert record is not None
    assert [m.text for m in record.conversation] == [user]
    assert not record.HasField("explicit_context") and not record.mcp_tools and record.is_chat
