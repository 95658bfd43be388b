"""Secrets never reach the log: the masking filter, and a whole request logged at DEBUG."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.logs import (
    FORMAT,
    SECRET_HEADERS,
    MaskingFormatter,
    SecretFilter,
    escape_controls,
    mask,
    setup_logging,
)
from gateway.upstream.checksum import client_key, session_id
from tests.conftest import API_KEY, IDENTITY, MODEL, fake_jwt, fixed_pool
from tests.scripted import END, Reply, end_error, text


def test_mask_hides_jwts_and_bearer_credentials():
    jwt = fake_jwt()
    assert jwt not in mask(f"token={jwt} rest")
    assert "s3cret" not in mask("Authorization: Bearer s3cret")
    key = "crsr_" + "0123456789abcdef" * 4
    assert key not in mask(f"key={key} rest") and key[5:] not in mask(f"key {key}")
    assert mask("nothing secret here") == "nothing secret here"


def test_filter_rewrites_formatted_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "using %s", (fake_jwt(),), None)
    SecretFilter().filter(record)
    assert "eyJ" not in record.getMessage()


async def test_no_token_or_key_in_logs_of_a_request(gateway, caplog):
    jwt = fake_jwt("auth0|user_logcheck")
    caplog.set_level(logging.DEBUG)
    client, _ = await gateway(
        Reply([text("hi"), END]),
        Reply([end_error(1, "Unauthorized", f"bad token {jwt}")]),
        pool=fixed_pool(jwt),
    )
    answers = []
    for _ in range(2):
        response = await client.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
        )
        answers.append(await response.text())
    assert "bad token ***" in answers[1] and jwt not in answers[1]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "request_id=" in logged
    assert jwt not in logged and API_KEY not in logged


def test_malformed_requests_are_not_logged_as_errors():
    from aiohttp.http_exceptions import ContentEncodingError

    from gateway.logs import ClientErrorFilter

    try:
        raise ContentEncodingError("Can not decode content-encoding: br")
    except ContentEncodingError:
        import sys

        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (), sys.exc_info()
        )
    assert ClientErrorFilter().filter(record)
    assert (
        record.levelno == logging.INFO
        and record.exc_info is None
        and "content-encoding" in record.getMessage()
    )
    other = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "boom", (), None)
    ClientErrorFilter().filter(other)
    assert other.levelno == logging.ERROR


# ---------------------------------------------------------------- secret headers, forged lines


@pytest.fixture
def real_logging(capsys):
    """The gateway's own logging set-up, writing to the captured stderr; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    loggers = {name: logging.getLogger(name) for name in ("aiohttp.access", "aiohttp.server", "hpack")}
    saved_loggers = {name: (lg.level, lg.filters[:]) for name, lg in loggers.items()}

    def start(debug: bool = False) -> None:
        setup_logging(debug)

    yield start
    root.handlers[:], root.level = saved
    for name, (level, filters) in saved_loggers.items():
        loggers[name].setLevel(level)
        loggers[name].filters[:] = filters


LINES = [
    "b'{name}: {value}'",
    "Adding b'{name}'=b'{value}' to the header table",
    "Decoded (b'{name}', b'{value}'), consumed 12",
    '{{"{name}": "{value}"}}',
    "{name}={value} next",
    "{Name}: {value}",
]


@given(
    name=st.sampled_from(SECRET_HEADERS),
    value=st.text(
        st.characters(blacklist_characters="'\"\r\n", blacklist_categories=("Cs",)), min_size=6, max_size=40
    ),
    line=st.sampled_from(LINES),
)
def test_secret_header_values_are_masked_however_written(name, value, line):
    text = line.format(name=name, Name=name.title(), value=value)
    masked = mask(text)
    assert value.strip() == "" or value not in masked
    assert name in masked.lower()


def test_a_line_break_in_a_message_cannot_start_a_line():
    formatter = MaskingFormatter(FORMAT)
    record = logging.LogRecord(
        "gateway.access",
        logging.INFO,
        __file__,
        1,
        "path=%s status=%s",
        ("/x\nlevel=ERROR forged", 404),
        None,
    )
    line = formatter.format(record)
    assert "\n" not in line and "\\nlevel=ERROR forged" in line
    assert escape_controls("a\r\n\x00\x1b[31m\u2028b") == "a\\r\\n\\x00\\x1b[31m\\u2028b"


async def test_an_encoded_line_break_in_a_path_stays_in_its_access_line(
    aiohttp_client, make_settings, real_logging, capsys
):
    real_logging()
    client = await aiohttp_client(create_app(make_settings(), pool=fixed_pool()))
    response = await client.get("/nowhere%0alevel=INFO%20logger=gateway.access%20request_id=forged")
    assert response.status == 404
    access = [line for line in capsys.readouterr().err.splitlines() if "logger=gateway.access" in line]
    assert len(access) == 1 and "\\nlevel=INFO" in access[0]


async def test_a_malformed_header_line_does_not_log_the_key(
    aiohttp_server, make_settings, real_logging, capsys
):
    real_logging()
    server = await aiohttp_server(create_app(make_settings(), pool=fixed_pool()))
    for head in (
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: my-very-secret-key\x7f\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Basic my-very-secret-key\x01\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: my-very-secret-key\r\nBroken Line\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(head)
        await reader.read()
        writer.close()
        await writer.wait_closed()
    err = capsys.readouterr().err
    assert "refused a malformed request" in err
    assert "my-very-secret-key" not in err


async def test_debug_logs_of_an_http2_call_mask_the_identity_headers(sim_gateway, real_logging, capsys):
    real_logging(debug=True)
    client, _ = await sim_gateway(http2=True)
    response = await client.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
    )
    assert response.status == 200
    err = capsys.readouterr().err
    assert "x-client-key" in err  # hpack writes the headers at DEBUG: the test sees them
    for secret in (client_key(IDENTITY), session_id(IDENTITY), IDENTITY.machine_id, IDENTITY.mac_machine_id):
        assert secret not in err
