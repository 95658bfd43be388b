"""Cursor user API keys as text: the shapes the gateway recognises as a key, not a session token.

A user API key is made on cursor.com (Dashboard → Integrations → User API Keys) and is what
Cursor's CLI and its official SDK read from `CURSOR_API_KEY`. It is not sent to the chat RPCs
itself: it is exchanged for a short-lived access token first (`tokens/access.py`).

Cursor documents no key format and its SDK checks none, so the gateway recognises the two shapes
in public use: `crsr_…` (the current keys: `crsr_` and letters and digits) and `key_…` (older keys:
`key_` and 64 hex digits). A key is either prefix followed by 20 to 256 characters of
`[A-Za-z0-9_-]`. Pure.
"""

from __future__ import annotations

import re
from typing import Final

PREFIXES: Final = ("crsr_", "key_")
# A key standing alone, and a key inside free text (not the tail of a longer word such as `api_key_`).
_KEY: Final = re.compile(r"(?:crsr|key)_[A-Za-z0-9_-]{20,256}")
KEY_IN_TEXT: Final = re.compile(r"(?<![A-Za-z0-9_-])(?:crsr|key)_[A-Za-z0-9_-]{20,}")


def is_api_key(text: str) -> bool:
    """Whether `text` (already trimmed) has the shape of a Cursor user API key."""
    return _KEY.fullmatch(text) is not None
