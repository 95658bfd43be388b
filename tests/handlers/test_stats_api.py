"""GET /api/stats and /api/stats/charts: admin key only, windows, real requests counted, the charts
fragment drawn within the pages' CSP with every label escaped."""

from __future__ import annotations

import re

import pytest

from tests.conftest import API_KEY
from tests.scripted import Reply, reply

ADMIN = {"Authorization": "Bearer adm"}
CHAT = "/v1/chat/completions"


def chat(model="gpt-4o", stream=False):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi there"}]}


@pytest.fixture
def stats_gateway(gateway, make_settings):
    async def start(*replies: Reply, **overrides):
        client, _ = await gateway(*replies, settings=make_settings(auth_token="adm", **overrides))
        return client

    return start


async def test_only_the_admin_key_reads_the_stats(stats_gateway, gateway, make_settings) -> None:
    client = await stats_gateway()
    for path in ("/api/stats", "/api/stats/charts"):
        response = await client.get(path, headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status == 401 and (await response.json())["error"]["code"] == "invalid_api_key"
        assert (await client.get(path, headers={"Authorization": ""})).status == 401
        assert (await client.get(path, headers=ADMIN)).status == 200
    disabled, _ = await gateway(settings=make_settings(auth_token=""))
    response = await disabled.get("/api/stats")
    assert response.status == 403 and (await response.json())["error"]["code"] == "admin_disabled"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("window=month", "window"),
        ("window=", "window"),
        ("utc_offset=abc", "utc_offset"),
        ("utc_offset=841", "utc_offset"),
        ("utc_offset=-9999999999999999999999", "utc_offset"),
        ("utc_offset=1.5", "utc_offset"),
    ],
)
async def test_bad_queries_name_the_parameter(stats_gateway, query, param) -> None:
    client = await stats_gateway()
    for path in ("/api/stats", "/api/stats/charts"):
        response = await client.get(f"{path}?{query}", headers=ADMIN)
        assert response.status == 400
        error = (await response.json())["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", param)


async def test_requests_through_the_gateway_are_counted(stats_gateway) -> None:
    client = await stats_gateway(
        reply("Hello", " world"),
        reply("Streamed"),
        Reply([b"slow down"], status=429, headers={"Retry-After": "3"}),
    )
    assert (await client.post(CHAT, json=chat())).status == 200
    response = await client.post(CHAT, json=chat("claude-3.5-sonnet", stream=True))
    await response.read()
    assert (await client.post(CHAT, json=chat())).status == 429
    assert (await client.post(CHAT, json=chat("no-such-model"))).status == 400
    assert (await client.get("/v1/models")).status == 200
    response = await client.get("/api/stats?window=hour&utc_offset=-300", headers=ADMIN)
    body = await response.json()
    assert body["status"] == "success" and body["enabled"] is True and body["query_ms"] >= 0
    assert body["window"] == "hour" and body["bucket_seconds"] == 60 and len(body["series"]) == 60
    assert body["utc_offset"] == -300 and body["from"].endswith("Z") and body["to"].endswith("Z")
    totals = body["totals"]
    assert totals["requests"] == 5 and totals["errors"] == 2
    assert totals["prompt_tokens"] > 0 and totals["completion_tokens"] > 0
    assert totals["total_tokens"] == totals["prompt_tokens"] + totals["completion_tokens"]
    assert sum(b["requests"] for b in body["series"]) == 5 and body["series"][-1]["requests"] >= 1
    timed = [b for b in body["series"] if b["latency_ms"]["p50"] is not None]
    assert timed and body["latency_ms"]["p50"] > 0 and body["ttft_ms"]["p99"] > 0
    assert body["latency_ms"]["p50"] <= body["latency_ms"]["p90"] <= body["latency_ms"]["p99"]
    models = {row["model"]: row for row in body["by_model"]}
    assert set(models) == {"gpt-4o", "claude-3.5-sonnet", "no-such-model", None}
    assert models["gpt-4o"]["requests"] == 2 and models["gpt-4o"]["errors"] == 1
    assert models["no-such-model"]["total_tokens"] == 0 and models["gpt-4o"]["other"] is False
    tokens = {row["alias"]: row for row in body["by_token"]}
    assert tokens["test"]["requests"] == 3 and len(tokens["test"]["fingerprint"]) == 8
    assert tokens[None]["requests"] == 2 and tokens[None]["fingerprint"] is None


