"""Secrets never reach the log: the masking filter, and a whole request logged at DEBUG."""

from __future__ import annotations

import logging

from gateway.logs import SecretFilter, mask
from tests.conftest import API_KEY, fake_jwt, fixed_pool
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
