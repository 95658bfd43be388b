"""Tool-call scenarios (SIM-20, SIM-21): MCP calls with cumulative `raw_args`, native calls.

Pretty snapshots grow monotonically; compact re-serialised snapshots are interleaved; the last
frame has `is_last_message`; field 6 (a double the gateway does not model) rides on the first
frame of each call.
"""

from __future__ import annotations

from typing import cast

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes.script import Context, ScenarioLike, Script
from tests.fakes.steps import Stall, Step
from tests.fakes.wire import pb_double, wrap_tool_call


def compact_prefix(text: str) -> str:
    """Drop whitespace outside JSON strings: the compact re-serialised form of a prefix."""
    out: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)


def _call_bytes(call: pb.ClientSideToolV2Call, extra: bytes = b"", args_in: str = "raw") -> bytes:
    if args_in != "raw" and call.raw_args:
        call = _move_arguments(call, args_in)
    return wrap_tool_call(call.SerializeToString() + extra)


def _move_arguments(call: pb.ClientSideToolV2Call, args_in: str) -> pb.ClientSideToolV2Call:
    moved = pb.ClientSideToolV2Call()
    moved.CopyFrom(call)
    moved.mcp_params.tools[0].parameters = call.raw_args
    if args_in == "nested":
        moved.raw_args = ""
    elif args_in == "both":
        moved.raw_args = compact_prefix(call.raw_args)
    else:
        raise ValueError(f"args_in must be raw, nested or both, got {args_in!r}")
    return moved


def build_tool_call(scenario: ScenarioLike, ctx: Context) -> list[Step]:
    """SIM-20 / SIM-21: MCP call(s) with cumulative `raw_args`, or a native call (`native=true`).

    Parameters: `name`, `server` ("custom"), `args` (pretty JSON text), `tool_call_id`,
    `model_call_id` ("" or "none" → absent), `compact` (interleave compact snapshots, true),
    `streaming` (false → one complete frame), `final` (pretty | compact | empty), `chunk`
    (snapshot growth, 6), `text_before`, `text_after`, `calls` (how many, 1), `gap` (seconds
    between calls), `end` (trailer | wait), `tool_index` (1), `native` / `tool` (non-19 tool).
    """
    s = Script(scenario, ctx)
    s.preamble()
    text_before = s.p.text("text_before", "")
    if text_before:
        s.texts(text_before, s.p.integer("chunk", 6))
    for index in range(s.p.integer("calls", 1)):
        if index:
            s.pause(s.p.number("gap", 0.0))
        if s.p.flag("native", False) or s.p.integer("tool", 19) != 19:
            _native_call(s, index)
        else:
            _mcp_call(s, ctx, index)
    text_after = s.p.text("text_after", "")
    if text_after:
        s.texts(text_after, s.p.integer("chunk", 6))
    if s.p.text("end", "trailer") == "wait":
        s.steps.append(Stall())
    else:
        s.end()
    return s.finish()


def _mcp_call(s: Script, ctx: Context, index: int) -> None:
    declared = ctx.first_tool
    name = s.p.text("name", declared.name if declared is not None else "get_weather")
    mcp_call(s, name, s.p.text("args", '{"city": "Paris", "unit": "celsius"}'), index)


def mcp_call(s: Script, name: str, pretty: str, index: int = 0) -> None:
    """One MCP call for `name` with argument text `pretty`, framed per the script's parameters
    (`server`, `tool_call_id`, `model_call_id`, `wire_name`, `streaming`, `chunk`, `compact`,
    `final`, `tool_index`, `args_in`). `args_in` says where the cumulative arguments go: `raw`
    (`raw_args`, as the captured native call), `nested` (`mcp_params.tools[0].parameters` only)
    or `both` (the nested field, and the compact form in `raw_args`; upstream-2026.md §5)."""
    server = s.p.text("server", "custom")
    args_in = s.p.text("args_in", "raw")
    call_id = s.p.text("tool_call_id", "toolu_01" + s.token(22))
    if index:
        call_id = f"{call_id}_{index}"
    model_call_id = s.p.text("model_call_id", "mc_" + s.token(16))
    base = pb.ClientSideToolV2Call(
        tool=pb.CLIENT_SIDE_TOOL_V2_MCP,
        tool_call_id=call_id,
        name=s.p.text("wire_name", name),
        mcp_params=pb.MCPParams(tools=[pb.MCPParams.Tool(name=name, server_name=server)]),
        tool_index=s.p.integer("tool_index", 1),
    )
    if model_call_id not in ("", "none"):
        base.model_call_id = model_call_id
    if not s.p.flag("streaming", True):
        call = pb.ClientSideToolV2Call()
        call.CopyFrom(base)
        call.raw_args = pretty
        s.content(_call_bytes(call, pb_double(6, 1.5) if s.unknown_fields else b"", args_in))
        return
    first = pb.ClientSideToolV2Call()
    first.CopyFrom(base)
    first.is_streaming = True
    s.content(_call_bytes(first, pb_double(6, 0.25) if s.unknown_fields else b"", args_in))
    chunk = s.p.integer("chunk", 6)
    compact = s.p.flag("compact", True)
    cuts = list(range(chunk, len(pretty), chunk))
    for n, cut in enumerate(cuts):
        snapshot = pb.ClientSideToolV2Call()
        snapshot.CopyFrom(first)
        snapshot.raw_args = pretty[:cut]
        s.content(_call_bytes(snapshot, args_in=args_in))
        if compact and n % 2 == 1:
            snapshot.raw_args = compact_prefix(pretty[:cut])
            s.content(_call_bytes(snapshot, args_in=args_in))
    final = pb.ClientSideToolV2Call()
    final.CopyFrom(first)
    final_mode = s.p.text("final", "pretty")
    final.raw_args = {"pretty": pretty, "compact": compact_prefix(pretty), "empty": ""}[final_mode]
    if final_mode == "empty":
        penultimate = pb.ClientSideToolV2Call()
        penultimate.CopyFrom(first)
        penultimate.raw_args = pretty
        s.content(_call_bytes(penultimate, args_in=args_in))
    final.is_last_message = True
    s.content(_call_bytes(final, args_in=args_in))


def _native_call(s: Script, index: int) -> None:
    tool = s.p.integer("tool", pb.CLIENT_SIDE_TOOL_V2_READ_FILE)
    if tool == pb.CLIENT_SIDE_TOOL_V2_MCP:
        tool = pb.CLIENT_SIDE_TOOL_V2_READ_FILE
    args = s.p.text("args", '{"relative_workspace_path": "README.md"}')
    call = pb.ClientSideToolV2Call(
        tool=cast("pb.ClientSideToolV2", tool),
        tool_call_id=s.p.text("tool_call_id", "toolu_01" + s.token(22)) + (f"_{index}" if index else ""),
        name=s.p.text("name", "read_file"),
        is_streaming=True,
        tool_index=1,
    )
    s.content(_call_bytes(call, pb_double(6, 0.5)))
    call.raw_args = args[: len(args) // 2]
    s.content(_call_bytes(call))
    call.raw_args = args
    call.is_last_message = True
    s.content(_call_bytes(call))
