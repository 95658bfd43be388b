"""The SSE writer: encoding round trip, keep-alives, in-stream errors, finishing live streams."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from gateway import keys
from gateway.errors import UpstreamError
from gateway.sse import encode_event
from tests.scripted import END, Reply, text
from tests.sse_reader import parse_sse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=15,
)


@given(st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=5))
def test_events_round_trip_through_an_sse_reader(payloads):
    # Line breaks of every kind inside strings stay escaped: each event is exactly one data line.
    body = b"".join(encode_event(p) for p in payloads).decode()
    events, comments = parse_sse(body)
    assert events == payloads and comments == []


@given(st.text())
def test_one_event_is_one_line(value):
    encoded = encode_event({"content": value})
    assert encoded.count(b"\n") == 2 and encoded.endswith(b"\n\n") and b"\r" not in encoded


CHAT = "/v1/chat/completions"
ASK = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]}


async def test_finish_ends_late_streams_in_band_and_spares_finished_ones(gateway):
    gate = asyncio.Event()
    client, _ = await gateway(Reply([text("one"), gate, text("never"), END]))
    response = await client.post(CHAT, json=ASK)
    await response.content.readany()
    live = client.app[keys.LIVE_STREAMS]
    assert len(live) == 1
    await live.finish(0.05, UpstreamError("stopping", code="gateway_shutting_down"))
    events, _ = parse_sse(await asyncio.wait_for(response.text(), 5))
    assert events[-2]["error"]["code"] == "gateway_shutting_down" and events[-1] == "[DONE]"
    assert "never" not in str(events)
    assert len(live) == 0


async def test_finish_waits_for_streams_that_end_within_the_grace(gateway):
    client, _ = await gateway(Reply([text("one"), 0.05, text("two"), END]))
    response = await client.post(CHAT, json=ASK)
    await response.content.readany()
    await client.app[keys.LIVE_STREAMS].finish(5, UpstreamError("stopping", code="gateway_shutting_down"))
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and "error" not in str(events)


async def test_keepalives_repeat_while_silent(gateway, make_settings):
    client, _ = await gateway(Reply([0.35, text("late"), END]), settings=make_settings(keepalive_seconds=0.1))
    _, comments = parse_sse(await (await client.post(CHAT, json=ASK)).text())
    assert comments.count("keep-alive") >= 2
