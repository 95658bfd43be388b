"""Shared fixtures: hypothesis profiles, settings factory, the app and the fake upstream."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

import openai
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, settings

from gateway.app import create_app
from gateway.config import Settings
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import Identity
from tests.fakes import CursorSimulator, SimConfig, make_jwt, start_h2c
from tests.fakes import create_app as create_sim_app
from tests.scripted import Reply, ScriptedTransport

# Every socket a test opens must be closed (tests/socket_guard.py); pytester drives that guard's own test.
pytest_plugins = ["tests.socket_guard", "pytester"]

# `fast` runs in CI on every commit; `deep` (HYPOTHESIS_PROFILE=deep) is the long run.
settings.register_profile(
    "fast", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


# ---------------------------------------------------------------- components some tests need

# Set to 1 where every component must be there (.ci/run): a missing one fails instead of skipping.
REQUIRE_ALL: Final = "CURSOR2API_REQUIRE_ALL"


def require_program(*names: str, install: str) -> str:
    """The path of the first of `names` on PATH.

    When none is installed the calling test is skipped with a reason `pytest -ra` shows (how to
    install it), so the suite passes on a machine without it; with `CURSOR2API_REQUIRE_ALL=1`
    the test fails instead, so CI cannot pass by skipping.
    """
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    reason = f"{' or '.join(names)} is not installed ({install})"
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ALL}=1 requires it", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- the gateway with a scripted upstream

API_KEY = "test-key"
IDENTITY = Identity("0123456789abcdef" * 4, "fedcba9876543210" * 4)


def fake_jwt(sub: str = "auth0|user_test", exp: int = 4_102_444_800) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    payload = part({"sub": sub, "exp": exp, "type": "session", "time": "1700000000"})
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{payload}.{'s' * 43}"


def fixed_pool(jwt: str | None = None) -> TokenPool:
    token = jwt or fake_jwt()
    return TokenPool.fixed([TokenEntry("test", token, token, IDENTITY)])


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values = {
            "API_KEY": API_KEY,
            "TOKEN_FILE": str(tmp_path / ".token"),
            "TOKEN_LIST_FILE": str(tmp_path / ".token-list"),
            "CURSOR_BASE_URL": "http://127.0.0.1:9",
            # Scripted upstreams answer chat calls only; the simulator tests turn the live list on.
            "MODEL_SOURCE": "static",
            "DATA_DIR": str(tmp_path / "data"),
        }
        values.update({key.upper(): str(value) for key, value in overrides.items()})
        return Settings.from_mapping(values)

    return make


@pytest.fixture
def gateway(aiohttp_client, make_settings):
    """Start the gateway app with a scripted upstream; returns (test client, transport)."""

    async def start(*replies: Reply, settings: Settings | None = None, pool: TokenPool | None = None):
        transport = ScriptedTransport(*replies)
        app = create_app(settings or make_settings(), transport=transport, pool=pool or fixed_pool())
        client = await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
        return client, transport

    return start


# ---------------------------------------------------------------- the gateway against the simulator

MODEL = "claude-sonnet-4-5-20250929"  # resolves to claude-4.5-sonnet, which the simulator serves


@pytest.fixture
async def sim_gateway(aiohttp_server, aiohttp_client, make_settings):
    """Start the simulator (HTTP/1.1, or h2c with http2=True) and the gateway in front of it.

    Returns (gateway test client, simulator). The gateway uses its real transports; `pool`
    replaces the default one-token pool; `upstream_rpc="agent"` (any setting can be passed) serves
    chats through the agent service instead of ChatService.
    """
    fronts = []

    async def start(
        config: SimConfig | None = None,
        *,
        http2: bool = False,
        pool: TokenPool | None = None,
        **overrides: object,
    ):
        sim = CursorSimulator(config or SimConfig(seed=0))
        if http2:
            front = await start_h2c(sim, "127.0.0.1", 0)
            fronts.append(front)
            base = front.url
        else:
            server = await aiohttp_server(create_sim_app(sim))
            base = str(server.make_url("")).rstrip("/")
        overrides.setdefault("upstream_http_version", "2" if http2 else "1.1")
        settings = make_settings(cursor_base_url=base, **overrides)
        app = create_app(settings, pool=pool or fixed_pool(make_jwt()))
        client = await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
        return client, sim

    yield start
    for front in fronts:
        await front.close()


@pytest.fixture
async def sdk(aiohttp_server, make_settings):
    """An AsyncOpenAI client (strict response validation) on a real gateway socket, and the simulator."""
    sim = CursorSimulator(SimConfig(seed=0))
    upstream = await aiohttp_server(create_sim_app(sim))
    settings = make_settings(
        cursor_base_url=str(upstream.make_url("")).rstrip("/"),
        upstream_http_version="1.1",
        keepalive_seconds=5,
    )
    gateway = await aiohttp_server(create_app(settings, pool=fixed_pool(make_jwt())))
    client = strict_openai(gateway)
    yield client, sim
    await client.close()


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `condition()` until it holds or `timeout` seconds have passed; what it says then (the
    caller asserts it, or the details behind it)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)
    return condition()


async def runs_ended(sim: CursorSimulator, count: int = 1, timeout: float = 5.0) -> bool:
    """Whether `count` of the simulator's agent runs have ended (have an outcome) within `timeout`."""
    return await eventually(lambda: sum(1 for r in sim.agent_records if r.outcome) >= count, timeout)


def strict_openai(gateway: TestServer) -> openai.AsyncOpenAI:
    """The OpenAI SDK on the gateway's `/v1`, validating every response strictly, never retrying."""
    return openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")),
        api_key=API_KEY,
        max_retries=0,
        _strict_response_validation=True,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deep profile runs 10,000 cases per property: allow it 15 minutes a test, not 60 s."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "deep":
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(900))
