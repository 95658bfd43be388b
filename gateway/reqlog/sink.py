"""The request log: a bounded queue, one writer thread, SQLite (stdlib `sqlite3`), and the reads.

`submit()` is called on the event loop when a request ends: a `put_nowait` into a bounded queue;
when the queue is full the row is dropped and counted (`dropped`), and the caller never waits.
One thread owns the writing connection: it takes up to `BATCH_ROWS` rows at a time, inserts them
in one transaction, and every `PRUNE_SECONDS` deletes rows older than the retention age and beyond
the row limit. `query()` (a page of rows) and `stats()` (the dashboard's numbers, `stats.py`) are
blocking (callers use `asyncio.to_thread`) and open their own read-only connection; the database is
in WAL mode so reads never wait for the writer. `close()` writes what is queued, then stops the
thread. A disabled sink (empty DATA_DIR) accepts and ignores rows.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from gateway.reqlog.record import FIELD_CHARS, RequestRecord, cut
from gateway.reqlog.stats import FAILED_SQL, Stats, Window, compute, empty

log = logging.getLogger(__name__)

DB_NAME: Final = "requests.sqlite3"
BATCH_ROWS: Final = 500
PRUNE_SECONDS: Final = 60.0
MAX_PAGE_SIZE: Final = 500
# A page of rows shows the end of each prompt; the row alone (filter by request_id) shows all of it.
PAGE_PROMPT_CHARS: Final = 1000

_COLUMNS: Final = (
    "ts",
    "request_id",
    "endpoint",
    "model",
    "stream",
    "http_status",
    "error",
    "latency_ms",
    "ttft_ms",
    "token_alias",
    "token_fingerprint",
    "token_masked",
    "checksum_masked",
    "upstream",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt",
)
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT,
    stream INTEGER,
    http_status INTEGER,
    error TEXT,
    latency_ms REAL,
    ttft_ms REAL,
    token_alias TEXT,
    token_fingerprint TEXT,
    token_masked TEXT,
    checksum_masked TEXT,
    upstream TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    prompt TEXT
);
CREATE INDEX IF NOT EXISTS requests_model ON requests (model);
-- Covers the retention rule and the dashboard's queries (stats.py), which never read the table
-- (and its prompts); it replaces the index on ts alone of earlier versions.
CREATE INDEX IF NOT EXISTS requests_stats ON requests (
    ts, endpoint, http_status, error, latency_ms, ttft_ms,
    model, token_fingerprint, token_alias, prompt_tokens, completion_tokens
);
DROP INDEX IF EXISTS requests_ts;
-- Usage by model and token (stats.py) reads this one in (model, token) order: no sort.
CREATE INDEX IF NOT EXISTS requests_usage ON requests (
    model, token_fingerprint, ts, token_alias, http_status, error, prompt_tokens, completion_tokens
);
"""
_SELECT_ALL: Final = ", ".join(_COLUMNS)
# The same, with the prompt cut to its last characters (parameters: the limit, the limit - 1).
_SELECT_PAGE: Final = ", ".join(
    "CASE WHEN length(prompt) > ? THEN '…' || substr(prompt, -?) ELSE prompt END AS prompt"
    if column == "prompt"
    else column
    for column in _COLUMNS
)
_INSERT: Final = f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608 - fixed column names

# Columns added after the first release: a database written by an older gateway gets them on open.
_ADDED_COLUMNS: Final = (("upstream", "TEXT"),)

Row = tuple[object, ...]


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(requests)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            connection.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")


@dataclass(frozen=True, slots=True)
class Retention:
    max_age_seconds: float
    max_rows: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    offset: int = 0
    limit: int = 50
    status: str | None = None  # "success" | "failure"
    http_status: int | None = None
    model: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class LogPage:
    total: int
    rows: list[dict[str, object]]


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP: Final = object()


