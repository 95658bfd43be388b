"""The client version source: strict parsing, the update feed, the saved file, learning and healing."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.transport import AiohttpTransport, Timeouts
from gateway.upstream.transport_h2 import H2Transport
from gateway.upstream.version import (
    IDE,
    MAX_SAVED_ORIGINS,
    MIN_FEED_GAP,
    SAVE_FILE,
    ClientVersion,
    FeedError,
    Product,
    UpdateFeed,
    VersionSource,
    VersionStore,
    parse_download_answer,
    parse_ide_version,
    parse_update_answer,
)
from tests.fakes import CursorSimulator, SimConfig, start_h2c
from tests.fakes import create_app as create_sim_app

ORIGIN = "https://api2.cursor.sh"


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("3.20.14", (3, 20, 14)), ("0.0.0", (0, 0, 0)), ("10.0.1", (10, 0, 1)), ("9999.9999.9999", (9999,) * 3)],
)
def test_versions_that_parse(text, parsed):
    assert parse_ide_version(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3.20",
        "3.20.14.1",
        "v3.20.14",
        "3.20.14 ",
        " 3.20.14",
        "3.020.14",
        "3.20.x",
        "3.20.14-beta",
        "10000.0.0",
        "\uff13.20.14",  # a full-width digit three
        "3..14",
        "latest",
        "3.20.14\n",
        "-1.2.3",
    ],
)
def test_malformed_versions_never_parse(text):
    assert parse_ide_version(text) is None


@given(st.text(max_size=20))
def test_a_parsed_version_is_three_plain_numbers_that_print_back(text):
    parsed = parse_ide_version(text)
    if parsed is not None:
        assert ".".join(map(str, parsed)) == text


def test_update_answer_shapes():
    parse = parse_ide_version
    assert parse_update_answer(204, b"", parse) is None
    assert parse_update_answer(200, b'{"name": "3.19.7", "url": "https://x"}', parse) == "3.19.7"
    assert parse_update_answer(200, b'{"version": "3.19.7"}', parse) == "3.19.7"
    assert parse_update_answer(200, b'{"name": "3.19.7", "version": "3.19.7"}', parse) == "3.19.7"
    assert parse_download_answer(
        200, b'{"downloadUrl": "u", "version": "3.20.14", "commitSha": "6"}', parse
    ) == ("3.20.14")


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (500, b"boom", "HTTP 500"),
        (200, b"not json", "not JSON"),
        (200, b"[]", "JSON list"),
        (200, b'{"url": "x"}', "neither"),
        (200, b'{"name": "Cursor 3.19.7"}', "not a version"),
        (200, b'{"name": 3.19}', "not a version"),
        (200, b'{"name": "3.19.7", "version": "3.20.0"}', "disagree"),
        (200, b'{"name": "' + b"9" * 20000 + b'"}', "over"),
    ],
)
def test_malformed_update_answers_are_feed_errors(status, body, why):
    with pytest.raises(FeedError, match=why):
        parse_update_answer(status, body, parse_ide_version)


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=200))
def test_any_answer_is_a_version_none_or_a_feed_error(status, body):
    for parse in (parse_update_answer, parse_download_answer):
        try:
            version = parse(status, body, parse_ide_version)
        except FeedError:
            continue
        assert version is None or parse_ide_version(version) is not None


def test_a_product_needs_a_built_in_version_that_parses():
    with pytest.raises(ValueError, match="does not parse"):
        Product("cli", "cli-2026.07.08-0c04a8a", parse_ide_version)
    assert parse_ide_version(IDE.builtin) == (3, 20, 14)


# ---------------------------------------------------------------- the saved file


def test_the_store_keeps_versions_per_origin_and_product(tmp_path):
    store = VersionStore(tmp_path / "data" / SAVE_FILE)
    assert store.read(ORIGIN, "ide") is None
    store.write(ORIGIN, "ide", "3.21.0", 1_800_000_000)
    store.write(ORIGIN, "cli", "3.0.0", 1_800_000_001)
    store.write("http://127.0.0.1:3100", "ide", "9.9.9", 1_800_000_002)
    assert store.read(ORIGIN, "ide") == "3.21.0"
    assert store.read("http://127.0.0.1:3100", "ide") == "9.9.9"
    saved = json.loads((tmp_path / "data" / SAVE_FILE).read_text(encoding="utf-8"))
    assert saved[ORIGIN]["ide"] == {"version": "3.21.0", "learned_at": 1_800_000_000}
    assert (tmp_path / "data" / SAVE_FILE).stat().st_mode & 0o777 == 0o600


def test_the_store_keeps_the_latest_origins_only(tmp_path):
    store = VersionStore(tmp_path / SAVE_FILE)
    for n in range(MAX_SAVED_ORIGINS + 3):
        store.write(f"http://127.0.0.1:{4000 + n}", "ide", "3.21.0", 1_800_000_000 + n)
    saved = json.loads((tmp_path / SAVE_FILE).read_text(encoding="utf-8"))
    assert sorted(saved) == [f"http://127.0.0.1:{4000 + n}" for n in range(3, MAX_SAVED_ORIGINS + 3)]


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"x": 1}', b'{"o": {"ide": "3.2.1"}}', b"\xff" * 70000]
)
def test_a_damaged_file_reads_as_empty_and_is_replaced(tmp_path, content):
    path = tmp_path / SAVE_FILE
    path.write_bytes(content)
    store = VersionStore(path)
    assert store.read("o", "ide") is None
    store.write("o", "ide", "3.21.0", 1)
    assert store.read("o", "ide") == "3.21.0"


def test_without_data_dir_nothing_is_kept():
    store = VersionStore(None)
    store.write(ORIGIN, "ide", "3.21.0", 1)
    assert store.read(ORIGIN, "ide") is None


# ---------------------------------------------------------------- the source


class ScriptedFeed:
    """A feed that answers from a list (a version, None for "no update", or an exception)."""

    def __init__(self, *answers: object, gate: asyncio.Event | None = None) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.gate = gate

    async def latest(self, current: str) -> str | None:
        self.asked.append(current)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(feed, tmp_path=None, configured="auto", clock=None) -> VersionSource:
    store = VersionStore(tmp_path / SAVE_FILE) if tmp_path is not None else None
    return VersionSource(IDE, configured, feed=feed, store=store, origin=ORIGIN, clock=clock or Clock())


async def test_auto_starts_built_in_and_learns_from_the_feed(tmp_path):
    versions = source(ScriptedFeed("3.21.4"), tmp_path)
    assert versions.current == ClientVersion("3.20.14", "built-in")
    await versions.refresh()
    assert versions.current == ClientVersion("3.21.4", "feed")
    assert versions.last_read.version == "3.21.4" and versions.last_read.error is None
    # Saved: the next run starts from it.
    later = source(ScriptedFeed(FeedError("down")), tmp_path)
    await later.load()
    assert later.current == ClientVersion("3.21.4", "saved")
    await later.refresh()  # the feed is down: the saved version stays
    assert later.current == ClientVersion("3.21.4", "saved") and "down" in later.last_read.error


async def test_a_saved_version_older_than_the_built_in_one_is_not_used(tmp_path):
    VersionStore(tmp_path / SAVE_FILE).write(ORIGIN, "ide", "3.12.17", 1)
    versions = source(ScriptedFeed(None), tmp_path)
    await versions.load()
    assert versions.current == ClientVersion("3.20.14", "built-in")


async def test_a_saved_version_of_another_origin_is_not_used(tmp_path):
    VersionStore(tmp_path / SAVE_FILE).write("http://127.0.0.1:3100", "ide", "9.9.9", 1)
    versions = source(ScriptedFeed(None), tmp_path)
    await versions.load()
    assert versions.current.source == "built-in"


async def test_no_update_confirms_the_version_in_use(tmp_path):
    feed = ScriptedFeed(None)
    versions = source(feed, tmp_path)
    await versions.refresh()
    assert feed.asked == ["3.20.14"]
    assert versions.current == ClientVersion("3.20.14", "feed") and versions.last_read.newest


async def test_a_feed_version_older_than_the_built_in_one_is_ignored():
    versions = source(ScriptedFeed("3.0.0"))
    await versions.refresh()
    assert versions.current == ClientVersion("3.20.14", "built-in")
    assert versions.last_read.version == "3.0.0"


async def test_a_fixed_version_never_reads_the_feed_nor_changes():
    feed = ScriptedFeed("3.21.4")
    versions = source(feed, configured="2.6.21")
    await versions.load()
    await versions.refresh()
    assert await versions.after_refusal("2.6.21") is None
    assert versions.current == ClientVersion("2.6.21", "fixed") and feed.asked == []
    message = versions.explain(["2.6.21"])
    assert "2.6.21" in message and "CURSOR_CLIENT_VERSION" in message and "auto" in message


async def test_reads_are_rate_limited():
    clock = Clock()
    feed = ScriptedFeed("3.21.0", "3.22.0")
    versions = source(feed, clock=clock)
    await versions.refresh()
    clock.now += MIN_FEED_GAP - 1
    await versions.refresh()
    assert feed.asked == ["3.20.14"] and versions.current.version == "3.21.0"
    clock.now += 1
    await versions.refresh()
    assert feed.asked == ["3.20.14", "3.21.0"] and versions.current.version == "3.22.0"


async def test_concurrent_refusals_share_one_feed_read():
    gate = asyncio.Event()
    feed = ScriptedFeed("3.21.4", gate=gate)
    versions = source(feed)
    waiting = [asyncio.create_task(versions.after_refusal("3.20.14")) for _ in range(50)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == ["3.21.4"] * 50
    assert feed.asked == ["3.20.14"]


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_read():
    gate = asyncio.Event()
    versions = source(ScriptedFeed("3.21.4", gate=gate))
    first = asyncio.create_task(versions.after_refusal("3.20.14"))
    second = asyncio.create_task(versions.after_refusal("3.20.14"))
    await asyncio.sleep(0.01)
    first.cancel()
    gate.set()
    assert await second == "3.21.4"
    assert versions.current.version == "3.21.4"


async def test_a_refusal_of_an_older_version_needs_no_read():
    feed = ScriptedFeed("3.21.4")
    versions = source(feed)
    await versions.refresh()
    assert await versions.after_refusal("3.20.14") == "3.21.4"  # learnt meanwhile
    assert feed.asked == ["3.20.14"]


async def test_nothing_newer_means_no_retry_and_the_message_says_why():
    versions = source(ScriptedFeed(None))
    assert await versions.after_refusal("3.20.14") is None
    assert "nothing newer than 3.20.14" in versions.explain(["3.20.14"])
    down = source(ScriptedFeed(FeedError("HTTP 503")))
    assert await down.after_refusal("3.20.14") is None
    message = down.explain(["3.20.14"])
    assert "could not be read (HTTP 503)" in message and "CURSOR_CLIENT_VERSION" in message
    assert "3.20.14, then 3.21.4" in versions.explain(["3.20.14", "3.21.4"])


async def test_run_reads_at_once_and_close_stops_a_read_in_flight():
    gate = asyncio.Event()
    feed = ScriptedFeed("3.21.4", gate=gate)
    versions = source(feed)
    runner = asyncio.create_task(versions.run())
    await asyncio.sleep(0.01)
    assert feed.asked == ["3.20.14"]  # the start-up read, in the background
    runner.cancel()
    await versions.close()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert versions.current.source == "built-in"


# ---------------------------------------------------------------- the feed over both transports


@pytest.fixture(params=["http1.1", "http2"])
async def feed_front(request, aiohttp_server):
    """(base URL, simulator, transport) for the simulator's update feed over each transport."""
    sim = CursorSimulator(SimConfig(feed_version="3.21.4"))
    timeouts = Timeouts(connect=5, idle=5)
    if request.param == "http2":
        front = await start_h2c(sim, "127.0.0.1", 0)
        transport = H2Transport(timeouts)
        yield front.url, sim, transport
        await transport.close()
        await front.close()
    else:
        server = await aiohttp_server(create_sim_app(sim))
        transport = AiohttpTransport(timeouts)
        yield str(server.make_url("")).rstrip("/"), sim, transport
        await transport.close()


