"""GET /metrics and the overhead header."""

from __future__ import annotations

import re

from tests.scripted import END, Reply, reply, text

CHAT = "/v1/chat/completions"
ASK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


async def test_metrics_count_requests_errors_and_timings(gateway):
    client, _ = await gateway(reply("a"), reply("b"))
    assert (await client.post(CHAT, json=ASK)).status == 200
    assert (await client.post(CHAT, json={**ASK, "stream": True})).status == 200
    assert (await client.post(CHAT, json={**ASK, "model": "nope"})).status == 400
    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert sample(text, 'cursor2api_requests_total{endpoint="chat_completions",status="200"}') == 2
    assert sample(text, 'cursor2api_requests_total{endpoint="chat_completions",status="400"}') == 1
    assert sample(text, 'cursor2api_errors_total{code="model_not_found"}') == 1
    assert sample(text, "cursor2api_ttft_seconds_count") == 2
    assert sample(text, "cursor2api_overhead_seconds_count") == 2
    assert sample(text, "cursor2api_tokens") == 1
    assert sample(text, "cursor2api_active_streams") == 0


async def test_overhead_header_on_both_kinds_of_answer(gateway):
    client, _ = await gateway(reply("a"), reply("b"))
    for stream in (False, True):
        response = await client.post(CHAT, json={**ASK, "stream": stream})
        await response.read()
        overhead = float(response.headers["X-Gateway-Overhead-Ms"])
        assert 0 <= overhead < 1000


async def test_metrics_need_a_key(gateway):
    client, _ = await gateway()
    assert (await client.get("/metrics", headers={"Authorization": ""})).status == 401


async def test_a_stream_committed_by_a_keep_alive_reports_its_overhead_in_the_metrics(gateway, make_settings):
    """Its headers went out before the answer, so the header cannot carry the overhead (README)."""
    client, _ = await gateway(Reply([1.5, text("late"), END]), settings=make_settings(keepalive_seconds=1))
    response = await client.post(CHAT, json={**ASK, "stream": True})
    raw = await response.text()
    assert raw.startswith(": keep-alive") and "X-Gateway-Overhead-Ms" not in response.headers
    text_ = await (await client.get("/metrics")).text()
    assert sample(text_, "cursor2api_overhead_seconds_count") == 1
