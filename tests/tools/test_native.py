"""Native tool-call frames (tool-calls.md N4, N5, S3b): cumulative snapshots, names, non-MCP tools."""

from __future__ import annotations

import json

import pytest

from gateway.neutral.toolcalls import MCP_TOOL, TOO_LARGE, NativeToolFrame
from gateway.tools.native import NativeCallAssembler, NonMcpTool

ARGS = {"path": "src/main.py", "content": "print('hi')\n"}


def frame(
    raw: str,
    *,
    last: bool,
    streaming: bool = True,
    call_id: str = "t1",
    name: str = "mcp_custom_write",
    tool: int = MCP_TOOL,
) -> NativeToolFrame:
    return NativeToolFrame(call_id, tool, name, None, raw, streaming, last)


def snapshots(text: str, step: int) -> list[str]:
    return [text[:i] for i in range(step, len(text), step)] + [text]


@pytest.mark.parametrize("pretty", [True, False])
def test_cumulative_snapshots_give_the_last_one_n4(pretty: bool) -> None:
    text = json.dumps(ARGS, indent=2 if pretty else None)
    assembler = NativeCallAssembler(["write"])
    parts = snapshots(text, 5)
    for part in parts[:-1]:
        assert assembler.feed(frame(part, last=False)) is None
    call = assembler.feed(frame(parts[-1], last=True))
    assert call is not None and call.native and call.name == "write"
    assert json.loads(call.body) == ARGS  # never the concatenation of the snapshots


def test_empty_completing_frame_takes_the_longest_snapshot() -> None:
    assembler = NativeCallAssembler(["write"])
    text = json.dumps(ARGS)
    assembler.feed(frame(text, last=False))
    assembler.feed(frame(text[:10], last=False))  # a shorter re-serialised snapshot
    call = assembler.feed(frame("", last=True))
    assert call is not None and call.body == text


def test_a_single_non_streaming_frame_completes() -> None:
    call = NativeCallAssembler(["write"]).feed(frame('{"path":"a"}', last=False, streaming=False))
    assert call is not None and call.body == '{"path":"a"}'


def test_calls_are_assembled_per_id() -> None:
    assembler = NativeCallAssembler(["write"])
    assert assembler.feed(frame('{"path":"a', last=False, call_id="x")) is None
    assert assembler.feed(frame('{"path":"b', last=False, call_id="y")) is None
    first = assembler.feed(frame("", last=True, call_id="y"))
    second = assembler.feed(frame("", last=True, call_id="x"))
    assert first is not None and first.body == '{"path":"b'
    assert second is not None and second.body == '{"path":"a'


@pytest.mark.parametrize(
    ("name", "mcp_name", "expected"),
    [
        ("mcp_custom_write", None, "write"),
        ("mcp__custom__write", None, "write"),
        ("", "mcp_custom_write", "write"),
        ("mcp_custom_other", None, "mcp_custom_other"),  # the rest is not a catalog name: kept
        ("write", None, "write"),
    ],
)
def test_names_n5(name: str, mcp_name: str | None, expected: str) -> None:
    assembler = NativeCallAssembler(["write"])
    call = assembler.feed(NativeToolFrame("t", MCP_TOOL, name, mcp_name, "{}", False, True))
    assert call is not None and call.name == expected


def test_a_non_mcp_tool_is_reported_s3b() -> None:
    with pytest.raises(NonMcpTool, match="tool 5"):
        NativeCallAssembler(["write"]).feed(frame("{}", last=True, tool=5, name="read_file"))


def test_an_oversized_call_is_too_large() -> None:
    call = NativeCallAssembler(["write"], max_bytes=16).feed(
        frame('{"content":"' + "x" * 40 + '"}', last=True)
    )
    assert call is not None and TOO_LARGE in call.flags and call.body == ""
