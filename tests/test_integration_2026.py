"""The gateway against the simulator as the live service answers in 2026, end to end: the real
captured response replayed, composer answers, MCP arguments in the nested field, the request
framing and identity headers.
"""

from __future__ import annotations

import json
import uuid

import pytest

from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import MODEL
from tests.fakes import Scenario, SimConfig
from tests.fakes.client_for_tests import decode_stream
from tests.fakes.scenarios import REPLAY_FILE, capture_bytes
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
COMPOSER = "composer-1"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WRITE = {
    "type": "function",
    "function": {
        "name": "write_file",
        "description": "Write a file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}
# How the three text segments of the capture begin (tests/fixtures/chatservice-response-2026-01.hex).
SEGMENTS = ("当然可以", "很有趣的SVG", "太棒了")


def captured_text() -> str:
    """The capture's text, decoded by the simulator's own codec (independent of the gateway's)."""
    return decode_stream(capture_bytes(REPLAY_FILE)).text


def ask(text="Hi", *, stream=False, model=MODEL, **extra):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


def deltas(events, key="content"):
    return "".join(
        e["choices"][0]["delta"].get(key) or "" for e in events if isinstance(e, dict) and e.get("choices")
    )


# ---------------------------------------------------------------- the real capture


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_the_real_capture_through_the_gateway(sim_gateway, stream):
    """Cursor carried on after its native calls in the recorded session (the editor answered
    them), so every text segment reaches the client in order; neither the `read_file` call nor
    the 737 `edit_file` frames (an edit of the user's file no client asked for) are relayed, and
    the turn ends cleanly. The answer's third segment speaks of that edit: Cursor's words."""
    client, sim = await sim_gateway(SimConfig(seed=0, default_scenario="replay"))
    response = await client.post(CHAT, json=ask("改一下这个SVG", stream=stream))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
        content = deltas(events)
        assert events[-2]["choices"][0]["finish_reason"] == "stop"
        assert not any(e["choices"][0]["delta"].get("tool_calls") for e in events[:-1] if e.get("choices"))
    else:
        choice = (await response.json())["choices"][0]
        content, reason = choice["message"]["content"], choice["finish_reason"]
        assert reason == "stop" and "tool_calls" not in choice["message"]
    assert content == captured_text() and len(content) == 378
    positions = [content.find(segment) for segment in SEGMENTS]
    assert positions[0] == 0 and 0 < positions[1] < positions[2]
    assert "target_file" not in content and "<svg" not in content
    assert sim.chat_records[-1].scenario.name == "replay"


async def test_the_captured_read_file_call_ends_a_tool_turn(sim_gateway):
    """With client tools declared (native), Cursor's own `read_file` is no call the client can
    run: the turn ends there, after the first segment, with no tool call and no error."""
    client, sim = await sim_gateway(SimConfig(seed=0, default_scenario="replay"), tool_mode="native")
    response = await client.post(CHAT, json=ask("改一下这个SVG", stream=True, tools=[WEATHER]))
    assert response.status == 200
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "stop"
    first_segment = captured_text()[: captured_text().find(SEGMENTS[1])]
    assert deltas(events) == first_segment and first_segment.startswith(SEGMENTS[0])
    assert len(sim.chat_records) == 1 and sim.chat_records[0].chat.mcp_tools[0].name == "get_weather"


# ---------------------------------------------------------------- composer models (upstream-2026.md §3)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_a_composer_answer_is_never_empty_with_thinking_hidden(sim_gateway, stream):
    client, sim = await sim_gateway(model_source="merged")
    response = await client.post(CHAT, json=ask("hello composer", stream=stream, model=COMPOSER))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        content, reasoning = deltas(events), deltas(events, "reasoning_content")
    else:
        message = (await response.json())["choices"][0]["message"]
        content, reasoning = message["content"], message.get("reasoning_content")
    assert content == "You said: hello composer" and not reasoning
    assert "</think>" not in content
    assert sim.chat_records[-1].chat.model_details.model_name == COMPOSER


async def test_composer_thinking_shown_when_asked_and_the_answer_as_content(sim_gateway):
    client, sim = await sim_gateway(model_source="merged", thinking_output="reasoning_content")
    sim.push(
        Scenario("composer", thinking="Plan: greet back.", text="Hi there!", chunk=3, second_marker=True)
    )
    events, _ = parse_sse(await (await client.post(CHAT, json=ask(stream=True, model=COMPOSER))).text())
    assert deltas(events, "reasoning_content") == "Plan: greet back."
    assert deltas(events) == "Hi there! A tag such as </think> can appear in an answer."


async def test_a_composer_answer_without_marker_is_the_content(sim_gateway):
    client, sim = await sim_gateway(model_source="merged")
    sim.push(Scenario("composer", thinking="", text="All of it is the answer.", marker=False))
    body = await (await client.post(CHAT, json=ask(model=COMPOSER))).json()
    assert body["choices"][0]["message"]["content"] == "All of it is the answer."


async def test_composer_tool_calls_go_through_the_emulated_grammar(sim_gateway):
    """Composer models write calls as text: with TOOL_MODE=native too, the gateway emulates, and
    the call the model writes after `</think>` becomes a `tool_calls` entry."""
    client, sim = await sim_gateway(model_source="merged", tool_mode="native")
    text = "[[sim:agent]] create a file hello.txt with content 'hi'"
    response = await client.post(CHAT, json=ask(text, model=COMPOSER, tools=[WRITE]))
    choice = (await response.json())["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "write_file"
    assert json.loads(call["function"]["arguments"]) == {"path": "hello.txt", "content": "hi"}
    request = sim.chat_records[-1].chat
    assert len(request.mcp_tools) == 0 and "write_file" in request.explicit_context.context


# ---------------------------------------------------------------- MCP arguments (upstream-2026.md §5)


@pytest.mark.parametrize("args_in", ["raw", "nested", "both"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_native_call_arguments_from_either_field(sim_gateway, args_in, stream):
    client, sim = await sim_gateway(tool_mode="native")
    sim.push(Scenario("tool_call", args='{"city": "Paris", "unit": "celsius"}', args_in=args_in))
    response = await client.post(CHAT, json=ask("weather?", stream=stream, tools=[WEATHER]))
    if stream:
        events, _ = parse_sse(await response.text())
        [call] = [
            c for e in events[:-1] if e.get("choices") for c in e["choices"][0]["delta"].get("tool_calls", [])
        ]
    else:
        [call] = (await response.json())["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "celsius"}


# ---------------------------------------------------------------- request framing and identity (§6, §7)


async def test_requests_go_uncompressed_by_default_and_headers_match_the_identity(sim_gateway):
    client, sim = await sim_gateway(model_source="merged")
    assert (await client.post(CHAT, json=ask("x" * 5000))).status == 200
    assert (await client.post(CHAT, json=ask("again"))).status == 200
    first, second = sim.chat_records
    assert first.frame_flags == 0 and first.frame_length > 5000  # uncompressed, though large
    assert "connect-content-encoding" not in first.headers
    assert first.headers["connect-accept-encoding"] == "gzip"
    assert (first.headers["x-cursor-client-os"], first.headers["x-cursor-client-arch"]) == ("linux", "x64")
    config_version = first.headers["x-cursor-config-version"]
    assert (
        uuid.UUID(config_version).version == 5 and second.headers["x-cursor-config-version"] == config_version
    )
    # The feed was read for the same platform the headers claim.
    assert sim.feed_records[0].path.startswith("/updates/api/update/linux-x64/cursor/")
    assert first.warnings == [] and first.rejection is None


async def test_gzipped_requests_declare_their_encoding(sim_gateway):
    client, sim = await sim_gateway(upstream_gzip_requests="true", cursor_client_platform="darwin-arm64")
    assert (await client.post(CHAT, json=ask("y" * 5000))).status == 200
    [record] = sim.chat_records
    assert record.frame_flags == 1 and record.headers["connect-content-encoding"] == "gzip"
    assert (record.headers["x-cursor-client-os"], record.headers["x-cursor-client-arch"]) == (
        "darwin",
        "arm64",
    )
    assert record.chat.conversation[-1].text == "y" * 5000
    assert sim.feed_records[0].path.startswith("/updates/api/update/darwin-arm64/")


async def test_the_client_version_is_in_the_header_and_the_body(sim_gateway):
    client, sim = await sim_gateway(cursor_client_version="3.21.4")
    assert (await client.post(CHAT, json=ask())).status == 200
    [record] = sim.chat_records
    assert record.headers["x-cursor-client-version"] == "3.21.4"
    assert record.chat.environment_info.cursor_version == b"3.21.4"
    assert isinstance(record.chat, pb.StreamUnifiedChatRequest)
