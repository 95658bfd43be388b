"""Fixtures for the simulator's own tests: a simulator, its HTTP/1.1 test client, its h2c front."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from tests.fakes import CursorSimulator, H2Front, SimConfig, create_app, start_h2c


@pytest.fixture
def sim() -> CursorSimulator:
    return CursorSimulator(SimConfig(seed=0))


@pytest.fixture
async def client(
    sim: CursorSimulator, aiohttp_client: AiohttpClient
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(sim))


@pytest.fixture
async def h2_front(sim: CursorSimulator) -> AsyncIterator[H2Front]:
    front = await start_h2c(sim, "127.0.0.1", 0)
    yield front
    await front.close()
