"""Images from clients (cursor-protocol.md §8.3): data URLs and pixel sizes read from file headers."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.images import ImageError, dimensions, load_image, parse_data_url, sniff

LIMIT = 1 << 20


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def gif(width: int, height: int, frames: int = 1) -> bytes:
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"\x21\xf9\x04\x00\x00\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    frame += b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("make", "media_type"),
    [(png, "image/png"), (gif, "image/gif"), (jpeg, "image/jpeg"), (webp, "image/webp")],
)
@pytest.mark.parametrize(("width", "height"), [(1, 1), (640, 480), (3000, 17)])
def test_sizes_are_read_from_the_header(make, media_type, width, height) -> None:
    data = make(width, height)
    assert sniff(data) == media_type
    assert dimensions(data, media_type) == (width, height)
    kind, decoded = parse_data_url(data_url(data, media_type), max_bytes=LIMIT)
    image = load_image(decoded, kind, max_bytes=LIMIT)
    assert (image.data, image.media_type, image.width, image.height) == (data, media_type, width, height)


def test_jpg_is_jpeg() -> None:
    assert parse_data_url(data_url(jpeg(2, 2), "image/jpg"), max_bytes=LIMIT)[0] == "image/jpeg"


def test_animated_gif_is_refused() -> None:
    with pytest.raises(ImageError, match="animated"):
        load_image(gif(4, 4, frames=2), "image/gif", max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.com/a.png", "not a base64 data URL"),
        ("data:text/plain;base64,aGk=", "not a base64 data URL"),
        ("data:image/png;base64,@@@", "malformed"),
    ],
)
def test_bad_data_urls(url: str, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        parse_data_url(url, max_bytes=LIMIT)


def test_size_limit_is_checked_before_decoding() -> None:
    big = data_url(png(8, 8) + b"\x00" * 5000, "image/png")
    with pytest.raises(ImageError, match="larger than 1000"):
        parse_data_url(big, max_bytes=1000)
    with pytest.raises(ImageError, match="more than the 20 allowed"):
        load_image(png(8, 8), "image/png", max_bytes=20)


def test_label_must_match_the_bytes() -> None:
    with pytest.raises(ImageError, match="labelled image/gif but is image/png"):
        load_image(png(1, 1), "image/gif", max_bytes=LIMIT)


def test_not_an_image() -> None:
    with pytest.raises(ImageError, match="not a PNG"):
        load_image(b"<html>hello</html>", "image/png", max_bytes=LIMIT)


@given(st.binary(max_size=64), st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]))
def test_arbitrary_bytes_are_an_image_or_an_image_error(data: bytes, media_type: str) -> None:
    prefixes = {"image/png": png(1, 1)[:16], "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF89a"}
    for candidate in (data, prefixes.get(media_type, b"RIFF\x00\x00\x00\x00WEBP") + data):
        try:
            image = load_image(candidate, media_type, max_bytes=LIMIT)
        except ImageError:
            continue
        assert image.width >= 0 and image.height >= 0
