"""What a failed upstream attempt means for its token, and whether another token may be tried.

Decided from cursor-protocol.md §10.4 (pool actions and the "Retry?" column):

| class / case                      | token                          | another token?          |
|-----------------------------------|--------------------------------|-------------------------|
| auth                              | disabled                       | yes                     |
| rate                              | cooling down (hint, else 60 s doubling, capped) | yes    |
| rate, DEBOUNCED (35)              | cooling down 10 s              | yes                     |
| usage                             | exhausted (EXHAUSTED_RECHECK)  | yes                     |
| plan (PRO_USER_ONLY, MODEL_BLOCKED, PRICING_WARNING) | skipped for this model for 1 h | yes  |
| suspicious (SUSPICIOUS_USAGE_BLOCKED) | cooling down 1 h           | yes                     |
| upstream, "too many computers"    | cooling down 1 h               | yes                     |
| timeout, transport, upstream (also NETWORK_ERROR, PROVIDER_ERROR, INTERNAL) | no penalty | once per request |
| everything else (outdated, retired, model, context, request, permission, protocol, http2) | no penalty | no |

Pure: maps an `UpstreamError` to an `Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from gateway.errors import UpstreamError
from gateway.tokens.pool import FailureKind, retry_hint
from gateway.upstream.errors import too_many_computers

Retry = Literal["always", "once", "never"]

_KINDS: Final[dict[str, tuple[FailureKind, Retry]]] = {
    "auth": ("auth", "always"),
    "rate": ("rate", "always"),
    "usage": ("usage", "always"),
    "plan": ("plan", "always"),
    "suspicious": ("suspicious", "always"),
    "timeout": ("other", "once"),
    "transport": ("other", "once"),
    "upstream": ("other", "once"),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: FailureKind
    retry: Retry
    hint: float | None  # seconds the upstream asked us to wait, if it said


def classify(error: UpstreamError, *, now_wall: float) -> Outcome:
    kind, retry = _KINDS.get(error.error_class, ("other", "never"))
    if error.error_class == "transport" and error.code != "upstream_connection_error":
        retry = "never"  # e.g. a disconnect after content: nothing to retry
    if error.error_class == "upstream" and too_many_computers(error):
        kind, retry = "computers", "always"
    if error.error_class == "rate" and error.message.startswith("Cursor error DEBOUNCED"):
        kind = "debounce"
    hint = None
    if kind in ("rate", "debounce"):
        hint = retry_hint(error.headers.get("Retry-After"), error.message, now_wall=now_wall)
    return Outcome(kind, retry, hint)
