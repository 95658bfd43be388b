"""Pages, static files, `/env-example` and `POST /config` with the options it applies live."""

from __future__ import annotations

import json
import re

import pytest

from gateway.app import create_app
from gateway.config import SETTINGS
from gateway.handlers.pages import PAGE_HEADERS, STATIC_FILES
from gateway.runtime_config import CUSTOMISABLE_PATHS
from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.transport import TransportError
from tests.chat.test_images import data_url, png
from tests.conftest import API_KEY, fake_jwt, fixed_pool
from tests.scripted import END, Reply, ScriptedTransport, reply, sent_request, text

ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def site(aiohttp_client, make_settings):
    """`await site(*replies, **settings)` -> (client with the API key, transport, app)."""

    async def start(*replies: Reply, **overrides: object):
        transport = ScriptedTransport(*replies)
        app = create_app(make_settings(auth_token=ADMIN, **overrides), transport=transport, pool=fixed_pool())
        client = await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
        return client, transport, app

    return start


async def config(client, **body: object) -> dict[str, object]:
    response = await client.post("/config", json=body, headers=AS_ADMIN)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/", "Connect a client"),
        ("/tokeninfo", "Pool health"),
        ("/logs", "Request log"),
        ("/config", "Runtime configuration"),
    ],
)
async def test_pages_need_no_key_and_show_no_secret(site, path, marker) -> None:
    client, _, _ = await site()
    response = await client.get(path, headers={"Authorization": ""})
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert marker in page
    for secret in (API_KEY, ADMIN, fake_jwt()):
        assert secret not in page


async def test_status_page_has_base_url_models_and_examples(site) -> None:
    client, _, _ = await site()
    page = await (await client.get("/", headers={"Host": "gw.example:8080"})).text()
    assert "http://gw.example:8080/v1" in page
    assert page.count('class="card model"') >= 10 and "-thinking" in page
    assert "curl http://gw.example:8080/v1/chat/completions" in page
    assert '"error": {"message"' in page  # the error format


async def test_examples_use_a_current_model_and_the_version_is_shown(site) -> None:
    """Without Cursor's list, the seed alias of a current model; never a retired 2024 id. The
    client version is the built-in one until the feed answers (here it cannot)."""
    client, _, _ = await site()
    page = await (await client.get("/")).text()
    assert '"model": "claude-sonnet-4-5-20250929"' in page
    assert '"model": "claude-3.5-sonnet", "messages"' not in page.split("<h2>Models</h2>")[0]
    assert '<code id="client-version">3.20.14</code>' in page and "built in" in page
    live = pb.AvailableModelsResponse(
        models=[pb.AvailableModelsResponse.AvailableModel(name="claude-4.5-sonnet")]
    )
    client, _, _ = await site(Reply([live.SerializeToString()]), model_source="live")
    page = await (await client.get("/")).text()
    assert '"model": "claude-4.5-sonnet"' in page.split("<h2>Models</h2>")[0]


async def test_forwarded_headers_only_when_trusted(site) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example"}
    client, _, _ = await site()
    assert "https://api.example/v1" not in await (await client.get("/", headers=forwarded)).text()
    client, _, _ = await site(trust_forwarded_headers=True)
    assert "https://api.example/v1" in await (await client.get("/", headers=forwarded)).text()


async def test_static_files_and_env_example(site) -> None:
    client, _, _ = await site()
    css = await client.get("/static/shared-styles.css", headers={"Authorization": ""})
    assert css.status == 200 and css.content_type == "text/css"
    js = await client.get("/static/shared.js", headers={"Authorization": ""})
    assert js.status == 200 and "sessionStorage" in await js.text()
    assert (await client.get("/static/../../setup.cfg")).status == 404
    assert (await client.get("/static/nope.js")).status == 404
    env = await (await client.get("/env-example", headers={"Authorization": ""})).text()
    pairs = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    assert pairs == {s.name: s.default for s in SETTINGS}


async def test_config_needs_the_admin_key(site) -> None:
    client, _, _ = await site()
    response = await client.post("/config", json={"action": "get"})  # the API key is not enough
    assert response.status in (401, 403)
    assert (await response.json())["error"]["code"]


async def test_config_get_update_reset_and_persist(site, tmp_path, aiohttp_client, make_settings) -> None:
    client, _, _ = await site()
    got = await config(client, action="get")
    assert got["status"] == "success"
    assert got["data"] == {
        "page_content": None,
        "content_type": "default",
        "enable_stream_check": False,
        "vision_ability": "base64",
        "enable_slow_pool": False,
    }
    changed = await config(client, action="update", vision_ability="none", enable_slow_pool=True)
    assert changed["data"]["vision_ability"] == "none" and changed["data"]["enable_slow_pool"] is True
    saved = json.loads((tmp_path / "data" / "runtime-config.json").read_text())
    assert saved["vision_ability"] == "none"
    # A new process (a new app on the same DATA_DIR) starts from what was saved.
    again = await aiohttp_client(
        create_app(make_settings(auth_token=ADMIN), transport=ScriptedTransport(), pool=fixed_pool())
    )
    response = await again.post("/config", json={"action": "get"}, headers=AS_ADMIN)
    assert (await response.json())["data"]["vision_ability"] == "none"
    reset = await config(client, action="reset")
    assert reset["data"]["vision_ability"] == "base64" and reset["data"]["enable_slow_pool"] is False


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"action": "explode"}, "action"),
        ({"action": "update", "vision_ability": "some"}, "vision_ability"),
        ({"action": "update", "enable_slow_pool": "yes"}, "enable_slow_pool"),
        ({"action": "update", "path": "/config", "content": "x"}, "path"),
        ({"action": "update", "path": "/", "content_type": "html"}, "content"),
    ],
)
async def test_config_rejects_bad_input_naming_the_field(site, body, param) -> None:
    client, _, _ = await site()
    response = await client.post("/config", json=body, headers=AS_ADMIN)
    assert response.status == 400
    assert (await response.json())["error"]["param"] == param


