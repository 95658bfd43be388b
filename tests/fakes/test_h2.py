"""The HTTP/2 front: h2c prior knowledge and TLS+ALPN with httpx, resets, flow control, shutdown."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import eventually
from tests.fakes import CHAT_PATH, CursorSimulator, H2Front, Scenario, SimConfig, make_tls_pair, start_h2c
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request


def h2_client(**kwargs: object) -> httpx.AsyncClient:
    client = httpx.AsyncClient(http1=False, http2=True, timeout=5.0, **kwargs)  # type: ignore[arg-type]
    del client.headers["accept-encoding"]
    return client


async def post(client: httpx.AsyncClient, url: str, text: str = "Hello") -> httpx.Response:
    body = frame_request(build_request(text))
    return await client.post(url + CHAT_PATH, content=body, headers=chat_headers())


async def test_echo_over_h2c(h2_front: H2Front, sim: CursorSimulator) -> None:
    async with h2_client() as client:
        response = await post(client, h2_front.url, "h2 ✓")
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/connect+proto"
    decoded = decode_stream(response.content)
    assert decoded.text == "\n\nYou said: h2 ✓" and decoded.end == {}
    (record,) = sim.records
    assert record.http_version == "2" and record.outcome == "completed" and record.warnings == []


async def test_streaming_read_and_byte_writes(h2_front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("echo", writes="byte"))
    body = frame_request(build_request("tiny writes"))
    chunks: list[bytes] = []
    async with (
        h2_client() as client,
        client.stream("POST", h2_front.url + CHAT_PATH, content=body, headers=chat_headers()) as r,
    ):
        async for chunk in r.aiter_raw():
            chunks.append(chunk)
    assert len(chunks) > 20
    assert decode_stream(b"".join(chunks)).text == "\n\nYou said: tiny writes"


async def test_large_frame_respects_flow_control(h2_front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("large"))
    async with h2_client() as client:
        response = await post(client, h2_front.url)
    assert len(decode_stream(response.content).text) > 4_000_000


async def test_unary_and_errors_over_h2(h2_front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("http_error", status=503))
    async with h2_client() as client:
        response = await post(client, h2_front.url)
        assert response.status_code == 503 and response.text.startswith("Service Unavailable")
        missing = await client.post(h2_front.url + "/nope", content=b"")
        assert missing.status_code == 404 and missing.json()["code"] == "unimplemented"


@pytest.mark.parametrize("at", ["before_headers", "after_headers", "mid_frame", "between_frames"])
async def test_disconnect_resets_the_stream(h2_front: H2Front, sim: CursorSimulator, at: str) -> None:
    sim.push(Scenario("disconnect", at=at))
    async with h2_client() as client:
        with pytest.raises(httpx.HTTPError):
            await post(client, h2_front.url)
        # the connection survives a stream reset
        assert (await post(client, h2_front.url)).status_code == 200
    assert sim.records[0].outcome == "aborted"


async def test_disconnect_can_drop_the_connection(h2_front: H2Front, sim: CursorSimulator) -> None:
    sim.config.h2_abort = "connection"
    sim.push(Scenario("disconnect", at="between_frames"))
    async with h2_client() as client:
        with pytest.raises(httpx.HTTPError):
            await post(client, h2_front.url)


async def test_client_reset_ends_a_stall(h2_front: H2Front, sim: CursorSimulator) -> None:
    sim.push(Scenario("stall", at="heartbeats"))
    body = frame_request(build_request())
    async with (
        h2_client() as client,
        client.stream("POST", h2_front.url + CHAT_PATH, content=body, headers=chat_headers()) as r,
    ):
        assert r.status_code == 200
        async for _ in r.aiter_raw():
            break
    assert await eventually(lambda: sim.records[-1].outcome is not None, 2.0)
    assert sim.records[-1].outcome in ("stalled", "client_gone")


async def test_concurrent_streams_on_one_connection(h2_front: H2Front, sim: CursorSimulator) -> None:
    async with h2_client() as client:
        responses = await asyncio.gather(*(post(client, h2_front.url, f"n{i}") for i in range(25)))
    assert [decode_stream(r.content).text for r in responses] == [f"\n\nYou said: n{i}" for i in range(25)]
    assert {r.http_version for r in sim.records} == {"2"}


async def test_close_aborts_open_streams() -> None:
    sim = CursorSimulator(SimConfig())
    front = await start_h2c(sim, "127.0.0.1", 0)
    sim.push(Scenario("stall", at="after_headers"))
    async with h2_client() as client:
        task = asyncio.create_task(post(client, front.url))
        assert await eventually(lambda: len(sim.records) == 1, 2.0)
        await front.close()
        with pytest.raises(httpx.HTTPError):
            await task


async def test_tls_with_alpn_h2() -> None:
    pytest.importorskip("trustme")
    sim = CursorSimulator(SimConfig())
    pair = make_tls_pair()
    front = await start_h2c(sim, "127.0.0.1", 0, ssl_context=pair.server)
    try:
        assert front.url.startswith("https://")
        async with h2_client(verify=pair.client) as client:
            response = await post(client, front.url, "secure")
        assert response.http_version == "HTTP/2"
        assert decode_stream(response.content).text == "\n\nYou said: secure"
    finally:
        await front.close()
