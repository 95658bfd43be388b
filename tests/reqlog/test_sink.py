"""The request-log sink: batching writer thread, bounded queue, retention, reads, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.neutral.model import Timing
from gateway.reqlog.record import FIELD_CHARS, RequestRecord
from gateway.reqlog.sink import _COLUMNS, DB_NAME, PAGE_PROMPT_CHARS, LogQuery, RequestLog, Retention, to_row

REPO = Path(__file__).resolve().parents[2]


def record(
    i: int, *, model: str = "m", status: int = 200, error: str | None = None, ts: float = 1e9
) -> RequestRecord:
    r = RequestRecord(f"req{i}", "chat_completions", ts + i, 0.0, model=model, stream=bool(i % 2))
    r.status, r.error, r.latency_ms = status, error, float(i)
    return r


def opened(tmp_path, **kwargs) -> RequestLog:
    sink = RequestLog(tmp_path, Retention(kwargs.pop("age", 1e12), kwargs.pop("rows", 10_000)), **kwargs)
    sink.open()
    return sink


def test_rows_are_written_paged_and_filtered(tmp_path):
    sink = opened(tmp_path)
    for i in range(30):
        sink.submit(
            record(
                i,
                model="a" if i % 3 else "b",
                status=200 if i % 5 else 502,
                error=None if i % 5 else "upstream_error: x",
            )
        )
    assert sink.flush()
    page = sink.query(LogQuery(offset=0, limit=10))
    assert page.total == 30 and [row["request_id"] for row in page.rows] == [
        f"req{i}" for i in range(29, 19, -1)
    ]
    assert sink.query(LogQuery(offset=25, limit=10)).rows[-1]["request_id"] == "req0"
    assert sink.query(LogQuery(model="b")).total == 10
    failures = sink.query(LogQuery(status="failure", limit=100))
    assert failures.total == 6 and all(
        r["status"] == "failure" and r["http_status"] == 502 for r in failures.rows
    )
    assert sink.query(LogQuery(status="success")).total == 24
    assert sink.query(LogQuery(http_status=502)).total == 6
    assert sink.query(LogQuery(request_id="req7")).rows[0]["stream"] is True
    sink.close()


def test_close_writes_everything_queued(tmp_path):
    sink = opened(tmp_path)
    for i in range(2000):
        sink.submit(record(i))
    sink.close()
    assert sink.written == 2000 and sink.query(LogQuery()).total == 2000


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path, monkeypatch):
    sink = opened(tmp_path, queue_size=2)
    gate, busy = threading.Event(), threading.Event()
    real_write = sink._write

    def slow_write(connection, rows):
        busy.set()
        gate.wait(10)
        real_write(connection, rows)

    monkeypatch.setattr(sink, "_write", slow_write)
    sink.submit(record(0))
    assert busy.wait(5)  # the writer holds row 0
    started = time.perf_counter()
    for i in range(1, 6):
        sink.submit(record(i))
    assert time.perf_counter() - started < 0.5
    assert sink.dropped == 3
    gate.set()
    sink.close()
    assert sink.query(LogQuery()).total == 3


def test_retention_by_age_and_by_row_count(tmp_path):
    now = [2e9]
    sink = opened(tmp_path, age=100, rows=5, wall=lambda: now[0])
    for i in range(8):
        sink.submit(record(i, ts=now[0] - 200 + i * 30))  # ts: -200, -170, ..., +10
    sink.flush()
    sink.prune_now()
    kept = [row["request_id"] for row in sink.query(LogQuery()).rows]
    # age: rows older than 100 s go (req0..req3); count: at most 5 remain, the newest
    assert kept == ["req7", "req6", "req5", "req4"]
    for i in range(8, 20):
        sink.submit(record(i, ts=now[0]))
    sink.flush()
    sink.prune_now()
    assert [row["request_id"] for row in sink.query(LogQuery()).rows] == [
        f"req{i}" for i in range(19, 14, -1)
    ]
    sink.close()


def test_disabled_sink_accepts_and_ignores(tmp_path):
    sink = RequestLog(None, Retention(1, 1))
    sink.open()
    sink.submit(record(1))
    assert sink.query(LogQuery()).total == 0 and not sink.enabled
    sink.close()


WRITER = """
import sys, time
from pathlib import Path
from gateway.reqlog.record import RequestRecord
from gateway.reqlog.sink import RequestLog, Retention
sink = RequestLog(Path(sys.argv[1]), Retention(1e12, 10**9))
sink.open()
i = 0
print("ready", flush=True)
while True:
    r = RequestRecord(f"req{i}", "chat_completions", time.time(), 0.0, model="m", prompt="x" * 2000)
    r.status = 200
    sink.submit(r)
    i += 1
    if i % 200 == 0:
        time.sleep(0.001)