async def test_custom_page_content_replaces_and_restores_a_page(site) -> None:
    client, _, _ = await site()
    await config(client, action="update", path="/", content_type="html", content="<h1>Our gateway</h1>")
    response = await client.get("/")
    assert response.content_type == "text/html" and await response.text() == "<h1>Our gateway</h1>"
    await config(client, action="update", path="/logs", content_type="text", content="logs are elsewhere")
    response = await client.get("/logs")
    assert response.content_type == "text/plain" and await response.text() == "logs are elsewhere"
    got = await config(client, action="get", path="/")
    assert got["data"]["page_content"] == "<h1>Our gateway</h1>" and got["data"]["content_type"] == "html"
    await config(client, action="reset", path="/")
    assert "Connect a client" in await (await client.get("/")).text()


async def test_vision_option_applies_without_restart(site) -> None:
    client, _, _ = await site(reply("ok"))
    image = {"type": "image_url", "image_url": {"url": data_url(png(2, 2), "image/png")}}
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, image]}],
    }
    await config(client, action="update", vision_ability="none")
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 400 and (await response.json())["error"]["code"] == "unsupported_content"
    await config(client, action="update", vision_ability="base64")
    assert (await client.post("/v1/chat/completions", json=body)).status == 200


async def test_slow_pool_option_sets_the_protocol_field(site) -> None:
    client, transport, _ = await site(reply("one"), reply("two"))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/chat/completions", json=body)).status == 200
    assert not sent_request(transport, 0).model_details.HasField("enable_slow_pool")
    await config(client, action="update", enable_slow_pool=True)
    assert (await client.post("/v1/chat/completions", json=body)).status == 200
    assert sent_request(transport, 1).model_details.enable_slow_pool is True


async def test_stream_check_holds_headers_until_the_first_event(site) -> None:
    """With the stream check on, keep-alives do not commit: a late failure is still a real status."""
    late_failure = Reply([1.6, TransportError("connection reset")])
    client, _, _ = await site(late_failure, Reply([1.6, text("hi"), END]), keepalive_seconds=1)
    await config(client, action="update", enable_stream_check=True)
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 502  # not a committed 200 with an in-band error
    response = await client.post("/v1/chat/completions", json=body)
    raw = await response.text()
    assert (
        response.status == 200 and raw.startswith("data: ") and ": keep-alive" not in raw.split("data: ")[0]
    )


@pytest.mark.parametrize("path", ["/", "/tokeninfo", "/logs", "/config"])
async def test_pages_send_a_strict_content_security_policy(site, path) -> None:
    client, _, _ = await site()
    response = await client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    )
    page = await response.text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []  # no inline script for the policy to block
    for script in re.findall(r'<script src="([^"]+)"', page):
        assert (await client.get(script)).status == 200


def page_paths(app) -> list[str]:
    """A path for every page route (the route names `index` and `page.*`), static files for each."""
    paths = []
    for route in app.router.routes():
        name = route.name or ""
        if name != "index" and not name.startswith("page."):
            continue
        info = route.resource.get_info()
        if "formatter" in info:
            paths += [info["formatter"].format(name=file) for file in STATIC_FILES]
        else:
            paths.append(info["path"])
    return paths


@pytest.mark.parametrize("replaced", [False, True], ids=["built-in", "replaced"])
async def test_every_page_built_in_or_replaced_carries_the_security_headers(site, replaced) -> None:
    client, _, app = await site()
    if replaced:
        for path in CUSTOMISABLE_PATHS:
            await config(client, action="update", path=path, content_type="html", content="<p>custom</p>")
    paths = page_paths(app)
    assert {"/", "/config", "/static/shared.js", "/static/builtin/shared.js"} <= set(paths)
    for path in paths:
        response = await client.get(path, headers={"Authorization": ""})
        assert response.status == 200, path
        for header, value in PAGE_HEADERS.items():
            assert response.headers.get(header) == value, (path, header)
        if replaced and path in CUSTOMISABLE_PATHS:
            assert await response.text() == "<p>custom</p>", path


async def test_a_replaced_shared_script_cannot_take_over_the_config_page(site) -> None:
    client, _, _ = await site()
    await config(client, action="update", path="/static/shared.js", content_type="text", content="stealKey()")
    await config(
        client, action="update", path="/static/shared-styles.css", content_type="text", content="*{}"
    )
    assert await (await client.get("/static/shared.js")).text() == "stealKey()"  # other pages: the operator's
    page = await (await client.get("/config")).text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert assets and all(asset.startswith("/static/builtin/") for asset in assets)
    for asset in assets:
        body = await (await client.get(asset)).text()
        assert body and "stealKey" not in body and body != "*{}"
    shipped = await (await client.get("/static/builtin/shared.js")).text()
    assert "sessionStorage" in shipped
    missing = await client.get("/static/builtin/nope.js")
    assert missing.status == 404
