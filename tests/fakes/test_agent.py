"""Agent mode (`agent.py`) through the simulator's HTTP API, for native and emulated catalogs.

Each test plays the gateway's part by hand: it encodes a turn of a tool conversation the way
tool-calls.md §3 (emulation grammar), §4.2 (H5, H6) and §4.4 (H10) say, posts it, and checks
the next step the scripted agent takes: write, read, then a final answer quoting the read.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, Final

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.neutral.model import ToolChoice, ToolSpec
from gateway.tools import grammar
from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import eventually
from tests.fakes import CHAT_PATH, CursorSimulator, Scenario, agent
from tests.fakes.agent import find_task, find_workdir
from tests.fakes.client_for_tests import (
    DecodedStream,
    build_request,
    chat_headers,
    decode_stream,
    frame_request,
)
from tests.fakes.wire import HEADER_SIZE

Client = TestClient[web.Request, web.Application]
HUMAN: Final = pb.MESSAGE_TYPE_HUMAN
AI: Final = pb.MESSAGE_TYPE_AI

NONCE: Final = "0badc0de"
D: Final = grammar.Delimiters(NONCE)
WORKDIR: Final = "/srv/project"
TASK: Final = (
    "create a file hello.txt with content 'hi from cursor2api', then read it back\n\n"
    f"<environment_details>\nWorking directory: {WORKDIR}\n</environment_details>"
)

# Shaped like the two real catalogs captured in tests/fixtures/ (Kilo: absolute `filePath`;
# Continue: relative `filepath`), trimmed to what the agent looks at.
KILO_TOOLS: Final[list[tuple[str, dict[str, Any]]]] = [
    (
        "bash",
        {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    ),
    (
        "read",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "filePath": {
                    "type": "string",
                    "description": "The absolute path to the file or directory to read",
                },
                "offset": {"type": "integer"},
            },
            "required": ["filePath"],
        },
    ),
    (
        "write",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "content": {"type": "string", "description": "The content to write to the file"},
                "filePath": {
                    "type": "string",
                    "description": "The absolute path to the file to write (must be absolute, not relative)",
                },
            },
            "required": ["content", "filePath"],
        },
    ),
]
CONTINUE_TOOLS: Final[list[tuple[str, dict[str, Any]]]] = [
    (
        "Read",
        {
            "type": "object",
            "required": ["filepath"],
            "properties": {"filepath": {"type": "string", "description": "The path to the file to read"}},
        },
    ),
    (
        "Write",
        {
            "type": "object",
            "required": ["filepath", "content"],
            "properties": {
                "filepath": {"type": "string", "description": "The path to the file to write"},
                "content": {"type": "string"},
            },
        },
    ),
    ("Exit", {"type": "object", "properties": {}}),
]
COMPLETION_TOOL: Final = (
    "attempt_completion",
    {"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]},
)
WRITE_ARGS: Final = {"content": "hi from cursor2api", "filePath": f"{WORKDIR}/hello.txt"}
READ_ARGS: Final = {"filePath": f"{WORKDIR}/hello.txt"}
READ_OUTPUT: Final = "<file>\n00001| hi from cursor2api\n</file>"


# ---------------------------------------------------------------- encoding a turn like the gateway


def specs(tools: list[tuple[str, dict[str, Any]]]) -> list[ToolSpec]:
    return [
        ToolSpec(name, "", schema, json.dumps(schema, separators=(",", ":")), False) for name, schema in tools
    ]


def emulated_system(tools: list[tuple[str, dict[str, Any]]]) -> str:
    """Client system text, a blank line, then the §3.4 preamble."""
    return "You are a coding agent.\n\n" + grammar.preamble(
        D, specs(tools), tool_history=False, thinking=False
    )


def note(choice: str = "You may call tools in this reply or answer without them.") -> str:
    return "\n\n" + grammar.emulated_note(D, choice)


def emulated_history(steps: list[tuple[str, dict[str, Any], str]]) -> list[tuple[int, str]]:
    """The task, then per step an AI call block (H5) and a HUMAN result block (H6)."""
    history: list[tuple[int, str]] = [(HUMAN, TASK)]
    for n, (name, args, output) in enumerate(steps):
        call_id = f"call_{n:024d}"
        history.append((AI, grammar.call_block(D, call_id, name, json.dumps(args, separators=(",", ":")))))
        history.append((HUMAN, grammar.result_block(D, call_id, name, output, is_error=False)))
    return history


def emulated_request(
    steps: list[tuple[str, dict[str, Any], str]],
    tools: list[tuple[str, dict[str, Any]]] = KILO_TOOLS,
    *,
    last_note: str | None = None,
) -> pb.StreamUnifiedChatRequestWithTools:
    history = emulated_history(steps)
    *before, (_, last) = history
    text = last + (last_note if last_note is not None else note())
    return build_request(text, history=before, system=emulated_system(tools))


def native_request(
    steps: list[tuple[str, dict[str, Any], str, bool]],
    tools: list[tuple[str, dict[str, Any]]] = KILO_TOOLS,
    *,
    text: str = TASK,
) -> pb.StreamUnifiedChatRequestWithTools:
    """The task, then (H10) one AI message per step carrying only `tool_results`."""
    request = build_request(text, tools=tools)
    chat = request.stream_unified_chat_request
    schemas = dict(tools)
    for n, (name, args, output, is_error) in enumerate(steps):
        bubble = f"bubble-{n}"
        message = chat.conversation.add(
            type=AI, bubble_id=bubble, server_bubble_id="s-" + bubble, unified_mode=pb.UNIFIED_MODE_AGENT
        )
        chat.full_conversation_headers_only.add(bubble_id=bubble, server_bubble_id="s-" + bubble, type=AI)
        result = message.tool_results.add(
            tool_call_id=f"call_{n:024d}",
            tool_name="mcp_custom_" + name,
            tool_index=1,
            raw_args=json.dumps(args),
        )
        result.tool_call.tool = pb.CLIENT_SIDE_TOOL_V2_MCP
        result.tool_call.mcp_params.tools.add(
            name=name, parameters=json.dumps(schemas[name]), server_name="custom"
        )
        result.result.tool = pb.CLIENT_SIDE_TOOL_V2_MCP
        result.result.mcp_result.selected_tool = name
        result.result.mcp_result.result = json.dumps(
            {"content": [{"type": "text", "text": output}], "isError": is_error}
        )
    return request


# ---------------------------------------------------------------- talking to the simulator


async def post(client: Client, request: pb.StreamUnifiedChatRequestWithTools) -> DecodedStream:
    async with client.post(
        CHAT_PATH, data=frame_request(request), headers=chat_headers(), skip_auto_headers=["Accept-Encoding"]
    ) as r:
        assert r.status == 200
        return decode_stream(await r.read())


def whole_frames(data: bytes) -> bytes:
    pos = 0
    while len(data) - pos >= HEADER_SIZE:
        _, length = struct.unpack(">BI", data[pos : pos + HEADER_SIZE])
        if len(data) < pos + HEADER_SIZE + length:
            break
        pos += HEADER_SIZE + length
    return data[:pos]


async def post_until_call(client: Client, request: pb.StreamUnifiedChatRequestWithTools) -> DecodedStream:
    """Read a native answer until its call is complete, then hang up (the stream itself waits)."""
    data = b""
    async with (
        asyncio.timeout(5),
        client.post(
            CHAT_PATH,
            data=frame_request(request),
            headers=chat_headers(),
            skip_auto_headers=["Accept-Encoding"],
        ) as r,
    ):
        assert r.status == 200
        async for chunk in r.content.iter_any():
            data += chunk
            decoded = decode_stream(whole_frames(data))
            if any(call.is_last_message for call in decoded.tool_calls):
                return decoded
    raise AssertionError(f"the stream ended without a complete call: {decode_stream(whole_frames(data))}")


def call_block_of(text: str) -> dict[str, Any]:
    """The single call block of an emulated answer (§3.3); nothing may follow it."""
    head, sep, rest = text.partition(D.call_open + "\n")
    assert sep, text
    body, sep, tail = rest.partition("\n" + D.end)
    assert sep and tail == "", text
    assert D.call_open not in head
    parsed = json.loads(body)
    assert isinstance(parsed, dict)
    return parsed


def completed_call(decoded: DecodedStream) -> tuple[str, dict[str, Any]]:
    """N4: every frame is one MCP call; snapshots grow; the last one holds the arguments."""
    calls = decoded.tool_calls
    assert calls and {c.tool for c in calls} == {pb.CLIENT_SIDE_TOOL_V2_MCP}
    assert len({c.tool_call_id for c in calls}) == 1
    assert [c.is_last_message for c in calls] == [False] * (len(calls) - 1) + [True]
    assert all(c.is_streaming for c in calls)
    names = {c.mcp_params.tools[0].name for c in calls}
    assert names == {calls[-1].name} and calls[-1].mcp_params.tools[0].server_name == "custom"
    final = calls[-1].raw_args
    pretty = [c.raw_args for c in calls if c.raw_args and final.startswith(c.raw_args)]
    assert len(pretty) > 2, "raw_args arrives as cumulative snapshots"
    arguments = json.loads(final)
    assert isinstance(arguments, dict)
    return calls[-1].name, arguments


# ---------------------------------------------------------------- emulated catalog


async def test_emulated_agent_writes_then_reads_then_answers(client: Client, sim: CursorSimulator) -> None:
    sim.config.default_scenario = "agent"
    first = await post(client, emulated_request([]))
    assert first.text.startswith("I'll create hello.txt.")
    assert call_block_of(first.text) == {"name": "write", "arguments": WRITE_ARGS}
    assert first.end == {}

    second = await post(client, emulated_request([("write", WRITE_ARGS, "Wrote file successfully.")]))
    assert call_block_of(second.text) == {"name": "read", "arguments": READ_ARGS}

    steps = [("write", WRITE_ARGS, "Wrote file successfully."), ("read", READ_ARGS, READ_OUTPUT)]
    third = await post(client, emulated_request(steps))
    assert D.call_open not in third.text and NONCE not in third.text
    assert "I read hello.txt" in third.text and READ_OUTPUT in third.text
    assert [r.scenario_source for r in sim.chat_records] == ["default"] * 3
    assert {r.rejection for r in sim.chat_records} == {None}


async def test_emulated_relative_paths_for_a_continue_style_catalog(
    client: Client, sim: CursorSimulator
) -> None:
    sim.config.default_scenario = "agent"
    first = await post(client, emulated_request([], CONTINUE_TOOLS))
    assert call_block_of(first.text) == {
        "name": "Write",
        "arguments": {"filepath": "hello.txt", "content": "hi from cursor2api"},
    }
    steps = [("Write", {"filepath": "hello.txt", "content": "hi from cursor2api"}, "ok")]
    second = await post(client, emulated_request(steps, CONTINUE_TOOLS))
    assert call_block_of(second.text) == {"name": "Read", "arguments": {"filepath": "hello.txt"}}


async def test_emulated_completion_tool_carries_the_final_answer(
    client: Client, sim: CursorSimulator
) -> None:
    sim.config.default_scenario = "agent"
    tools = [*KILO_TOOLS, COMPLETION_TOOL]
    steps = [("write", WRITE_ARGS, "ok"), ("read", READ_ARGS, READ_OUTPUT)]
    final = call_block_of((await post(client, emulated_request(steps, tools))).text)
    assert final["name"] == "attempt_completion"
    assert READ_OUTPUT in final["arguments"]["result"]


async def test_emulated_none_choice_ends_in_text(client: Client, sim: CursorSimulator) -> None:
    """§3.5: under the `none` note the agent answers without a call block."""
    sim.config.default_scenario = "agent"
    none = note("Do not call any tool in this reply. Answer in plain text.")
    refused = await post(client, emulated_request([], last_note=none))
    assert D.call_open not in refused.text and "not to use tools" in refused.text


async def test_emulated_failed_result_ends_in_text(client: Client, sim: CursorSimulator) -> None:
    """A result block with `"is_error":true` (the Anthropic route's form, H6) stops the task."""
    sim.config.default_scenario = "agent"
    history = [*emulated_history([]), (AI, grammar.call_block(D, "c1", "write", json.dumps(WRITE_ARGS)))]
    errored = build_request(
        grammar.result_block(D, "c1", "write", "disk full", is_error=True) + note(),
        history=history,
        system=emulated_system(KILO_TOOLS),
    )
    text = (await post(client, errored)).text
    assert D.call_open not in text and "disk full" in text


async def test_results_of_an_earlier_task_do_not_count(client: Client, sim: CursorSimulator) -> None:
    """H7 puts results before the user text of the same HUMAN message: they answer an earlier task."""
    sim.config.default_scenario = "agent"
    earlier = grammar.result_block(D, "c0", "write", "Wrote file successfully.", is_error=False)
    request = build_request(f"{earlier}\n\n{TASK}{note()}", system=emulated_system(KILO_TOOLS))
    assert call_block_of((await post(client, request)).text) == {"name": "write", "arguments": WRITE_ARGS}


async def test_prose_first_then_the_call_after_the_corrective_note(
    client: Client, sim: CursorSimulator
) -> None:
    sim.config.default_scenario = "agent prose_first=true"
    prose = await post(client, emulated_request([]))
    assert prose.text and D.call_open not in prose.text
    miss = grammar.miss_note_sentences(ToolChoice("required", None))
    retry = await post(
        client, emulated_request([], last_note=note() + "\n\n" + grammar.emulated_note(D, miss))
    )
    assert call_block_of(retry.text)["name"] == "write"
    assert sim.chat_records[-1].scenario == Scenario("agent", prose_first=True)


# ---------------------------------------------------------------- native catalog


async def test_native_agent_writes_then_reads_then_answers(client: Client, sim: CursorSimulator) -> None:
    sim.config.default_scenario = "agent"
    first = await post_until_call(client, native_request([]))
    assert completed_call(first) == ("write", WRITE_ARGS)
    assert first.text == "I'll create hello.txt."

    second = await post_until_call(
        client, native_request([("write", WRITE_ARGS, "Wrote file successfully.", False)])
    )
    assert completed_call(second) == ("read", READ_ARGS)

    steps = [("write", WRITE_ARGS, "ok", False), ("read", READ_ARGS, READ_OUTPUT, False)]
    third = await post(client, native_request(steps))
    assert third.tool_calls == [] and READ_OUTPUT in third.text and third.end == {}
    first_record = sim.chat_records[0]
    assert await eventually(lambda: first_record.outcome is not None, 2.0)
    assert first_record.outcome in ("stalled", "client_gone")  # it waited for results like Cursor


async def test_native_error_result_and_trailer_end(client: Client, sim: CursorSimulator) -> None:
    sim.push(Scenario("agent", end="trailer"))
    ended = await post(client, native_request([]))
    assert completed_call(ended)[0] == "write" and ended.end == {}
    sim.push(Scenario("agent"))
    text = (await post(client, native_request([("write", WRITE_ARGS, "EACCES", True)]))).text
    assert "EACCES" in text


async def test_native_read_task_with_a_continue_catalog(client: Client, sim: CursorSimulator) -> None:
    sim.config.default_scenario = "agent"
    text = "Please read the file notes.md and tell me what it says."
    first = await post_until_call(client, native_request([], CONTINUE_TOOLS, text=text))
    assert completed_call(first) == ("Read", {"filepath": "notes.md"})
    done = await post(
        client,
        native_request([("Read", {"filepath": "notes.md"}, "# Notes", False)], CONTINUE_TOOLS, text=text),
    )
    assert "# Notes" in done.text and done.tool_calls == []


# ---------------------------------------------------------------- choosing agent mode


async def test_sticky_directive_holds_for_later_turns(client: Client, sim: CursorSimulator) -> None:
    request = emulated_request([("write", WRITE_ARGS, "ok")])
    chat = request.stream_unified_chat_request
    chat.conversation[0].text = "[[sim:agent chunk=5]] " + chat.conversation[0].text
    answer = await post(client, request)
    assert call_block_of(answer.text)["name"] == "read"
    assert sim.chat_records[-1].scenario == Scenario("agent", chunk=5)
    assert sim.chat_records[-1].scenario_source == "directive"
    plain = await post(client, build_request("no directive here"))
    assert plain.text == "\n\nYou said: no directive here"


async def test_default_scenario_over_the_control_api(client: Client, sim: CursorSimulator) -> None:
    patched = await client.patch("/__sim/config", json={"default_scenario": "agent"})
    assert (await patched.json())["default_scenario"] == "agent"
    hint = await post(client, build_request("what can you do?", tools=KILO_TOOLS))
    assert "create a file NAME" in hint.text and hint.tool_calls == []
    no_tools = await post(client, build_request(TASK))
    assert "no tools" in no_tools.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("create a file a.txt with content 'x y', then read it back", ("create", "a.txt", "x y", True)),
        ('"Create the file `b.md` with contents "two\nlines""', ("create", "b.md", "two\nlines", False)),
        (
            "create a new file named c.py with text `print(1)`. Then read it back.",
            ("create", "c.py", "print(1)", True),
        ),
        ("please read file d.txt, thanks", ("read", "d.txt", "", False)),
    ],
)
def test_task_phrasings(text: str, expected: tuple[str, str, str, bool]) -> None:
    task = find_task(text)
    assert task is not None
    assert (task.kind, task.name, task.text, task.read_back) == expected
    assert find_task("tell me a joke") is None


