"""Unary and JSON endpoints (SIM-29…SIM-32) over the HTTP/1.1 front."""

from __future__ import annotations

import base64
import gzip
import json

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.pb.aiserver_agent_pb2 import GetServerConfigResponse
from tests.fakes import (
    DRY_RUN_PATH,
    MODELS_PATH,
    OAUTH_PATH,
    SERVER_CONFIG_PATH,
    STRIPE_PATH,
    USAGE_PATH,
    CursorSimulator,
    Scenario,
    make_jwt,
    parse_jwt,
)
from tests.fakes.client_for_tests import build_request, chat_headers

Client = TestClient[web.Request, web.Application]
USER = "user_01JABCDEFGHJKMNPQRSTVWXYZ0"


async def unary(client: Client, path: str, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    all_headers = chat_headers(streaming=False) | headers
    async with client.post(path, data=body, headers=all_headers, auto_decompress=False) as r:
        return r.status, dict(r.headers), await r.read()


async def test_available_models(client: Client) -> None:
    request = pb.AvailableModelsRequest(include_long_context_models=True, exclude_max_named_models=True)
    status, headers, body = await unary(client, MODELS_PATH, request.SerializeToString())
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    models = {m.name: m for m in pb.AvailableModelsResponse.FromString(gzip.decompress(body)).models}
    assert models["claude-4-opus"].server_model_name == "claude-4.1-opus"
    assert models["claude-3.5-sonnet"].degradation_status == 2
    assert models["gemini-2.5-pro"].degradation_status == 1
    assert models["claude-4.5-sonnet"].supports_thinking and models["claude-4.5-sonnet"].supports_images
    assert models["claude-4.5-sonnet"].context_token_limit_for_max_mode == 1_000_000
    assert (
        models["claude-4-opus"].HasField("supports_non_max_mode")
        and not models["claude-4-opus"].supports_non_max_mode
    )


async def test_unary_without_gzip_and_gzipped_request(client: Client) -> None:
    raw = pb.AvailableModelsRequest(include_long_context_models=True).SerializeToString()
    status, headers, body = await unary(
        client, MODELS_PATH, gzip.compress(raw), **{"content-encoding": "gzip", "accept-encoding": "identity"}
    )
    assert status == 200 and "Content-Encoding" not in headers
    assert pb.AvailableModelsResponse.FromString(body).models


@pytest.mark.parametrize("shape", ["wrapped", "connect"])
async def test_unary_error_shapes(client: Client, sim: CursorSimulator, shape: str) -> None:
    sim.push_unary(MODELS_PATH, Scenario("error", error=50, shape=shape))
    status, _, body = await unary(client, MODELS_PATH, b"")
    assert status == 429
    data = json.loads(body)
    error = data["error"] if shape == "wrapped" else data
    assert error["code"] == "resource_exhausted"
    value = error["details"][0]["value"]
    assert pb.ErrorDetails.FromString(base64.b64decode(value + "=" * (-len(value) % 4))).error == 50
    status, _, _ = await unary(client, MODELS_PATH, b"")
    assert status == 200


async def test_unary_header_checks(client: Client) -> None:
    status, _, _ = await unary(client, MODELS_PATH, b"", **{"content-type": "application/connect+proto"})
    assert status == 415
    status, _, body = await unary(client, MODELS_PATH, b"", authorization="Bearer nope")
    assert status == 401 and b"unauthenticated" in body


@pytest.mark.parametrize(
    ("fields", "expect"), [("both", (4, 5)), ("full", (5,)), ("user", (4,)), ("none", ())]
)
async def test_prompt_dry_run(
    client: Client, sim: CursorSimulator, fields: str, expect: tuple[int, ...]
) -> None:
    sim.config.dry_run_fields = fields
    request = build_request("12345678", system="abcd")
    status, _, body = await unary(
        client, DRY_RUN_PATH, request.SerializeToString(), **{"accept-encoding": "identity"}
    )
    assert status == 200
    # Decode with a local message: field 4/5 TokenCount{2 num_tokens}.
    counts: dict[int, int] = {}
    pos = 0
    while pos < len(body):
        tag, length = body[pos], body[pos + 1]
        inner = body[pos + 2 : pos + 2 + length]
        counts[tag >> 3] = inner[1] if inner else 0
        pos += 2 + length
    assert tuple(sorted(counts)) == expect
    if fields == "both":
        assert counts == {4: 2, 5: 3}


async def test_server_config(client: Client, sim: CursorSimulator) -> None:
    status, _, body = await unary(client, SERVER_CONFIG_PATH, b"", **{"accept-encoding": "identity"})
    assert status == 200
    assert body.startswith(b"\x32\x24" + sim.config.server_config_version.encode())
    answer = GetServerConfigResponse.FromString(body)
    assert (answer.agent_url_config.agent_url, answer.agent_url_config.agentn_url, answer.http2_config) == (
        "",
        "",
        0,
    )
    sim.config.agent_url, sim.config.agentn_url, sim.config.http2_config = (
        "https://a.cursor.sh",
        "https://n.cursor.sh",
        3,
    )
    _, _, body = await unary(client, SERVER_CONFIG_PATH, b"", **{"accept-encoding": "identity"})
    answer = GetServerConfigResponse.FromString(body)
    assert (answer.agent_url_config.agent_url, answer.agent_url_config.agentn_url) == (
        "https://a.cursor.sh",
        "https://n.cursor.sh",
    )
    assert answer.http2_config == 3


async def test_stripe_profile(client: Client, sim: CursorSimulator) -> None:
    sim.config.memberships[USER] = "ultra"
    async with client.get(STRIPE_PATH, headers={"authorization": f"Bearer {make_jwt()}"}) as r:
        assert r.status == 200 and (await r.json())["membershipType"] == "ultra"
    async with client.get(STRIPE_PATH) as r:
        assert r.status == 401


async def test_usage_summary(client: Client, sim: CursorSimulator) -> None:
    cookie = f"WorkosCursorSessionToken={USER}%3A%3A{make_jwt()}"
    async with client.get(USAGE_PATH, headers={"cookie": cookie}) as r:
        data = await r.json()
    plan = data["individualUsage"]["plan"]
    assert plan["remaining"] > 0 and data["billingCycleEnd"] > data["billingCycleStart"]
    sim.config.exhausted_users.add(USER)
    async with client.get(USAGE_PATH, headers={"cookie": cookie}) as r:
        assert (await r.json())["individualUsage"]["plan"]["remaining"] == 0
    async with client.get(
        USAGE_PATH, headers={"cookie": f"WorkosCursorSessionToken=user_other%3A%3A{make_jwt()}"}
    ) as r:
        assert r.status == 401
    async with client.get(USAGE_PATH) as r:
        assert r.status == 401


async def test_oauth_refresh(client: Client, sim: CursorSimulator) -> None:
    old = make_jwt(exp=2_000_000_000)
    body = {
        "grant_type": "refresh_token",
        "client_id": "KbZUR41cY7W6zRSdpSUJ7I7mLYBKOCmB",
        "refresh_token": old,
    }
    async with client.post(OAUTH_PATH, json=body) as r:
        assert r.status == 200
        new = (await r.json())["access_token"]
    claims = parse_jwt(new)
    assert claims is not None and claims["exp"] > 2_000_000_000 and claims["sub"] == parse_jwt(old)["sub"]  # type: ignore[index]
    assert sim.refresh_counts == {"auth0|" + USER: 1}
    async with client.post(OAUTH_PATH, json=body | {"refresh_token": make_jwt(type="web")}) as r:
        assert r.status == 401
    async with client.post(OAUTH_PATH, json=body | {"refresh_token": "junk"}) as r:
        assert r.status == 401
    async with client.post(OAUTH_PATH, json={"grant_type": "password"}) as r:
        assert r.status == 400


# ---------------------------------------------------------------- the update feed (upstream-2026.md §1)


async def feed(client: Client, path: str) -> tuple[int, bytes]:
    async with client.get(path) as r:
        return r.status, await r.read()


async def test_update_feed_offers_the_newest_version_or_204(client: Client, sim: CursorSimulator) -> None:
    sim.config.feed_version = "3.21.4"
    status, raw = await feed(client, "/updates/api/update/linux-x64/cursor/3.20.14/stable")
    answer = json.loads(raw)
    assert status == 200 and answer["name"] == answer["version"] == "3.21.4"
    assert "/production/" in answer["url"]
    machine_hash = "/updates/api/update/darwin-arm64/cursor/0.0.0/deadbeef/stable"
    assert json.loads((await feed(client, machine_hash))[1])["name"] == "3.21.4"
    assert await feed(client, "/updates/api/update/linux-x64/cursor/3.21.4/stable") == (204, b"")
    status, raw = await feed(client, "/updates/api/download/stable/linux-x64/cursor")
    answer = json.loads(raw)
    assert (
        status == 200
        and answer["version"] == "3.21.4"
        and set(answer) == {"downloadUrl", "version", "commitSha"}
    )
    assert (await feed(client, "/updates/api/nothing"))[0] == 404
    assert [r.path.split("/")[3] for r in sim.feed_records] == [
        "update",
        "update",
        "update",
        "download",
        "nothing",
    ]


@pytest.mark.parametrize(("mode", "status"), [("no_update", 204), ("error", 503), ("garbage", 200)])
async def test_update_feed_failure_modes(
    client: Client, sim: CursorSimulator, mode: str, status: int
) -> None:
    sim.config.feed_update = sim.config.feed_download = mode
    for path in (
        "/updates/api/update/linux-x64/cursor/1.0.0/stable",
        "/updates/api/download/stable/linux-x64/cursor",
    ):
        got, raw = await feed(client, path)
        assert got == status
        if mode == "garbage":
            assert json.loads(raw) == {"name": "latest", "version": "3.x"}


async def test_update_feed_down_drops_the_connection(client: Client, sim: CursorSimulator) -> None:
    sim.config.feed_update = "down"
    with pytest.raises(aiohttp.ClientError):
        await feed(client, "/updates/api/update/linux-x64/cursor/1.0.0/stable")
    assert (await feed(client, "/updates/api/download/stable/linux-x64/cursor"))[0] == 200
