"""The SSE writer: keep-alives, in-stream errors, finishing live streams."""

from __future__ import annotations

import asyncio

from gateway import keys
from gateway.errors import UpstreamError
from tests.scripted import END, Reply, text
from tests.sse_reader import parse_sse

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
