"""The token admin API: reload, replace, read (masked), checksum, pool health, reset; admin key only."""

from __future__ import annotations

import asyncio

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.upstream.checksum import FULL_LENGTH, parse_checksum
from tests.conftest import API_KEY, fake_jwt, fixed_pool
from tests.scripted import ScriptedTransport

ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def admin_client(aiohttp_client, make_settings, tmp_path):
    async def start(*, token_text: str | None = None, pool=None, **overrides):
        if token_text is not None:
            (tmp_path / ".token").write_text(token_text)
        settings = make_settings(auth_token=ADMIN, **overrides)
        app = create_app(settings, transport=ScriptedTransport(), pool=pool)
        return await aiohttp_client(app, headers=AS_ADMIN)

    return start


def jwts(n: int) -> list[str]:
    return [fake_jwt(f"auth0|user_{i}") for i in range(n)]


async def test_reload_reads_both_files(admin_client, tmp_path):
    a, b = jwts(2)
    client = await admin_client(token_text=f"one::{a}\n")
    (tmp_path / ".token").write_text(f"one::{a}\ntwo::{b}\n")
    response = await client.get("/update-tokeninfo")
    answer = await response.json()
    assert response.status == 200
    assert answer["status"] == "success" and answer["token_count"] == 2
    assert answer["token_file"].endswith(".token") and answer["token_list_file"].endswith(".token-list")
    assert a not in await response.text()


async def test_update_persists_reloads_and_reports_malformed_lines(admin_client, tmp_path):
    a, b = jwts(2)
    client = await admin_client()
    text = f"# mine\nwork::{a}\nnot a token\n{b}\n"
    response = await client.post("/update-tokeninfo", json={"tokens": text})
    answer = await response.json()
    assert response.status == 200 and answer["token_count"] == 2
    assert len(answer["problems"]) == 1 and ":3:" in answer["problems"][0]
    assert (tmp_path / ".token").read_text() == text  # the operator's text, comments and all
    listed = (tmp_path / ".token-list").read_text().splitlines()
    assert [line.rsplit(",", 1)[0] for line in listed] == [f"work::{a}", b]
    assert all(parse_checksum(line.rsplit(",", 1)[1]) for line in listed)
    assert a not in await response.text()
    assert client.app[keys.POOL].size == 2


async def test_update_with_a_token_list_pins_the_checksum(admin_client, tmp_path):
    (a,) = jwts(1)
    checksum = (await (await (await admin_client()).get("/checksum")).json())["checksum"]
    client = await admin_client()
    response = await client.post("/update-tokeninfo", json={"tokens": a, "token_list": f"{a},{checksum}"})
    assert response.status == 200
    line = (tmp_path / ".token-list").read_text().strip()
    assert parse_checksum(line.rsplit(",", 1)[1]) == parse_checksum(checksum)


async def test_concurrent_updates_never_lose_a_line(admin_client, tmp_path):
    tokens = jwts(12)
    client = await admin_client()
    texts = ["".join(f"t{i}-{j}::{tok}\n" for j, tok in enumerate(tokens[i : i + 4])) for i in range(8)]
    results = await asyncio.gather(
        *(client.post("/update-tokeninfo", json={"tokens": text}) for text in texts),
        *(client.get("/update-tokeninfo") for _ in range(4)),
    )
    assert all(r.status == 200 for r in results)
    final = (tmp_path / ".token").read_text()
    assert final in texts
    listed = (tmp_path / ".token-list").read_text()
    # Every token of the winning .token has its line in .token-list (earlier ones stay listed, as
    # the seed keeps tokens that are only in .token-list).
    for line in final.splitlines():
        assert line in listed
    await client.get("/update-tokeninfo")
    assert client.app[keys.POOL].size == len(listed.splitlines())


async def test_get_tokeninfo_masks_unless_revealed(admin_client, tmp_path):
    (a,) = jwts(1)
    client = await admin_client(token_text=f"work::{a}\n")
    await client.get("/update-tokeninfo")
    masked = await (await client.post("/get-tokeninfo")).json()
    assert masked["status"] == "success" and masked["masked"] is True
    assert "work::" in masked["tokens"] and a not in masked["tokens"] and a[-4:] in masked["tokens"]
    listed = (tmp_path / ".token-list").read_text()
    identity = parse_checksum(listed.strip().rsplit(",", 1)[1])
    assert identity.machine_id not in masked["token_list"]
    revealed = await (await client.post("/get-tokeninfo", json={"reveal": True})).json()
    assert revealed["tokens"] == f"work::{a}\n" and revealed["token_list"] == listed


async def test_checksum_is_new_and_valid(admin_client):
    client = await admin_client()
    first, second = [(await (await client.get("/checksum")).json())["checksum"] for _ in range(2)]
    assert len(first) == FULL_LENGTH and parse_checksum(first) is not None and first != second


