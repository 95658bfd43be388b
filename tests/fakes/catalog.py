"""Static upstream knowledge the simulator speaks from: error names and texts, and the model list.

Owns: the `ErrorDetails.Error` name table (§10.2), the Connect code and default title/detail the
simulator sends with each value, and the default `AvailableModels` list (§7.8, SIM-29).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

ERROR_NAMES: Final[dict[int, str]] = {
    0: "UNSPECIFIED",
    1: "BAD_API_KEY",
    2: "NOT_LOGGED_IN",
    3: "INVALID_AUTH_ID",
    4: "NOT_HIGH_ENOUGH_PERMISSIONS",
    5: "BAD_MODEL_NAME",
    6: "USER_NOT_FOUND",
    7: "FREE_USER_RATE_LIMIT_EXCEEDED",
    8: "PRO_USER_RATE_LIMIT_EXCEEDED",
    9: "FREE_USER_USAGE_LIMIT",
    10: "PRO_USER_USAGE_LIMIT",
    11: "AUTH_TOKEN_NOT_FOUND",
    12: "AUTH_TOKEN_EXPIRED",
    13: "OPENAI",
    14: "OPENAI_RATE_LIMIT_EXCEEDED",
    15: "OPENAI_ACCOUNT_LIMIT_EXCEEDED",
    16: "TASK_UUID_NOT_FOUND",
    17: "TASK_NO_PERMISSIONS",
    18: "AGENT_REQUIRES_LOGIN",
    19: "AGENT_ENGINE_NOT_FOUND",
    20: "MAX_TOKENS",
    21: "USER_ABORTED_REQUEST",
    22: "GENERIC_RATE_LIMIT_EXCEEDED",
    23: "PRO_USER_ONLY",
    24: "API_KEY_NOT_SUPPORTED",
    25: "TIMEOUT",
    26: "SLASH_EDIT_FILE_TOO_LONG",
    27: "FILE_UNSUPPORTED",
    28: "GPT_4_VISION_PREVIEW_RATE_LIMIT",
    29: "CUSTOM_MESSAGE",
    30: "OUTDATED_CLIENT",
    31: "CLAUDE_IMAGE_TOO_LARGE",
    32: "GITGRAPH_NOT_FOUND",
    33: "FILE_NOT_FOUND",
    34: "API_KEY_RATE_LIMIT",
    35: "DEBOUNCED",
    36: "BAD_REQUEST",
    37: "REPOSITORY_SERVICE_REPOSITORY_IS_NOT_INITIALIZED",
    38: "UNAUTHORIZED",
    39: "NOT_FOUND",
    40: "DEPRECATED",
    41: "RESOURCE_EXHAUSTED",
    42: "BAD_USER_API_KEY",
    43: "CONVERSATION_TOO_LONG",
    44: "USAGE_PRICING_REQUIRED",
    45: "USAGE_PRICING_REQUIRED_CHANGEABLE",
    46: "GITHUB_NO_USER_CREDENTIALS",
    47: "GITHUB_USER_NO_ACCESS",
    48: "GITHUB_APP_NO_ACCESS",
    49: "GITHUB_MULTIPLE_OWNERS",
    50: "RATE_LIMITED",
    51: "RATE_LIMITED_CHANGEABLE",
    52: "CUSTOM",
    53: "HOOKS_BLOCKED",
}

# Connect code the simulator puts next to each value (the upstream's exact choice is unknown;
# these follow the meaning of each value).
_CONNECT_CODES: Final[dict[str, tuple[int, ...]]] = {
    "unauthenticated": (1, 2, 3, 6, 11, 12, 18, 24, 38, 42),
    "permission_denied": (4, 17, 23, 46, 47, 48, 53),
    "invalid_argument": (5, 26, 27, 31, 36, 43),
    "not_found": (16, 19, 32, 33, 39),
    "resource_exhausted": (7, 8, 9, 10, 14, 15, 20, 22, 28, 34, 35, 41, 44, 45, 50, 51),
    "canceled": (21,),
    "deadline_exceeded": (25,),
    "failed_precondition": (30, 40, 49),
}
CONNECT_CODE_BY_ERROR: Final[dict[int, str]] = {
    value: code for code, values in _CONNECT_CODES.items() for value in values
}

TOO_MANY_COMPUTERS: Final = "Too many computers used within the last 24 hours for the same Cursor account"
UPDATE_REQUIRED_TITLE: Final = "Update Required"
UPDATE_REQUIRED_DETAIL: Final = (
    "Your version of Cursor is no longer supported. Please update to the latest version of Cursor."
)

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
}


def connect_code_for(error: int) -> str:
    return CONNECT_CODE_BY_ERROR.get(error, "internal" if error not in ERROR_NAMES else "unknown")


def error_name(error: int) -> str:
    return "ERROR_" + ERROR_NAMES.get(error, f"UNKNOWN_{error}")


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
