"""The `x-cursor-checksum` header and the per-token identity headers derived from it.

This module owns cursor-protocol.md §4 (the 8-character time prefix with its JavaScript shift
semantics, prefix decoding, the 137/129/72-character stored forms) and §3.2 (`x-client-key`,
`x-session-id` and `x-cursor-config-version`, derived from the persisted `machineId`). Pure: the clock comes in as an
argument; the only randomness is `new_identity()`, drawn from `secrets`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Final, Literal

Alphabet = Literal["urlsafe", "standard"]

PREFIX_SEED: Final = 0xA5
PREFIX_CHARS: Final = 8
HEX_CHARS: Final = 64
FULL_LENGTH: Final = PREFIX_CHARS + HEX_CHARS + 1 + HEX_CHARS  # 137
PAIR_LENGTH: Final = HEX_CHARS + 1 + HEX_CHARS  # 129
SHORT_LENGTH: Final = PREFIX_CHARS + HEX_CHARS  # 72

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_PREFIX: Final = re.compile(r"[A-Za-z0-9+/_-]{8}")
_HEX = r"[0-9a-fA-F]{64}"
_PFX = r"[A-Za-z0-9+/_-]{8}"
_FORM_137: Final = re.compile(rf"{_PFX}(?P<m>{_HEX})/(?P<c>{_HEX})")
_FORM_129: Final = re.compile(rf"(?P<m>{_HEX})/(?P<c>{_HEX})")
_FORM_72: Final = re.compile(rf"{_PFX}(?P<m>{_HEX})")
_TO_STANDARD: Final = str.maketrans("-_", "+/")


@dataclass(frozen=True, slots=True)
class Identity:
    """The persisted "machine" of one token: two SHA-256 hex digests (§4.1)."""

    machine_id: str
    mac_machine_id: str | None

    def __post_init__(self) -> None:
        if not _HEX64.fullmatch(self.machine_id):
            raise ValueError("machine_id must be 64 lowercase hex characters")
        if self.mac_machine_id is not None and not _HEX64.fullmatch(self.mac_machine_id):
            raise ValueError("mac_machine_id must be 64 lowercase hex characters or None")


def _random_hex() -> str:
    return hashlib.sha256(secrets.token_bytes(32)).hexdigest()


def new_identity() -> Identity:
    """A fresh identity for a new token (or to repair an invalid stored checksum), §4.5."""
    return Identity(_random_hex(), _random_hex())


def time_prefix(unix_seconds: int, alphabet: Alphabet = "urlsafe") -> str:
    """The 8-character time prefix of §4.2 for wall-clock time `unix_seconds`.

    `k = t // 1000`; the six raw bytes reproduce JavaScript's `k>>40, k>>32, k>>24, k>>16, k>>8,
    k` where JS reduces shift counts mod 32 (so `>>40` is `>>8` and `>>32` is `>>0`). Only the
    low 32 bits of `k` reach the output, as in JS.
    """
    if unix_seconds < 0:
        raise ValueError("unix_seconds must not be negative")
    k = unix_seconds // 1000
    raw = ((k >> 8) & 0xFF, k & 0xFF, (k >> 24) & 0xFF, (k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF)
    out = bytearray(6)
    prev = PREFIX_SEED
    for i, byte in enumerate(raw):
        prev = ((byte ^ prev) + i) & 0xFF
        out[i] = prev
    if alphabet == "urlsafe":
        return base64.urlsafe_b64encode(out).decode("ascii")
    return base64.b64encode(out).decode("ascii")


def decode_prefix(prefix: str) -> int | None:
    """Invert `time_prefix` (§4.4): the `k` it encodes, or None if malformed or not well-formed.

    Both alphabets are accepted. "Well-formed" means the JS-shift duplicates agree
    (`d[0] == d[4]` and `d[1] == d[5]`); the legacy 64-bit-shift prefixes of late 2024 (e.g.
    `paaotEjt`) are valid base64 but not well-formed, so they decode to None.
    """
    if not _PREFIX.fullmatch(prefix):
        return None
    try:
        obfuscated = base64.b64decode(prefix.translate(_TO_STANDARD), validate=True)
    except (binascii.Error, ValueError):
        return None
    prev = PREFIX_SEED
    d = []
    for i, byte in enumerate(obfuscated):
        d.append(((byte - i) & 0xFF) ^ prev)
        prev = byte
    if d[0] != d[4] or d[1] != d[5]:
        return None
    return (d[2] << 24) | (d[3] << 16) | (d[4] << 8) | d[5]


def parse_checksum(text: str) -> Identity | None:
    """Read a stored or pasted checksum (§4.5): the 137-, 129- or 72-character form.

    Surrounding whitespace is ignored, hex is accepted in any case and normalised to lowercase,
    and any stored prefix is discarded (it is recomputed per request). None when invalid.
    """
    text = text.strip()
    match = None
    if len(text) == FULL_LENGTH:
        match = _FORM_137.fullmatch(text)
    elif len(text) == PAIR_LENGTH:
        match = _FORM_129.fullmatch(text)
    elif len(text) == SHORT_LENGTH:
        match = _FORM_72.fullmatch(text)
    if match is None:
        return None
    groups = match.groupdict()
    mac = groups.get("c")
    return Identity(groups["m"].lower(), mac.lower() if mac is not None else None)


def checksum_header(identity: Identity, unix_seconds: int, alphabet: Alphabet = "urlsafe") -> str:
    """The `x-cursor-checksum` value: 137 characters, or 72 when there is no `macMachineId`."""
    value = time_prefix(unix_seconds, alphabet) + identity.machine_id
    if identity.mac_machine_id is not None:
        value += "/" + identity.mac_machine_id
    return value


def stored_checksum(identity: Identity, unix_seconds: int) -> str:
    """The form written to `.token-list`: like the header, prefix computed now (URL-safe, so the
    only `/` in a 137-character value is the one between the two hashes)."""
    return checksum_header(identity, unix_seconds, "urlsafe")


def _suffix(rotation_epoch: int | None) -> str:
    return "" if rotation_epoch is None else f":{rotation_epoch}"


@functools.lru_cache(maxsize=4096)
def client_key(identity: Identity, *, rotation_epoch: int | None = None) -> str:
    """`x-client-key` (§3.2 rule 2): SHA-256 hex of `"<machineId>:client-key"`.

    `rotation_epoch` implements the optional rule 4: pass `floor(unix_time / period)`.
    """
    text = f"{identity.machine_id}:client-key{_suffix(rotation_epoch)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=4096)
def session_id(identity: Identity, *, rotation_epoch: int | None = None) -> str:
    """`x-session-id` (§3.2 rule 3): UUIDv5 (URL namespace) of `"cursor2api:<machineId>"`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:{identity.machine_id}{_suffix(rotation_epoch)}"))


@functools.lru_cache(maxsize=4096)
def config_version(identity: Identity) -> str:
    """`x-cursor-config-version` (upstream-2026.md §7): a UUID per machine, stable across restarts.

    Cursor's IDE sends the `config_version` of its last server config; the gateway fetches none,
    so it sends a UUIDv5 (URL namespace) of `"cursor2api:config-version:<machineId>"`.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:config-version:{identity.machine_id}"))
