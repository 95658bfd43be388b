"""Images of a chat request: apply the vision policy, decode data URLs, fetch http(s) URLs safely.

`vision_ability` decides what is accepted: `none` refuses every image, `base64` only data URLs,
`all` also http(s) URLs. A request carries at most `max_images` images and `max_total_bytes` of
image data (decoded and fetched together): the count is checked before anything is fetched, and
each fetch may read only what is left of the byte budget. Fetching is guarded against server-side request forgery: the host name is
resolved once, every address must be public (no loopback, private, link-local, reserved or
multicast address) unless `VISION_ALLOW_PRIVATE` is on, the connection goes to exactly those
checked addresses (so a second DNS answer cannot point elsewhere), redirects are followed by hand
and checked the same way, and the body is bounded in size and time and must be an image.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.chat.images import (
    MEDIA_TYPES,
    ImageError,
    http_target,
    image_error,
    load_image,
    parse_data_url,
    url_scheme,
)
from gateway.errors import InvalidRequest
from gateway.neutral.model import Image
from gateway.schemas.common import ImageRef

MAX_REDIRECTS: Final = 3


@dataclass(frozen=True, slots=True)
class VisionOptions:
    ability: str  # none | base64 | all
    max_bytes: int
    timeout: float
    allow_private: bool
    max_images: int = 50
    max_total_bytes: int = 4 * 1024 * 1024


async def load_images(refs: Sequence[ImageRef], options: VisionOptions) -> dict[str, Image]:
    """Every image of a request by its `path`, loaded; or a 400 naming the first that cannot be
    used, or the per-request limit that stops them.

    The dialect's schema finds the images (`ImageRef`), its translator places the loaded ones.
    """
    if len(refs) > options.max_images:
        raise InvalidRequest(
            f"The request carries {len(refs)} images; at most {options.max_images} are accepted per "
            "request (VISION_MAX_IMAGES).",
            param="messages",
            code="too_many_images",
        )
    budget = options.max_total_bytes
    loaded: dict[str, Image] = {}
    for ref in refs:
        image = loaded[ref.path] = await _load(ref, options, budget)
        budget -= len(image.data)
    return loaded


async def _load(ref: ImageRef, options: VisionOptions, budget: int) -> Image:
    """One image, within `max_bytes` and the `budget` left of the request's image bytes."""
    if options.ability == "none":
        raise InvalidRequest(
            f"'{ref.path}': images are turned off on this gateway (vision_ability is none).",
            param=ref.path,
            code="unsupported_content",
        )
    scheme = url_scheme(ref.url)
    try:
        if scheme == "data":
            media_type, data = parse_data_url(ref.url, max_bytes=options.max_bytes)
        elif scheme in ("http", "https"):
            if options.ability != "all":
                raise InvalidRequest(
                    f"'{ref.url_path}': image URLs are not fetched by this gateway (vision_ability is "
                    "base64); send the image itself, base64-encoded, instead of its URL.",
                    param=ref.url_path,
                    code="unsupported_image_url",
                )
            limit = min(options.max_bytes, budget)
            try:
                media_type, data = await fetch_image(ref.url, replace(options, max_bytes=limit))
            except ImageTooLarge:
                if limit < options.max_bytes:
                    raise _over_budget(ref, options) from None
                raise
        else:
            raise ImageError("only data: and http(s): URLs are supported")
        if len(data) > budget:
            raise _over_budget(ref, options)
        return load_image(data, media_type, max_bytes=options.max_bytes)
    except ImageError as exc:
        raise image_error(ref.url_path, str(exc)) from None


def _over_budget(ref: ImageRef, options: VisionOptions) -> InvalidRequest:
    return InvalidRequest(
        f"The images of the request add up to more than {options.max_total_bytes} bytes "
        f"(VISION_MAX_TOTAL_BYTES), reached at '{ref.url_path}'.",
        param=ref.url_path,
        code="images_too_large",
    )


class ImageTooLarge(ImageError):
    """A fetched image is over the bytes it may have."""


def address_allowed(address: str) -> bool:
    """Whether a resolved address is a public unicast one (IPv4-mapped IPv6 is judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


class _PinnedResolver(AbstractResolver):
    """Answers only with the addresses that were checked, so the connection goes where we looked."""

    def __init__(self, results: list[ResolveResult]) -> None:
        self._results = results

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [{**r, "port": port} for r in self._results]

    async def close(self) -> None:
        return None


async def _checked_addresses(host: str, port: int, allow_private: bool) -> list[ResolveResult]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ImageError(f"its host {host!r} does not resolve ({exc.strerror or exc})") from None
    results: list[ResolveResult] = []
    for family, _, proto, _, sockaddr in infos:
        address = str(sockaddr[0])
        if not allow_private and not address_allowed(address):
            raise ImageError(f"its host {host!r} is a loopback, private or otherwise non-public address")
        results.append(
            {"hostname": host, "host": address, "port": port, "family": family, "proto": proto, "flags": 0}
        )
    if not results:
        raise ImageError(f"its host {host!r} has no address")
    return results


async def fetch_image(url: str, options: VisionOptions) -> tuple[str, bytes]:
    """GET an image within the limits; ImageError says why it cannot be used."""
    timeout = aiohttp.ClientTimeout(total=options.timeout)
    for _ in range(MAX_REDIRECTS + 1):
        host, port = http_target(url)
        resolved = await _checked_addresses(host, port, options.allow_private)
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(resolved), use_dns_cache=False)
        session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        )
        try:
            async with (
                session,
                session.get(url, allow_redirects=False, headers={"Accept": "image/*"}) as response,
            ):
                if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = _redirected(url, response.headers["location"])
                    continue
                if response.status != 200:
                    raise ImageError(f"fetching it answered HTTP {response.status}")
                media_type = response.content_type.lower()
                if media_type not in MEDIA_TYPES and media_type != "image/jpg":
                    raise ImageError(f"it is served as {media_type!r}, not as a PNG, JPEG, GIF or WebP image")
                data = await _read_capped(response, options.max_bytes)
                return media_type.replace("image/jpg", "image/jpeg"), data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageError(f"fetching it failed ({type(exc).__name__}: {exc})") from None
    raise ImageError(f"fetching it was redirected more than {MAX_REDIRECTS} times")


def _redirected(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError as exc:
        raise ImageError(f"it redirects to a malformed URL ({str(exc)[:120]})") from None


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise ImageTooLarge(f"it is {response.content_length} bytes, more than the {limit} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ImageTooLarge(f"it is more than the {limit} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)