async def test_pool_health_and_reset(admin_client):
    a, b = jwts(2)
    client = await admin_client(token_text=f"one::{a}\ntwo::{b}\n")
    pool = client.app[keys.POOL]
    lease = pool.lease()
    pool.failed(lease, "auth", "no_available_tokens: rejected")
    answer = await (await client.get("/api/tokens")).json()
    assert answer["strategy"] == "round-robin" and answer["counts"]["disabled"] == 1
    by_alias = {t["alias"]: t for t in answer["tokens"]}
    assert by_alias[lease.alias]["state"] == "disabled" and by_alias[lease.alias]["requests"] == 1
    assert set(by_alias[lease.alias]) >= {
        "kind",
        "token",
        "checksum",
        "fingerprint",
        "exp",
        "last_error",
        "last_used",
        "upstream",
        "access",
    }
    assert by_alias["one"]["kind"] == "session" and by_alias["one"]["access"] is None
    assert by_alias["one"]["upstream"]["rpc"] == "chat"
    assert by_alias["one"]["exp"] == 4_102_444_800
    assert a not in repr(answer) and b not in repr(answer)
    response = await client.post("/api/tokens/reset", json={"alias": lease.alias})
    assert (await response.json())["reset"] == [lease.alias]
    assert pool.counts()["disabled"] == 0
    response = await client.post("/api/tokens/reset", json={"alias": "nobody"})
    assert response.status == 400 and (await response.json())["error"]["code"] == "token_not_found"


@pytest.mark.parametrize(
    ("method", "path", "payload", "param"),
    [
        ("POST", "/update-tokeninfo", b"{not json", None),
        ("POST", "/update-tokeninfo", b"[]", None),
        ("POST", "/update-tokeninfo", b'{"tokens": 5}', "tokens"),
        ("POST", "/update-tokeninfo", b'{"tokens": "", "token_list": 1}', "token_list"),
        ("POST", "/get-tokeninfo", b'{"reveal": "yes"}', "reveal"),
        ("POST", "/api/tokens/reset", b"{}", "alias"),
        ("POST", "/logs", b'{"page": 0}', "page"),
        ("POST", "/logs", b'{"page_size": 100000}', "page_size"),
        ("POST", "/logs", b'{"status": "maybe"}', "status"),
    ],
)
async def test_bad_input_is_a_400_envelope(admin_client, method, path, payload, param):
    client = await admin_client()
    response = await client.request(method, path, data=payload, headers={"Content-Type": "application/json"})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


async def test_fixed_pool_has_no_files(admin_client):
    client = await admin_client(pool=fixed_pool())
    response = await client.post("/update-tokeninfo", json={"tokens": ""})
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "token_files_unavailable"
    assert (await client.get("/api/tokens")).status == 200


ADMIN_REQUESTS = [
    ("GET", "/update-tokeninfo"),
    ("POST", "/update-tokeninfo"),
    ("POST", "/get-tokeninfo"),
    ("GET", "/checksum"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens/reset"),
    ("POST", "/logs"),
]


async def test_every_admin_route_refuses_the_api_key(admin_client):
    client = await admin_client()
    admin_routes = {
        (r.method, r.resource.canonical)
        for r in client.app.router.routes()
        if (r.name or "").startswith("admin.") and r.method != "HEAD"
    }
    assert admin_routes >= set(ADMIN_REQUESTS)
    for method, path in sorted(admin_routes):
        for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"Authorization": ""}):
            response = await client.request(method, path, headers=headers)
            assert response.status == 401, (method, path)
            assert (await response.json())["error"]["type"] == "authentication_error"


async def test_admin_routes_are_off_without_auth_token(aiohttp_client, make_settings):
    app = create_app(make_settings(auth_token=""), transport=ScriptedTransport())
    client = await aiohttp_client(app)
    for method, path in ADMIN_REQUESTS:
        response = await client.request(method, path, headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status == 403, path
        assert (await response.json())["error"]["code"] == "admin_disabled"


async def test_no_admin_answer_contains_a_token_or_machine_id(admin_client, tmp_path):
    tokens = [*jwts(3), "crsr_" + "0123456789abcdef" * 4]  # three session tokens and a user API key
    client = await admin_client(token_text="".join(f"n{i}::{t}\n" for i, t in enumerate(tokens)))
    await client.get("/update-tokeninfo")
    await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"}, json={})
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    secrets = [*tokens]
    for line in (tmp_path / ".token-list").read_text().splitlines():
        identity = parse_checksum(line.rsplit(",", 1)[1])
        secrets += [identity.machine_id, identity.mac_machine_id]
    for method, path in ADMIN_REQUESTS:
        payload = {"alias": "n0"} if path.endswith("reset") else {}
        if path == "/update-tokeninfo" and method == "POST":
            payload = {"tokens": (tmp_path / ".token").read_text()}
        text = await (await client.request(method, path, json=payload)).text()
        for secret in secrets:
            assert secret not in text, path
