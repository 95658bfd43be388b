"""Logging setup: one key=value line per record, and a filter that masks anything token-shaped."""

from __future__ import annotations

import logging
import re
import sys
from typing import Final

from gateway.tokens.apikey import KEY_IN_TEXT

# A JWT (three base64url segments starting with eyJ), a Cursor user API key, or a bearer
# credential in free text.
_SECRET = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|(?i:bearer\s+)\S+|" + KEY_IN_TEXT.pattern
)
FORMAT: Final = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def mask(text: str) -> str:
    return _SECRET.sub("***", text)


class MaskingFormatter(logging.Formatter):
    """Masks secrets in the whole formatted record, tracebacks included."""

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
