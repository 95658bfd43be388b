"""Hostile bodies for the admin JSON API: every answer is a success or a 4xx in the envelope."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from tests.conftest import fixed_pool
from tests.scripted import ScriptedTransport

ADMIN = "fuzz-admin-key"
KEYS = st.sampled_from(
    [
        "action",
        "path",
        "content",
        "content_type",
        "enable_stream_check",
        "vision_ability",
        "enable_slow_pool",
        "tokens",
        "token_list",
        "reveal",
        "page",
        "page_size",
        "offset",
        "limit",
        "status",
        "model",
        "request_id",
        "alias",
        "aliases",
        "all",
    ]
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["get", "update", "reset", "/", "/logs", "html", "text", "all", "none", "base64"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
BODIES = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=6).map(lambda d: json.dumps(d).encode()),
    VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
)


@pytest.fixture
async def admin(aiohttp_client, make_settings):
    app = create_app(make_settings(auth_token=ADMIN), transport=ScriptedTransport(), pool=fixed_pool())
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {ADMIN}"})


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/config", "/logs", "/get-tokeninfo", "/api/tokens/reset"]), body=BODIES)
async def test_admin_api_never_fails_on_client_input(admin, path: str, body: bytes) -> None:
    response = await admin.post(path, data=body, headers={"Content-Type": "application/json"})
    assert response.status < 500, (path, body, await response.text())
    payload = await response.json()
    if response.status >= 400:
        assert set(payload["error"]) == {"message", "type", "param", "code"}
