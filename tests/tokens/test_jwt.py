"""Token normalisation (§5.1), unverified claims (§5.2) and fingerprints."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.tokens.jwt import Claims, TokenFormatError, fingerprint, normalize_token, read_claims

HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
SIGNATURE = "A" * 43
USER = "user_01JABCDEFGHJKMNPQRSTVWXYZ0"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: object, *, raw_payload: bytes | None = None) -> str:
    payload = raw_payload if raw_payload is not None else orjson.dumps(claims)
    return f"{HEADER}.{b64(payload)}.{SIGNATURE}"


JWT = make_jwt({"sub": f"auth0|{USER}", "exp": 1_900_000_000, "type": "session", "time": "1700000000"})


def test_header_segment_matches_the_spec():
    assert base64.urlsafe_b64decode(HEADER + "==") == b'{"alg":"HS256","typ":"JWT"}'


@pytest.mark.parametrize(
    ("raw", "user"),
    [
        (JWT, None),
        (f"  {JWT}\r\n", None),
        (f"{USER}::{JWT}", USER),
        (f"{USER}%3A%3A{JWT}", USER),
        (f"{USER}%3a%3a{JWT}", USER),
        (f"{USER}%3A%3a{JWT}", USER),
        (f"alias::{USER}::{JWT}", USER),
        (f"alias::{USER}%3A%3A{JWT}", USER),
        (f"alias :: {JWT}", "alias"),
    ],
)
def test_normalize_token_forms(raw, user):
    assert normalize_token(raw) == (user, JWT)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "not a token",
        HEADER,
        f"{HEADER}.payload",
        f"{HEADER}.a.b.c",
        f"xyz.{b64(b'{}')}.{SIGNATURE}",  # first segment must start with eyJ
        f"{HEADER}..{SIGNATURE}",  # empty segment
        f"{HEADER}.e30=.{SIGNATURE}",  # padding is not base64url-in-JWT
        f"{HEADER}.e30.{SIGNATURE} trailing",
        f"{JWT}::",
        f"{USER}::",
        f"{USER}%3A{JWT}",
    ],
)
def test_normalize_token_rejects(raw):
    with pytest.raises(TokenFormatError) as exc:
        normalize_token(raw)
    assert raw.strip() == "" or raw.strip() not in str(exc.value)


def test_error_message_never_contains_the_token():
    secret = f"{HEADER}.{b64(b'{}')}"  # two segments only
    with pytest.raises(TokenFormatError) as exc:
        normalize_token(secret)
    assert secret not in str(exc.value)
    assert "eyJ" not in str(exc.value).replace("'eyJ'", "")


def test_read_claims():
    assert read_claims(JWT) == Claims(sub=f"auth0|{USER}", exp=1_900_000_000, type="session", user_id=USER)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({}, Claims(None, None, None, None)),
        ({"exp": "1900000000"}, Claims(None, None, None, None)),  # exp must be a number
        ({"exp": True}, Claims(None, None, None, None)),
        ({"exp": 1.9e9}, Claims(None, 1_900_000_000, None, None)),
        ({"exp": 1.5}, Claims(None, None, None, None)),
        ({"sub": "github|user_x", "type": "web"}, Claims("github|user_x", None, "web", "user_x")),
        ({"sub": "no-pipe"}, Claims("no-pipe", None, None, None)),
        ({"sub": "auth0|"}, Claims("auth0|", None, None, None)),
        ({"sub": 5, "type": 1}, Claims(None, None, None, None)),
        ({"sub": "google-oauth2|a|b", "new_claim": [1, 2]}, Claims("google-oauth2|a|b", None, None, "a|b")),
    ],
)
def test_read_claims_tolerates_odd_claims(claims, expected):
    assert read_claims(make_jwt(claims)) == expected


@pytest.mark.parametrize("payload", [b"[1,2]", b"not json", b"\xff\xfe", b"null"])
def test_read_claims_undecodable_payload_gives_nones(payload):
    assert read_claims(make_jwt(None, raw_payload=payload)) == Claims(None, None, None, None)


def test_read_claims_bad_base64_gives_nones():
    assert read_claims(f"{HEADER}.a.{SIGNATURE}") == Claims(None, None, None, None)


def test_read_claims_requires_three_parts():
    with pytest.raises(TokenFormatError):
        read_claims("a.b")


@given(st.text(max_size=60))
def test_read_claims_never_raises_on_three_parts(payload):
    read_claims(f"{HEADER}.{payload.replace('.', '')}.{SIGNATURE}")


def test_fingerprint():
    assert fingerprint(JWT) == hashlib.sha256(JWT.encode()).hexdigest()[:8]
    assert len(fingerprint(JWT)) == 8
    assert fingerprint(JWT) != fingerprint(JWT + "x")
