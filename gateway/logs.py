"""Logging setup: one line per record, secrets masked, client text unable to forge a line.

`mask()` hides anything token-shaped: a JWT, a Cursor user API key, a bearer credential, and the
value of every header that carries a credential (`SECRET_HEADERS`) however a library writes it into
a line (aiohttp's `b'x-api-key: …'` when it refuses a malformed header, hpack's
`b'x-client-key'=b'…'` at DEBUG).
`escape_controls()` writes line breaks and other control characters of a message as escapes, so
a `%0a` in a request path cannot start a line of its own; tracebacks keep their lines.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Final

from gateway.tokens.apikey import KEY_IN_TEXT

# Headers whose values are credentials or identify the account (requests to Cursor included).
SECRET_HEADERS: Final = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "x-cursor-checksum",
    "x-client-key",
    "x-session-id",
)
# A JWT (three base64url segments starting with eyJ), a Cursor user API key, or a bearer
# credential in free text.
_SECRET = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|(?i:bearer\s+)\S+|" + KEY_IN_TEXT.pattern
)
# A secret header's name, what separates it from its value (`: `, `=`, `': b'`, `', b'`), the value.
_HEADER = re.compile(
    r"(?i)(?<![\w-])(?P<name>" + "|".join(re.escape(name) for name in SECRET_HEADERS) + r")"
    r"(?P<sep>['\"]?\s*[:=]\s*(?:(?-i:b)?['\"])?|['\"]\s*,\s*(?-i:b)?['\"])(?P<value>[^'\"\r\n]+)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
FORMAT: Final = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def mask(text: str) -> str:
    return _SECRET.sub("***", _HEADER.sub(r"\g<name>\g<sep>***", text))


def escape_controls(text: str) -> str:
    """`text` with control characters (line breaks, NUL, ESC, U+2028 …) written as escapes."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class MaskingFormatter(logging.Formatter):
    """One line per message (control characters escaped), secrets masked in the whole record,
    tracebacks included."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class SecretFilter(logging.Filter):
    """Replaces tokens and bearer keys in every formatted message before a handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class ClientErrorFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (bad encoding, broken chunking…) at ERROR with a
    traceback. That is the client's mistake, already answered with a 400: one INFO line is enough,
    and nobody can flood the error log with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and any(cls.__name__ == "HttpProcessingError" for cls in type(error).__mro__):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args, record.exc_info = "refused a malformed request: %s", (error,), None
        return True


def setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(FORMAT))
    handler.addFilter(SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # aiohttp's own access log duplicates ours.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(ClientErrorFilter())
    if not debug:
        logging.getLogger("hpack").setLevel(logging.WARNING)
