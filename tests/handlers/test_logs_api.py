"""POST /logs: every API request leaves one row; paging, filters, prompts, masking."""

from __future__ import annotations

import asyncio
import io

import orjson

from gateway import keys
from gateway.reqlog.record import FIELD_CHARS
from tests.conftest import fake_jwt, fixed_pool
from tests.scripted import Reply, end_error, reply

ADMIN = {"Authorization": "Bearer adm"}
CHAT = "/v1/chat/completions"


def chat(stream=False, model="claude-3.5-sonnet", content="Hi there"):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]}


async def logs(client, **query):
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    response = await client.post("/logs", json=query, headers=ADMIN)
    assert response.status == 200
    return await response.json()


async def test_each_api_request_leaves_one_row(gateway, make_settings):
    jwt = fake_jwt()
    client, _ = await gateway(
        reply("Hello", " world"),
        reply("Streamed"),
        Reply([end_error(10, "Usage limit", "Spent")]),
        settings=make_settings(auth_token="adm"),
        pool=fixed_pool(jwt),
    )
    assert (await client.post(CHAT, json=chat())).status == 200
    response = await client.post(CHAT, json=chat(stream=True, model="gpt-4o"))
    await response.read()
    assert (await client.post(CHAT, json=chat())).status == 429
    assert (await client.post(CHAT, json=chat(model="no-such-model"))).status == 400
    assert (await client.get("/v1/models")).status == 200
    assert (await client.post(CHAT, json=chat(), headers={"Authorization": "Bearer nope"})).status == 401
    answer = await logs(client)
    assert answer["status"] == "success" and answer["total"] == 5 and answer["timestamp"].endswith("Z")
    models, unknown, usage, streamed, plain = answer["logs"]
    assert plain["model"] == "claude-3.5-sonnet" and plain["stream"] is False and plain["status"] == "success"
    assert plain["usage"]["completion_tokens"] > 0 and plain["usage"]["total_tokens"] > 0
    assert plain["latency_ms"] > 0 and 0 < plain["ttft_ms"] <= plain["latency_ms"]
    assert plain["token_info"]["alias"] == "test" and plain["token_info"]["token"] == f"{jwt[:4]}…{jwt[-4:]}"
    assert "…" in plain["token_info"]["checksum"] and plain["prompt"] is None  # LOG_PROMPTS is off
    assert len(plain["request_id"]) == 32 and plain["error"] is None
    assert streamed["stream"] is True and streamed["model"] == "gpt-4o" and streamed["ttft_ms"] is not None
    assert usage["status"] == "failure" and usage["http_status"] == 429
    assert usage["error"].startswith("insufficient_quota")
    assert unknown["http_status"] == 400 and unknown["model"] == "no-such-model"
    assert unknown["error"].startswith("model_not_found") and unknown["token_info"]["alias"] is None
    assert models["endpoint"] == "models" and models["status"] == "success"
    assert jwt not in repr(answer)


async def test_a_refused_key_is_counted_not_logged(gateway, make_settings):
    """Without a key nobody can push real rows out of the log (LOG_MAX_ROWS): refusals are metrics."""
    client, _ = await gateway(reply("ok"), settings=make_settings(auth_token="adm"))
    for headers in (
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic bm9wZQ==", "x-api-key": "nope"},
        {"Authorization": "Basic bm9wZQ=="},
    ):
        assert (await client.post(CHAT, json=chat(), headers=headers)).status == 401
    assert (await client.get("/v1/models", headers={"Authorization": "Bearer nope"})).status == 401
    assert (await client.post(CHAT, json=chat())).status == 200
    answer = await logs(client)
    assert answer["total"] == 1 and answer["logs"][0]["http_status"] == 200
    metrics = client.app[keys.METRICS].registry
    assert (
        metrics.get_sample_value(
            "cursor2api_requests_total", {"endpoint": "chat_completions", "status": "401"}
        )
        == 3
    )
    assert metrics.get_sample_value("cursor2api_requests_total", {"endpoint": "models", "status": "401"}) == 1
    assert metrics.get_sample_value("cursor2api_errors_total", {"code": "invalid_api_key"}) == 4


