"""Meeting Cursor's moving minimum client version, end to end against the simulator.

The simulator refuses versions below `min_client_version` the way the live service does (the
error-28 "Update Required" trailer, or a plain HTTP 400) and serves Cursor's update feed. The
gateway must learn the feed's version and send a refused request again with it (`ChatService`
with `ClientOutdated`), keep the last version it learnt across feed failures and restarts, and
never replace a fixed version.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.upstream import version as version_module
from gateway.upstream.version import SAVE_FILE, ClientVersion, VersionStore
from tests.conftest import API_KEY, MODEL, eventually, fixed_pool
from tests.fakes import CursorSimulator, SimConfig, make_jwt
from tests.fakes import create_app as create_sim_app
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
BUILT_IN = "3.20.14"
VARIANTS = [pytest.param("update_required", id="trailer-28"), pytest.param("http_400", id="http-400")]


def ask(stream: bool = False, text: str = "Hello there") -> dict[str, object]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": text}]}


@pytest.fixture(autouse=True)
def no_feed_gap(monkeypatch):
    """In production the floor moves hours after the last feed read; here it moves milliseconds
    later, so the one-read-a-minute limit would hide the read a refusal asks for."""
    monkeypatch.setattr(version_module, "MIN_FEED_GAP", 0.0)


def announced(sim) -> list[str]:
    """The client version of every chat request the simulator saw (its header). The simulator
    decodes the body of the requests it accepts: there the body's version is the header's."""
    for record in sim.chat_records:
        if record.chat is not None:
            assert (
                record.chat.environment_info.cursor_version.decode()
                == record.headers["x-cursor-client-version"]
            )
    return [record.headers["x-cursor-client-version"] for record in sim.chat_records]


@pytest.fixture
async def versioned(aiohttp_server, aiohttp_client, make_settings):
    """Start the simulator and the gateway; wait until the start-up feed read is done.

    Returns a starter `(config, **settings) -> (client, sim, versions)`; calling it again with the
    same simulator is a restart of the gateway (same DATA_DIR)."""
    servers: dict[int, str] = {}

    async def start(config: SimConfig | CursorSimulator, **overrides):
        sim = config if isinstance(config, CursorSimulator) else CursorSimulator(config)
        if id(sim) not in servers:
            server = await aiohttp_server(create_sim_app(sim))
            servers[id(sim)] = str(server.make_url("")).rstrip("/")
        # ChatService alone: under UPSTREAM_RPC=auto a final refusal goes on to AgentService
        # (tests/test_upstream_rpc.py)
        overrides.setdefault("upstream_rpc", "chat")
        settings = make_settings(cursor_base_url=servers[id(sim)], upstream_http_version="1.1", **overrides)
        app = create_app(settings, pool=fixed_pool(make_jwt()))
        client = await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
        versions = app[keys.CLIENT_VERSION]
        if versions.auto:
            assert await eventually(lambda: versions.last_read is not None)
        return client, sim, versions

    return start


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_a_raised_floor_is_met_with_the_feed_version_without_a_restart(versioned, variant, stream):
    sim = CursorSimulator(
        SimConfig(min_client_version="3.21.0", outdated_variant=variant, feed_version=BUILT_IN)
    )
    client, sim, versions = await versioned(sim)
    assert versions.current == ClientVersion(BUILT_IN, "feed")  # the feed had nothing newer at start-up
    sim.config.feed_version = "3.21.4"  # Cursor ships a release; its minimum is already above ours
    response = await client.post(CHAT, json=ask(stream))
    assert response.status == 200
    if stream:
        events, _ = parse_sse(await response.text())
        assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
        assert "Hello there" in "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    else:
        assert "Hello there" in (await response.json())["choices"][0]["message"]["content"]
    # Refused as 3.20.14, sent again as 3.21.4: the header and the body always agree.
    assert announced(sim) == [BUILT_IN, "3.21.4"]
    assert [r.rejection for r in sim.chat_records] == ["client_outdated", None]
    assert len(sim.feed_records) == 2  # the start-up read and the one the refusal asked for
    assert versions.current == ClientVersion("3.21.4", "feed")
    [token] = client.server.app[keys.POOL].snapshot()
    assert (token.state, token.errors) == ("active", 0)  # not the token's fault
    # The next request goes out as 3.21.4 at once.
    assert (await client.post(CHAT, json=ask())).status == 200
    assert announced(sim)[-1] == "3.21.4" and len(sim.feed_records) == 2


async def test_the_learnt_version_is_kept_across_feed_failures_and_restarts(versioned, tmp_path):
    sim = CursorSimulator(SimConfig(min_client_version="3.21.0", feed_version="3.21.4"))
    client, sim, versions = await versioned(sim)
    assert versions.current == ClientVersion("3.21.4", "feed")  # learnt at start-up, in the background
    saved = VersionStore(tmp_path / "data" / SAVE_FILE)
    assert saved.read(str(client.server.app[keys.SETTINGS].cursor_base_url), "ide") == "3.21.4"
    # The feed goes down: the version in use stays.
    sim.config.feed_update = sim.config.feed_download = "down"
    await versions.refresh()
    assert versions.last_read.error is not None and versions.current == ClientVersion("3.21.4", "feed")
    assert (await client.post(CHAT, json=ask())).status == 200
    # A restart with the feed still down starts from the saved version, not the built-in one.
    await client.close()
    client, sim, versions = await versioned(sim)
    assert versions.current == ClientVersion("3.21.4", "saved")
    assert (await client.post(CHAT, json=ask())).status == 200
    assert announced(sim) == ["3.21.4", "3.21.4"]
    assert all(r.rejection is None for r in sim.chat_records)


async def test_a_fixed_version_is_never_replaced_and_gets_a_clear_error(versioned):
    sim = CursorSimulator(SimConfig(min_client_version="3.21.0", feed_version="3.21.4"))
    client, sim, versions = await versioned(sim, cursor_client_version="3.20.14")
    for stream in (False, True):
        response = await client.post(CHAT, json=ask(stream))
        assert response.status == 502
        error = (await response.json())["error"]
        assert (error["type"], error["code"]) == ("server_error", "upstream_client_outdated")
        assert "3.20.14 (set by CURSOR_CLIENT_VERSION)" in error["message"]
        assert "Update Required" in error["message"]  # what Cursor said
    assert sim.feed_records == [] and versions.current == ClientVersion("3.20.14", "fixed")
    assert announced(sim) == ["3.20.14", "3.20.14"]  # one attempt each


async def test_still_refused_after_learning_says_what_was_tried(versioned):
    sim = CursorSimulator(SimConfig(min_client_version="3.30.0", feed_version=BUILT_IN))
    client, sim, _ = await versioned(sim)
    sim.config.feed_version = "3.21.4"
    response = await client.post(CHAT, json=ask())
    assert response.status == 502
    error = (await response.json())["error"]
    assert error["code"] == "upstream_client_outdated"
    assert "3.20.14, then 3.21.4" in error["message"] and "feed offers 3.21.4" in error["message"]
    assert "CURSOR_CLIENT_VERSION" in error["message"]
    assert announced(sim) == [BUILT_IN, "3.21.4"]  # retried once only


async def test_nothing_newer_on_the_feed_means_no_retry(versioned):
    sim = CursorSimulator(
        SimConfig(min_client_version="3.30.0", outdated_variant="http_400", feed_version=BUILT_IN)
    )
    client, sim, _ = await versioned(sim)
    response = await client.post(CHAT, json=ask())
    assert response.status == 502
    error = (await response.json())["error"]
    assert error["code"] == "upstream_client_outdated"
    assert "nothing newer than 3.20.14" in error["message"]
    assert "Update Required for Composer 2" in error["message"]
    assert len(sim.chat_records) == 1 and len(sim.feed_records) == 2


async def test_concurrent_refusals_read_the_feed_once(versioned):
    sim = CursorSimulator(SimConfig(min_client_version="3.21.0", feed_version=BUILT_IN))
    client, sim, versions = await versioned(sim)
    sim.config.feed_version = "3.21.4"
    responses = await asyncio.gather(*(client.post(CHAT, json=ask(text=f"q{n}")) for n in range(20)))
    assert [r.status for r in responses] == [200] * 20
    assert len(sim.feed_records) == 2  # start-up, then one read shared by every refusal
    refused = [version for version, r in zip(announced(sim), sim.chat_records, strict=True) if r.rejection]
    assert refused and set(refused) == {BUILT_IN}
    assert versions.current.version == "3.21.4"


async def test_the_version_and_its_source_are_visible(versioned):
    sim = CursorSimulator(SimConfig(feed_version="3.21.4"))
    client, _, _ = await versioned(sim)
    page = await (await client.get("/")).text()
    assert '<code id="client-version">3.21.4</code>' in page and "from Cursor&#39;s update feed" in page
    metrics = (await (await client.get("/metrics")).text()).splitlines()
    assert 'cursor2api_client_version_info{product="ide",source="feed",version="3.21.4"} 1.0' in metrics
    fixed, _, _ = await versioned(CursorSimulator(SimConfig()), cursor_client_version="3.19.7")
    page = await (await fixed.get("/")).text()
    assert '<code id="client-version">3.19.7</code>' in page and "set by CURSOR_CLIENT_VERSION" in page
    assert 'cursor2api_client_version_info{product="ide",source="fixed",version="3.19.7"} 1.0' in (
        (await (await fixed.get("/metrics")).text()).splitlines()
    )
