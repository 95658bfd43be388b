"""Static upstream knowledge the simulator speaks from: error names and texts, and the model list.

Owns: the Connect code and default title/detail the simulator sends with each `ErrorDetails.Error`
value (§10.2, upstream-2026.md §4; the names come from the enum of the shared protobuf module),
the "Update Required" refusal as the live service words it, and the default `AvailableModels`
list (§7.8, SIM-29).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gateway.upstream.pb import cursor_pb2 as pb

# Connect code the simulator puts next to each value (the upstream's exact choice is unknown;
# these follow the meaning of each value).
_CONNECT_CODES: Final[dict[str, tuple[int, ...]]] = {
    "unauthenticated": (1, 2, 3, 6, 11, 12, 18, 24, 38, 42),
    "permission_denied": (4, 17, 23, 46, 47, 48, 53, 54, 58, 60, 62, 64),
    "invalid_argument": (5, 26, 27, 31, 36, 43),
    "not_found": (16, 19, 32, 33, 39, 61),
    "resource_exhausted": (7, 8, 9, 10, 14, 15, 20, 22, 28, 34, 35, 41, 44, 45, 50, 51, 63),
    "canceled": (21,),
    "deadline_exceeded": (25, 55),
    "failed_precondition": (30, 40, 49),
    "unavailable": (56, 57),
    "internal": (59,),
}
CONNECT_CODE_BY_ERROR: Final[dict[int, str]] = {
    value: code for code, values in _CONNECT_CODES.items() for value in values
}

TOO_MANY_COMPUTERS: Final = "Too many computers used within the last 24 hours for the same Cursor account"
# The live refusal of an old client (jcode #399, upstream-2026.md §2): error 28 reused, told apart
# by its title, with `analyticsMetadata {actionRequired: "payment"}` (CustomErrorDetails field 10).
UPDATE_REQUIRED_TITLE: Final = "Update Required"
UPDATE_REQUIRED_DETAIL: Final = (
    "Your version of Cursor is no longer supported. Please update to the latest version at "
    "cursor.com/downloads to continue."
)
# The other live shape: a plain HTTP 400 with a text body (9router PR #525).
UPDATE_REQUIRED_HTTP_BODY: Final = "Update Required for Composer 2"

_DEFAULT_TEXTS: Final[dict[int, tuple[str, str]]] = {
    1: ("Bad API key", "The provided API key is invalid."),
    2: ("Not logged in", "You are not logged in."),
    3: ("Invalid auth id", "The authentication id is invalid."),
    5: ("Bad model name", "The model does not exist or you do not have access to it."),
    8: ("Rate limited", "Too many requests. Please slow down."),
    9: ("Usage limit", "You have reached your free usage limit."),
    10: ("Usage limit", "You have reached your usage limit for this billing cycle."),
    12: ("Auth token expired", "Your session has expired. Please log in again."),
    20: ("Max tokens", "The response hit the maximum number of tokens."),
    21: ("Aborted", "The request was aborted."),
    23: ("Pro only", "This model is only available to Pro users."),
    25: ("Timeout", "The request timed out."),
    28: ("Rate limited", "The vision preview model is rate limited."),
    29: ("Custom message", TOO_MANY_COMPUTERS),
    30: ("Outdated client", "You seem to be using an outdated version of Cursor. Please update."),
    35: ("Debounced", "Request debounced."),
    36: ("Bad request", "The request is malformed."),
    41: ("Resource exhausted", "Resources exhausted."),
    43: ("Conversation too long", "The conversation is too long. Please start a new one."),
    44: ("Usage pricing required", "Usage-based pricing must be enabled."),
    50: ("Rate limited", "Please slow down."),
    54: ("Suspicious activity", "Unusual activity was detected on this account, so requests are blocked."),
    55: ("Timeout", "The extension host did not answer in time."),
    56: ("Network error", "A network error occurred. Please try again."),
    57: ("Provider error", "The model provider returned an error. Please try again."),
    58: ("Model blocked", "This model has been blocked by your team's admin."),
    59: ("Internal error", "Something went wrong on our side."),
    60: ("Max mode required", "This model is only available in Max mode."),
    61: ("Model no longer supported", "This model is no longer supported. Please choose another model."),
    62: ("Pricing", "This model is billed at a higher rate. Please confirm to continue."),
    63: ("Slow pool", "You are in the slow pool and it is at capacity. Please try again later."),
    64: ("Unsupported region", "This model is not available in your region."),
}


def _named(error: int) -> bool:
    return error in pb.ErrorDetails.Error.values()


def connect_code_for(error: int) -> str:
    return CONNECT_CODE_BY_ERROR.get(error, "unknown" if _named(error) else "internal")


def error_name(error: int) -> str:
    """The enum name Connect servers put in `debug.error`, e.g. `ERROR_RATE_LIMITED`."""
    return pb.ErrorDetails.Error.Name(error) if _named(error) else f"ERROR_UNKNOWN_{error}"


def default_texts(error: int) -> tuple[str, str]:
    return _DEFAULT_TEXTS.get(error, ("Error", f"Upstream error {error}."))


# ---------------------------------------------------------------- models

DISABLED: Final = 2
DEGRADED: Final = 1


@dataclass(slots=True)
class ModelSpec:
    """One `AvailableModel` entry (a subset of §7.8's fields, the ones the schema models)."""

    name: str
    default_on: bool = True
    server_model_name: str | None = None
    client_display_name: str | None = None
    degradation_status: int | None = None
    supports_thinking: bool = False
    supports_images: bool = False
    supports_agent: bool = True
    supports_max_mode: bool = False
    supports_non_max_mode: bool = True
    is_chat_only: bool = False
    context_token_limit: int = 200_000
    context_token_limit_for_max_mode: int | None = None
    price: float | None = None
    aliases: tuple[str, ...] = field(default=())  # extra names the chat RPC accepts


def default_models() -> list[ModelSpec]:
    """A list covering SIM-29: a renamed server model, a DISABLED and a DEGRADED entry, flags."""
    return [
        ModelSpec("default", client_display_name="Auto", context_token_limit=200_000),
        ModelSpec(
            "claude-4.5-sonnet",
            client_display_name="Sonnet 4.5",
            supports_thinking=True,
            supports_images=True,
            supports_max_mode=True,
            context_token_limit=200_000,
            context_token_limit_for_max_mode=1_000_000,
        ),
        ModelSpec(
            "claude-4.5-sonnet-thinking",
            client_display_name="Sonnet 4.5 Thinking",
            supports_thinking=True,
            supports_images=True,
            supports_max_mode=True,
            context_token_limit=200_000,
            context_token_limit_for_max_mode=1_000_000,
        ),
        ModelSpec("claude-4-sonnet", client_display_name="Sonnet 4", supports_images=True),
        ModelSpec(
            "claude-4-opus",
            server_model_name="claude-4.1-opus",
            client_display_name="Opus 4.1",
            supports_images=True,
            supports_max_mode=True,
            supports_non_max_mode=False,
            context_token_limit_for_max_mode=200_000,
        ),
        ModelSpec(
            "grok-4",
            server_model_name="grok-4-0709",
            client_display_name="Grok 4",
            context_token_limit=256_000,
        ),
        ModelSpec(
            "gpt-5.1",
            client_display_name="GPT-5.1",
            supports_thinking=True,
            supports_images=True,
            context_token_limit=272_000,
        ),
        ModelSpec(
            "gemini-3-pro",
            server_model_name="gemini-3-pro-preview",
            client_display_name="Gemini 3 Pro",
            supports_images=True,
            context_token_limit=1_000_000,
        ),
        ModelSpec(
            "gemini-2.5-pro",
            client_display_name="Gemini 2.5 Pro",
            degradation_status=DEGRADED,
            supports_images=True,
            context_token_limit=1_000_000,
        ),
        ModelSpec(
            "claude-3.5-sonnet",
            client_display_name="Sonnet 3.5",
            degradation_status=DISABLED,
            default_on=False,
        ),
        ModelSpec(
            "cursor-small",
            client_display_name="cursor-small",
            supports_agent=False,
            is_chat_only=True,
            context_token_limit=60_000,
        ),
        ModelSpec("composer-1", client_display_name="Composer 1", context_token_limit=200_000),
    ]
