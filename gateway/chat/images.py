"""Images a client sends (cursor-protocol.md §8.3): data URLs decoded, sizes read from headers. Pure.

Cursor takes the raw image file bytes plus the pixel size, so the size is read from the file
header (PNG IHDR, JPEG SOF, GIF screen descriptor, WebP VP8/VP8L/VP8X); no image library is
needed. Animated GIFs are refused, as Cursor does not take them.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import struct
from typing import Final
from urllib.parse import urlsplit

from gateway.errors import InvalidRequest
from gateway.neutral.model import Image

MEDIA_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_DIMENSION: Final = 2**31 - 1  # Cursor's image size fields are int32
MAX_HOST_LENGTH: Final = 253
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LABEL: Final = re.compile(rb"[A-Za-z0-9_-]{1,63}")
_DATA_URL: Final = re.compile(r"data:(image/[A-Za-z0-9.+-]+)(?:;[A-Za-z0-9=.+-]+)*;base64,", re.I)


class ImageError(ValueError):
    """The bytes are not a usable PNG, JPEG, GIF or WebP image; the message says why."""


def parse_data_url(url: str, *, max_bytes: int) -> tuple[str, bytes]:
    """`data:image/…;base64,…` -> (media type, bytes); ImageError when it is anything else."""
    match = _DATA_URL.match(url)
    if match is None:
        raise ImageError("it is not a base64 data URL of an image (data:image/png;base64,…)")
    media_type = match.group(1).lower().replace("image/jpg", "image/jpeg")
    encoded = url[match.end() :]
    if len(encoded) > (max_bytes + 2) // 3 * 4 + 4:
        raise ImageError(f"it is larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("its base64 data is malformed") from None
    return media_type, data


def load_image(data: bytes, media_type: str, *, max_bytes: int) -> Image:
    """Check the bytes against the claimed type and read the pixel size."""
    if len(data) > max_bytes:
        raise ImageError(f"it is {len(data)} bytes, more than the {max_bytes} allowed")
    sniffed = sniff(data)
    if sniffed is None:
        raise ImageError("it is not a PNG, JPEG, GIF or WebP image")
    if media_type in MEDIA_TYPES and media_type != sniffed:
        raise ImageError(f"it is labelled {media_type} but is {sniffed}")
    width, height = dimensions(data, sniffed)
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise ImageError(f"its size {width}x{height} is not between 1 and {MAX_DIMENSION} pixels a side")
    return Image(data, sniffed, width, height)


def url_scheme(url: str) -> str:
    """The URL's scheme in lower case ("" when it has none); never raises, whatever the text."""
    scheme, colon, _ = url.partition(":")
    return scheme.lower() if colon and _SCHEME.fullmatch(scheme) else ""


def http_target(url: str) -> tuple[str, int]:
    """The host and port an http(s) image URL points at; ImageError when the URL is malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImageError(f"its URL is malformed ({str(exc)[:120]})") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        raise ImageError("only http(s) URLs with a host can be fetched")
    if port == 0:
        raise ImageError("its URL has port 0")
    if not _valid_host(host):
        raise ImageError(f"its host {host[:80]!r} is not a valid host name")
    return host, port or (443 if scheme == "https" else 80)


def _valid_host(host: str) -> bool:
    """An IP address, or an IDNA-encodable name of at most 253 characters whose labels are 1-63
    letters, digits, `-` or `_`."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > MAX_HOST_LENGTH:
        return False
    try:
        encoded = name.encode("idna")
    except UnicodeError:
        return False
    return len(encoded) <= MAX_HOST_LENGTH and all(_LABEL.fullmatch(label) for label in encoded.split(b"."))


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def dimensions(data: bytes, media_type: str) -> tuple[int, int]:
    """Width and height from the header; ImageError when the header is cut or malformed."""
    try:
        if media_type == "image/png":
            if data[12:16] != b"IHDR":
                raise ImageError("the PNG has no IHDR header")
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if media_type == "image/gif":
            if _gif_frames(data) > 1:
                raise ImageError("animated GIFs are not supported")
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if media_type == "image/webp":
            return _webp_size(data)
        return _jpeg_size(data)
    except (struct.error, IndexError):
        raise ImageError("the image header is cut short") from None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ImageError("the JPEG markers are malformed")
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if length < 2:
            raise ImageError("the JPEG markers are malformed")
        i += 2 + length
    raise ImageError("the JPEG has no frame header")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ImageError("the WebP lossless header is malformed")
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ImageError("the WebP lossy header is malformed")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise ImageError("the WebP has no VP8, VP8L or VP8X chunk")


def _gif_frames(data: bytes) -> int:
    """How many image descriptors the GIF has (stops counting at 2)."""
    flags = data[10]
    i = 13 + (3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0)
    frames = 0
    while i < len(data) and frames < 2:
        block = data[i]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            i += 2
        elif block == 0x2C:  # image descriptor
            frames += 1
            local = data[i + 9]
            i += 10 + (3 * (2 ** ((local & 7) + 1)) if local & 0x80 else 0) + 1  # + LZW minimum code size
        else:
            break
        while i < len(data) and data[i] != 0:
            i += data[i] + 1
        i += 1
    return frames


def image_error(path: str, reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"The image at '{path}' cannot be used: {reason}.", param=path, code="invalid_image"
    )
