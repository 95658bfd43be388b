"""Images end to end: the vision policy, image messages upstream, and the guarded URL fetcher."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.chat.images import ImageError
from gateway.vision import VisionOptions, address_allowed, fetch_image
from tests.chat.test_images import data_url, gif, png
from tests.scripted import reply, sent_request


def body(*urls: str) -> dict[str, object]:
    parts: list[dict[str, object]] = [{"type": "text", "text": "What is in these images?"}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]}


async def test_data_url_images_go_upstream_as_image_messages(gateway, make_settings) -> None:
    first, second = png(40, 30), gif(7, 9)
    client, transport = await gateway(reply("A square."), settings=make_settings())
    response = await client.post(
        "/v1/chat/completions", json=body(data_url(first, "image/png"), data_url(second, "image/gif"))
    )
    assert response.status == 200, await response.text()
    [human] = sent_request(transport).conversation
    assert human.text == "What is in these images?"
    assert [(i.data, i.dimension.width, i.dimension.height) for i in human.images] == [
        (first, 40, 30),
        (second, 7, 9),
    ]
    assert [i.uuid for i in human.images] == ["256", "257"]


async def test_vision_none_refuses_images(gateway, make_settings) -> None:
    client, transport = await gateway(settings=make_settings(vision_ability="none"))
    response = await client.post("/v1/chat/completions", json=body(data_url(png(1, 1), "image/png")))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "unsupported_content" and error["param"] == "messages[0].content[1].image_url"
    assert transport.sent == []


async def test_base64_mode_does_not_fetch_urls(gateway, make_settings) -> None:
    client, _ = await gateway(settings=make_settings())
    response = await client.post("/v1/chat/completions", json=body("https://example.com/cat.png"))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (
        error["code"] == "unsupported_image_url" and error["param"] == "messages[0].content[1].image_url.url"
    )


async def test_broken_image_is_a_400_naming_it(gateway, make_settings) -> None:
    client, _ = await gateway(settings=make_settings())
    response = await client.post("/v1/chat/completions", json=body("data:image/png;base64,aGVsbG8="))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_image" and "not a PNG" in error["message"]


async def test_images_in_assistant_messages_are_refused(gateway, make_settings) -> None:
    client, _ = await gateway(settings=make_settings())
    payload = body()
    payload["messages"] = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "image_url", "image_url": {"url": data_url(png(1, 1), "image/png")}}],
        },
        {"role": "user", "content": "and?"},
    ]
    response = await client.post("/v1/chat/completions", json=payload)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "unsupported_content"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_only_public_addresses_may_be_fetched(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


# ---------------------------------------------------------------- fetching (a local image server)


@pytest.fixture
async def image_server(aiohttp_server):
    image = png(12, 8)

    async def ok(_: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/png")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=image + b"\x00" * 4096, content_type="image/png")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=image, content_type="image/png")

    async def hop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/ok.png")

    app = web.Application()
    app.router.add_get("/ok.png", ok)
    app.router.add_get("/page", html)
    app.router.add_get("/big.png", big)
    app.router.add_get("/slow.png", slow)
    app.router.add_get("/hop", hop)
    server = await aiohttp_server(app)
    return server, image


def options(**overrides: object) -> VisionOptions:
    values: dict[str, object] = {"ability": "all", "max_bytes": 2048, "timeout": 1.0, "allow_private": True}
    values.update(overrides)
    return VisionOptions(**values)  # type: ignore[arg-type]


async def test_loopback_urls_are_refused_unless_allowed(image_server) -> None:
    server, image = image_server
    url = str(server.make_url("/ok.png"))
    with pytest.raises(ImageError, match="non-public"):
        await fetch_image(url, options(allow_private=False))
    with pytest.raises(ImageError, match="non-public"):
        await fetch_image(url.replace("127.0.0.1", "localhost"), options(allow_private=False))
    assert await fetch_image(url, options()) == ("image/png", image)


async def test_redirects_are_followed_and_checked(image_server) -> None:
    server, image = image_server
    assert await fetch_image(str(server.make_url("/hop")), options()) == ("image/png", image)
    with pytest.raises(ImageError, match="non-public"):
        await fetch_image(str(server.make_url("/hop")), options(allow_private=False))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page", "served as 'text/html'"),
        ("/big.png", "more than the 2048"),
        ("/slow.png", "TimeoutError"),
        ("/nope", "HTTP 404"),
    ],
)
async def test_fetch_limits(image_server, path: str, reason: str) -> None:
    server, _ = image_server
    with pytest.raises(ImageError, match=reason):
        await fetch_image(str(server.make_url(path)), options())


async def test_fetched_image_goes_upstream(gateway, make_settings, image_server) -> None:
    server, image = image_server
    settings = make_settings(vision_ability="all", vision_allow_private=True)
    client, transport = await gateway(reply("A tiny image."), settings=settings)
    response = await client.post("/v1/chat/completions", json=body(str(server.make_url("/ok.png"))))
    assert response.status == 200, await response.text()
    [human] = sent_request(transport).conversation
    assert [(i.data, i.dimension.width, i.dimension.height) for i in human.images] == [(image, 12, 8)]


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x.png",
        "http://example.com:99999/x.png",
        "http://example.com:abc/x.png",
        "http://example.com:-1/x.png",
        "http://a..b/x.png",
        f"http://{'a' * 64}.example/x.png",
    ],
)
async def test_a_malformed_image_url_is_a_400_naming_it(gateway, make_settings, url) -> None:
    client, transport = await gateway(settings=make_settings(vision_ability="all"))
    response = await client.post("/v1/chat/completions", json=body(url))
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("invalid_image", "messages[0].content[1].image_url.url")
    assert transport.sent == []


async def test_a_png_wider_than_cursor_takes_is_a_400(gateway, make_settings) -> None:
    client, transport = await gateway(settings=make_settings())
    wide = png(1, 1)[:16] + (2**31).to_bytes(4, "big") + (1).to_bytes(4, "big") + png(1, 1)[24:]
    response = await client.post("/v1/chat/completions", json=body(data_url(wide, "image/png")))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_image"
    assert transport.sent == []


# ---------------------------------------------------------------- per-request limits


@pytest.fixture
async def counted_images(aiohttp_server):
    """An image server that counts its requests; returns (url of a PNG, the PNG, the hit list)."""
    image = png(12, 8)
    hits: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=image, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = await aiohttp_server(app)
    return str(server.make_url("/cat.png")), image, hits


def many_messages(urls: list[str], per_message: int = 20) -> dict[str, object]:
    messages = []
    for start in range(0, len(urls), per_message):
        parts = [{"type": "image_url", "image_url": {"url": u}} for u in urls[start : start + per_message]]
        messages.append({"role": "user", "content": [{"type": "text", "text": "and these?"}, *parts]})
    return {"model": "gpt-4o", "messages": messages}


async def test_more_images_than_allowed_per_request_fetches_nothing(gateway, make_settings, counted_images):
    url, _, hits = counted_images
    settings = make_settings(vision_ability="all", vision_allow_private=True, vision_max_images=30)
    client, transport = await gateway(settings=settings)
    response = await client.post("/v1/chat/completions", json=many_messages([url] * 31))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("too_many_images", "messages")
    assert "VISION_MAX_IMAGES" in error["message"]
    assert hits == [] and transport.sent == []
    client, _ = await gateway(reply("Thirty cats."), settings=settings)
    response = await client.post("/v1/chat/completions", json=many_messages([url] * 30))
    assert response.status == 200, await response.text()
    assert len(hits) == 30


@pytest.mark.parametrize("source", ["fetched", "data"])
async def test_image_bytes_per_request_stop_at_the_total_limit(
    gateway, make_settings, counted_images, source
):
    url, image, hits = counted_images
    total = 2 * len(image) + len(image) // 2  # room for two and a half images
    settings = make_settings(
        vision_ability="all", vision_allow_private=True, vision_max_total_bytes=max(total, 1024)
    )
    count = max(total, 1024) // len(image) + 1  # one more than fits
    ref = url if source == "fetched" else data_url(image, "image/png")
    client, transport = await gateway(settings=settings)
    response = await client.post("/v1/chat/completions", json=many_messages([ref] * (count + 5)))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "images_too_large" and "VISION_MAX_TOTAL_BYTES" in error["message"]
    last = (count - 1) % 20
    assert error["param"] == f"messages[{(count - 1) // 20}].content[{last + 1}].image_url.url"
    assert len(hits) == (count if source == "fetched" else 0)  # nothing fetched after the limit
    assert transport.sent == []