async def test_the_feed_over_each_transport(feed_front):
    base, sim, transport = feed_front
    feed = UpdateFeed(transport, base, "darwin-arm64")
    assert await feed.latest("3.20.14") == "3.21.4"
    assert await feed.latest("3.21.4") is None  # 204: nothing newer
    assert [r.path for r in sim.feed_records] == [
        "/updates/api/update/darwin-arm64/cursor/3.20.14/stable",
        "/updates/api/update/darwin-arm64/cursor/3.21.4/stable",
    ]
    assert sim.feed_records[0].method == "GET" and "authorization" not in sim.feed_records[0].headers


@pytest.mark.parametrize("mode", ["error", "garbage", "down"])
async def test_the_download_endpoint_answers_when_the_update_endpoint_fails(feed_front, mode):
    base, sim, transport = feed_front
    sim.config.feed_update = mode
    assert await UpdateFeed(transport, base, "linux-x64").latest("3.20.14") == "3.21.4"
    assert sim.feed_records[-1].path == "/updates/api/download/stable/linux-x64/cursor"


async def test_both_endpoints_failing_is_one_feed_error_naming_both(feed_front):
    base, sim, transport = feed_front
    sim.config.feed_update, sim.config.feed_download = "garbage", "error"
    with pytest.raises(FeedError, match=r"update endpoint: .*not a version.*download endpoint: HTTP 503"):
        await UpdateFeed(transport, base, "linux-x64").latest("3.20.14")


async def test_an_unreachable_feed_is_a_feed_error():
    transport = AiohttpTransport(Timeouts(connect=2, idle=2))
    try:
        with pytest.raises(FeedError, match="could not reach upstream"):
            await UpdateFeed(transport, "http://127.0.0.1:9", "linux-x64").latest("3.20.14")
    finally:
        await transport.close()
