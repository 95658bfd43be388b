"""Images from clients (cursor-protocol.md §8.3): data URLs and pixel sizes read from file headers."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.images import (
    MAX_DIMENSION,
    ImageError,
    dimensions,
    http_target,
    load_image,
    parse_data_url,
    sniff,
    url_scheme,
)
from gateway.neutral.model import Image
from gateway.upstream.pb import cursor_pb2 as pb

LIMIT = 1 << 20


def fits_upstream(image: Image) -> None:
    """A loaded image can be written into Cursor's message (its size fields are int32)."""
    message = pb.ConversationMessage()
    proto = message.images.add(data=image.data, uuid="1")
    proto.dimension.width, proto.dimension.height = image.width, image.height
    assert message.SerializeToString()


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
        fits_upstream(image)


@pytest.mark.parametrize(
    ("width", "height"), [(2**31, 1), (1, 2**31), (2**32 - 1, 2**32 - 1), (0, 5), (5, 0)]
)
def test_a_size_cursor_cannot_take_is_an_image_error(width: int, height: int) -> None:
    with pytest.raises(ImageError, match="size"):
        load_image(png(1, 1)[:16] + struct.pack(">II", width, height), "image/png", max_bytes=LIMIT)


def test_the_largest_size_fits_upstream() -> None:
    fits_upstream(
        load_image(png(1, 1)[:16] + struct.pack(">II", MAX_DIMENSION, 1), "image/png", max_bytes=LIMIT)
    )


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_any_png_header_size_loads_and_fits_or_is_refused(width: int, height: int) -> None:
    try:
        image = load_image(png(1, 1)[:16] + struct.pack(">II", width, height), "image/png", max_bytes=LIMIT)
    except ImageError:
        assert not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION)
        return
    fits_upstream(image)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x.png",
        "http://a:99999/x.png",
        "http://a:abc/x.png",
        "http://a:-1/x.png",
        "http://a:0/x.png",
        "http://a..b/x.png",
        f"http://{'a' * 64}.com/x.png",
        f"http://{'a.' * 127}com/x.png",
        "http://a b/x.png",
        "http://a\x00b/x.png",
        "http:///x.png",
        "ftp://example.com/x.png",
    ],
)
def test_malformed_image_urls_are_image_errors(url: str) -> None:
    with pytest.raises(ImageError):
        http_target(url)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://example.com/x.png", ("example.com", 80)),
        ("https://EXAMPLE.com:8443/x.png", ("example.com", 8443)),
        ("http://[::1]:8080/x", ("::1", 8080)),
        ("https://bücher.de/x", ("bücher.de", 443)),
        ("http://example.com./x", ("example.com.", 80)),
        ("http://under_score.example/x", ("under_score.example", 80)),
    ],
)
def test_well_formed_image_urls_name_host_and_port(url: str, target: tuple[str, int]) -> None:
    assert http_target(url) == target


url_pieces = st.sampled_from(
    ["http", "https", "HTTP", "ftp", "data", ":", "//", "/", "[", "]", "::1", "@", "?", "#", ".", "..", "%", "-",
     "a", "é", "\x00", " ", "99999", "0", "-1", "abc", "xn--", "a" * 64, "localhost", "1.2.3.4"]
)  # fmt: skip
urls = (
    st.lists(url_pieces, max_size=12).map("".join)
    | st.text(max_size=40)
    | st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}/x.png",
        st.sampled_from(["http", "https"]),
        st.text(max_size=20),
        st.sampled_from(["", ":", ":80", ":99999", ":-1", ":x", ":0"]),
    )
)


@given(urls)
def test_any_url_is_a_target_or_an_image_error(url: str) -> None:
    assert url_scheme(url) == url_scheme(url).lower()
    try:
        host, port = http_target(url)
    except ImageError:
        return
    assert host and 1 <= port <= 65535
    host.encode("idna")  # what the resolver will do with it
