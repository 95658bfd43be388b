"""Which Cursor client version the gateway announces upstream, and where that version came from.

Cursor refuses clients below a minimum version that moves every few weeks (upstream-2026.md §1,
§2), so a version fixed when the gateway was built always falls behind. A `VersionSource` answers
"which version do we announce now" for one client product, and says where the answer came from:

    fixed      CURSOR_CLIENT_VERSION names a version: announced as is, never replaced
    feed       read from Cursor's update feed during this run
    saved      read from the feed in an earlier run, kept in DATA_DIR
    built-in   the newest version publicly known to work when this gateway was built

With CURSOR_CLIENT_VERSION=auto the source reads the feed in the background at start-up, then
every CURSOR_VERSION_REFRESH seconds, and again when Cursor refuses the announced version
(`after_refusal`). Reads are single-flight (any number of concurrent refusals share one) and at
least `MIN_FEED_GAP` seconds apart; a failed read keeps the version in use, and nothing ever
waits for the feed except a request Cursor already refused. The feed's version is taken as it
is, unless it is older than the built-in one (then the feed is behind, and ignored). Each version
the feed gives is saved in DATA_DIR (atomically, in a worker thread), keyed by the feed's origin
and the product, so a restart announces the last known version and the version of a simulator
(tests, demo mode) never reaches a gateway that talks to Cursor.

Products. `IDE` (versions such as `3.20.14`) is what the ChatService RPCs announce. Cursor's
AgentService announces separate versions such as `cli-2026.07.08-0c04a8a` (upstream-2026.md §9):
such a product is another `Product` (its own parser and built-in fallback) read from its own
`Feed`, in its own `VersionSource` sharing the `VersionStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

import orjson

from gateway import __version__
from gateway.atomic import write_atomic
from gateway.errors import UpstreamError
from gateway.upstream.errors import CLASSES
from gateway.upstream.transport import TransportError, UpstreamTransport, read_capped

log = logging.getLogger(__name__)

Source = Literal["feed", "saved", "built-in", "fixed"]
AUTO: Final = "auto"

MIN_FEED_GAP: Final = 60.0  # seconds between two feed reads, however many refusals ask for one
RETRY_AFTER_FAILURE: Final = 600.0  # the next background read after a failed one, at the latest
FEED_TIMEOUT: Final = 15.0  # one whole feed read (both endpoints)
FEED_BODY_LIMIT: Final = 16 * 1024
SAVE_FILE: Final = "client-version.json"
SAVE_FILE_LIMIT: Final = 64 * 1024
MAX_SAVED_ORIGINS: Final = 8

_IDE_VERSION: Final = re.compile(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})")


def parse_ide_version(text: str) -> tuple[int, ...] | None:
    """`3.20.14` -> (3, 20, 14); None for anything else: a malformed value is never announced."""
    match = _IDE_VERSION.fullmatch(text)
    return tuple(int(part) for part in match.groups()) if match else None


@dataclass(frozen=True, slots=True)
class Product:
    """A Cursor client whose version is announced: `name` keys the saved file and the metrics."""

    name: str
    builtin: str
    parse: Callable[[str], tuple[int, ...] | None]

    def __post_init__(self) -> None:
        if self.parse(self.builtin) is None:
            raise ValueError(f"the built-in {self.name} version {self.builtin!r} does not parse")


IDE: Final = Product("ide", "3.20.14", parse_ide_version)
"""Cursor's IDE: 3.20.14 was the newest public build on 2026-09-12 (upstream-2026.md §1)."""


@dataclass(frozen=True, slots=True)
class ClientVersion:
    version: str
    source: Source


# ---------------------------------------------------------------- the update feed


class FeedError(Exception):
    """The feed could not be read, or answered something that is not a version."""


class Feed(Protocol):
    async def latest(self, current: str) -> str | None:
        """The newest version the feed offers; None when it says `current` is the newest.

        Raises `FeedError`.
        """
        ...


