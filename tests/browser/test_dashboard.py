"""The dashboard in headless Chromium, drawn from a seeded request log: the numbers on the page are
the seed's, every chart renders (within the pages' Content-Security-Policy: no console error), in
every window, light and dark, on the status and logs pages and in a narrow window. Screenshots go
to `tests/artifacts/browser/dashboard/`; look at them when the charts change.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Final

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.charts import short
from gateway.reqlog.record import RequestRecord
from gateway.reqlog.sink import RequestLog
from tests.browser.support import ARTIFACTS, drive, ensure_packages
from tests.conftest import fixed_pool
from tests.scripted import ScriptedTransport

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ADMIN: Final = "dashboard-admin-key"
TIMEZONE: Final = "Asia/Kolkata"  # UTC+05:30 all year: buckets on a half-hour offset
MODELS: Final = ("claude-4.5-sonnet", "gpt-5", "claude-4.5-sonnet-thinking", "<b>odd-model</b>")
TOKENS: Final = (("work", "5e8f0c1a"), ("home", "9b1d77e2"), ("spare", "0c4a3f9d"))
HOUR, DAY = 3600.0, 86400.0


@dataclass
class Seeded:
    last_hour: int = 0
    last_day: int = 0
    week: int = 0
    day_errors: int = 0


def seed(reqlog: RequestLog, now: float) -> Seeded:
    """Rows of a busy week: a daily rhythm, an error burst three hours ago, a few model lists.

    Ages avoid the windows' edges (a window starts up to one bucket later than now minus its
    span), so the counts here are what each window holds.
    """
    rng = random.Random(5)
    counts = Seeded()
    ages = [rng.uniform(60, 0.9 * HOUR) for _ in range(40)]
    ages += [rng.uniform(1.1 * HOUR, 23 * HOUR) for _ in range(600)]
    ages += [rng.uniform(25 * HOUR, 6.5 * DAY) for _ in range(1500)]
    for i, age in enumerate(sorted(ages, reverse=True)):
        burst = 3 * HOUR < age < 3.5 * HOUR
        failed = rng.random() < (0.6 if burst else 0.04)
        untimed = i % 50 == 0
        record = RequestRecord(f"{i:032x}", "models" if untimed else "chat_completions", now - age, 0.0)
        record.status = rng.choice((429, 502)) if failed else 200
        record.error = "rate_limit_exceeded: slow down" if failed else None
        record.latency_ms = rng.lognormvariate(7.4, 0.5) * (3 if burst else 1)
        if not untimed:
            record.model, record.stream = rng.choices(MODELS, weights=(6, 3, 2, 1))[0], True
            record.token_alias, record.token_fingerprint = rng.choices(TOKENS, weights=(6, 3, 1))[0]
            if not failed:
                record.ttft_ms = record.latency_ms * rng.uniform(0.1, 0.4)
                record.prompt_tokens, record.completion_tokens = rng.randint(200, 8000), rng.randint(20, 1500)
                record.total_tokens = record.prompt_tokens + record.completion_tokens
        reqlog.submit(record)
        counts.week += 1
        counts.last_day += age < DAY
        counts.last_hour += age < HOUR
        counts.day_errors += failed and age < DAY
    return counts


async def test_the_dashboard_in_a_real_browser(aiohttp_server, make_settings, tmp_path) -> None:
    ensure_packages()
    app = create_app(make_settings(auth_token=ADMIN), transport=ScriptedTransport(), pool=fixed_pool())
    server = await aiohttp_server(app)
    reqlog = app[keys.REQUEST_LOG]
    seeded = seed(reqlog, time.time())
    assert await asyncio.to_thread(reqlog.flush)
    artifacts = ARTIFACTS / "dashboard"
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.glob("*.png"):
        old.unlink()
    config = {
        "base": str(server.make_url("")).rstrip("/"),
        "adminKey": ADMIN,
        "timezone": TIMEZONE,
        "artifacts": str(artifacts),
    }
    seen = await drive("dashboard.mjs", config, tmp_path)
    assert seen["errors"] == []  # no script error, no Content-Security-Policy violation
    assert seen["statsCallsBeforeKey"] == 0 and seen["chartsBeforeKey"] == 0  # nothing without the key

    day = seen["windows"]["day"]
    assert day["pressed"] == "Last day" and "UTC+05:30" in day["meta"]
    assert day["tiles"]["Requests"]["value"] == f"{seeded.last_day:,}"
    assert day["tiles"]["Errors"]["value"] == f"{seeded.day_errors:,}"
    assert day["tiles"]["Latency p50"]["value"].endswith(("ms", " s"))
    charts = day["charts"]
    assert list(charts) == [
        "chart-requests",
        "chart-latency",
        "chart-ttft",
        "chart-by-model",
        "chart-by-token",
    ]
    for chart in charts.values():
        assert chart["role"] == "img" and chart["labelledBy"] == [chart["title"], chart["desc"]]
        assert chart["width"] > 300 and chart["height"] > 60 and chart["empty"] is None
    requests = charts["chart-requests"]
    assert requests["tips"] == 96 and requests["bars"] >= 40 and requests["failedBars"] >= 1
    assert requests["tableRows"] >= 40 and len(requests["xTicks"]) in (7, 8)
    assert all(
        len(paths) == 3 and min(paths) > 50
        for paths in (charts["chart-latency"]["paths"], charts["chart-ttft"]["paths"])
    )
    # Model names are client input: shown as text (escaped), shortened to fit the label column.
    assert set(charts["chart-by-model"]["labels"]) == {short(m) for m in (*MODELS, "(no model)")}
    assert {label.split(" · ")[0] for label in charts["chart-by-token"]["labels"]} == {
        "work",
        "home",
        "spare",
        "(not sent to Cursor)",
    }
    assert seen["tableVisible"] is True and " request" in seen["firstTip"]
    assert charts["chart-latency"]["top"] == charts["chart-ttft"]["top"]  # side by side
    assert charts["chart-requests"]["width"] > 2 * charts["chart-latency"]["width"] - 40

    week, hour = seen["windows"]["week"], seen["windows"]["hour"]
    assert (
        week["tiles"]["Requests"]["value"] == f"{seeded.week:,}"
        and week["charts"]["chart-requests"]["tips"] == 168
    )
    assert len(week["charts"]["chart-requests"]["xTicks"]) in (6, 7)
    assert seen["keptAfterReload"] == "week"
    assert (
        hour["tiles"]["Requests"]["value"] == f"{seeded.last_hour:,}"
        and hour["charts"]["chart-requests"]["tips"] == 60
    )
    assert seen["chartsAfterForget"] == 0

    assert seen["logs"]["rows"] == 50 and seen["logs"]["background"] == "rgb(23, 24, 27)"  # the dark theme
    narrow = seen["narrow"]["charts"]
    assert narrow["chart-latency"]["left"] == narrow["chart-ttft"]["left"]  # one chart per row
    assert narrow["chart-ttft"]["top"] > narrow["chart-latency"]["top"]

    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert shots == [
        "dashboard-day-light.png",
        "dashboard-hour-light.png",
        "dashboard-narrow-dark.png",
        "dashboard-week-light.png",
        "logs-dark.png",
        "status-page-light.png",
    ]
    assert all((artifacts / name).stat().st_size > 20_000 for name in shots)
