"""Cursor session tokens as text: normalisation, unverified claims and log fingerprints.

This module owns cursor-protocol.md §5.1 (turning what users paste — a bare JWT, `user_id::JWT`
or the URL-encoded cookie value `user_id%3A%3AJWT` — into the JWT sent upstream) and §5.2
(reading `sub`, `exp` and `type` without verifying the signature, which the gateway cannot and
must not do). Error messages never contain the token; logs use `fingerprint()`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Final

import orjson

SEPARATOR: Final = "::"
ENCODED_SEPARATOR: Final = re.compile(r"%3a%3a", re.IGNORECASE)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class TokenFormatError(ValueError):
    """The text is not a Cursor session token (the message never includes the text)."""


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims the gateway reads; each is None when missing or of an unexpected type."""

    sub: str | None
    exp: int | None
    type: str | None
    user_id: str | None


def is_jwt(text: str) -> bool:
    """Three non-empty base64url segments joined by `.`, the first starting with `eyJ`."""
    return _JWT.fullmatch(text) is not None


def decode_separators(text: str) -> str:
    """Replace every URL-encoded `::` (`%3A%3A`, any case) with `::`."""
    return ENCODED_SEPARATOR.sub(SEPARATOR, text)


def normalize_token(raw: str) -> tuple[str | None, str]:
    """§5.1: `(user_id or None, jwt)` from a bare JWT or a `user_id::JWT` cookie value.

    The text is trimmed and `%3A%3A` decoded; the JWT is what follows the last `::`, and the
    segment just before it (if any) is returned as the user id. For `alias::user_id::JWT` that is
    the user id, not the alias; `store.py` splits aliases off itself.
    """
    text = decode_separators(raw.strip())
    head, sep, jwt = text.rpartition(SEPARATOR)
    jwt = jwt.strip()
    if not is_jwt(jwt):
        raise TokenFormatError("not a JWT: expected three base64url segments, the first starting with 'eyJ'")
    if not sep:
        return None, jwt
    user_id = head.rpartition(SEPARATOR)[2].strip()
    return user_id or None, jwt


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def read_claims(jwt: str) -> Claims:
    """§5.2, unverified. Raises `TokenFormatError` only when `jwt` is not three `.`-parts.

    An undecodable payload, a payload that is not a JSON object, or claims of the wrong type
    give None for the affected fields: a missing `exp` means "unknown expiry", not invalid.
    `exp` is accepted as an integer or an integral JSON number (`1.7e9`); booleans are not.
    """
    parts = jwt.split(".")
    if len(parts) != 3:
        raise TokenFormatError("not a JWT: expected three '.'-separated parts")
    try:
        payload = orjson.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        return Claims(None, None, None, None)
    if not isinstance(payload, dict):
        return Claims(None, None, None, None)
    sub = payload.get("sub")
    sub = sub if isinstance(sub, str) else None
    kind = payload.get("type")
    exp = payload.get("exp")
    exp_int: int | None = None
    if isinstance(exp, int) and not isinstance(exp, bool):
        exp_int = exp
    elif isinstance(exp, float) and math.isfinite(exp) and exp.is_integer():
        exp_int = int(exp)
    user_id = None
    if sub is not None and "|" in sub:
        user_id = sub.split("|", 1)[1] or None
    return Claims(sub=sub, exp=exp_int, type=kind if isinstance(kind, str) else None, user_id=user_id)


def fingerprint(jwt: str) -> str:
    """What logs show instead of a token: the first 8 hex digits of SHA-256 of the JWT."""
    return hashlib.sha256(jwt.encode("utf-8")).hexdigest()[:8]