def to_row(record: RequestRecord) -> Row:
    """The row of `record`, every text field cut to its limit (`FIELD_CHARS`, LOG_PROMPT_MAX_CHARS)."""
    return (
        record.timestamp,
        cut(record.request_id, FIELD_CHARS["request_id"]),
        cut(record.endpoint, FIELD_CHARS["endpoint"]),
        cut(record.model, FIELD_CHARS["model"]),
        None if record.stream is None else int(record.stream),
        record.status,
        cut(record.error, FIELD_CHARS["error"]),
        record.latency_ms,
        record.ttft_ms,
        cut(record.token_alias, FIELD_CHARS["token_alias"]),
        cut(record.token_fingerprint, FIELD_CHARS["token_fingerprint"]),
        cut(record.token_masked, FIELD_CHARS["token_masked"]),
        cut(record.checksum_masked, FIELD_CHARS["checksum_masked"]),
        cut(record.upstream_rpc, FIELD_CHARS["upstream"]),
        record.attempts,
        record.prompt_tokens,
        record.completion_tokens,
        record.total_tokens,
        cut(record.prompt, FIELD_CHARS["prompt"]),
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestLog:
    def __init__(
        self,
        data_dir: Path | None,
        retention: Retention,
        *,
        queue_size: int = 10_000,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = data_dir / DB_NAME if data_dir is not None else None
        self.retention = retention
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._wall = wall
        self._thread: threading.Thread | None = None
        self._pruned_at = -float("inf")
        self.dropped = 0
        self.written = 0
        self.write_errors = 0

    @property
    def enabled(self) -> bool:
        return self.path is not None

    # ---------------------------------------------------------------- lifetime (blocking; use to_thread)

    def open(self) -> None:
        """Create the folder and schema, prune once, start the writer thread. Blocking."""
        if self.path is None or self._thread is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            connection = self._connect()
            try:
                connection.executescript(_SCHEMA)
                _add_missing_columns(connection)
                self._prune(connection)
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            # Request logging is bookkeeping: the gateway still serves, and says why nothing is logged.
            log.error("request log disabled: %s cannot be used (%s); check DATA_DIR", self.path, exc)
            self.path = None
            return
        self._thread = threading.Thread(target=self._run, name="reqlog-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write every queued row, then stop the writer thread. Blocking."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)  # blocking put: the stop marker must get in even when full
        thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row submitted so far is committed. Blocking."""
        if self._thread is None:
            return True
        marker = _Flush()
        self._queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    # ---------------------------------------------------------------- the event-loop side

    def submit(self, record: RequestRecord) -> None:
        """Queue one row without waiting; a full queue drops it (counted in `dropped`)."""
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(to_row(record))
        except queue.Full:
            self.dropped += 1

    # ---------------------------------------------------------------- the writer thread

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _run(self) -> None:
        connection = self._connect()
        try:
            stop = False
            while not stop:
                batch: list[Row] = []
                flushes: list[_Flush] = []
                item = self._queue.get()
                while True:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Flush):
                        flushes.append(item)
                    else:
                        batch.append(item)  # type: ignore[arg-type]
                    if stop or len(batch) >= BATCH_ROWS:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                self._write(connection, batch)
                if self._wall() - self._pruned_at >= PRUNE_SECONDS:
                    self._prune(connection)
                for flush in flushes:
                    flush.done.set()
            # After the stop marker: whatever raced in behind it is written too.
            rest: list[Row] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Flush):
                    item.done.set()
                elif item is not _STOP:
                    rest.append(item)  # type: ignore[arg-type]
            self._write(connection, rest)
        finally:
            connection.close()

    def _write(self, connection: sqlite3.Connection, rows: Sequence[Row]) -> None:
        if not rows:
            return
        try:
            with connection:
                connection.execute("BEGIN")
                connection.executemany(_INSERT, rows)
            self.written += len(rows)
        except sqlite3.Error:
            self.write_errors += len(rows)
            log.exception("request log: %d row(s) could not be written", len(rows))

    def _prune(self, connection: sqlite3.Connection) -> int:
        self._pruned_at = self._wall()
        cutoff = self._wall() - self.retention.max_age_seconds
        try:
            with connection:
                connection.execute("BEGIN")
                deleted = connection.execute("DELETE FROM requests WHERE ts < ?", (cutoff,)).rowcount
                deleted += connection.execute(
                    "DELETE FROM requests WHERE id <= "
                    "(SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (self.retention.max_rows,),
                ).rowcount
        except sqlite3.Error:
            log.exception("request log: pruning failed")
            return 0
        return deleted

    def prune_now(self) -> int:
        """Apply the retention rules now (tests and maintenance). Blocking."""
        if self.path is None:
            return 0
        connection = self._connect()
        try:
            return self._prune(connection)
        finally:
            connection.close()

    # ---------------------------------------------------------------- reads (blocking; use to_thread)

    def query(self, q: LogQuery) -> LogPage:
        if self.path is None or not self.path.exists():
            return LogPage(0, [])
        where: list[str] = []
        args: list[object] = []
        if q.status == "success":
            where.append("error IS NULL AND http_status < 400")
        elif q.status == "failure":
            where.append(FAILED_SQL)
        if q.http_status is not None:
            where.append("http_status = ?")
            args.append(q.http_status)
        if q.model is not None:
            where.append("model = ?")
            args.append(q.model)
        if q.request_id is not None:
            where.append("request_id = ?")
            args.append(q.request_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        columns, cut_args = (
            (_SELECT_ALL, []) if q.request_id else (_SELECT_PAGE, [PAGE_PROMPT_CHARS, PAGE_PROMPT_CHARS - 1])
        )
        with contextlib.closing(self._reader()) as connection:
            connection.row_factory = sqlite3.Row
            total = connection.execute(f"SELECT COUNT(*) FROM requests{clause}", args).fetchone()[0]  # noqa: S608
            rows = connection.execute(
                f"SELECT {columns} FROM requests{clause} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608
                [*cut_args, *args, q.limit, q.offset],
            ).fetchall()
        return LogPage(int(total), [_to_json(row) for row in rows])

    def stats(self, window: Window, now: float, utc_offset: int = 0) -> Stats:
        """The dashboard's numbers for `window` (see `stats.py`); empty when nothing is logged."""
        if self.path is None or not self.path.exists():
            return empty(window, now, utc_offset)
        with contextlib.closing(self._reader()) as connection:
            return compute(connection, window, now, utc_offset)

    def _reader(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)


def _to_json(row: sqlite3.Row) -> dict[str, object]:
    status = row["http_status"]
    ok = row["error"] is None and status is not None and status < 400
    usage = None
    if row["total_tokens"] is not None:
        usage = {
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "total_tokens": row["total_tokens"],
        }
    return {
        "timestamp": iso(row["ts"]),
        "request_id": row["request_id"],
        "endpoint": row["endpoint"],
        "model": row["model"],
        "token_info": {
            "token": row["token_masked"],
            "checksum": row["checksum_masked"],
            "alias": row["token_alias"],
            "fingerprint": row["token_fingerprint"],
        },
        "prompt": row["prompt"],
        "stream": None if row["stream"] is None else bool(row["stream"]),
        "status": "success" if ok else "failure",
        "http_status": status,
        "error": row["error"],
        "latency_ms": row["latency_ms"],
        "ttft_ms": row["ttft_ms"],
        "upstream": row["upstream"],
        "attempts": row["attempts"],
        "usage": usage,
    }