def _json_object(status: int, body: bytes) -> Mapping[str, object]:
    if status != 200:
        snippet = " ".join(body[:120].decode("utf-8", "replace").split())
        raise FeedError(f"HTTP {status}" + (f": {snippet}" if snippet else ""))
    if len(body) > FEED_BODY_LIMIT:
        raise FeedError(f"the answer is over {FEED_BODY_LIMIT} bytes")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FeedError("the answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise FeedError(f"the answer is a JSON {type(parsed).__name__}, not an object")
    return parsed


def _version_field(answer: Mapping[str, object], name: str, parse: Callable[[str], object]) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or parse(value) is None:
        raise FeedError(f"`{name}` is not a version: {str(value)[:40]!r}")
    return value


def parse_update_answer(status: int, body: bytes, parse: Callable[[str], object]) -> str | None:
    """`GET /updates/api/update/<platform>/cursor/<version>/stable` (upstream-2026.md §1).

    204 means no update (None). 200 is JSON whose `name` is the version; some answers carry
    `version` as well, and then both must name the same version.
    """
    if status == 204:
        return None
    answer = _json_object(status, body)
    found = [_version_field(answer, key, parse) for key in ("name", "version") if key in answer]
    if not found:
        raise FeedError("the answer has neither `name` nor `version`")
    if len(set(found)) > 1:
        raise FeedError(f"`name` and `version` disagree: {found[0]!r} and {found[1]!r}")
    return found[0]


def parse_download_answer(status: int, body: bytes, parse: Callable[[str], object]) -> str:
    """`GET /updates/api/download/stable/<platform>/cursor`: JSON with `version` (§1)."""
    return _version_field(_json_object(status, body), "version", parse)


class UpdateFeed:
    """Cursor's IDE update feed on the API host, read through the transport seam (no token).

    The update endpoint is asked first, from the version in use (it answers the newest build,
    or 204 when there is none); when it fails, the download endpoint.
    """

    def __init__(
        self,
        transport: UpstreamTransport,
        base_url: str,
        platform: str,
        *,
        product: Product = IDE,
        timeout: float = FEED_TIMEOUT,
    ) -> None:
        self._transport = transport
        self._base = base_url.rstrip("/")
        self._platform = platform
        self._parse = product.parse
        self._timeout = timeout
        self._headers = {"accept": "application/json", "user-agent": f"cursor2api/{__version__}"}

    def update_url(self, current: str) -> str:
        return f"{self._base}/updates/api/update/{self._platform}/cursor/{current}/stable"

    def download_url(self) -> str:
        return f"{self._base}/updates/api/download/stable/{self._platform}/cursor"

    async def latest(self, current: str) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    status, body = await self._get(self.update_url(current))
                    return parse_update_answer(status, body, self._parse)
                except FeedError as first:
                    try:
                        status, body = await self._get(self.download_url())
                        return parse_download_answer(status, body, self._parse)
                    except FeedError as second:
                        raise FeedError(f"update endpoint: {first}; download endpoint: {second}") from None
        except TimeoutError:
            raise FeedError(f"no answer within {self._timeout:g} s") from None

    async def _get(self, url: str) -> tuple[int, bytes]:
        try:
            async with self._transport.get(url, self._headers) as response:
                return response.status, await read_capped(response, FEED_BODY_LIMIT + 1)
        except TransportError as exc:
            raise FeedError(str(exc)) from None


# ---------------------------------------------------------------- the saved versions


class VersionStore:
    """`DATA_DIR/client-version.json`: the last version each feed gave, by origin and product.

    `{"<feed origin>": {"<product>": {"version": "3.21.0", "learned_at": <unix seconds>}}}`;
    the origins read most recently are kept (`MAX_SAVED_ORIGINS`). Blocking file I/O: call it in
    a worker thread. An unreadable or malformed file counts as empty.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, dict[str, object]]]:
        if self.path is None:
            return {}
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(SAVE_FILE_LIMIT + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read %s (%s); ignoring it", self.path, exc)
            return {}
        try:
            data = orjson.loads(raw) if len(raw) <= SAVE_FILE_LIMIT else None
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            log.warning("%s is not a saved-version file; ignoring it", self.path)
            return {}
        return {
            origin: {p: e for p, e in products.items() if isinstance(e, dict)}
            for origin, products in data.items()
            if isinstance(products, dict)
        }

    def read(self, origin: str, product: str) -> str | None:
        entry = self._load().get(origin, {}).get(product)
        version = entry.get("version") if entry else None
        return version if isinstance(version, str) else None

    def write(self, origin: str, product: str, version: str, learned_at: float) -> None:
        if self.path is None:  # DATA_DIR is empty: nothing is kept across restarts
            return
        with self._lock:
            data = self._load()
            data.setdefault(origin, {})[product] = {"version": version, "learned_at": int(learned_at)}

            def newest(item: tuple[str, dict[str, dict[str, object]]]) -> float:
                stamps = [e.get("learned_at") for e in item[1].values()]
                return max((s for s in stamps if isinstance(s, int | float)), default=0)

            kept = dict(sorted(data.items(), key=newest, reverse=True)[:MAX_SAVED_ORIGINS])
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, orjson.dumps(kept, option=orjson.OPT_INDENT_2).decode() + "\n")


# ---------------------------------------------------------------- the source


@dataclass(frozen=True, slots=True)
class FeedRead:
    """What the last feed read said: a version, "nothing newer than `version`", or an error."""

    at: float  # wall-clock seconds
    version: str | None
    newest: bool = False  # the feed said the version asked from is the newest
    error: str | None = None


class VersionSource:
    """The version of one product to announce now (`current`), kept fresh from its feed."""

    def __init__(
        self,
        product: Product,
        configured: str,
        *,
        feed: Feed | None,
        store: VersionStore | None = None,
        origin: str = "",
        refresh_every: float = 6 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.product = product
        self.auto = configured == AUTO
        self._feed = feed if self.auto else None
        self._store = store
        self._origin = origin
        self._refresh_every = refresh_every
        self._clock = clock
        self._wall = wall
        self._current = (
            ClientVersion(product.builtin, "built-in") if self.auto else ClientVersion(configured, "fixed")
        )
        self.last_read: FeedRead | None = None  # the last read that is over
        self._last_read_at: float | None = None  # monotonic start of the last read
        self._reading: asyncio.Task[None] | None = None

    @property
    def current(self) -> ClientVersion:
        return self._current

    def _not_older_than_builtin(self, version: str) -> bool:
        parse = self.product.parse
        mine, builtin = parse(version), parse(self.product.builtin)
        return mine is not None and builtin is not None and mine >= builtin

    async def load(self) -> None:
        """Start from the version saved by an earlier run, unless it is older than the built-in one."""
        if not self.auto or self._store is None:
            return
        saved = await asyncio.to_thread(self._store.read, self._origin, self.product.name)
        if saved is not None and self._not_older_than_builtin(saved):
            self._current = ClientVersion(saved, "saved")

    async def refresh(self) -> None:
        """Read the feed now, unless a read is running (then wait for it) or ran in the last
        `MIN_FEED_GAP` seconds. Never raises: a failure is logged and kept in `last_read`."""
        if self._feed is None:
            return
        reading = self._reading
        if reading is None:
            if self._last_read_at is not None and self._clock() - self._last_read_at < MIN_FEED_GAP:
                return
            self._last_read_at = self._clock()
            reading = self._reading = asyncio.get_running_loop().create_task(self._read(self._feed))
            reading.add_done_callback(self._read_done)
        # A caller that goes away (a client hung up) does not cancel the read the others share.
        await asyncio.shield(reading)

    def _read_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: `_read` handles its errors, so this is None

    async def _read(self, feed: Feed) -> None:
        """One feed read; when `last_read` is set, it is over (and the version saved)."""
        try:
            await self._read_once(feed)
        finally:
            if self._reading is asyncio.current_task():
                self._reading = None

    async def _read_once(self, feed: Feed) -> None:
        asked = self._current.version
        try:
            offered = await feed.latest(asked)
        except FeedError as exc:
            log.warning(
                "Cursor's update feed could not be read (%s); still announcing client version %s (%s)",
                exc,
                asked,
                self._current.source,
            )
            self.last_read = FeedRead(self._wall(), None, error=str(exc))
            return
        version = asked if offered is None else offered  # None: the version asked from is the newest
        read = FeedRead(self._wall(), version, newest=offered is None)
        if not self._not_older_than_builtin(version):
            log.warning(
                "Cursor's update feed offers client version %s, older than the built-in %s; ignoring it",
                version,
                self.product.builtin,
            )
            self.last_read = read
            return
        previous = self._current
        self._current = ClientVersion(version, "feed")
        if version != previous.version:
            log.info(
                "Cursor client version %s, from Cursor's update feed (was %s, %s)",
                version,
                previous.version,
                previous.source,
            )
        if self._store is not None:
            try:
                await asyncio.to_thread(self._store.write, self._origin, self.product.name, version, read.at)
            except OSError as exc:
                log.warning("could not save the client version in %s (%s)", self._store.path, exc)
        self.last_read = read

    async def after_refusal(self, refused: str) -> str | None:
        """Cursor refused `refused` as outdated: a newer version worth one retry, or None.

        A fixed version is never replaced. Otherwise the version in use when it changed since
        `refused` was announced, else the feed's (read now, within the single-flight and rate
        limits above).
        """
        if not self.auto:
            return None
        if self._current.version == refused:
            await self.refresh()
        version = self._current.version
        return version if version != refused else None

    def explain(self, refused: Sequence[str]) -> str:
        """Why the versions `refused` (in the order tried) cannot be healed, and what to set."""
        tried = ", then ".join(refused)
        if not self.auto:
            return (
                f"Cursor refused client version {tried} (set by CURSOR_CLIENT_VERSION) as outdated. Set "
                "CURSOR_CLIENT_VERSION to the version of a current Cursor release (Help > About in Cursor), "
                "or to auto to let the gateway learn it from Cursor's update feed"
            )
        read = self.last_read
        if read is None:
            feed = "Cursor's update feed has not been read yet"
        elif read.error is not None:
            feed = f"Cursor's update feed could not be read ({read.error})"
        elif read.newest:
            feed = f"Cursor's update feed has nothing newer than {read.version}"
        else:
            feed = f"Cursor's update feed offers {read.version}"
        return (
            f"Cursor refused client version {tried} as outdated, and {feed}. If a newer Cursor release "
            "exists, set CURSOR_CLIENT_VERSION to its version (Help > About in Cursor); see the README "
            "section 'Client version'"
        )

    async def run(self) -> None:
        """The background refresh: now, then every `refresh_every` seconds (sooner after a failure)."""
        if self._feed is None:
            return
        while True:
            await self.refresh()
            failed = self.last_read is not None and self.last_read.error is not None
            await asyncio.sleep(
                min(self._refresh_every, RETRY_AFTER_FAILURE) if failed else self._refresh_every
            )

    async def close(self) -> None:
        """Cancel a feed read still running (at shutdown)."""
        reading = self._reading
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


class ClientOutdated(UpstreamError):
    """Cursor refused the announced client version ("Update Required", OUTDATED_CLIENT, DEPRECATED).

    `tried` are the versions refused for one request, in order (the last is `refused`); the
    message says what was tried, what the feed said and what to set. `source` is the
    `VersionSource` whose version was refused: the chat service asks it for a newer one.
    """

    def __init__(
        self, said: str, *, refused: str, source: VersionSource, earlier: Sequence[str] = ()
    ) -> None:
        spec = CLASSES["outdated"]
        tried = (*earlier, refused)
        super().__init__(
            f"{source.explain(tried)}. Cursor said: {said}",
            error_class="outdated",
            status=spec.status,
            type=spec.type,
            code=spec.code,
        )
        self.said = said
        self.refused = refused
        self.source = source
        self.tried = tried

    def after(self, earlier: Sequence[str]) -> ClientOutdated:
        """The same refusal, told after `earlier` versions were refused (and with the feed's latest news)."""
        return ClientOutdated(self.said, refused=self.refused, source=self.source, earlier=earlier)
