"""Orchestration of a tool turn (tool-calls.md §7, §12.7): attempts, retries, delivery, fallback."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import orjson
import pytest

from gateway.chat.catalog import resolve
from gateway.chat.turn import ToolOptions, ToolTurn
from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.neutral.model import (
    ChatRequest,
    Event,
    Finish,
    Message,
    Prompt,
    TextDelta,
    ThinkingDelta,
    Timing,
    ToolCallEnd,
    ToolCallStart,
    ToolChoice,
    ToolSpec,
    Usage,
)
from gateway.neutral.toolcalls import MCP_TOOL, NativeToolFrame
from gateway.upstream import errors as upstream_errors
from tests.chat.events_check import check_events

NONCE_RE = re.compile(r"<<tools:([0-9a-f]{8})>>")
SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}


def tool(name: str, schema: dict[str, object] | None = None, *, strict: bool = False) -> ToolSpec:
    schema = SCHEMA if schema is None else schema
    return ToolSpec(name, f"The {name} tool.", schema, orjson.dumps(schema).decode(), strict)


TOOLS = (tool("read_file"), tool("write_file"))
AUTO = ToolChoice()


def chat(
    *,
    tools: tuple[ToolSpec, ...] = TOOLS,
    choice: ToolChoice = AUTO,
    parallel: bool = True,
) -> ChatRequest:
    model = resolve("gpt-4o")
    assert model is not None
    return ChatRequest(
        model=model,
        system="Be brief.",
        messages=(Message("user", "Read a.txt please"),),
        stream=True,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
    )


class Sleep(float):
    """A pause inside a scripted attempt."""


Step = TextDelta | ThinkingDelta | NativeToolFrame | Finish | UpstreamError | Sleep


@dataclass
class Attempts:
    """A scripted `ChatService.attempt`: one list of steps per attempt; `{N}` becomes the nonce."""

    scripts: list[list[Step]]
    prompts: list[Prompt] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)
    steps_taken: list[int] = field(default_factory=list)

    async def __call__(
        self, chat: ChatRequest, prompt: Prompt, timing: Timing | None
    ) -> AsyncGenerator[object, None]:
        number = len(self.prompts)
        self.prompts.append(prompt)
        self.closed.append(False)
        self.steps_taken.append(0)
        assert number < len(self.scripts), f"unexpected attempt {number + 1}"
        match = NONCE_RE.search(prompt.system) or re.search(
            r"<<(?:note|end):([0-9a-f]{8})>>", _all_text(prompt)
        )
        nonce = match.group(1) if match else "00000000"
        try:
            for step in self.scripts[number]:
                self.steps_taken[number] += 1
                if isinstance(step, Sleep):
                    await asyncio.sleep(step)
                elif isinstance(step, UpstreamError):
                    raise step
                elif isinstance(step, TextDelta):
                    yield TextDelta(step.text.replace("{N}", nonce))
                else:
                    yield step
        finally:
            self.closed[number] = True


def _all_text(prompt: Prompt) -> str:
    return prompt.system + "".join(m.text for m in prompt.messages)


def call_text(name: str, args: object, nonce: str = "{N}") -> str:
    body = orjson.dumps({"name": name, "arguments": args}).decode()
    return f"<<call:{nonce}>>\n{body}\n<<end:{nonce}>>"


def native_frame(call_id: str, name: str, args: str, *, tool: int = MCP_TOOL) -> NativeToolFrame:
    return NativeToolFrame(call_id, tool, f"mcp_custom_{name}", name, args, False, True)


async def run(attempts: Attempts, request: ChatRequest, **options: object) -> tuple[list[Event], Metrics]:
    metrics = Metrics()
    settings = {"nonce_secret": b"s" * 32, "mode": "emulate", **options}
    turn = ToolTurn(attempts, request, ToolOptions(**settings), metrics=metrics, rng=random.Random(7))  # type: ignore[arg-type]
    events = [event async for event in turn.events()]
    check_events(events)
    return events, metrics


def texts(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def calls(events: Sequence[Event]) -> list[tuple[str, dict[str, object]]]:
    names = {e.index: e.name for e in events if isinstance(e, ToolCallStart)}
    return [(names[e.index], orjson.loads(e.arguments)) for e in events if isinstance(e, ToolCallEnd)]


def finish(events: Sequence[Event]) -> str:
    last = events[-1]
    assert isinstance(last, Finish)
    return last.reason


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


# ---------------------------------------------------------------- emulation, no tool required


async def test_prose_then_one_call_streams_both_and_finishes_tool_calls() -> None:
    attempts = Attempts(
        [[TextDelta("Reading it. "), TextDelta(call_text("read_file", {"path": "a.txt"})), Finish("stop")]]
    )
    events, _ = await run(attempts, chat())
    assert texts(events) == "Reading it. "
    assert calls(events) == [("read_file", {"path": "a.txt"})]
    assert finish(events) == "tool_calls"
    assert len(attempts.prompts) == 1


async def test_call_ids_are_gateway_minted() -> None:
    attempts = Attempts(
        [
            [
                TextDelta(call_text("read_file", {"path": "a"}) + call_text("read_file", {"path": "b"})),
                Finish("stop"),
            ]
        ]
    )
    events, _ = await run(attempts, chat())
    ids = [e.id for e in events if isinstance(e, ToolCallStart)]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids)


async def test_plain_answer_without_calls_finishes_stop() -> None:
    attempts = Attempts([[TextDelta("Just text."), Finish("stop")]])
    events, _ = await run(attempts, chat())
    assert texts(events) == "Just text."
    assert finish(events) == "stop"


async def test_invalid_call_gets_a_calls_only_retry_t9() -> None:
    attempts = Attempts(
        [
            [TextDelta("Let me look. " + call_text("open_file", {"path": "a.txt"})), Finish("stop")],
            [TextDelta("Sorry! " + call_text("read_file", {"path": "a.txt"})), Finish("stop")],
        ]
    )
    events, metrics = await run(attempts, chat())
    assert texts(events) == "Let me look. "  # the retry's text is discarded
    assert calls(events) == [("read_file", {"path": "a.txt"})]
    retry = attempts.prompts[1].messages
    assert "could not be used" in retry[-1].text and 'unknown tool "open_file"' in retry[-1].text
    assert "open_file" in retry[-2].text  # the failed attempt, as written
    assert metric(metrics, "tool_retries_total", reason="invalid") == 1


async def test_all_attempts_invalid_and_no_text_is_a_502_t11() -> None:
    attempts = Attempts(
        [
            [TextDelta(call_text("nope", {})), Finish("stop")],
            [TextDelta(call_text("nope", {})), Finish("stop")],
        ]
    )
    with pytest.raises(UpstreamError) as caught:
        await run(attempts, chat())
    assert caught.value.code == "invalid_tool_call" and caught.value.status == 502


async def test_schema_only_failure_is_emitted_after_retries_v14() -> None:
    bad = call_text("read_file", {"path": {"nested": True}})
    attempts = Attempts([[TextDelta(bad), Finish("stop")], [TextDelta(bad), Finish("stop")]])
    events, _ = await run(attempts, chat())
    assert calls(events) == [("read_file", {"path": {"nested": True}})]
    assert finish(events) == "tool_calls"
    assert len(attempts.prompts) == 2


async def test_schema_failure_of_a_strict_tool_is_dropped_v14() -> None:
    strict_tools = (tool("read_file", strict=True),)
    bad = call_text("read_file", {"path": {"nested": True}})
    attempts = Attempts([[TextDelta("Trying. " + bad), Finish("stop")], [TextDelta(bad), Finish("stop")]])
    events, _ = await run(attempts, chat(tools=strict_tools))
    assert calls(events) == []
    assert texts(events) == "Trying. "
    assert finish(events) == "stop"


async def test_valid_then_invalid_call_is_never_retried_t10() -> None:
    attempts = Attempts(
        [[TextDelta(call_text("read_file", {"path": "a"}) + call_text("nope", {})), Finish("stop")]]
    )
    events, metrics = await run(attempts, chat())
    assert calls(events) == [("read_file", {"path": "a"})]
    assert len(attempts.prompts) == 1
    assert metric(metrics, "tool_calls_total", source="emulated", outcome="dropped") == 1


async def test_parallel_false_closes_upstream_after_the_first_call_t4() -> None:
    attempts = Attempts(
        [
            [
                TextDelta(call_text("read_file", {"path": "a"})),
                Sleep(0),
                TextDelta(call_text("read_file", {"path": "b"})),
                Finish("stop"),
            ]
        ]
    )
    events, _ = await run(attempts, chat(parallel=False))
    assert calls(events) == [("read_file", {"path": "a"})]
    assert attempts.closed == [True]
    assert attempts.steps_taken[0] < 4


async def test_truncated_call_without_calls_finishes_length_p13() -> None:
    attempts = Attempts(
        [[TextDelta('Writing. <<call:{N}>>\n{"name":"write_file","arguments":{"path":"a'), Finish("stop")]]
    )
    events, _ = await run(attempts, chat())
    assert texts(events) == "Writing. "
    assert calls(events) == []
    assert finish(events) == "length"
    assert len(attempts.prompts) == 1  # TRUNCATED is never retried


async def test_truncation_after_one_good_call_keeps_the_call_p13() -> None:
    text = call_text("read_file", {"path": "a"}) + '\n<<call:{N}>>\n{"name":"read_file","arguments":{"pa'
    events, metrics = await run(Attempts([[TextDelta(text), Finish("stop")]]), chat())
    assert calls(events) == [("read_file", {"path": "a"})]
    assert finish(events) == "tool_calls"
    assert metric(metrics, "tool_truncated_total") == 1


async def test_upstream_failure_after_a_decided_turn_is_not_an_error_p14() -> None:
    error = upstream_errors.build_error("transport", "connection reset")
    attempts = Attempts([[TextDelta(call_text("read_file", {"path": "a"}) + "\n"), error]])
    events, _ = await run(attempts, chat())
    assert calls(events) == [("read_file", {"path": "a"})]


async def test_upstream_failure_mid_call_is_an_error() -> None:
    error = upstream_errors.build_error("transport", "connection reset")
    attempts = Attempts([[TextDelta('<<call:{N}>>\n{"name":"read_file","arg'), error]])
    with pytest.raises(UpstreamError):
        await run(attempts, chat())


async def test_none_choice_drops_a_call_and_retries_for_text() -> None:
    attempts = Attempts(
        [
            [TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")],
            [TextDelta("It says hello."), Finish("stop")],
        ]
    )
    events, _ = await run(attempts, chat(choice=ToolChoice("none")))
    assert calls(events) == []
    assert texts(events) == "It says hello."
    assert "may not be called" in attempts.prompts[1].messages[-1].text


# ---------------------------------------------------------------- a tool required


async def test_kilo_strict_prose_first_reply_is_retried_and_hidden_t8() -> None:
    attempts = Attempts(
        [
            [TextDelta("I think the file says hi."), Finish("stop")],
            [TextDelta(call_text("read_file", {"path": "a.txt"})), Finish("stop")],
        ]
    )
    events, metrics = await run(attempts, chat(), kilo_strict=True)
    assert texts(events) == ""
    assert calls(events) == [("read_file", {"path": "a.txt"})]
    assert "must call at least one tool" in attempts.prompts[1].messages[-1].text
    usage = next(e for e in events if isinstance(e, Usage))
    single = await run(
        Attempts([[TextDelta(call_text("read_file", {"path": "a.txt"})), Finish("stop")]]),
        chat(),
        kilo_strict=True,
    )
    single_usage = next(e for e in single[0] if isinstance(e, Usage))
    assert usage.prompt_tokens > single_usage.prompt_tokens  # T12: usage sums both attempts
    assert metric(metrics, "tool_retries_total", reason="miss") == 1


async def test_required_text_before_the_call_is_released_at_the_decisive_point() -> None:
    attempts = Attempts(
        [[TextDelta("Reading. "), Sleep(0), TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")]]
    )
    events, _ = await run(attempts, chat(choice=ToolChoice("required")))
    assert texts(events) == "Reading. "
    assert calls(events) == [("read_file", {"path": "a"})]


async def test_retry_max_zero_delivers_the_first_attempt() -> None:
    attempts = Attempts([[TextDelta("No tools needed."), Finish("stop")]])
    events, _ = await run(attempts, chat(choice=ToolChoice("required")), retry_max=0)
    assert texts(events) == "No tools needed."
    assert finish(events) == "stop"
    assert len(attempts.prompts) == 1


async def test_every_attempt_failing_delivers_the_first_attempt() -> None:
    attempts = Attempts(
        [[TextDelta("First answer."), Finish("stop")], [TextDelta("Second answer."), Finish("stop")]]
    )
    events, _ = await run(attempts, chat(choice=ToolChoice("required")))
    assert texts(events) == "First answer."


async def test_required_prose_over_the_limit_is_cut_early_t5() -> None:
    attempts = Attempts(
        [
            [
                TextDelta("x" * 50),
                Sleep(0),
                TextDelta("y" * 50),
                Sleep(0),
                TextDelta("never read"),
                Finish("stop"),
            ],
            [TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")],
        ]
    )
    events, _ = await run(attempts, chat(choice=ToolChoice("required")), required_prose_max=60)
    assert calls(events) == [("read_file", {"path": "a"})]
    assert attempts.closed[0] and attempts.steps_taken[0] <= 3


async def test_named_choice_answered_with_another_tool_is_retried() -> None:
    attempts = Attempts(
        [
            [TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")],
            [TextDelta(call_text("write_file", {"path": "a"})), Finish("stop")],
        ]
    )
    events, _ = await run(attempts, chat(choice=ToolChoice("named", "write_file")))
    assert calls(events) == [("write_file", {"path": "a"})]
    assert "may not be called" in attempts.prompts[1].messages[-1].text


# ---------------------------------------------------------------- native


async def test_native_calls_inside_the_settle_window_are_collected_n6() -> None:
    attempts = Attempts(
        [
            [
                TextDelta("Reading both."),
                native_frame("t1", "read_file", '{"path":"a"}'),
                TextDelta(" (discarded)"),
                native_frame("t2", "read_file", '{"path":"b"}'),
                Sleep(0.5),
                native_frame("t3", "read_file", '{"path":"c"}'),
                Finish("stop"),
            ]
        ]
    )
    events, _ = await run(attempts, chat(), mode="native", settle_seconds=0.1)
    assert texts(events) == "Reading both."
    assert [args for _, args in calls(events)] == [{"path": "a"}, {"path": "b"}]
    assert attempts.closed == [True]
    assert attempts.prompts[0].mcp_tools  # native requests carry the catalog


async def test_auto_falls_back_to_emulation_on_a_400_rejection_s3a() -> None:
    rejected = upstream_errors.build_error("request", "mcp_tools not allowed")
    assert rejected.status == 400
    attempts = Attempts([[rejected], [TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")]])
    events, metrics = await run(attempts, chat(), mode="auto")
    assert calls(events) == [("read_file", {"path": "a"})]
    assert attempts.prompts[0].mcp_tools and not attempts.prompts[1].mcp_tools
    assert "<<tools:" in attempts.prompts[1].system
    assert metric(metrics, "tool_mode_fallback_total") == 1


async def test_auto_falls_back_when_upstream_asks_for_a_non_mcp_tool_s3b() -> None:
    frame = NativeToolFrame("t1", 5, "read_file", None, '{"relative_workspace_path":"a"}', False, True)
    attempts = Attempts(
        [[frame, Finish("stop")], [TextDelta(call_text("read_file", {"path": "a"})), Finish("stop")]]
    )
    events, _ = await run(attempts, chat(), mode="auto")
    assert calls(events) == [("read_file", {"path": "a"})]


async def test_native_mode_never_falls_back() -> None:
    rejected = upstream_errors.build_error("request", "mcp_tools not allowed")
    with pytest.raises(UpstreamError):
        await run(Attempts([[rejected]]), chat(), mode="native")


async def test_rate_limit_is_not_a_fallback_reason() -> None:
    limited = upstream_errors.build_error("rate", "slow down")
    with pytest.raises(UpstreamError) as caught:
        await run(Attempts([[limited]]), chat(), mode="auto")
    assert caught.value.status == 429


async def test_calls_are_validated_off_the_event_loop(monkeypatch) -> None:
    from gateway.tools.validate import CallValidator

    threads = []
    real = CallValidator.validate

    def recording(self, raw):
        threads.append(threading.current_thread())
        return real(self, raw)

    monkeypatch.setattr(CallValidator, "validate", recording)
    attempts = Attempts([[TextDelta(call_text("read_file", {"path": "a.txt"})), Finish("stop")]])
    events, _ = await run(attempts, chat())
    assert calls(events) == [("read_file", {"path": "a.txt"})]
    assert threads and threading.main_thread() not in threads
