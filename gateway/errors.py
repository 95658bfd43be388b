"""Every error the gateway reports to a client, and how it renders in the OpenAI envelope.

    GatewayError                      status, type, code, param; renders {"error": {...}}
    ├── InvalidRequest                400 invalid_request_error (bad JSON, bad field, unknown role …)
    │   ├── RequestTooLarge           413 invalid_request_error / request_too_large
    │   ├── UnsupportedEncoding       415 invalid_request_error / unsupported_content_encoding
    │   └── ContextTooLong            400 invalid_request_error / context_length_exceeded
    ├── ModelNotFound                 400 invalid_request_error / model_not_found
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

    def body(self) -> dict[str, Any]:
        """The OpenAI error envelope."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


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
    return status, {"type": "error", "error": {"type": kind, "message": error.message}}


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

    def __init__(self, model: str) -> None:
        super().__init__(f"Invalid model: {model}", param="model")


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
