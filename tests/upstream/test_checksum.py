"""The x-cursor-checksum header (§4) and the per-token identity headers (§3.2)."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.upstream.checksum import (
    Identity,
    checksum_header,
    client_key,
    decode_prefix,
    new_identity,
    parse_checksum,
    session_id,
    stored_checksum,
    time_prefix,
)

M = "0123456789abcdef" * 4
C = "fedcba9876543210" * 4
FULL_137 = f"Vfb45Bi9{M}/{C}"
MAX_T = (2**32) * 1000 - 1  # the largest t whose k still fits the 32 bits JS keeps

hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
identities = st.builds(Identity, hex64, st.none() | hex64)
prefix_chars = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-", min_size=8, max_size=8
)


# --------------------------------------------------------------------------- §4.3 vectors


def test_worked_example_prefix_and_full_value():
    assert time_prefix(1_700_000_000) == "Vfb45Bi9"
    assert time_prefix(1_700_000_000, "standard") == "Vfb45Bi9"
    value = checksum_header(Identity(M, C), 1_700_000_000)
    assert value == FULL_137
    assert len(value) == 137


def test_alphabet_sensitive_example():
    assert time_prefix(1_700_009_000, "standard") == "Vf3/6R25"
    assert time_prefix(1_700_009_000, "urlsafe") == "Vf3_6R25"
    assert base64.b64decode("Vf3/6R25") == bytes.fromhex("55 FD FF E9 1D B9")


def test_decode_worked_examples():
    assert decode_prefix("Vfb45Bi9") == 1_700_000
    assert decode_prefix("Vf3/6R25") == 1_700_009
    assert decode_prefix("Vf3_6R25") == 1_700_009


def test_legacy_zero_led_prefix_is_not_well_formed():
    """The Dec-2024 Rust client used true 64-bit shifts: raw bytes 00 00 00 19 F0 A0. Its d[0]
    (0x00) differs from d[4] (0xF0), so by §4.4 it is not well-formed and decodes to None. As a
    stored checksum it is still accepted, because stored prefixes are discarded (§4.3, §4.5)."""
    assert base64.b64decode("paaotEjt") == bytes.fromhex("A5 A6 A8 B4 48 ED")
    assert decode_prefix("paaotEjt") is None
    assert parse_checksum(f"paaotEjt{M}/{C}") == Identity(M, C)


def test_prefix_changes_every_1000_seconds_only():
    assert time_prefix(1_700_000_000) == time_prefix(1_700_000_999)
    assert time_prefix(1_700_000_999) != time_prefix(1_700_001_000)


@given(st.integers(min_value=0, max_value=MAX_T), st.sampled_from(["urlsafe", "standard"]))
@example(0, "urlsafe")
@example(MAX_T, "standard")
@example(1_700_000_000, "urlsafe")
def test_decode_inverts_time_prefix(t, alphabet):
    prefix = time_prefix(t, alphabet)
    assert len(prefix) == 8
    assert re.fullmatch(r"[A-Za-z0-9+/]{8}" if alphabet == "standard" else r"[A-Za-z0-9_-]{8}", prefix)
    assert decode_prefix(prefix) == t // 1000


@given(st.integers(min_value=MAX_T + 1, max_value=2**70))
def test_only_the_low_32_bits_of_k_matter_like_javascript(t):
    assert decode_prefix(time_prefix(t)) == (t // 1000) & 0xFFFFFFFF


def test_negative_time_is_refused():
    with pytest.raises(ValueError):
        time_prefix(-1)


@pytest.mark.parametrize(
    "bad", ["", "Vfb45Bi", "Vfb45Bi90", "Vfb45Bi=", "Vfb45B!9", "Vfb45Bi9\n", "Vfb 5Bi9"]
)
def test_decode_malformed_prefix(bad):
    assert decode_prefix(bad) is None


@given(prefix_chars)
def test_decode_prefix_never_crashes(prefix):
    k = decode_prefix(prefix)
    if k is not None:
        assert 0 <= k < 2**32
        assert decode_prefix(time_prefix(k * 1000)) == k


# --------------------------------------------------------------------------- stored forms


def test_parse_all_valid_forms():
    assert parse_checksum(FULL_137) == Identity(M, C)
    assert parse_checksum(f"{M}/{C}") == Identity(M, C)
    assert parse_checksum(f"Vfb45Bi9{M}") == Identity(M, None)
    assert parse_checksum(f"Vf3/6R25{M}/{C}") == Identity(M, C)  # standard alphabet, '/' in prefix
    assert parse_checksum(f"Vf3_6R25{M}") == Identity(M, None)
    assert parse_checksum(f"  {FULL_137}\n") == Identity(M, C)


def test_parse_normalises_uppercase_hex():
    assert parse_checksum(f"Vfb45Bi9{M.upper()}/{C.upper()}") == Identity(M, C)
    assert parse_checksum(f"{M.upper()}/{C}") == Identity(M, C)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "junk",
        M,  # 64: no form
        f"Vfb45Bi9{M}/{C}x",  # 138
        f"Vfb45Bi9{M}{C}x",  # 137 without '/'
        f"Vfb45Bi9{M[:-1]}g/{C}",  # non-hex
        f"Vfb45Bi!{M}/{C}",  # bad prefix char
        f"{M}:{C}",  # 129 with the wrong separator
        f"Vfb45Bi{M}/{C}0",  # prefix 7 + 65
        f"Vfb45Bi9{M[:-1]}/",  # 72 but not hex
        "Vfb45Bi9" + "\u0660" * 64,  # Unicode digits are not hex
    ],
)
def test_parse_invalid_forms(bad):
    assert parse_checksum(bad) is None


@given(identities, st.integers(min_value=0, max_value=MAX_T))
def test_header_and_stored_forms_round_trip(identity, t):
    header = checksum_header(identity, t)
    assert len(header) == (137 if identity.mac_machine_id else 72)
    assert parse_checksum(header) == identity
    assert decode_prefix(header[:8]) == t // 1000
    stored = stored_checksum(identity, t)
    assert parse_checksum(stored) == identity
    assert stored.count("/") == (1 if identity.mac_machine_id else 0)
    assert parse_checksum(checksum_header(identity, t, "standard")) == identity


def test_identity_validates_its_fields():
    with pytest.raises(ValueError):
        Identity(M.upper(), None)
    with pytest.raises(ValueError):
        Identity(M, "abc")


# --------------------------------------------------------------------------- identity headers


def test_new_identity_is_random_lowercase_hex():
    a, b = new_identity(), new_identity()
    assert a != b
    for value in (a.machine_id, a.mac_machine_id):
        assert value is not None
        assert re.fullmatch(r"[0-9a-f]{64}", value)


def test_client_key_rule():
    identity = Identity(M, C)
    expected = hashlib.sha256(f"{M}:client-key".encode()).hexdigest()
    assert client_key(identity) == expected
    assert client_key(Identity(M, None)) == expected  # depends only on machineId
    assert client_key(identity, rotation_epoch=7) == hashlib.sha256(f"{M}:client-key:7".encode()).hexdigest()


def test_session_id_rule():
    identity = Identity(M, C)
    value = session_id(identity)
    assert value == str(uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:{M}"))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)
    assert session_id(identity, rotation_epoch=3) == str(uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:{M}:3"))
    assert session_id(identity) != session_id(Identity(C, M))
