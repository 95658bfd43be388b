"""The stack the real CLIs talk to: the gateway on a loopback port, in front of the simulator in agent mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.app import create_app
from tests.conftest import API_KEY, MODEL, fixed_pool
from tests.fakes import CursorSimulator, H2Front, HttpFront, SimConfig, make_jwt, start_h2c, start_http


@dataclass(frozen=True, slots=True)
class Stack:
    base_url: str  # the gateway's OpenAI base, ending in /v1
    sim: CursorSimulator
    api_key: str = API_KEY
    model: str = MODEL


@pytest.fixture
async def stack(aiohttp_server, make_settings) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    """`await stack(scenario="agent", **gateway_settings)`: simulator + gateway on free ports.

    `upstream_rpc="agent"` serves the chats through Cursor's agent service instead of ChatService,
    over HTTP/1.1 (`RunSSE` + `BidiAppend`), or over HTTP/2 (`Run`) with `http2=True`.
    `chat_retired=True` makes the simulator play ChatService retired for the session token (for
    `upstream_rpc="auto"`, which moves the first request to the agent service before its first byte
    and keeps the token there).
    """
    fronts: list[HttpFront | H2Front] = []

    async def start(
        scenario: str = "agent",
        *,
        upstream_rpc: str = "chat",
        http2: bool = False,
        chat_retired: bool = False,
        **settings: object,
    ) -> Stack:
        sim = CursorSimulator(SimConfig(seed=0, default_scenario=scenario))
        if chat_retired:
            sim.config.chat_retired.add("session")
        front = await (start_h2c(sim, "127.0.0.1", 0) if http2 else start_http(sim, "127.0.0.1", 0))
        fronts.append(front)
        config = make_settings(
            cursor_base_url=front.url,
            upstream_http_version="2" if http2 else "1.1",
            upstream_rpc=upstream_rpc,
            **settings,
        )
        app = create_app(config, pool=fixed_pool(make_jwt()))
        server = await aiohttp_server(app)
        return Stack(str(server.make_url("/v1")), sim)

    yield start
    for front in fronts:
        await front.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path
