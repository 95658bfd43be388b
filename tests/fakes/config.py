"""`SimConfig`: every knob of the simulator, each check switchable (SIM-04…SIM-10).

The config is a plain mutable dataclass: tests may flip a check on a running simulator
(`sim.config.check_checksum = False`). Clocks are injectable so nothing depends on wall time
unless a test asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.catalog import ModelSpec, default_models


@dataclass(slots=True)
class SimConfig:
    # determinism and pacing
    seed: int = 0
    pace_s: float = 0.0  # delay between content frames
    heartbeat_every_s: float = 0.0  # heartbeat period inside pauses
    gzip_ratio: float = 0.6  # share of gzip frames (SIM-12)
    writes: str = "frame"  # default write mode (SIM-15)
    # the scenario for chat requests that no queue, token entry or directive decides, written like
    # a directive's inside ("agent", "agent prose_first=true"); "" keeps the built-in choice
    # (thinking for thinking requests, else echo). "agent" serves real clients.
    default_scenario: str = ""
    now: Callable[[], float] = time.time  # wall clock: checksum freshness, JWT expiry, billing
    clock: Callable[[], float] = time.monotonic  # record timestamps

    # header checks (SIM-04…SIM-09)
    check_auth: bool = True
    check_content_type: bool = True
    check_connect_headers: bool = True
    check_client_version: bool = True
    min_client_version: str = "1.0.0"
    # below it: "update_required" (the live error-28 trailer), "http_400" (the live plain-text
    # HTTP 400), "outdated_client" (30) or "deprecated" (40)
    outdated_variant: str = "update_required"
    check_checksum: bool = True
    check_checksum_fresh: bool = False
    check_identity_headers: bool = True  # shape checks, recorded as warnings
    strict_headers: bool = False  # turn identity-header warnings into BAD_REQUEST
    require_http2: bool = False  # HTTP/1.1 chat RPC → 505 (SIM-23)

    # body checks (SIM-10)
    check_body: bool = True
    check_model: bool = True
    max_body: int = 8 * 1024 * 1024

    # unary and JSON endpoints (SIM-29…SIM-32)
    models: list[ModelSpec] = field(default_factory=default_models)
    unary_gzip: bool = True  # gzip unary bodies when the request accepts gzip
    dry_run_fields: str = "both"  # both | full | user | none
    server_config_version: str = "5f0c1c7e-3b8a-4d2e-9a51-0c6f2b7d9e11"
    membership: str = "pro"
    memberships: dict[str, str] = field(default_factory=dict)  # user id or sub → membershipType
    exhausted_users: set[str] = field(default_factory=set)  # user ids or subs with a spent plan
    plan_limit: int = 500
    refresh_lifetime_s: int = 60 * 86400

    # per-token answers: key (JWT `sub`, user id, whole token, or its 8-hex fingerprint) → a
    # scenario (or scenario name, e.g. "unauthorized", "rate_limit", "usage_limit") for every chat
    # request made with that token; used after the queue and `set_token_behaviour`.
    token_errors: dict[str, Any] = field(default_factory=dict)

    # the agent service (agent_run.py)
    agent_url: str = ""  # GetServerConfig's AgentUrlConfig.agent_url ("" names none)
    agentn_url: str = ""  # AgentUrlConfig.agentn_url
    http2_config: int = 0  # GetServerConfig's Http2Config (1 or 3: no bidirectional Run)
    agent_answer_timeout_s: float = 10.0  # then a run that waits for an answer fails (Cursor waits on)
    agent_linger_s: float = 30.0  # a finished run stays open this long unless the client closes it

    # user API keys (`apikeys.py`): key → the account's JWT `sub`, and how long the access tokens
    # the exchange hands out live
    api_keys: dict[str, str] = field(default_factory=dict)
    access_token_lifetime_s: int = 3600
    # ChatService answers 404 `unimplemented` for these tokens: token keys (as for `token_errors`)
    # or token kinds (`session`, `api_key`); Cursor reports it decommissioned for API-key tokens
    chat_retired: set[str] = field(default_factory=lambda: {"api_key"})

    # Cursor's update feed (upstream-2026.md §1): the newest version it offers, and per endpoint a
    # mode: "ok", "no_update" (204), "error" (503), "garbage" (not a version) or "down" (no answer)
    feed_version: str = "3.20.14"
    feed_update: str = "ok"
    feed_download: str = "ok"

    # fronts
    h2_abort: str = "rst"  # "rst" (RST_STREAM) or "connection" (drop the TCP connection)
    control_api: bool = True