"""


def test_killing_the_writer_mid_write_leaves_a_readable_database(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with sqlite3.connect(tmp_path / DB_NAME) as db:
                    if db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] > 2000:
                        break
            except sqlite3.OperationalError:
                continue
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
        proc.stdout.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, with_full_prompt = db.execute(
            "SELECT COUNT(*), SUM(length(prompt) = 2000) FROM requests"
        ).fetchone()
        assert count > 2000 and with_full_prompt == count  # no torn row
    finally:
        db.close()
    sink = RequestLog(tmp_path, Retention(1e12, 10**9))
    sink.open()  # a restart after the crash carries on
    sink.submit(record(1))
    sink.close()
    assert sink.query(LogQuery(limit=1)).total == count + 1


def test_an_unusable_data_dir_disables_logging_instead_of_failing(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = RequestLog(blocker / "data", Retention(1, 1))
    sink.open()
    sink.submit(record(1))
    assert not sink.enabled and "request log disabled" in caplog.text
    sink.close()


def test_the_upstream_column_is_written_and_added_to_an_older_database(tmp_path):
    # A database written before the upstream column existed: opening it adds the column.
    connection = sqlite3.connect(tmp_path / DB_NAME)
    connection.execute(
        "CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, request_id TEXT NOT NULL, "
        "endpoint TEXT NOT NULL, model TEXT, stream INTEGER, http_status INTEGER, error TEXT, latency_ms REAL, "
        "ttft_ms REAL, token_alias TEXT, token_fingerprint TEXT, token_masked TEXT, checksum_masked TEXT, "
        "attempts INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER, completion_tokens INTEGER, "
        "total_tokens INTEGER, prompt TEXT)"
    )
    connection.execute(
        "INSERT INTO requests (ts, request_id, endpoint) VALUES (1e9, 'old', 'chat_completions')"
    )
    connection.commit()
    connection.close()
    sink = opened(tmp_path)
    answered = record(1)
    timing = Timing(0.0)
    timing.upstream_rpc = "agent"
    answered.follow(timing)
    sink.submit(answered)
    assert sink.flush()
    rows = {row["request_id"]: row["upstream"] for row in sink.query(LogQuery()).rows}
    assert rows == {"req1": "agent", "old": None}
    sink.close()
    sink = opened(tmp_path)  # opening again changes nothing
    assert sink.query(LogQuery()).total == 2
    sink.close()


# ---------------------------------------------------------------- bounded rows and pages


def test_every_text_column_has_a_limit(tmp_path):
    sink = opened(tmp_path)
    sink.close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        text_columns = {
            name for _, name, kind, *_ in db.execute("PRAGMA table_info(requests)") if kind == "TEXT"
        }
    assert text_columns == set(FIELD_CHARS)


@given(st.text(min_size=1, max_size=3).map(lambda s: s * 100_000), st.sampled_from(sorted(FIELD_CHARS)))
@settings(max_examples=20)
def test_no_stored_text_is_longer_than_its_limit(huge, field):
    r = record(1)
    if field == "upstream":  # the record names its upstream RPC through its Timing
        r.follow(Timing(0.0))
        r.timing.upstream_rpc = huge
    else:
        setattr(r, field, huge)
    row = dict(zip(_COLUMNS, to_row(r), strict=True))
    assert all(len(row[name]) <= limit for name, limit in FIELD_CHARS.items() if row[name] is not None)
    assert len(row[field]) == min(len(huge), FIELD_CHARS[field])


def test_a_page_shows_the_end_of_long_prompts_and_one_row_all_of_it(tmp_path):
    sink = opened(tmp_path)
    for i in range(3):
        r = record(i)
        r.prompt = f"start{i} " + "x" * 20_000 + f" end{i}"
        sink.submit(r)
    sink.close()
    page = sink.query(LogQuery(limit=500))
    assert [len(row["prompt"]) for row in page.rows] == [PAGE_PROMPT_CHARS] * 3
    assert all(
        row["prompt"].startswith("…") and row["prompt"].endswith(" end" + row["request_id"][3:])
        for row in page.rows
    )
    [whole] = sink.query(LogQuery(request_id="req1")).rows
    assert whole["prompt"] == "start1 " + "x" * 20_000 + " end1"
