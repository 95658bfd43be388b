"""Client identity as the simulator sees it: the `x-cursor-checksum` header (§4) and JWTs (§5).

Owns: checksum-prefix encoding and decoding (§4.2, §4.4), the 137/72-character format check
(§4.5), making deterministic test JWTs and reading their claims without verifying them (§5.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Final

JWT_HEADER: Final = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
DEFAULT_SUB: Final = "auth0|user_01JABCDEFGHJKMNPQRSTVWXYZ0"
_SIGNING_KEY: Final = b"cursor2api-simulator"

CHECKSUM_137: Final = re.compile(r"^([A-Za-z0-9+/_-]{8})([0-9a-f]{64})/([0-9a-f]{64})$")
CHECKSUM_72: Final = re.compile(r"^([A-Za-z0-9+/_-]{8})([0-9a-f]{64})$")


# ---------------------------------------------------------------- checksum


def encode_checksum_prefix(unix_seconds: float, *, urlsafe: bool = True) -> str:
    """The 8-character time prefix for `unix_seconds`, with JavaScript shift semantics (§4.2)."""
    k = int(unix_seconds) // 1000
    raw = [(k >> 8) & 0xFF, k & 0xFF, (k >> 24) & 0xFF, (k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF]
    prev = 0xA5
    out = bytearray()
    for i, byte in enumerate(raw):
        value = ((byte ^ prev) + i) & 0xFF
        out.append(value)
        prev = value
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(bytes(out)).decode("ascii")


@dataclass(frozen=True, slots=True)
class DecodedPrefix:
    raw: bytes  # the de-obfuscated six bytes
    k: int  # floor(unix_seconds / 1000)
    well_formed: bool  # d[0] == d[4] and d[1] == d[5]


def decode_checksum_prefix(prefix: str) -> DecodedPrefix | None:
    """Decode an 8-character prefix in either base64 alphabet (§4.4); None when undecodable."""
    if len(prefix) != 8:
        return None
    try:
        obfuscated = base64.b64decode(prefix.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    prev = 0xA5
    raw = bytearray()
    for i, byte in enumerate(obfuscated):
        raw.append(((byte - i) & 0xFF) ^ prev)
        prev = byte
    k = (raw[2] << 24) | (raw[3] << 16) | (raw[4] << 8) | raw[5]
    return DecodedPrefix(raw=bytes(raw), k=k, well_formed=raw[0] == raw[4] and raw[1] == raw[5])


@dataclass(frozen=True, slots=True)
class ChecksumInfo:
    """A parsed `x-cursor-checksum` value (137- or 72-character form)."""

    prefix: str
    machine_id: str
    mac_machine_id: str | None
    k: int | None  # None when the prefix does not decode
    well_formed: bool


def parse_checksum(value: str) -> ChecksumInfo | None:
    """Parse the header; None unless it matches the 137- or 72-character pattern (§4.5)."""
    match = CHECKSUM_137.match(value) or CHECKSUM_72.match(value)
    if match is None:
        return None
    groups = match.groups()
    decoded = decode_checksum_prefix(groups[0])
    return ChecksumInfo(
        prefix=groups[0],
        machine_id=groups[1],
        mac_machine_id=groups[2] if len(groups) > 2 else None,
        k=decoded.k if decoded else None,
        well_formed=bool(decoded and decoded.well_formed),
    )


def make_checksum(
    unix_seconds: float, machine_id: str, mac_machine_id: str | None, *, urlsafe: bool = True
) -> str:
    """A full header value: fresh prefix + machine id (+ `/` + mac machine id)."""
    prefix = encode_checksum_prefix(unix_seconds, urlsafe=urlsafe)
    return prefix + machine_id + (f"/{mac_machine_id}" if mac_machine_id is not None else "")


# ---------------------------------------------------------------- JWT


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def make_jwt(
    sub: str = DEFAULT_SUB,
    exp: int = 4_102_444_800,  # 2100-01-01
    type: str = "session",  # the claim is called `type`
    **extra: Any,
) -> str:
    """A deterministic HS256-shaped JWT the simulator accepts (the signature is never verified).

    Claims follow §5.2; `extra` adds or overrides claims (e.g. `workosSessionId`, `time`).
    """
    user = sub.rsplit("|", 1)[-1]
    claims: dict[str, Any] = {
        "sub": sub,
        "time": str(exp - 60 * 86400),
        "randomness": hashlib.sha256(f"{sub}:{exp}".encode()).hexdigest()[:8]
        + "-"
        + hashlib.sha256(user.encode()).hexdigest()[:4]
        + "-"
        + hashlib.sha256(type.encode()).hexdigest()[:4],
        "exp": exp,
        "iss": "https://authentication.cursor.sh",
        "scope": "openid profile email offline_access",
        "aud": "https://cursor.com",
        "type": type,
    }
    claims.update(extra)
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64url(hmac.new(_SIGNING_KEY, f"{JWT_HEADER}.{payload}".encode(), hashlib.sha256).digest())
    return f"{JWT_HEADER}.{payload}.{signature}"


def parse_jwt(token: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped string, or None if it is not three base64url JSON segments."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or not parts[0].startswith("eyJ"):
        return None
    try:
        for part in parts:
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def user_id_of(sub: str) -> str:
    """The user id part of a `sub` claim (`auth0|user_…` → `user_…`)."""
    return sub.rsplit("|", 1)[-1]
