"""Masked forms of tokens and checksums: what the admin API, pages and request logs may show.

A masked token keeps its first and last four characters (`eyJh…x9Qz`, an API key `crsr…a1b2`); a
masked checksum keeps four characters at each end of the machine ids. `mask_file_text()` masks
every JWT, every user API key and every 64-hex machine id in the text of a token file while keeping
aliases, comments and line order. Pure.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.tokens.apikey import KEY_IN_TEXT
from gateway.upstream.checksum import Identity

ELLIPSIS: Final = "…"
_JWT_IN_TEXT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
# A stored checksum: optional 8-character time prefix, machine id, optional "/" + mac machine id.
_CHECKSUM: Final = re.compile(
    r"(?P<prefix>[A-Za-z0-9+/_-]{8})?(?P<m>[0-9a-fA-F]{64})(?:/(?P<c>[0-9a-fA-F]{64}))?"
)


def mask_token(jwt: str) -> str:
    if len(jwt) <= 12:
        return ELLIPSIS
    return f"{jwt[:4]}{ELLIPSIS}{jwt[-4:]}"


def mask_hex(value: str) -> str:
    return f"{value[:4]}{ELLIPSIS}{value[-4:]}"


def mask_identity(identity: Identity) -> str:
    masked = mask_hex(identity.machine_id)
    if identity.mac_machine_id is not None:
        masked += "/" + mask_hex(identity.mac_machine_id)
    return masked


def _mask_checksum(match: re.Match[str]) -> str:
    masked = (match.group("prefix") or "") + mask_hex(match.group("m"))
    if match.group("c") is not None:
        masked += "/" + mask_hex(match.group("c"))
    return masked


def _mask_line(line: str) -> str:
    line = _JWT_IN_TEXT.sub(lambda m: mask_token(m.group()), line)
    line = KEY_IN_TEXT.sub(lambda m: mask_token(m.group()), line)
    head, comma, tail = line.rpartition(",")
    if comma:
        stripped = tail.strip()
        match = _CHECKSUM.fullmatch(stripped)
        if match is not None:
            tail = tail.replace(stripped, _mask_checksum(match))
    return _HEX64.sub(lambda m: mask_hex(m.group()), head + comma + tail)


def mask_file_text(text: str) -> str:
    """`.token` / `.token-list` text with every token and machine id masked, line by line."""
    return "\n".join(_mask_line(line) for line in text.split("\n"))