async def test_huge_model_names_keep_the_database_and_the_page_small(gateway, make_settings, tmp_path):
    client, _ = await gateway(reply("ok"), settings=make_settings(auth_token="adm"))
    for _ in range(3):
        big = io.BytesIO(orjson.dumps(chat(model="m" * 8_000_000)))
        response = await client.post(CHAT, data=big, headers={"Content-Type": "application/json"})
        assert response.status == 400
        error = (await response.json())["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "model") and len(error["message"]) < 300
    for _ in range(3):  # within the limit, unknown: its row keeps a bounded model name
        assert (await client.post(CHAT, json=chat(model="m" * 256))).status == 400
    answer = await logs(client, page_size=500)
    assert answer["total"] == 6 and all(
        len(row["model"] or "") <= FIELD_CHARS["model"] for row in answer["logs"]
    )
    response = await client.post("/logs", json={"page_size": 500}, headers=ADMIN)
    assert len(await response.read()) < 20_000
    database = tmp_path / "data" / "requests.sqlite3"
    assert sum(p.stat().st_size for p in database.parent.glob("requests.sqlite3*")) < 2_000_000


async def test_filters_and_paging(gateway, make_settings):
    replies = [reply("ok") for _ in range(7)]
    client, _ = await gateway(*replies, settings=make_settings(auth_token="adm"))
    for i in range(7):
        model = "gpt-4o" if i % 2 else "claude-3.5-sonnet"
        assert (await client.post(CHAT, json=chat(model=model))).status == 200
    await client.post(CHAT, json=chat(model="nope"))
    page = await logs(client, page=2, page_size=3)
    assert page["total"] == 8 and len(page["logs"]) == 3 and page["page"] == 2
    window = await logs(client, offset=6, limit=10)
    assert len(window["logs"]) == 2
    assert (await logs(client, model="gpt-4o"))["total"] == 3
    assert (await logs(client, status="failure"))["total"] == 1
    assert (await logs(client, status="success", model="claude-3.5-sonnet"))["total"] == 4
    assert (await logs(client, status=400))["logs"][0]["model"] == "nope"


async def test_prompts_are_logged_only_when_enabled_and_capped(gateway, make_settings):
    settings = make_settings(auth_token="adm", log_prompts=True, log_prompt_max_chars=40)
    client, _ = await gateway(reply("ok"), settings=settings)
    secret = fake_jwt("auth0|pasted")
    text = "x" * 100 + " my token is " + secret + " and the end"
    assert (await client.post(CHAT, json=chat(content=text))).status == 200
    [row] = (await logs(client))["logs"]
    assert (
        len(row["prompt"]) == 40 and row["prompt"].startswith("…") and row["prompt"].endswith("and the end")
    )
    assert secret not in row["prompt"]


async def test_logging_off_with_an_empty_data_dir(gateway, make_settings):
    client, _ = await gateway(reply("ok"), settings=make_settings(auth_token="adm", data_dir=""))
    assert (await client.post(CHAT, json=chat())).status == 200
    answer = await logs(client)
    assert answer["total"] == 0 and answer["enabled"] is False


async def test_closing_the_app_writes_the_queued_rows(aiohttp_client, make_settings, tmp_path):
    import sqlite3

    from gateway.app import create_app
    from tests.scripted import ScriptedTransport

    settings = make_settings()
    app = create_app(
        settings, transport=ScriptedTransport(*[reply("ok") for _ in range(5)]), pool=fixed_pool()
    )
    client = await aiohttp_client(app, headers={"Authorization": "Bearer test-key"})
    for _ in range(5):
        assert (await client.post(CHAT, json=chat())).status == 200
    await client.close()  # runs the cleanup context: no explicit flush
    with sqlite3.connect(tmp_path / "data" / "requests.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 5
