"""One client turn with tools: attempts, retries, the native-to-emulated fallback (tool-calls.md §7).

`ToolTurn.events()` runs upstream attempts through `attempt` (one lease + one upstream call),
turns their output into verdicts with the parser (emulation) or the native assembler, validates
each call, and decides what the client sees:

- no tool required (T9): text and thinking stream live, valid calls as they complete; after an
  INVALID attempt a corrective retry contributes its calls only;
- a tool required (T8, also `KILO_TOOL_STRICT`): nothing of an attempt is shown before its first
  valid call; until then the SSE layer sends keep-alives. Only a successful attempt is visible;
  if all fail, the first attempt is delivered.

Usage is the sum of all attempts (T12). Closing the generator closes the running attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.neutral.model import (
    ChatRequest,
    Event,
    Finish,
    FinishReason,
    Prompt,
    TextDelta,
    ThinkingDelta,
    Timing,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    estimate_tokens,
)
from gateway.neutral.toolcalls import (
    InvalidCall,
    NativeToolFrame,
    RawCall,
    Terminate,
    Text,
    Thinking,
    Truncated,
    ValidCall,
)
from gateway.tools import encode, grammar
from gateway.tools.native import NativeCallAssembler, NonMcpTool
from gateway.tools.parser import CallParser
from gateway.tools.policy import AttemptRecord, effective_choice, tool_required
from gateway.tools.validate import CallValidator, new_call_id, reason_text

log = logging.getLogger(__name__)

ToolMode = Literal["auto", "native", "emulate"]
Item = Text | Thinking | ValidCall | InvalidCall
T = TypeVar("T")
AttemptFn = Callable[[ChatRequest, Prompt, Timing | None], AsyncGenerator[object, None]]


@dataclass(frozen=True, slots=True)
class ToolOptions:
    """The tool settings of §11, parsed."""

    mode: ToolMode = "auto"
    kilo_strict: bool = False
    retry_max: int = 1
    required_prose_max: int = 4000
    call_max_bytes: int = 8 * 1024 * 1024
    nonce_scope: Literal["conversation", "request"] = "conversation"
    nonce_secret: bytes = b""
    settle_seconds: float = 0.25


class _Fallback(Exception):
    """The native attempt asks to be redone in emulation (S3)."""


class ToolTurn:
    def __init__(
        self,
        attempt: AttemptFn,
        chat: ChatRequest,
        options: ToolOptions,
        timing: Timing | None = None,
        *,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._attempt_fn = attempt
        self._chat = chat
        self._options = options
        self._timing = timing
        self._metrics = metrics
        self._rng = rng
        self._choice = effective_choice(chat, kilo_strict=options.kilo_strict)
        self._required = tool_required(self._choice)
        self._validator = CallValidator(chat.tools, self._choice)
        if options.nonce_scope == "request" or not options.nonce_secret:
            nonce = grammar.random_nonce()
        else:
            nonce = grammar.conversation_nonce(options.nonce_secret, encode.anchor(chat))
        self._delimiters = grammar.Delimiters(nonce)
        # Composer models write tool calls as text, never as tool-call frames: always emulate.
        self._native = options.mode != "emulate" and not chat.model.composer
        self._may_fall_back = self._native and options.mode == "auto"
        self._prompt_chars = 0
        self._completion_chars = 0
        self._thinking_chars = 0
        self._index = 0

    # ------------------------------------------------------------ prompts

    def base_prompt(self) -> Prompt:
        """The first attempt's prompt (native, or emulated per TOOL_MODE)."""
        if self._native:
            return encode.native_prompt(self._chat, self._choice)
        return encode.emulated_prompt(self._chat, self._delimiters, self._choice, thinking=False)

    def _retry_prompt(self, base: Prompt, record: AttemptRecord) -> Prompt:
        d = None if self._native else self._delimiters
        if record.invalid:
            lines = [
                grammar.invalid_reason_line(
                    k,
                    reason_text(
                        call, self._validator.names, self._delimiters.nonce, self._options.call_max_bytes
                    ),
                )
                for k, call in enumerate(record.invalid, start=1)
            ]
            sentences = grammar.invalid_note_sentences(lines)
            reason = "invalid"
        else:
            sentences = grammar.miss_note_sentences(self._choice)
            reason = "miss"
        if self._metrics is not None:
            self._metrics.tool_retries.labels(reason=reason).inc()
        failed = "".join(record.written)
        if d is not None:
            failed = d.neutralise(failed)
        return encode.with_retry(base, failed, grammar.corrective_note(d, sentences))

    # ------------------------------------------------------------ one attempt

    async def _validate(self, raw: RawCall) -> ValidCall | InvalidCall:
        """Validate a call in a worker thread: a large body or a slow schema never holds the event loop
        (the schema check has its own time budget, `client_schema.time_budget`)."""
        return await asyncio.to_thread(self._validator.validate, raw)

    async def _items(self, prompt: Prompt, record: AttemptRecord) -> AsyncGenerator[Item, None]:
        """The verdict stream of one upstream attempt; returning early closes the upstream call."""
        self._prompt_chars += prompt.chars
        names = [t.name for t in self._chat.tools]
        assembler = NativeCallAssembler(names, max_bytes=self._options.call_max_bytes)
        parser = (
            None
            if self._native
            else CallParser(
                self._delimiters,
                calls=True,
                thinking=False,
                max_call_bytes=self._options.call_max_bytes,
            )
        )
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        calls_seen = 0
        upstream = self._attempt_fn(self._chat, prompt, self._timing)
        async with contextlib.aclosing(upstream):
            while True:
                try:
                    event = await next_before(upstream, deadline)
                    if event is None:
                        return
                except UpstreamError:
                    decided = calls_seen > 0 and (parser is None or parser.decided)
                    if decided:  # P14, X5: the turn was already decided
                        return
                    raise
                if isinstance(event, TextDelta):
                    self._completion_chars += len(event.text)
                    if parser is None:
                        if calls_seen == 0:  # N6: text after a call is discarded
                            record.written.append(event.text)
                            yield Text(event.text)
                        continue
                    stop = False
                    for parsed in parser.feed(event.text):
                        if isinstance(parsed, Terminate):
                            stop = True
                            break
                        if isinstance(parsed, Truncated):
                            record.truncated = True
                            stop = True
                            break
                        if isinstance(parsed, RawCall):
                            calls_seen += 1
                            record.written.append(parsed.written)
                            yield await self._validate(parsed)
                        else:
                            if isinstance(parsed, Text):
                                record.written.append(parsed.text)
                            yield parsed
                    if stop:
                        return
                elif isinstance(event, ThinkingDelta):
                    self._completion_chars += len(event.text)
                    self._thinking_chars += len(event.text)
                    if calls_seen == 0:  # K5: thinking never follows a call
                        yield Thinking(event.text)
                elif isinstance(event, NativeToolFrame):
                    self._completion_chars += len(event.raw_args) if event.is_last_message else 0
                    try:
                        raw = assembler.feed(event)
                    except NonMcpTool as exc:
                        if self._native and self._may_fall_back and calls_seen == 0:
                            raise _Fallback(str(exc)) from exc
                        log.warning("upstream asked for a non-MCP tool (%s); ending the turn", exc)
                        return
                    if raw is None:
                        if self._native and calls_seen:
                            deadline = None  # a call in progress extends the settle window
                        continue
                    calls_seen += 1
                    yield await self._validate(raw)
                    if self._native:
                        deadline = loop.time() + self._options.settle_seconds
                elif isinstance(event, Finish):
                    if parser is not None:
                        for parsed in parser.end(clean=True):
                            if isinstance(parsed, Truncated):
                                record.truncated = True
                            elif isinstance(parsed, RawCall):
                                calls_seen += 1
                                record.written.append(parsed.written)
                                yield await self._validate(parsed)
                            elif isinstance(parsed, Text | Thinking):
                                if isinstance(parsed, Text):
                                    record.written.append(parsed.text)
                                yield parsed
                    return

    # ------------------------------------------------------------ the turn

    def _call_events(self, call: ValidCall | InvalidCall) -> list[Event]:
        name = call.name
        arguments = call.arguments
        assert name is not None and arguments is not None
        index = self._index
        self._index += 1
        self._completion_chars += len(arguments)
        if self._metrics is not None:
            outcome = "emitted"
            if isinstance(call, ValidCall):
                outcome = "coerced" if call.coerced else "repaired" if call.repaired else "emitted"
            self._metrics.tool_calls.labels(
                source="native" if self._native else "emulated", outcome=outcome
            ).inc()
        call_id = new_call_id(self._rng)
        return [
            ToolCallStart(index, call_id, name),
            ToolCallArgs(index, arguments),
            ToolCallEnd(index, arguments),
        ]

    def _drop(self, call: InvalidCall) -> None:
        log.info("dropping an invalid tool call: %s", ", ".join(kind for kind, _ in call.reasons))
        if self._metrics is not None:
            for kind, _ in call.reasons:
                self._metrics.tool_invalid.labels(reason=kind).inc()
            self._metrics.tool_calls.labels(
                source="native" if self._native else "emulated", outcome="dropped"
            ).inc()

    def _salvage(self, call: InvalidCall) -> bool:
        """V14: after retries, a schema-only failure of a non-strict tool is emitted as it stands."""
        if not call.schema_only:
            return False
        return not any(t.name == call.name and t.strict for t in self._chat.tools)

    async def events(self) -> AsyncGenerator[Event, None]:
        base = self.base_prompt()
        prompt = base
        attempts_allowed = 1 + self._options.retry_max
        attempt = 0
        first: AttemptRecord | None = None
        first_held: list[Event] = []
        shown = False  # text or thinking reached the client
        calls_only = False
        record = AttemptRecord()
        while True:
            attempt += 1
            record = AttemptRecord()
            last = attempt >= attempts_allowed
            hold = self._required
            held: list[Event] = []
            fallback: str | None = None
            try:
                items = self._items(prompt, record)
                async with contextlib.aclosing(items):
                    async for item in items:
                        if isinstance(item, Text | Thinking):
                            if self._index or calls_only:
                                continue
                            event: Event
                            if isinstance(item, Text):
                                record.text.append(item.text)
                                record.text_chars += len(item.text)
                                event = TextDelta(item.text)
                            else:
                                record.thinking.append(item.text)
                                record.thinking_chars += len(item.text)
                                event = ThinkingDelta(item.text)
                            if hold:
                                held.append(event)
                                prose_max = self._options.required_prose_max
                                if not last and prose_max and record.text_chars > prose_max:
                                    record.cut = True  # T5
                                    break
                            else:
                                shown = True
                                yield event
                        elif isinstance(item, ValidCall):
                            record.valid.append(item)
                            if hold:  # T8: the decisive point
                                hold = False
                                for event in held:
                                    shown = True
                                    yield event
                                held.clear()
                            for event in self._call_events(item):
                                yield event
                            if not self._chat.parallel_tool_calls:  # T4
                                break
                        elif self._index:
                            self._drop(item)  # T10
                        else:
                            record.invalid.append(item)
            except _Fallback as exc:
                fallback = str(exc)
            except UpstreamError as exc:
                if not (
                    self._native
                    and self._may_fall_back
                    and exc.status == 400
                    and not shown
                    and not self._index
                ):
                    raise
                fallback = exc.message
            if fallback is not None:  # S3: one emulated attempt of the same request
                log.info("native tool attempt failed before any output (%s); retrying in emulation", fallback)
                if self._metrics is not None:
                    self._metrics.tool_mode_fallback.inc()
                self._native = False
                self._may_fall_back = False
                base = prompt = self.base_prompt()
                attempt -= 1
                continue
            outcome = record.outcome(self._required)
            if first is None:
                first, first_held = record, held
            if outcome == "ok" or self._index:
                break
            if outcome == "truncated" or last:
                break
            if outcome == "invalid" and not self._required and self._choice.mode != "none":
                calls_only = True  # T9 (under `none` the retry is for text, since no call can be used)
            prompt = self._retry_prompt(base, record)
        async for event in self._finish(record, first, first_held, shown):
            yield event

    async def _finish(
        self, record: AttemptRecord, first: AttemptRecord | None, first_held: list[Event], shown: bool
    ) -> AsyncGenerator[Event, None]:
        reason: FinishReason = "stop"
        if not self._index and first is not None:
            # Every attempt failed: deliver the first one (T8, T9), salvaging per V14.
            if first_held:
                for event in first_held:
                    shown = True
                    yield event
            for call in first.invalid:
                if self._salvage(call):
                    for event in self._call_events(call):
                        yield event
                else:
                    self._drop(call)
            if not self._index and first.truncated and not first.cut:
                reason = "length"
        if self._index:
            reason = "tool_calls"
            if record.truncated and self._metrics is not None:
                self._metrics.tool_truncated.inc()
        if not self._index and not shown:
            if first is not None and first.invalid:
                raise UpstreamError(
                    "The model's tool calls could not be used and it wrote nothing else.",
                    code="invalid_tool_call",
                )
            if reason != "length":
                raise UpstreamError(
                    "Cursor ended the stream without any content", code="upstream_empty_response"
                )
        reasoning = estimate_tokens(self._thinking_chars)
        yield Usage(
            prompt_tokens=estimate_tokens(self._prompt_chars),
            completion_tokens=estimate_tokens(self._completion_chars),
            reasoning_tokens=reasoning,
        )
        yield Finish(reason)


async def next_before(iterator: AsyncIterator[T], deadline: float | None) -> T | None:
    """The next item of `iterator`; None at its end, or once the loop time `deadline` has passed
    (the pending step of the iterator is then cancelled)."""
    try:
        if deadline is None:
            return await anext(iterator)
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        return await asyncio.wait_for(anext(iterator), remaining)
    except (StopAsyncIteration, TimeoutError):
        return None


def tool_layer_active(chat: ChatRequest) -> bool:
    """S1: the tool layer is inert without tools and without tool history."""
    return bool(chat.tools) or chat.has_tool_history
