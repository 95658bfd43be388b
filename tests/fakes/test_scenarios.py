"""Scenario builders (pure): content, framing mix, write boundaries, errors, tool calls, breakage."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import catalog
from tests.fakes.client_for_tests import build_request, decode_stream
from tests.fakes.scenarios import (
    Scenario,
    build,
    find_directive,
    strip_directives,
)
from tests.fakes.script import Context, Defaults
from tests.fakes.steps import Abort, Respond, Sleep, Stall, StartStream, Step, Write
from tests.fakes.toolcalls import compact_prefix
from tests.fakes.wire import MAX_FRAME, split_frames


def ctx(text: str = "Hello", **kwargs: object) -> Context:
    request = build_request(text, **kwargs).stream_unified_chat_request  # type: ignore[arg-type]
    return Context(request=request, defaults=Defaults())


def body(plan: list[Step]) -> bytes:
    return b"".join(step.data for step in plan if isinstance(step, Write))


def run(scenario: Scenario, context: Context | None = None) -> list[Step]:
    return build(scenario, context or ctx())


def test_echo_reply_frames() -> None:
    plan = run(Scenario("echo"), ctx("héllo wörld 🌍🌍 ok"))
    assert isinstance(plan[0], StartStream)
    decoded = decode_stream(body(plan))
    assert decoded.text == "\n\nYou said: héllo wörld 🌍🌍 ok"
    assert decoded.text_frames[0].startswith("\n\n")
    assert len(decoded.text_frames) > 5
    # Each multibyte character lands whole in one frame; several frames carry them.
    assert sum(any(ord(c) > 127 for c in f) for f in decoded.text_frames) >= 2
    assert decoded.end == {}
    assert decoded.unknown_field_frames >= 2
    assert decoded.heartbeats >= 3


def test_echo_is_deterministic_and_seeded() -> None:
    first = body(run(Scenario("echo"), ctx("same")))
    assert body(run(Scenario("echo"), ctx("same"))) == first
    assert body(run(Scenario("echo", seed=7), ctx("same"))) != first


def test_gzip_mix_and_heartbeat_kinds() -> None:
    plan = run(Scenario("text", text="x" * 2000, chunk=2))
    frames = split_frames(body(plan))
    compressed = sum(flags & 1 for flags, _ in frames[:-1])
    assert 0.5 < compressed / (len(frames) - 1) < 0.7
    payloads = [p for flags, p in frames if not flags & 1]
    assert b"" in payloads and b"\x12\x00" in payloads
    assert not split_frames(body(run(Scenario("text", gzip=0.0))))[0][0] & 1
    assert all(
        flags & 1 for flags, _ in split_frames(body(run(Scenario("text", gzip=1.0, heartbeats=False))))[:-1]
    )


@pytest.mark.parametrize("mode", ["byte", "split_header", "split_mid", "coalesce", "random"])
def test_write_modes_keep_the_byte_stream(mode: str) -> None:
    reference = run(Scenario("echo"))
    plan = run(Scenario("echo", writes=mode))
    assert body(plan) == body(reference)
    sizes = [len(step.data) for step in plan if isinstance(step, Write)]
    if mode == "byte":
        assert set(sizes) == {1}
    elif mode == "split_header":
        assert 5 in sizes
    elif mode == "coalesce":
        assert len(sizes) < len([s for s in reference if isinstance(s, Write)])


def test_pacing_inserts_sleeps_with_heartbeats() -> None:
    plan = run(Scenario("echo", pace=2.0, heartbeat_every=0.5))
    sleeps = [step.seconds for step in plan if isinstance(step, Sleep)]
    assert sleeps and all(s <= 0.5 for s in sleeps)
    assert decode_stream(body(plan)).heartbeats > 10
    assert run(Scenario("slow")) == run(Scenario("echo", pace=2.0, heartbeat_every=0.5))


def test_thinking_then_signature_then_text() -> None:
    decoded = decode_stream(body(run(Scenario("thinking"), ctx("hi"))))
    assert decoded.thinking and len(decoded.signatures) == 1
    assert decoded.text == "\n\nYou said: hi"
    redacted = decode_stream(body(run(Scenario("thinking", redacted=True, no_text=True))))
    assert redacted.redacted and not redacted.thinking and not redacted.text


def test_web_citations_for_online_requests() -> None:
    assert decode_stream(body(run(Scenario("echo"), ctx("q", use_web=True)))).citations == 2
    assert decode_stream(body(run(Scenario("echo"), ctx("q")))).citations == 0


def test_empty_stream() -> None:
    decoded = decode_stream(body(run(Scenario("empty"))))
    assert (decoded.text, decoded.end) == ("", {})
    assert decoded.heartbeats >= 4


def error_details(end: dict[str, object]) -> list[pb.ErrorDetails]:
    error = end["error"]
    assert isinstance(error, dict)
    out = []
    for item in error.get("details", []):
        value = item["value"]
        out.append(pb.ErrorDetails.FromString(base64.b64decode(value + "=" * (-len(value) % 4))))
    return out


@pytest.mark.parametrize(
    "value", [1, 2, 5, 8, 9, 10, 12, 20, 21, 23, 25, 28, 30, 35, 41, 43, 44, 50, *range(54, 65), 99]
)
@pytest.mark.parametrize("after", [0, 3])
def test_error_before_and_after_content(value: int, after: int) -> None:
    decoded = decode_stream(body(run(Scenario("error", error=value, after_frames=after))))
    assert len(decoded.text_frames) == after
    assert decoded.end is not None
    (details,) = error_details(decoded.end)
    assert details.error == value
    assert decoded.end["error"]["code"] == catalog.connect_code_for(value)


def test_error_variants() -> None:
    update = decode_stream(body(run(Scenario("update_required")))).end
    assert update is not None
    (details,) = error_details(update)
    assert details.error == 28 and "no longer supported" in details.details.detail
    computers = error_details(decode_stream(body(run(Scenario("too_many_computers")))).end or {})
    assert computers[0].error == 29 and "Too many computers" in computers[0].details.detail
    multi = error_details(decode_stream(body(run(Scenario("error", error=50, details="multi")))).end or {})
    assert [d.error for d in multi] == [50, 8]
    bare = decode_stream(body(run(Scenario("error", details="none", code="unavailable")))).end
    assert bare == {"error": {"code": "unavailable", "message": "Error"}}
    custom = error_details(
        decode_stream(body(run(Scenario("error", error=50, title="T", detail="D")))).end or {}
    )
    assert (custom[0].details.title, custom[0].details.detail) == ("T", "D")
    compressed = split_frames(body(run(Scenario("error", compressed=True))))[-1]
    assert compressed[0] == 0x03


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(401, "application/json"), (403, "text/html"), (404, "application/json"), (415, "text/plain")]
    + [(s, "text/plain") for s in (429, 500, 502, 503, 505)],
)
def test_http_errors(status: int, content_type: str) -> None:
    (step,) = run(Scenario("http_error", status=status))
    assert isinstance(step, Respond) and step.status == status
    assert dict(step.headers)["content-type"].startswith(content_type)
    if status == 429:
        assert dict(step.headers)["retry-after"] == "30"
    if status == 404:
        assert json.loads(step.body)["code"] == "unimplemented"


def test_stall_variants() -> None:
    assert run(Scenario("stall", at="before_headers")) == [Stall()]
    after_headers = run(Scenario("stall"))
    assert isinstance(after_headers[0], StartStream) and after_headers[-1] == Stall()
    content = run(Scenario("stall", at="after_content", frames=2))
    assert len(decode_stream(body(content)).text_frames) == 2
    beats = run(Scenario("stall", at="heartbeats", heartbeats=5))
    assert decode_stream(body(beats)).heartbeats == 5 and beats[-1] == Stall()


def test_disconnect_variants() -> None:
    assert run(Scenario("disconnect", at="before_headers")) == [Abort()]
    assert run(Scenario("disconnect", at="after_headers")) == [StartStream(), Abort()]
    between = run(Scenario("disconnect", frames=2))
    assert between[-1] == Abort()
    assert decode_stream(body(between)).end is None
    mid = body(run(Scenario("disconnect", at="mid_frame")))
    with pytest.raises(ValueError, match="partial"):
        split_frames(mid)


@pytest.mark.parametrize(
    "kind", ["flag", "too_large", "bad_gzip", "gzip_bomb", "bad_protobuf", "bad_end_json"]
)
def test_broken_framing(kind: str) -> None:
    data = body(run(Scenario("broken", kind=kind, heartbeats=False, unknown_fields=False, gzip=0)))
    text_frame_end = 5 + 2 + 2 + len(b"\n\nYo")  # one plain text frame comes first
    assert decode_stream(data[:text_frame_end]).text == "\n\nYo"
    header = data[text_frame_end : text_frame_end + 5]
    flags, length = header[0], int.from_bytes(header[1:], "big")
    expected = {
        "flag": lambda: flags == 0x04,
        "too_large": lambda: length == MAX_FRAME + 1,
        "bad_gzip": lambda: flags == 0x01,
        "gzip_bomb": lambda: flags == 0x01 and length < 64 * 1024,
        "bad_protobuf": lambda: flags == 0x00,
        "bad_end_json": lambda: flags == 0x02 and data.endswith(b"{not json"),
    }
    assert expected[kind](), (kind, header)


def test_large_frame_close_to_limit() -> None:
    frames = split_frames(body(run(Scenario("large"))))
    flags, payload = frames[0]
    assert flags == 0 and len(payload) == MAX_FRAME - 64
    assert frames[-1] == (0x02, b"{}")
    assert decode_stream(body(run(Scenario("large")))).text.startswith("\n\nxxx")


def test_large_frames_repeat() -> None:
    frames = split_frames(body(run(Scenario("large", size=4096, frames=3))))
    assert [len(payload) for _, payload in frames[:3]] == [4096] * 3 and len(frames[3][1]) != 4096
    assert frames[-1] == (0x02, b"{}")


def mcp_calls(plan: list[Step]) -> list[pb.ClientSideToolV2Call]:
    return decode_stream(body(plan)).tool_calls


def test_mcp_tool_call_snapshots() -> None:
    args = '{"city": "Paris", "unit": "celsius"}'
    calls = mcp_calls(
        run(Scenario("tool_call", args=args), ctx("w", tools=[("get_weather", {"type": "object"})]))
    )
    assert all(c.tool == pb.CLIENT_SIDE_TOOL_V2_MCP for c in calls)
    assert {c.tool_call_id for c in calls} == {calls[0].tool_call_id}
    assert calls[0].mcp_params.tools[0].name == "get_weather"
    assert calls[0].mcp_params.tools[0].server_name == "custom"
    assert calls[0].HasField("model_call_id") and calls[0].tool_index == 1
    assert all(c.is_streaming for c in calls)
    assert [c.is_last_message for c in calls] == [False] * (len(calls) - 1) + [True]
    assert calls[-1].raw_args == args
    snapshots = [c.raw_args for c in calls[1:-1]]
    pretty = [s for s in snapshots if ": " in s or ", " in s]
    compact = [s for s in snapshots if s not in pretty and s]
    assert compact and all(args.startswith(s) for s in pretty)
    assert all(len(a) < len(b) for a, b in itertools.pairwise(pretty))
    assert all(s == compact_prefix(s) for s in compact)


def test_tool_call_variants() -> None:
    absent = mcp_calls(run(Scenario("tool_call", model_call_id="", server="weather")))
    assert not absent[0].HasField("model_call_id") and absent[0].mcp_params.tools[0].server_name == "weather"
    single = mcp_calls(run(Scenario("tool_call", streaming=False)))
    assert len(single) == 1 and not single[0].is_streaming and single[0].raw_args
    after_text = decode_stream(body(run(Scenario("tool_call", text_before="Let me check."))))
    assert after_text.text == "Let me check." and after_text.tool_calls
    two = mcp_calls(run(Scenario("tool_call", calls=2)))
    assert len({c.tool_call_id for c in two}) == 2
    waits = run(Scenario("tool_call", end="wait"))
    assert waits[-1] == Stall()
    empty_final = mcp_calls(run(Scenario("tool_call", final="empty")))
    assert empty_final[-1].raw_args == "" and empty_final[-2].raw_args


def test_tool_call_unknown_field_6() -> None:
    data = body(run(Scenario("tool_call", gzip=0)))
    assert b"\x31\x00\x00\x00\x00\x00\x00\xd0\x3f" in data  # field 6, double 0.25


def test_native_tool_call() -> None:
    calls = mcp_calls(run(Scenario("native_tool")))
    assert {c.tool for c in calls} == {pb.CLIENT_SIDE_TOOL_V2_READ_FILE}
    assert calls[-1].is_last_message and not calls[-1].HasField("mcp_params")


def test_directives() -> None:
    assert find_directive("hi [[sim:error error=50 after_frames=2]] there") == Scenario(
        "error", error=50, after_frames=2
    )
    assert find_directive('[[sim:text text="a b c" chunk=1 gzip=0.5 heartbeats=false]]') == Scenario(
        "text", text="a b c", chunk=1, gzip=0.5, heartbeats=False
    )
    assert find_directive("[[sim:rate_limit]]") == Scenario("error", error=50)
    assert find_directive("no directive") is None
    assert strip_directives("hi [[sim:echo]]") == "hi"
    with pytest.raises(ValueError, match="unknown scenario"):
        find_directive("[[sim:nope]]")


def test_stamped_frames_carry_their_write_time():
    import time

    from tests.fakes.client_for_tests import decode_stream
    from tests.fakes.scenarios import Scenario, build
    from tests.fakes.script import Context, Defaults

    plan = build(Scenario("stamped", frames=3, pace=0.0), Context(None, Defaults()))
    before = time.monotonic_ns()
    wire = b"".join(step.payload() for step in plan if isinstance(step, Write))
    stamps = [int(s) for s in decode_stream(wire).text.split(";") if s]
    assert len(stamps) == 3 and all(before <= s <= time.monotonic_ns() for s in stamps)


@pytest.mark.parametrize("value", range(54, 65))
def test_the_2026_values_have_their_own_texts_and_names(value: int) -> None:
    """upstream-2026.md §4: each of 54-64 comes with a title, a detail and its enum name."""
    end = decode_stream(body(run(Scenario("error", error=value)))).end or {}
    (details,) = error_details(end)
    assert details.details.title != "Error" and details.details.detail != f"Upstream error {value}."
    [item] = end["error"]["details"]
    assert item["debug"]["error"] == pb.ErrorDetails.Error.Name(value)


def test_update_required_carries_the_live_analytics_record() -> None:
    [item] = (decode_stream(body(run(Scenario("update_required")))).end or {})["error"]["details"]
    assert item["debug"]["details"]["analyticsMetadata"] == {"actionRequired": "payment"}
    assert item["debug"]["details"]["title"] == catalog.UPDATE_REQUIRED_TITLE


def test_update_required_over_http() -> None:
    [step] = run(Scenario("update_required_http"))
    assert isinstance(step, Respond) and (step.status, step.body) == (400, b"Update Required for Composer 2")


# ---------------------------------------------------------------- composer style (upstream-2026.md §3)


def test_composer_models_answer_inside_the_thinking_field() -> None:
    decoded = decode_stream(body(run(Scenario("echo"), ctx("hi there", model="composer-1"))))
    assert decoded.text == ""
    thinking, marker, answer = decoded.thinking.partition("</think>")
    assert marker and thinking and answer == "\n\nYou said: hi there"
    assert decoded.end == {}


def test_the_composer_scenario_and_its_variants() -> None:
    plain = decode_stream(body(run(Scenario("composer", text="Answer"))))
    assert plain.thinking.endswith("</think>Answer") and plain.text == ""
    unmarked = decode_stream(body(run(Scenario("composer", text="Answer", marker=False))))
    assert "</think>" not in unmarked.thinking and unmarked.thinking.endswith("Answer")
    second = decode_stream(body(run(Scenario("composer", text="Answer", second_marker=True))))
    assert second.thinking.count("</think>") == 2
    other = decode_stream(body(run(Scenario("echo"), ctx("hi", model="claude-4.5-sonnet"))))
    assert other.thinking == "" and other.text == "\n\nYou said: hi"


# ---------------------------------------------------------------- MCP arguments (upstream-2026.md §5)


@pytest.mark.parametrize("args_in", ["raw", "nested", "both"])
def test_mcp_arguments_in_raw_args_or_the_nested_field(args_in: str) -> None:
    pretty = '{"city": "Paris", "unit": "celsius"}'
    calls = decode_stream(body(run(Scenario("tool_call", args=pretty, args_in=args_in)))).tool_calls
    final = calls[-1]
    assert final.is_last_message
    nested = final.mcp_params.tools[0].parameters
    if args_in == "raw":
        assert (final.raw_args, nested) == (pretty, "")
    elif args_in == "nested":
        assert (final.raw_args, nested) == ("", pretty)
        assert all(c.raw_args == "" for c in calls)
    else:
        assert (final.raw_args, nested) == (compact_prefix(pretty), pretty)
    snapshots = [
        c.mcp_params.tools[0].parameters or c.raw_args
        for c in calls
        if c.raw_args or c.mcp_params.tools[0].parameters
    ]
    assert snapshots[-1] in (pretty, compact_prefix(pretty))


# ---------------------------------------------------------------- the replay of the real capture


def test_replay_serves_the_capture_byte_for_byte_in_random_writes() -> None:
    from tests.fakes.scenarios import REPLAY_FILE, capture_bytes

    plan = run(Scenario("replay"))
    assert isinstance(plan[0], StartStream)
    writes = [step.data for step in plan if isinstance(step, Write)]
    assert b"".join(writes) == capture_bytes(REPLAY_FILE)
    sizes = {len(w) for w in writes}
    assert len(sizes) > 20 and max(sizes) <= 4096 and min(sizes) >= 1
    tiny = [step.data for step in run(Scenario("replay", max_write=3)) if isinstance(step, Write)]
    assert b"".join(tiny) == capture_bytes(REPLAY_FILE) and max(map(len, tiny)) <= 3
    assert [step.data for step in run(Scenario("replay", seed=1)) if isinstance(step, Write)] != writes
