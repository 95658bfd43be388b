"""RequestRecord: what handler, service and middleware put in one log row."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.errors import UpstreamError
from gateway.neutral.model import ChatRequest, Finish, Message, TextDelta, Timing, Usage
from gateway.reqlog.record import (
    RequestRecord,
    activate,
    conversation_text,
    current_record,
    deactivate,
)
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import new_identity
from tests.conftest import fake_jwt


def chat_of(*texts: str, system: str = "") -> ChatRequest:
    model = resolve("claude-3.5-sonnet")
    messages = tuple(Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    return ChatRequest(model=model, system=system, messages=messages, stream=False)


@given(st.lists(st.text(max_size=50), min_size=1, max_size=5), st.integers(0, 120))
def test_conversation_text_is_capped_and_keeps_the_end(texts, cap):
    full = conversation_text(chat_of(*texts), 10**9)
    capped = conversation_text(chat_of(*texts), cap)
    assert len(capped) <= max(cap, 0)
    if len(full) <= cap:
        assert capped == full
    elif cap > 1:
        assert capped.startswith("…") and full.endswith(capped[1:])


def test_prompt_only_when_enabled_and_tokens_masked():
    secret = fake_jwt()
    chat = chat_of(f"use {secret}", system="be brief")
    off = RequestRecord("r", "chat_completions", 0.0, 0.0)
    off.follow(Timing(0.0), chat)
    assert off.prompt is None
    on = RequestRecord("r", "chat_completions", 0.0, 0.0, log_prompts=True, prompt_cap=1000)
    on.follow(Timing(0.0), chat)
    assert on.prompt.startswith("system: be brief\nuser: use ") and secret not in on.prompt


def test_token_error_usage_timing_and_finish():
    jwt = fake_jwt()
    record = RequestRecord("r", "chat_completions", 0.0, 10.0)
    record.use_token(TokenEntry("a", jwt, jwt, new_identity()))
    record.use_token(TokenEntry("b", jwt, jwt, new_identity()))
    assert (
        record.attempts == 2
        and record.token_alias == "b"
        and jwt
        not in repr({k: getattr(record, k) for k in ("token_masked", "checksum_masked", "token_fingerprint")})
    )
    timing = Timing(10.0)
    timing.first_output = 10.25
    record.follow(timing)
    record.add_usage(Usage(3, 4))
    record.fail(UpstreamError(f"bad {jwt}", code="upstream_error"))
    record.finish(502, now=11.0)
    assert record.latency_ms == 1000.0 and record.ttft_ms == 250.0 and record.total_tokens == 7
    assert record.error.startswith("upstream_error: bad ") and jwt not in record.error
    assert not record.succeeded


def test_client_gone_is_an_error():
    record = RequestRecord("r", "chat_completions", 0.0, 0.0)
    record.finish(499, now=1.0)
    assert record.error.startswith("client_closed_request")


async def test_watch_keeps_usage_and_closes_the_source():
    closed = []

    async def source():
        try:
            yield TextDelta("a")
            yield Usage(1, 2)
            yield Finish("stop")
        finally:
            closed.append(True)

    record = RequestRecord("r", "chat_completions", 0.0, 0.0)
    events = record.watch(source())
    assert isinstance(await anext(events), TextDelta)
    assert isinstance(await anext(events), Usage)
    await events.aclose()
    assert closed == [True] and record.total_tokens == 3


async def test_current_record_is_per_task():
    record = RequestRecord("r", "chat_completions", 0.0, 0.0)
    token = activate(record)
    try:
        assert current_record() is record
        other = await asyncio.create_task(_current_in_fresh_context())
        assert other is None
    finally:
        deactivate(token)
    assert current_record() is None


async def _current_in_fresh_context():
    import contextvars

    return contextvars.Context().run(current_record)


def test_the_row_names_the_upstream_rpc_its_timing_names():
    record = RequestRecord("r1", "chat_completions", 0.0, 0.0)
    assert record.upstream_rpc is None  # no upstream call yet
    timing = Timing(0.0)
    record.follow(timing)
    timing.upstream_rpc = "chat"
    timing.upstream_rpc = "agent"  # a switch: the last RPC tried is the one named
    assert record.upstream_rpc == "agent"
