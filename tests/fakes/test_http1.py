"""The HTTP/1.1 front over real sockets: streaming, aborts, stalls, shutdown, control API."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.fakes import CHAT_PATH, CursorSimulator, Scenario, SimConfig, start_http
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request

Client = TestClient[web.Request, web.Application]


async def post_chat(client: Client, text: str = "Hello", **kwargs: object) -> tuple[int, bytes]:
    body = frame_request(build_request(text, **kwargs))  # type: ignore[arg-type]
    async with client.post(
        CHAT_PATH, data=body, headers=chat_headers(), skip_auto_headers=["Accept-Encoding"]
    ) as r:
        return r.status, await r.read()


async def test_echo_over_http1(client: Client, sim: CursorSimulator) -> None:
    status, data = await post_chat(client, "Grüße 👋")
    assert status == 200
    decoded = decode_stream(data)
    assert decoded.text == "\n\nYou said: Grüße 👋"
    assert decoded.end == {}
    (record,) = sim.records
    assert record.http_version == "1.1" and record.outcome == "completed"
    assert record.warnings == []


async def test_response_headers(client: Client) -> None:
    body = frame_request(build_request())
    async with client.post(
        CHAT_PATH, data=body, headers=chat_headers(), skip_auto_headers=["Accept-Encoding"]
    ) as r:
        assert r.headers["content-type"] == "application/connect+proto"
        await r.read()


@pytest.mark.parametrize("writes", ["byte", "split_mid", "coalesce"])
async def test_write_boundaries_over_the_wire(client: Client, sim: CursorSimulator, writes: str) -> None:
    sim.push(Scenario("echo", writes=writes))
    _, data = await post_chat(client, "boundaries")
    assert decode_stream(data).text == "\n\nYou said: boundaries"


async def test_http_error_scenario(client: Client, sim: CursorSimulator) -> None:
    sim.push(Scenario("http_error", status=429, retry_after=7))
    async with client.post(CHAT_PATH, data=frame_request(build_request()), headers=chat_headers()) as r:
        assert r.status == 429 and r.headers["retry-after"] == "7"


async def test_large_frame(client: Client, sim: CursorSimulator) -> None:
    sim.push(Scenario("large"))
    status, data = await post_chat(client)
    assert status == 200 and len(decode_stream(data).text) > 4_000_000


@pytest.mark.parametrize("at", ["before_headers", "after_headers", "mid_frame", "between_frames"])
async def test_disconnect_really_aborts(client: Client, sim: CursorSimulator, at: str) -> None:
    sim.push(Scenario("disconnect", at=at))
    body = frame_request(build_request())
    with pytest.raises(aiohttp.ClientError):
        async with client.post(CHAT_PATH, data=body, headers=chat_headers()) as r:
            await r.read()
    assert await eventually(lambda: sim.records[-1].outcome is not None, 2.0)
    assert sim.records[-1].outcome == "aborted"


async def test_stall_then_client_gives_up(client: Client, sim: CursorSimulator) -> None:
    sim.push(Scenario("stall", at="after_content"))
    body = frame_request(build_request())
    async with client.post(CHAT_PATH, data=body, headers=chat_headers()) as r:
        assert r.status == 200
        got = await r.content.read(5)
        assert got
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await r.read()
        r.close()
    assert await eventually(lambda: sim.records[-1].outcome is not None, 2.0)
    assert sim.records[-1].outcome in ("stalled", "client_gone")


async def test_shutdown_aborts_open_streams() -> None:
    sim = CursorSimulator(SimConfig())
    front = await start_http(sim, "127.0.0.1", 0)
    sim.push(Scenario("stall", at="heartbeats"), Scenario("stall", at="before_headers"))
    body = frame_request(build_request())
    async with aiohttp.ClientSession() as session:

        async def one() -> BaseException | None:
            try:
                async with session.post(front.url + CHAT_PATH, data=body, headers=chat_headers()) as r:
                    await r.read()
            except aiohttp.ClientError as exc:
                return exc
            return None

        tasks = [asyncio.create_task(one()) for _ in range(2)]
        assert await eventually(lambda: len(sim.records) == 2, 2.0)
        await asyncio.sleep(0.05)
        async with asyncio.timeout(5):
            await front.close()
            results = await asyncio.gather(*tasks)
    assert all(isinstance(result, aiohttp.ClientError) for result in results)


async def test_concurrent_streams(client: Client, sim: CursorSimulator) -> None:
    results = await asyncio.gather(*(post_chat(client, f"message {i}") for i in range(20)))
    assert [decode_stream(data).text for _, data in results] == [
        f"\n\nYou said: message {i}" for i in range(20)
    ]
    assert len(sim.records) == 20


async def test_pacing_is_applied(client: Client, sim: CursorSimulator) -> None:
    sim.push(Scenario("echo", pace=0.02))
    loop = asyncio.get_running_loop()
    start = loop.time()
    await post_chat(client, "slow")
    assert loop.time() - start >= 0.06  # five text frames, four 20 ms pauses


async def test_unknown_path_is_unimplemented(client: Client) -> None:
    async with client.post("/aiserver.v1.AgentService/Run", data=b"") as r:
        assert r.status == 404
        assert (await r.json())["code"] == "unimplemented"


async def test_require_http2_mode(client: Client, sim: CursorSimulator) -> None:
    sim.config.require_http2 = True
    status, _ = await post_chat(client)
    assert status == 505


# ---------------------------------------------------------------- control API


async def test_control_api(client: Client, sim: CursorSimulator) -> None:
    async with client.post("/__sim/scenarios", json=[{"name": "error", "error": 50}, {"name": "empty"}]) as r:
        assert (await r.json()) == {"queued": 2}
    _, first = await post_chat(client)
    _, second = await post_chat(client)
    assert decode_stream(first).end["error"]["code"] == "resource_exhausted"  # type: ignore[index]
    assert decode_stream(second).end == {}
    async with client.post(
        "/__sim/tokens",
        json={"key": "user_01JABCDEFGHJKMNPQRSTVWXYZ0", "scenarios": [{"name": "text", "text": "tok"}]},
    ) as r:
        assert r.status == 200
    _, third = await post_chat(client)
    assert decode_stream(third).text == "tok"
    async with client.get("/__sim/records") as r:
        records = await r.json()
    assert [rec["scenario_source"] for rec in records] == ["queue", "queue", "token"]
    assert records[0]["http_version"] == "1.1" and records[0]["checksum"]["k"] == 1_700_000
    assert "authorization" not in records[0]["headers"]
    async with client.patch("/__sim/config", json={"check_checksum": False, "pace_s": 0}) as r:
        assert (await r.json())["check_checksum"] is False
    assert sim.config.check_checksum is False
    async with client.patch("/__sim/config", json={"models": []}) as r:
        assert r.status == 400
    async with client.post("/__sim/scenarios", json={"name": "bogus"}) as r:
        assert r.status == 400
    async with client.post("/__sim/reset") as r:
        assert r.status == 200
    assert sim.records == []
