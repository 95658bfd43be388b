"""Demo mode: run the gateway against the bundled upstream simulator, offline, with a demo token.

The simulator lives in `tests/fakes/` of a source checkout; it is imported only when demo mode is
on. Answers are the simulator's, never Cursor's: it echoes the last user message, and with tools
it plays a small scripted agent (see `tests/fakes/agent.py`), so Kilo Code or Continue can be
tried offline. The status page and the log say so.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from gateway.config import ConfigError, Settings
from gateway.tokens.pool import TokenPool
from gateway.tokens.store import TokenEntry
from gateway.upstream.checksum import new_identity

log = logging.getLogger(__name__)

DEMO_PACE_SECONDS: Final = 0.03  # so streaming is visible in a terminal


@asynccontextmanager
async def start_demo(settings: Settings) -> AsyncIterator[tuple[Settings, TokenPool]]:
    """Start the simulator on a free loopback port; yield settings pointing at it and a demo pool."""
    try:
        from tests.fakes import CursorSimulator, SimConfig, make_jwt, start_http
    except ImportError as exc:
        raise ConfigError(
            "DEMO: the upstream simulator (tests/fakes/) is not importable; run the gateway from a source "
            "checkout of cursor2api"
        ) from exc
    # Any model id is accepted: the demo shows the gateway, not which models Cursor still serves.
    front = await start_http(
        CursorSimulator(SimConfig(pace_s=DEMO_PACE_SECONDS, check_model=False, default_scenario="agent")),
        "127.0.0.1",
        0,
    )
    try:
        jwt = make_jwt(sub="auth0|user_demo")
        pool = TokenPool.fixed([TokenEntry("demo", jwt, jwt, new_identity())])
        log.warning(
            "DEMO mode: answers come from the local upstream simulator at %s, not from Cursor", front.url
        )
        # The demo offers the simulator's model list (current Cursor names such as claude-4.5-sonnet
        # and composer-1) plus the seed ids; the simulator takes any model id. Its update feed
        # gives the client version, saved under the simulator's address only.
        demo_settings = settings.replace(
            cursor_base_url=front.url, upstream_http_version="1.1", model_source="merged"
        )
        yield demo_settings, pool
    finally:
        await front.close()
