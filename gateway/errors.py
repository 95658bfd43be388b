"""Every error the gateway reports to a client, and how it renders in the OpenAI envelope.

    GatewayError                      status, type, code, param; renders {"error": {...}}
    ├── InvalidRequest                400 invalid_request_error (bad JSON, bad field, unknown role …)
    │   ├── RequestTooLarge           413 invalid_request_error / request_too_large
    │   ├── UnsupportedEncoding       415 invalid_request_error / unsupported_content_encoding
    │   └── ContextTooLong            400 invalid_request_error / context_length_exceeded
    ├── ModelNotFound                 400 (404 for GET /v1/models/{id}) invalid_request_error / model_not_found
    ├── AuthenticationFailed          401 authentication_error / invalid_api_key
    ├── NotFound                      404 invalid_request_error / not_found
    ├── MethodNotAllowed              405 invalid_request_error / method_not_allowed
    ├── NoTokenConfigured             503 server_error / no_token_configured
    ├── NoHealthyToken                503 server_error / no_available_tokens (tokens exist, none usable)
    ├── ServerBusy                    503 server_error / server_busy (over MAX_CONNECTIONS)
    ├── AdminDisabled                 403 permission_error / admin_disabled (AUTH_TOKEN is empty)
    ├── CorsOriginNotAllowed          403 permission_error / cors_origin_not_allowed (a browser preflight)
    └── UpstreamError                 an upstream failure classified per cursor-protocol.md §10
                                      (502/503/504/429/403 …) with the class that drove it

The error middleware (before a stream starts) and the dialect's stream renderer (after) are the
only places that turn these into bytes: the OpenAI envelope with `GatewayError.body()`, Anthropic's
`{"type": "error", "error": {"type", "message"}}` with `anthropic_error()`, which maps every error
onto Anthropic's status codes and error types (the one place that does).
An HTTP error response carries `GatewayError.response_headers()`: its own headers plus
`x-should-retry` where the answer is known (`should_retry()`), which the OpenAI and Anthropic SDKs
obey instead of repeating a request twice more.
"""

from __future__ import annotations

from typing import Any, Final, Literal

Dialect = Literal["openai", "anthropic"]

# Anthropic's status codes and their error types (its HTTP errors page and SDK types).
ANTHROPIC_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

MAX_MESSAGE_CHARS: Final = 2000  # messages may quote client input; the envelope stays small
RETRY_HEADER: Final = "x-should-retry"
# Errors a retry of the same request cannot fix, though their status would invite one: the model
# broke the request's promise twice (response_format, tool calls), no token is configured, the
# account's quota is spent, or Cursor refuses this client, RPC or protocol until an operator acts.
NOT_RETRYABLE: Final = frozenset(
    {
        "response_format_failed",
        "invalid_tool_call",
        "no_token_configured",
        "insufficient_quota",
        "upstream_client_outdated",
        "upstream_rpc_unavailable",
        "upstream_http2_required",
    }
)
# Errors a later retry can get past: a rate limit, a timeout or lost connection, a restart.
RETRYABLE: Final = frozenset(
    {"rate_limit_exceeded", "upstream_timeout", "upstream_connection_error", "gateway_shutting_down"}
)
RETRIED_STATUSES: Final = frozenset({408, 409, 429})  # besides 5xx, what the SDKs repeat by default


def should_retry(error: GatewayError) -> bool | None:
    """Whether repeating the same request can succeed (None: it may, the client decides).

    Every 4xx but the ones clients retry is final. `no_available_tokens` can pass once a token
    recovers, which its `Retry-After` announces; without one no token will.
    """
    if error.code in NOT_RETRYABLE:
        return False
    if error.code in RETRYABLE:
        return True
    if error.code == "no_available_tokens":
        return "Retry-After" in error.headers
    if error.status < 500 and error.status not in RETRIED_STATUSES:
        return False
    return None


class GatewayError(Exception):
    """An error with an HTTP status and an OpenAI-style type/code/param."""

    status: int = 500
    type: str = "server_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def shown_message(self) -> str:
        """The message as clients see it: cut to `MAX_MESSAGE_CHARS` (it may quote their input)."""
        if len(self.message) <= MAX_MESSAGE_CHARS:
            return self.message
        return self.message[: MAX_MESSAGE_CHARS - 1] + "…"

    def body(self) -> dict[str, Any]:
        """The OpenAI error envelope."""
        message = self.shown_message
        param = (
            self.param
            if self.param is None or len(self.param) <= MAX_MESSAGE_CHARS
            else self.param[:MAX_MESSAGE_CHARS]
        )
        return {"error": {"message": message, "type": self.type, "param": param, "code": self.code}}

    def response_headers(self) -> dict[str, str]:
        """The headers of an HTTP error answer: `headers`, and `x-should-retry` when it is known."""
        retry = should_retry(self)
        if retry is None:
            return dict(self.headers)
        return {**self.headers, RETRY_HEADER: "true" if retry else "false"}


def anthropic_error(error: GatewayError) -> tuple[int, dict[str, Any]]:
    """The status and body of `error` for an Anthropic client.

    An unknown model is a 404 `not_found_error`, as Anthropic answers it; no usable token right now
    is a 529 `overloaded_error` (clients retry it, `Retry-After` says when), other 503s and every
    other 5xx except a 504 timeout are a 500 `api_error`; a 4xx without a type of its own keeps
    its status as an `invalid_request_error`.
    """
    status = error.status
    if error.code == "model_not_found":
        status = 404
    elif error.code == "no_available_tokens":
        status = 529
    elif status >= 500 and status != 504:
        status = 500
    kind = ANTHROPIC_TYPES.get(status, "invalid_request_error")
    return status, {"type": "error", "error": {"type": kind, "message": error.shown_message}}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class RequestTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class UnsupportedEncoding(InvalidRequest):
    status = 415
    code = "unsupported_content_encoding"


class ContextTooLong(InvalidRequest):
    code = "context_length_exceeded"


class ModelNotFound(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model: str, *, status: int = 400) -> None:
        """400 for a request naming an unknown model; 404 when the model itself is looked up."""
        text = f"Invalid model: {model}" if status == 400 else f"The model '{model}' does not exist."
        super().__init__(text, param="model", status=status)


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class NoTokenConfigured(GatewayError):
    status = 503
    type = "server_error"
    code = "no_token_configured"


class NoHealthyToken(GatewayError):
    status = 503
    type = "server_error"
    code = "no_available_tokens"


class ServerBusy(GatewayError):
    status = 503
    type = "server_error"
    code = "server_busy"


class AdminDisabled(GatewayError):
    status = 403
    type = "permission_error"
    code = "admin_disabled"


class CorsOriginNotAllowed(GatewayError):
    status = 403
    type = "permission_error"
    code = "cors_origin_not_allowed"


class UpstreamError(GatewayError):
    """A failure of Cursor's side; `error_class` is the gateway class of cursor-protocol.md §10.4."""

    status = 502
    type = "server_error"
    code = "upstream_error"

    def __init__(self, message: str, *, error_class: str = "upstream", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error_class = error_class
