"""Checksum prefixes (§4.3, §4.4) and JWTs (§5.2) as the simulator reads and makes them."""

from __future__ import annotations

import base64
import json

import pytest

from tests.fakes.identity import (
    decode_checksum_prefix,
    encode_checksum_prefix,
    make_checksum,
    make_jwt,
    parse_checksum,
    parse_jwt,
)

M = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
C = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"


def test_worked_example_prefix() -> None:
    assert encode_checksum_prefix(1_700_000_000) == "Vfb45Bi9"
    assert encode_checksum_prefix(1_700_000_000, urlsafe=False) == "Vfb45Bi9"
    decoded = decode_checksum_prefix("Vfb45Bi9")
    assert decoded is not None
    assert decoded.raw == bytes.fromhex("F0 A0 00 19 F0 A0")
    assert decoded.k == 1_700_000
    assert decoded.well_formed


def test_alphabet_sensitive_prefix() -> None:
    assert encode_checksum_prefix(1_700_009_000, urlsafe=False) == "Vf3/6R25"
    assert encode_checksum_prefix(1_700_009_000) == "Vf3_6R25"
    for prefix in ("Vf3/6R25", "Vf3_6R25"):
        decoded = decode_checksum_prefix(prefix)
        assert decoded is not None and decoded.k == 1_700_009 and decoded.well_formed


def test_legacy_zero_led_prefix_is_not_well_formed() -> None:
    decoded = decode_checksum_prefix("paaotEjt")
    assert decoded is not None
    assert decoded.raw == bytes.fromhex("00 00 00 19 F0 A0")
    assert not decoded.well_formed


def test_full_header_forms() -> None:
    full = make_checksum(1_700_000_000, M, C)
    assert len(full) == 137
    assert full == "Vfb45Bi9" + M + "/" + C
    info = parse_checksum(full)
    assert info is not None and (info.k, info.machine_id, info.mac_machine_id) == (1_700_000, M, C)
    short = parse_checksum("Vfb45Bi9" + M)
    assert short is not None and short.mac_machine_id is None and short.k == 1_700_000


@pytest.mark.parametrize(
    "value",
    [
        "",
        M + "/" + C,
        "Vfb45Bi9" + M.upper() + "/" + C,
        "Vfb45Bi" + M + "/" + C,
        "Vfb45Bi9" + M + "/" + C + "0",
    ],
)
def test_bad_checksums(value: str) -> None:
    assert parse_checksum(value) is None


def test_make_jwt_shape_and_claims() -> None:
    token = make_jwt(sub="auth0|user_01ABC", exp=2_000_000_000, workosSessionId="session_01X")
    header, _payload, signature = token.split(".")
    assert header == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert len(signature) == 43
    claims = parse_jwt(token)
    assert claims is not None
    assert claims["sub"] == "auth0|user_01ABC"
    assert claims["exp"] == 2_000_000_000
    assert claims["type"] == "session"
    assert isinstance(claims["time"], str)
    assert claims["workosSessionId"] == "session_01X"
    assert make_jwt(sub="auth0|user_01ABC", exp=2_000_000_000, workosSessionId="session_01X") == token


@pytest.mark.parametrize(
    "value", ["", "a.b", "eyJ.%%%.x", "abc.def.ghi", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig"]
)
def test_parse_jwt_rejects(value: str) -> None:
    assert parse_jwt(value) is None
