"""A faithful local simulator of Cursor's upstream (cursor-protocol.md §12, SIM-01…SIM-33).

Public API::

    sim = CursorSimulator(SimConfig(seed=0, pace_s=0.0))
    app = create_app(sim)                          # HTTP/1.1 front, for aiohttp_server
    front = await start_http(sim, "127.0.0.1", 0)  # HTTP/1.1 outside pytest: front.url, close()
    h2 = await start_h2c(sim, "127.0.0.1", 0)      # HTTP/2 front: h2.port, h2.url, close()
    sim.push(Scenario("error", error=50, after_frames=0))
    CursorSimulator(SimConfig(default_scenario="agent"))  # real clients: the scripted tool agent
    sim.records[-1].request                        # decoded StreamUnifiedChatRequestWithTools
    token = make_jwt(sub="auth0|user_01...")
"""

from tests.fakes.agent_run import BIDI_APPEND_PATH, RUN_PATH, RUN_SSE_PATH, AgentLog
from tests.fakes.catalog import ModelSpec, default_models
from tests.fakes.config import SimConfig
from tests.fakes.h2server import H2Front, TlsPair, make_tls_pair, start_h2c
from tests.fakes.identity import (
    ChecksumInfo,
    decode_checksum_prefix,
    encode_checksum_prefix,
    make_checksum,
    make_jwt,
    parse_checksum,
    parse_jwt,
)
from tests.fakes.scenarios import Scenario, find_directive
from tests.fakes.server import SIM_KEY, HttpFront, create_app, start_http
from tests.fakes.sim import (
    CHAT_PATH,
    DRY_RUN_PATH,
    EXCHANGE_PATH,
    MODELS_PATH,
    OAUTH_PATH,
    SERVER_CONFIG_PATH,
    STRIPE_PATH,
    USAGE_PATH,
    CursorSimulator,
    SimRecord,
)

__all__ = [
    "BIDI_APPEND_PATH",
    "CHAT_PATH",
    "DRY_RUN_PATH",
    "EXCHANGE_PATH",
    "MODELS_PATH",
    "OAUTH_PATH",
    "RUN_PATH",
    "RUN_SSE_PATH",
    "SERVER_CONFIG_PATH",
    "SIM_KEY",
    "STRIPE_PATH",
    "USAGE_PATH",
    "AgentLog",
    "ChecksumInfo",
    "CursorSimulator",
    "H2Front",
    "HttpFront",
    "ModelSpec",
    "Scenario",
    "SimConfig",
    "SimRecord",
    "TlsPair",
    "create_app",
    "decode_checksum_prefix",
    "default_models",
    "encode_checksum_prefix",
    "find_directive",
    "make_checksum",
    "make_jwt",
    "make_tls_pair",
    "parse_checksum",
    "parse_jwt",
    "start_h2c",
    "start_http",
]
