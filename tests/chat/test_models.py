"""The live model list (cursor-protocol.md §11.3, §11.4): mapping, merging, caching, fallback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from gateway import keys
from gateway.chat.catalog import CATALOG, CONTEXT, FALLBACK_CONTEXT, live_catalog
from gateway.neutral.model import LiveModel
from gateway.upstream.pb import cursor_pb2 as pb
from tests.conftest import MODEL
from tests.fakes import Scenario, SimConfig
from tests.fakes.sim import MODELS_PATH
from tests.scripted import Reply

LIVE = [
    LiveModel("claude-4.5-sonnet", "claude-4.5-sonnet", 200_000, True, False),
    LiveModel("claude-4.5-sonnet-thinking", "claude-4.5-sonnet-thinking", 200_000, True, False),
    LiveModel("claude-4-opus", "claude-4.1-opus", None, True, False),
    LiveModel("cursor-small", "cursor-small", 60_000, False, False),
    LiveModel("claude-3.5-sonnet", "claude-3.5-sonnet", 200_000, True, True),
]


def test_live_entries_map_names_and_skip_disabled_ones() -> None:
    catalog = live_catalog(LIVE, "live")
    assert "claude-3.5-sonnet" not in catalog  # DISABLED
    assert catalog["claude-4-opus"].upstream_name == "claude-4.1-opus"  # server name is what is sent
    assert catalog["claude-4-opus"].context_window == 200_000  # unknown limit: the family default
    assert catalog["cursor-small"].context_window == 60_000
    assert catalog["claude-4-opus"].owned_by == "anthropic" and catalog["cursor-small"].owned_by == "cursor"


def test_thinking_twins_prefer_cursors_own_thinking_entry() -> None:
    catalog = live_catalog(LIVE, "live")
    own = catalog["claude-4.5-sonnet-thinking"]
    assert own.thinking and own.upstream_name == "claude-4.5-sonnet-thinking"
    twin = catalog["claude-4-opus-thinking"]
    assert twin.thinking and twin.upstream_name == "claude-4.1-opus"
    assert "cursor-small-thinking" not in catalog  # Cursor says it cannot think
    assert "claude-4.5-sonnet-thinking-thinking" not in catalog


def test_merged_keeps_seed_ids_that_cursor_still_serves() -> None:
    merged = live_catalog(LIVE, "merged")
    assert merged[MODEL].upstream_name == "claude-4.5-sonnet"  # claude-sonnet-4-5-20250929
    assert "gpt-4" not in merged and "claude-3.5-sonnet" not in merged  # not served (any more)
    assert set(live_catalog(LIVE, "live")) < set(merged)
    assert live_catalog(LIVE, "static") == CATALOG


async def test_models_endpoint_serves_the_live_list_once_per_ttl(sim_gateway) -> None:
    client, sim = await sim_gateway(model_source="merged")
    first = await (await client.get("/v1/models")).json()
    second = await (await client.get("/v1/models")).json()
    assert first == second
    ids = {m["id"] for m in first["data"]}
    assert {"claude-4.5-sonnet", "claude-4.5-sonnet-thinking", "claude-4-opus", "gpt-5.1", MODEL} <= ids
    assert "claude-3.5-sonnet" not in ids and "gpt-4" not in ids
    assert sum(r.path == MODELS_PATH for r in sim.records) == 1  # cached


async def test_a_live_only_model_can_be_used_and_sends_the_server_name(sim_gateway) -> None:
    client, sim = await sim_gateway(model_source="merged")
    body = {"model": "claude-4-opus", "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200, await response.text()
    chat = sim.chat_records[-1].chat
    assert chat is not None and chat.model_details.model_name == "claude-4.1-opus"
    response = await client.post("/v1/chat/completions", json={**body, "model": "gpt-4"})
    assert response.status == 400  # a retired seed id is no longer offered
    assert (await response.json())["error"]["code"] == "model_not_found"


async def test_a_failed_fetch_falls_back_to_the_seed_lists(sim_gateway) -> None:
    client, sim = await sim_gateway(SimConfig(seed=0), model_source="merged")
    sim.push_unary(MODELS_PATH, Scenario("error", error=50, shape="wrapped"))
    ids = {m["id"] for m in (await (await client.get("/v1/models")).json())["data"]}
    assert ids == set(CATALOG)


async def test_static_never_asks_cursor(sim_gateway) -> None:
    client, sim = await sim_gateway(model_source="static")
    ids = {m["id"] for m in (await (await client.get("/v1/models")).json())["data"]}
    assert ids == set(CATALOG)
    assert not any(r.path == MODELS_PATH for r in sim.records)


# ---------------------------------------------------------------- Cursor's real answer (upstream-2026.md §8)

CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "available-models-2026-06.json"


def captured_answer() -> bytes:
    """The captured protojson, parsed strictly (every field it uses is in our .proto), as bytes."""
    message = json_format.ParseDict(
        json.loads(CAPTURE.read_text(encoding="utf-8")), pb.AvailableModelsResponse()
    )
    return message.SerializeToString()


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
async def test_the_captured_model_list_through_the_gateway(gateway, make_settings, compressed) -> None:
    raw = captured_answer()
    reply = Reply([gzip.compress(raw) if compressed else raw])
    client, transport = await gateway(reply, settings=make_settings(model_source="live"))
    models = {m["id"]: m for m in (await (await client.get("/v1/models")).json())["data"]}
    assert transport.sent[0].url.endswith("/aiserver.v1.AiService/AvailableModels")
    names = [m["name"] for m in json.loads(CAPTURE.read_text(encoding="utf-8"))["models"]]
    assert len(names) == 46 and set(names) <= set(models)
    # No entry of the capture states a context window: every one still has one, never null.
    assert all(isinstance(m["context_window"], int) and m["context_window"] > 0 for m in models.values())
    assert all(m["max_tokens"] == m["context_window"] for m in models.values())
    expected = {
        "composer-1": 200_000,
        "claude-4.5-opus-high-thinking": 200_000,
        "claude-4-sonnet-1m": 1_000_000,
        "gpt-5.2-codex": 272_000,
        "gemini-3-pro": 200_000,
        "grok-code-fast-1": 256_000,
        "kimi-k2-instruct": 256_000,
        "default": 200_000,
    }
    assert {name: models[name]["context_window"] for name in expected} == expected
    # Thinking twins only where Cursor says the model thinks.
    assert "gpt-5.2-thinking" in models and "composer-1-thinking" not in models
    # The public id is `name`; what goes upstream is `serverModelName`.
    catalog = client.server.app[keys.MODELS]
    assert (await catalog.resolve("gemini-3-pro")).upstream_name == "gemini-3-pro-preview"
    kimi = await catalog.resolve("kimi-k2-instruct")
    assert (
        kimi.upstream_name == "accounts/fireworks/models/kimi-k2-instruct-0905" and kimi.owned_by == "cursor"
    )
    assert (await catalog.resolve("composer-1")).composer


def test_every_family_window_is_documented() -> None:
    """The README names the window of each family in CONTEXT."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for window in {size for _, size in CONTEXT} - {8_192, 16_385, 128_000, 500_000}:
        assert f"{window:,}" in readme, window
    assert f"{FALLBACK_CONTEXT:,}" in readme