@pytest.mark.parametrize(
    "text",
    [
        "Working directory: /w/x",
        "Workspace root folder: /w/x",
        "Current working directory: /w/x",
        " - Primary working directory: /w/x",  # Claude Code's environment block
        "<cwd>/w/x</cwd>",
    ],
)
def test_every_stated_working_directory_is_found(text) -> None:
    assert find_workdir(["nothing here", f"<env>\n{text}\n</env>"]) == "/w/x"


# ---------------------------------------------------------------- Codex's catalog: shell and patch tools

EXEC = agent.Tool(
    "exec_command",
    {
        "type": "object",
        "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}},
        "required": ["cmd"],
    },
)
SHELL_ARGV = agent.Tool(
    "shell", {"type": "object", "properties": {"command": {"type": "array"}}, "required": ["command"]}
)
PATCH = agent.Tool(
    "apply_patch", {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
)
STDIN = agent.Tool(
    "write_stdin", {"type": "object", "properties": {"chars": {"type": "string"}}, "required": ["session_id"]}
)
CODEX_TASK = agent.Task("create", "hello.txt", "it's here", read_back=True)


def codex_view(tools, *done):
    return agent.View(
        "native", list(tools), task=CODEX_TASK, done=[agent.Done(name, text, False) for name, text in done]
    )


def test_a_shell_tool_writes_then_reads_by_the_order_of_its_results() -> None:
    write = agent.plan(codex_view([STDIN, EXEC]))
    assert write == agent.Call(
        "exec_command", {"cmd": "printf '%s' 'it'\"'\"'s here' > hello.txt"}, "I'll create hello.txt."
    )
    read = agent.plan(codex_view([STDIN, EXEC], ("exec_command", "")))
    assert read == agent.Call("exec_command", {"cmd": "cat hello.txt"}, "Now I'll read hello.txt.")
    answer = agent.plan(
        codex_view([STDIN, EXEC], ("exec_command", ""), ("exec_command", "Output:\nit's here"))
    )
    assert answer == agent.Answer("I read hello.txt. It says:\n\nOutput:\nit's here")


def test_an_argv_shell_gets_bash_lc() -> None:
    assert agent.plan(codex_view([SHELL_ARGV], ("shell", ""))).arguments == {  # type: ignore[union-attr]
        "command": ["bash", "-lc", "cat hello.txt"]
    }


def test_a_patch_tool_writes_before_the_shell_reads() -> None:
    write = agent.plan(codex_view([EXEC, PATCH]))
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+it's here\n*** End Patch\n"
    assert write == agent.Call("apply_patch", {"input": patch}, "I'll create hello.txt.")
    read = agent.plan(codex_view([EXEC, PATCH], ("apply_patch", "Success.")))
    assert read.arguments == {"cmd": "cat hello.txt"}  # type: ignore[union-attr]