async def test_windows_and_an_empty_log(stats_gateway) -> None:
    client = await stats_gateway()
    for window, buckets in (("hour", 60), ("day", 96), ("week", 168)):
        body = await (await client.get(f"/api/stats?window={window}", headers=ADMIN)).json()
        assert len(body["series"]) == buckets and body["totals"]["requests"] == 0
        assert body["latency_ms"] == {"p50": None, "p90": None, "p99": None}
        assert body["by_model"] == [] and body["by_token"] == []
    default = await (await client.get("/api/stats", headers=ADMIN)).json()
    assert default["window"] == "day"


async def test_logging_off(stats_gateway) -> None:
    client = await stats_gateway(reply("ok"), data_dir="")
    assert (await client.post(CHAT, json=chat())).status == 200
    body = await (await client.get("/api/stats", headers=ADMIN)).json()
    assert body["enabled"] is False and body["totals"]["requests"] == 0
    page = await (await client.get("/api/stats/charts", headers=ADMIN)).text()
    assert "Request logging is off" in page


async def test_the_charts_fragment(stats_gateway) -> None:
    client = await stats_gateway(reply("Hello"), reply("again"))
    assert (await client.post(CHAT, json=chat())).status == 200
    assert (await client.post(CHAT, json=chat())).status == 200
    hostile = '<img src=x onerror="alert(1)">'
    assert (await client.post(CHAT, json=chat(hostile))).status == 400  # logged under its model name
    response = await client.get("/api/stats/charts?window=day&utc_offset=60", headers=ADMIN)
    assert response.status == 200 and response.content_type == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    for chart in ("requests", "latency", "ttft", "by-model", "by-token"):
        assert f'id="chart-{chart}"' in page
        assert f'aria-labelledby="chart-{chart}-title chart-{chart}-desc"' in page
    assert page.count('role="img"') == 5 and page.count("<details>") == 5  # every chart has its table
    assert "times in UTC+01:00" in page and ">3<" in page  # the Requests tile
    assert hostile not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    # Nothing the pages' Content-Security-Policy would block: no script, no inline style.
    assert "<script" not in page and not re.search(r"\sstyle=", page)
    assert not re.search(r"<[^>]*\son\w+=", page)  # no event handler attribute in any tag
    assert (await client.get("/static/dashboard.js", headers={"Authorization": ""})).status == 200
    assert (await client.get("/static/dashboard.css", headers={"Authorization": ""})).status == 200


async def test_the_pages_carry_the_dashboard_but_no_log_data(stats_gateway, gateway, make_settings) -> None:
    client = await stats_gateway()
    assert (await client.post(CHAT, json=chat("ghost-model-in-the-log"))).status == 400
    charts = await (await client.get("/api/stats/charts", headers=ADMIN)).text()
    assert "ghost-model-in-the-log" in charts
    for path in ("/", "/logs"):
        page = await (await client.get(path, headers={"Authorization": ""})).text()
        assert 'id="dashboard"' in page and 'id="key-form"' in page and "/static/dashboard.js" in page
        assert "ghost-model-in-the-log" not in page and "<svg" not in page  # the log stays behind the key
    no_admin, _ = await gateway(settings=make_settings(auth_token=""))
    page = await (await no_admin.get("/")).text()
    assert 'id="dashboard"' not in page and "set <code>AUTH_TOKEN</code>" in page
