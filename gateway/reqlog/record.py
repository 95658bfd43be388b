"""`RequestRecord`: the one log row of one API request, filled in as the request runs. Pure.

Who fills what:

* the `request_context` middleware creates it (request id, endpoint, start time) for the routes in
  `LOGGED_ROUTES`, makes it current (`current_record()`), and at the end sets the HTTP status and
  latency and hands it to the sink;
* the handler calls `describe()` (model, stream) once the body is parsed, `follow()` (the
  `Timing` that yields the time to first token; the conversation when prompts are logged) once
  the chat request is built, and wraps its event stream in `watch()` to capture `Usage`;
* `ChatService.attempt()` calls `use_token()` for every token it tries (alias, fingerprint and
  masked forms; never the token);
* each upstream adapter names its RPC in the `Timing` as it sends (`Timing.upstream_rpc`), so the
  row names the RPC that answered (or, for a failure, the last one tried);
* `middlewares.count_error()` calls `fail()` for every error reported to the client, before the
  stream (an HTTP error) or inside it (an in-band error).

The record is reachable as `request[keys.REQUEST_RECORD]` in aiohttp code and through the context
variable (`current_record()`) in code that has no request, such as the chat service.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, TypeVar

from gateway.errors import GatewayError
from gateway.logs import mask
from gateway.neutral.model import ChatRequest, Timing, Usage
from gateway.tokens.jwt import fingerprint
from gateway.tokens.mask import mask_identity, mask_token
from gateway.tokens.store import TokenEntry

# Route names whose requests leave a row.
LOGGED_ROUTES: Final = frozenset(
    {
        "chat_completions",
        "responses",
        "completions",
        "models",
        "model",
        "anthropic.messages",
        "anthropic.count_tokens",
    }
)
ERROR_CHARS: Final = 500
CLIENT_GONE: Final = 499
# The most characters each stored text field holds (the sink cuts longer values). A client sends
# the model name, so it is cut too; the prompt is cut to LOG_PROMPT_MAX_CHARS already, whose
# largest value is its limit here.
FIELD_CHARS: Final[dict[str, int]] = {
    "prompt": 1_000_000,
    "request_id": 64,
    "endpoint": 64,
    "model": 200,
    "error": ERROR_CHARS,
    "token_alias": 100,
    "token_fingerprint": 64,
    "token_masked": 100,
    "checksum_masked": 200,
    "upstream": 16,
}


def cut(text: str | None, limit: int) -> str | None:
    """`text` of at most `limit` characters (its start kept, "…" marking the cut)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


_CURRENT: Final[ContextVar[RequestRecord | None]] = ContextVar("request_record", default=None)

E = TypeVar("E")


def current_record() -> RequestRecord | None:
    """The record of the request being handled in this task (None outside a logged request)."""
    return _CURRENT.get()


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    timestamp: float  # wall-clock seconds at arrival
    started: float  # time.perf_counter() at arrival
    log_prompts: bool = False
    prompt_cap: int = 0
    model: str | None = None
    stream: bool | None = None
    status: int | None = None
    error: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    token_alias: str | None = None
    token_fingerprint: str | None = None
    token_masked: str | None = None
    checksum_masked: str | None = None
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt: str | None = None
    timing: Timing | None = None

    # ---------------------------------------------------------------- filled during the request

    def describe(self, *, model: str, stream: bool) -> None:
        """What the client asked for (as soon as the body is parsed)."""
        self.model, self.stream = model, stream

    def follow(self, timing: Timing, chat: ChatRequest | None = None) -> None:
        """The request's `Timing` (for the time to first token) and, with LOG_PROMPTS, its text."""
        self.timing = timing
        if self.log_prompts and chat is not None:
            self.prompt = conversation_text(chat, self.prompt_cap)

    def use_token(self, entry: TokenEntry) -> None:
        self.attempts += 1
        self.token_alias = entry.alias
        self.token_fingerprint = fingerprint(entry.jwt)
        self.token_masked = mask_token(entry.jwt)
        self.checksum_masked = mask_identity(entry.identity) if entry.identity is not None else None

    def fail(self, error: GatewayError) -> None:
        code = error.code or error.type
        self.error = mask(f"{code}: {error.message}")[:ERROR_CHARS]

    def add_usage(self, usage: Usage) -> None:
        self.prompt_tokens = usage.prompt_tokens
        self.completion_tokens = usage.completion_tokens
        self.total_tokens = usage.prompt_tokens + usage.completion_tokens

    async def watch(self, events: AsyncGenerator[E, None]) -> AsyncGenerator[E, None]:
        """Pass `events` through, keeping the `Usage` event; closing this closes `events`."""
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Usage):
                    self.add_usage(event)
                yield event

    def finish(self, status: int, now: float | None = None) -> None:
        ended = time.perf_counter() if now is None else now
        self.status = status
        self.latency_ms = round((ended - self.started) * 1000, 3)
        if self.timing is not None and self.timing.first_output is not None:
            self.ttft_ms = round((self.timing.first_output - self.started) * 1000, 3)
        if status == CLIENT_GONE and self.error is None:
            self.error = "client_closed_request: the client went away before the answer was complete"

    @property
    def upstream_rpc(self) -> str | None:
        """The upstream RPC family that served the request (`chat`, `agent`), once one was called."""
        return self.timing.upstream_rpc if self.timing is not None else None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


def activate(record: RequestRecord | None) -> object:
    """Make `record` current for this task; returns the token `deactivate` needs."""
    return _CURRENT.set(record)


def deactivate(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def conversation_text(chat: ChatRequest, cap: int) -> str:
    """The conversation as `role: text` lines, its end kept when it is longer than `cap`."""
    lines = []
    if chat.system:
        lines.append(f"system: {chat.system}")
    for message in chat.messages:
        text = message.text
        if message.results:
            text = "\n".join(result.content for result in message.results)
        lines.append(f"{message.role}: {text}")
    text = mask("\n".join(lines))
    if len(text) > cap:
        return "…" + text[len(text) - cap + 1 :] if cap > 1 else text[:cap]
    return text
