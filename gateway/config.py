"""Settings: every setting declared once, with its default, parser and help text.

`SETTINGS` is the registry. `Settings.from_mapping()` builds the frozen settings object from any
mapping (the process environment merged over `.env` in production, a plain dict in tests), and
stops with a `ConfigError` naming the setting when a value is out of range. The README settings
table and `env-example` are checked against this registry by the test suite.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast
from urllib.parse import urlsplit

DEFAULT_API_KEY: Final = "0000"


class ConfigError(ValueError):
    """A setting has a value the gateway cannot run with; the message names the setting."""


HttpVersion = Literal["1.1", "2", "auto"]
ThinkingOutput = Literal["hidden", "reasoning_content", "think_tags"]
ToolMode = Literal["auto", "native", "emulate"]
ModelSource = Literal["live", "static", "merged"]
VisionAbility = Literal["none", "base64", "all"]
ToolStreamMode = Literal["complete", "fragmented"]
NonceScope = Literal["conversation", "request"]
ChecksumAlphabet = Literal["urlsafe", "standard"]
ClientPlatform = Literal["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"]
ThinkingLevel = Literal["medium", "high"]
TokenStrategy = Literal["round-robin", "least-recently-used", "random"]
UpstreamRpc = Literal["auto", "chat", "agent"]


def _text(value: str) -> str:
    return value


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value.strip())
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return parse


def _float_range(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value.strip())
        if not low <= number <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {number:g}")
        return number

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        lowered = value.strip().lower()
        if lowered not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {value!r}")
        return lowered

    return parse


def _thinking_output(value: str) -> str:
    """`tags` is accepted as another name for `think_tags`."""
    lowered = value.strip().lower()
    return (
        "think_tags" if lowered == "tags" else _choice("hidden", "reasoning_content", "think_tags")(lowered)
    )


def _secret(min_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value and len(value) < min_length:
            raise ValueError(f"must be empty or at least {min_length} characters long")
        return value

    return parse


def _route_prefix(value: str) -> str:
    prefix = value.strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    if any(ch in prefix for ch in "?#{} "):
        raise ValueError(f"must be a plain path such as /api, got {value!r}")
    return prefix


def _origins(value: str) -> tuple[str, ...]:
    """CORS origins: `*` alone, or exact `scheme://host[:port]` origins, normalised as browsers send them."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if "*" in entries:
        if len(entries) > 1:
            raise ValueError("'*' must be the only entry")
        return ("*",)
    origins: list[str] = []
    for entry in entries:
        if entry.lower() == "null":
            raise ValueError("the origin 'null' (sandboxed frames, file: pages) cannot be allowed")
        parts = urlsplit(entry.rstrip("/"))
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            not parts.scheme
            or not parts.hostname
            or port == -1
            or parts.username is not None
            or parts.path
            or parts.query
            or parts.fragment
            or "*" in entry
        ):
            raise ValueError(
                f"expected origins like https://app.example or http://localhost:5173, got {entry!r}"
            )
        scheme, host = parts.scheme.lower(), parts.hostname.lower()
        if ":" in host:
            host = f"[{host}]"
        default_port = {"http": 80, "https": 443}.get(scheme)
        origins.append(f"{scheme}://{host}" if port in (None, default_port) else f"{scheme}://{host}:{port}")
    return tuple(dict.fromkeys(origins))


def _base_url(value: str) -> str:
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return url


AGENT_VERSION_RE: Final = re.compile(r"(cli|sdk)-[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


def _agent_version(value: str) -> str:
    text = value.strip()
    if not AGENT_VERSION_RE.fullmatch(text):
        raise ValueError(f"must look like cli-2026.08.11-e8db854 or sdk-1.0.32, got {value!r}")
    return text


def _client_version(value: str) -> str:
    """`auto`, or a fixed version such as 3.20.14."""
    text = value.strip()
    if text.lower() == "auto":
        return "auto"
    pieces = text.split(".")
    if not 2 <= len(pieces) <= 4 or not all(p.isdigit() and len(p) <= 6 for p in pieces):
        raise ValueError(f"must be auto or a version such as 3.20.14, got {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: environment name, default (as text), parser, and the help shown in docs."""

    name: str
    default: str
    parse: Callable[[str], object]
    help: str

    @property
    def field(self) -> str:
        return self.name.lower()


MIB: Final = 1024 * 1024

SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("HOST", "127.0.0.1", _text, "Address to listen on."),
    Setting("PORT", "3000", _int_range(0, 65535), "Port to listen on (0 picks a free port)."),
    Setting(
        "API_KEY",
        DEFAULT_API_KEY,
        _text,
        "Key clients send as `Authorization: Bearer <key>` or `x-api-key`. The default key is refused "
        "when HOST is not a loopback address.",
    ),
    Setting(
        "BACKLOG",
        "1024",
        _int_range(16, 65535),
        "Listen backlog: connections the kernel queues while the gateway is busy (capped by somaxconn).",
    ),
    Setting(
        "MAX_CONNECTIONS",
        "4000",
        _int_range(1, 1_000_000),
        "Most client connections served at once; at the cap a new one replaces the longest idle one. "
        "Lowered at start-up, with a warning, when the open-file limit cannot hold it.",
    ),
    Setting(
        "HEALTH_RESERVE",
        "16",
        _int_range(1, 10_000),
        "Connections accepted beyond MAX_CONNECTIONS, while every connection is busy, for `/health` only "
        "(others get 503 `server_busy`), one request each, with CLIENT_HEADER_TIMEOUT from their start.",
    ),
    Setting(
        "CLIENT_HEADER_TIMEOUT",
        "10",
        _float_range(0.1, 600),
        "Seconds a client has, from the first byte of a request, to send the complete request head; "
        "slower connections are closed.",
    ),
    Setting(
        "CLIENT_IDLE_TIMEOUT",
        "30",
        _float_range(0.1, 3600),
        "Seconds a client connection may wait without a request (new, or kept alive after an answer) "
        "before it is closed.",
    ),
    Setting("AUTH_TOKEN", "", _text, "Admin key; also accepted as an API key. Empty disables admin access."),
    Setting("ROUTE_PREFIX", "", _route_prefix, "Path prefix for every route, e.g. `/cursor`."),
    Setting(
        "CORS_ORIGINS",
        "",
        _origins,
        "Web origins whose pages may call the API (`/v1/…`) from a browser, comma-separated "
        "(`https://app.example,http://localhost:5173`), or `*` for any (refused while API_KEY is the "
        "default); empty turns CORS off.",
    ),
    Setting("TOKEN_FILE", ".token", _text, "File with Cursor session tokens, one per line."),
    Setting("TOKEN_LIST_FILE", ".token-list", _text, "File the gateway keeps with `token,checksum` lines."),
    # -- token pool and request logs
    Setting(
        "TOKEN_STRATEGY",
        "round-robin",
        _choice("round-robin", "least-recently-used", "random"),
        "How the next token is picked among the healthy ones: `round-robin`, `least-recently-used`, `random`.",
    ),
    Setting(
        "MAX_TOKEN_ATTEMPTS",
        "3",
        _int_range(1, 20),
        "Tokens one request may try (each a different one) before the first byte reaches the client.",
    ),
    Setting(
        "TOKEN_COOLDOWN_MAX",
        "900",
        _float_range(1, 86400),
        "Longest cooldown, in seconds, of a rate-limited token (the upstream hint is honoured up to this).",
    ),
    Setting(
        "EXHAUSTED_RECHECK",
        "3600",
        _float_range(1, 30 * 86400),
        "Seconds a token that hit its usage limit stays out of rotation (unless an operator resets it).",
    ),
    Setting(
        "DATA_DIR",
        "data",
        _text,
        "Folder for the request-log database (`requests.sqlite3`); empty turns request logging off.",
    ),
    Setting(
        "LOG_RETENTION_DAYS",
        "30",
        _float_range(0.001, 3650),
        "Request-log rows older than this many days are deleted.",
    ),
    Setting(
        "LOG_MAX_ROWS",
        "100000",
        _int_range(10, 100_000_000),
        "Most request-log rows kept; the oldest are deleted first.",
    ),
    Setting(
        "LOG_QUEUE_SIZE",
        "10000",
        _int_range(1, 1_000_000),
        "Request-log rows waiting for the writer thread; when full, new rows are dropped and counted.",
    ),
    Setting("LOG_PROMPTS", "false", _bool, "Store the conversation text of each request in its log row."),
    Setting(
        "LOG_PROMPT_MAX_CHARS",
        "2000",
        _int_range(0, 1_000_000),
        "Most characters of a logged conversation (its end is kept); only with LOG_PROMPTS.",
    ),
    Setting(
        "CURSOR_BASE_URL",
        "https://api2.cursor.sh",
        _base_url,
        "Base URL of Cursor's API. Tests and benchmarks point it at the simulator.",
    ),
    Setting(
        "CURSOR_CLIENT_VERSION",
        "auto",
        _client_version,
        "Cursor client version announced upstream: `auto` learns the current one from Cursor's update feed "
        '(and again when Cursor answers "Update Required"); a version such as `3.20.14` is used as is.',
    ),
    Setting(
        "CURSOR_VERSION_REFRESH",
        "21600",
        _float_range(300, 7 * 86400),
        "With `CURSOR_CLIENT_VERSION=auto`, seconds between two background reads of Cursor's update feed.",
    ),
    Setting(
        "CURSOR_CLIENT_PLATFORM",
        "linux-x64",
        _choice("linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"),
        "Platform the gateway presents as (`x-cursor-client-os`/`-arch`) and whose update feed it reads.",
    ),
    Setting("CURSOR_TIMEZONE", "UTC", _text, "IANA time zone sent in `x-cursor-timezone`."),
    Setting(
        "CHECKSUM_ALPHABET",
        "urlsafe",
        _choice("urlsafe", "standard"),
        "Base64 alphabet of the checksum time prefix: `urlsafe` or `standard`.",
    ),
    Setting(
        "UPSTREAM_HTTP_VERSION",
        "auto",
        _choice("1.1", "2", "auto"),
        "HTTP version to Cursor: `1.1`, `2`, or `auto` (HTTP/2 for https://, HTTP/1.1 for http://).",
    ),
    Setting(
        "UPSTREAM_RPC",
        "auto",
        _choice("auto", "chat", "agent"),
        "Which Cursor RPC answers: `chat` (ChatService), `agent` (AgentService), or `auto` (ChatService "
        "first for session tokens, AgentService for API keys and when ChatService is gone or refuses "
        "the client version).",
    ),
    Setting(
        "UPSTREAM_RECHECK",
        "3600",
        _float_range(10, 30 * 86400),
        "With UPSTREAM_RPC=auto: seconds a token stays on AgentService after ChatService refused it, "
        "before ChatService is tried again.",
    ),
    Setting(
        "UPSTREAM_GZIP_REQUESTS",
        "false",
        _bool,
        "Gzip request frames over 1 KiB (declaring `connect-content-encoding: gzip`); off, they go uncompressed "
        "like every current public client's.",
    ),
    Setting(
        "TIMEOUT",
        "30",
        _float_range(0.1, 600),
        "Seconds allowed to connect and receive the upstream response headers. Streams have no total "
        "timeout.",
    ),
    Setting(
        "IDLE_TIMEOUT",
        "120",
        _float_range(0.1, 3600),
        "Seconds an upstream stream may stay silent (heartbeats count) before it is abandoned.",
    ),
    Setting(
        "CURSOR_AGENT_CLIENT_VERSION",
        "cli-2026.08.11-e8db854",
        _agent_version,
        "Client version announced on Cursor's agent service: `cli-<build>` presents the gateway as Cursor's "
        "CLI, `sdk-<version>` as its TypeScript SDK (`x-cursor-client-type` follows the prefix).",
    ),
    Setting(
        "AGENT_HOST_TTL",
        "3600",
        _float_range(10, 7 * 86400),
        "Seconds the agent host Cursor names for a token (`GetServerConfig`) is remembered.",
    ),
    Setting(
        "KEEPALIVE_SECONDS",
        "15",
        _float_range(0.05, 300),
        "Seconds of silence after which an SSE keep-alive comment is sent.",
    ),
    Setting(
        "CLIENT_WRITE_TIMEOUT",
        "60",
        _float_range(0, 3600),
        "Seconds a streamed answer's write may wait for a client that stopped reading before its "
        "connection is dropped and the upstream call closed (checked with the keep-alive timer); 0: no limit.",
    ),
    Setting(
        "SHUTDOWN_GRACE",
        "30",
        _float_range(0, 3600),
        "Seconds running requests may take to finish after SIGTERM; then streams end with an in-stream error.",
    ),
    Setting(
        "SYSTEM_PROMPT_INJECT",
        "",
        _text,
        "Text appended to the system context of every request (after the client's system messages).",
    ),
    Setting(
        "MAX_INPUT_LENGTH",
        "2000000",
        _int_range(1000, 100_000_000),
        "Largest conversation, in characters, sent upstream; the oldest turns are dropped to fit, else 400 `context_length_exceeded`.",
    ),
    Setting(
        "MAX_BODY_BYTES",
        str(16 * MIB),
        _int_range(1024, 512 * MIB),
        "Largest accepted request body in bytes; larger bodies get 413.",
    ),
    Setting(
        "THINKING_OUTPUT",
        "hidden",
        _thinking_output,
        "How thinking reaches OpenAI clients: `hidden`, `reasoning_content`, or `think_tags` (also spelled "
        "`tags`). Anthropic clients choose with their `thinking` parameter.",
    ),
    # ---- models (cursor-protocol.md §11.3)
    Setting(
        "MODEL_SOURCE",
        "merged",
        _choice("live", "static", "merged"),
        "Models offered: `live` (Cursor's list), `static` (the built-in seed lists) or `merged` (Cursor's "
        "list plus the seed ids it still serves). Without a token, or when the list cannot be fetched, the "
        "seed lists are used.",
    ),
    Setting(
        "MODELS_CACHE_TTL",
        "1800",
        _float_range(10, 86400),
        "Seconds Cursor's model list is cached before it is fetched again.",
    ),
    # ---- runtime options (initial values; `POST /config` changes them live and keeps them in DATA_DIR)
    Setting(
        "ENABLE_STREAM_CHECK",
        "false",
        _bool,
        "Hold a stream's headers until the first upstream event arrives (no early keep-alive), so an "
        "early upstream failure is always a real HTTP status. Changed live by `POST /config`.",
    ),
    Setting(
        "ENABLE_SLOW_POOL",
        "false",
        _bool,
        "Ask Cursor for its slow pool (`enable_slow_pool` of the request). Changed live by `POST /config`.",
    ),
    Setting(
        "TRUST_FORWARDED_HEADERS",
        "false",
        _bool,
        "Build the base URL shown on the status page from `X-Forwarded-Proto`/`X-Forwarded-Host`; turn on "
        "only behind a proxy that sets them.",
    ),
    # ---- images (cursor-protocol.md §8.3)
    Setting(
        "VISION_ABILITY",
        "base64",
        _choice("none", "base64", "all"),
        "Images in user messages: `none` refuses them, `base64` takes data URLs, `all` also fetches http(s) "
        "URLs. Changed live by `POST /config`.",
    ),
    Setting(
        "VISION_MAX_BYTES",
        str(5 * MIB),
        _int_range(1024, 64 * MIB),
        "Largest image accepted (decoded or fetched), in bytes.",
    ),
    Setting(
        "VISION_MAX_IMAGES",
        "50",
        _int_range(1, 10_000),
        "Most images one request may carry (all messages together); more is a 400 `too_many_images` "
        "before anything is fetched.",
    ),
    Setting(
        "VISION_MAX_TOTAL_BYTES",
        str(4 * MIB),
        _int_range(1024, 256 * MIB),
        "Most image bytes (decoded and fetched together) one request may carry; fetching stops at the "
        "limit with a 400 `images_too_large`. Cursor takes at most 4 MiB per request.",
    ),
    Setting(
        "VISION_FETCH_TIMEOUT",
        "10",
        _float_range(0.5, 120),
        "Seconds an image URL may take to fetch (with `VISION_ABILITY=all`).",
    ),
    Setting(
        "VISION_ALLOW_PRIVATE",
        "false",
        _bool,
        "Let image URLs point at loopback, private or link-local addresses (off: refused, against SSRF).",
    ),
    # ---- tool calls (tool-calls.md §11)
    Setting(
        "TOOL_MODE",
        "auto",
        _choice("auto", "native", "emulate"),
        "How client tools reach Cursor: `native` MCP tools, `emulate` (a text grammar), or `auto` "
        "(native, falling back to emulation once when Cursor rejects it).",
    ),
    Setting(
        "KILO_TOOL_STRICT",
        "false",
        _bool,
        "With tools and `tool_choice: auto`, require a tool call (retrying a reply without one).",
    ),
    Setting(
        "TOOL_RETRY_MAX",
        "1",
        _int_range(0, 3),
        "Hidden corrective retries for a missing or invalid tool call.",
    ),
    Setting(
        "TOOL_REQUIRED_PROSE_MAX",
        "4000",
        _int_range(0, 1_000_000),
        "When a tool call is required, cut an attempt after this many characters of prose and retry (0: off).",
    ),
    Setting(
        "TOOL_STREAM_MODE",
        "complete",
        _choice("complete", "fragmented"),
        "Stream each tool call as one complete delta, or its arguments in pieces.",
    ),
    Setting(
        "TOOL_ARGS_CHUNK_CHARS",
        "512",
        _int_range(16, 65_536),
        "Largest argument piece in `fragmented` tool stream mode, in characters.",
    ),
    Setting(
        "TOOL_CALL_MAX_BYTES",
        str(8 * MIB),
        _int_range(1024, 64 * MIB),
        "Largest tool call body the gateway buffers; a larger call is refused as invalid.",
    ),
    Setting(
        "TOOL_NONCE_SCOPE",
        "conversation",
        _choice("conversation", "request"),
        "Emulation markers carry a nonce per `conversation` (keeps prompt caching) or per `request`.",
    ),
    Setting(
        "TOOL_NONCE_SECRET",
        "",
        _secret(16),
        "Secret for conversation nonces (at least 16 characters); empty picks a random one at start-up.",
    ),
    Setting(
        "NATIVE_TOOL_SETTLE_MS",
        "250",
        _int_range(0, 5000),
        "After a native tool call, how long to wait for further parallel calls (without tools declared: for "
        "Cursor to carry on by itself before the turn ends), in milliseconds.",
    ),
    Setting(
        "THINKING_LEVEL",
        "high",
        _choice("medium", "high"),
        "Thinking level `-thinking` models ask Cursor for: `high` or `medium`; a request's "
        "`reasoning_effort` overrides it.",
    ),
    Setting(
        "MAX_N",
        "8",
        _int_range(1, 16),
        "Largest `n` (choices per request) accepted; each choice is its own upstream request.",
    ),
    Setting(
        "RESPONSES_ITEM_STORE_BYTES",
        "16777216",
        _int_range(0, 1 << 34),
        "Bytes of recent Responses API output items kept in memory, so a later request can refer to them with `item_reference` (the AI SDK does); 0 keeps none.",
    ),
    Setting(
        "WEB_DIR",
        "",
        _text,
        "Folder with the page templates; empty means the `web/` folder shipped with the gateway.",
    ),
    Setting(
        "DEMO", "false", _bool, "Run against the bundled upstream simulator with a demo token (offline)."
    ),
    Setting("DEBUG", "false", _bool, "Log at DEBUG level (never logs tokens or keys)."),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The gateway's configuration; one field per entry of `SETTINGS`, same order."""

    host: str
    port: int
    api_key: str
    backlog: int
    max_connections: int
    health_reserve: int
    client_header_timeout: float
    client_idle_timeout: float
    auth_token: str
    route_prefix: str
    cors_origins: tuple[str, ...]
    token_file: str
    token_list_file: str
    token_strategy: TokenStrategy
    max_token_attempts: int
    token_cooldown_max: float
    exhausted_recheck: float
    data_dir: str
    log_retention_days: float
    log_max_rows: int
    log_queue_size: int
    log_prompts: bool
    log_prompt_max_chars: int
    cursor_base_url: str
    cursor_client_version: str
    cursor_version_refresh: float
    cursor_client_platform: ClientPlatform
    cursor_timezone: str
    checksum_alphabet: ChecksumAlphabet
    upstream_http_version: HttpVersion
    upstream_rpc: UpstreamRpc
    upstream_recheck: float
    upstream_gzip_requests: bool
    timeout: float
    idle_timeout: float
    cursor_agent_client_version: str
    agent_host_ttl: float
    keepalive_seconds: float
    client_write_timeout: float
    shutdown_grace: float
    system_prompt_inject: str
    max_input_length: int
    max_body_bytes: int
    thinking_output: ThinkingOutput
    model_source: ModelSource
    models_cache_ttl: float
    enable_stream_check: bool
    enable_slow_pool: bool
    trust_forwarded_headers: bool
    vision_ability: VisionAbility
    vision_max_bytes: int
    vision_max_images: int
    vision_max_total_bytes: int
    vision_fetch_timeout: float
    vision_allow_private: bool
    tool_mode: ToolMode
    kilo_tool_strict: bool
    tool_retry_max: int
    tool_required_prose_max: int
    tool_stream_mode: ToolStreamMode
    tool_args_chunk_chars: int
    tool_call_max_bytes: int
    tool_nonce_scope: NonceScope
    tool_nonce_secret: str
    native_tool_settle_ms: int
    thinking_level: ThinkingLevel
    max_n: int
    responses_item_store_bytes: int
    web_dir: str
    demo: bool
    debug: bool

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        """Parse every registered setting from `values` (missing ones take their default)."""
        parsed: dict[str, object] = {}
        for setting in SETTINGS:
            raw = values.get(setting.name, setting.default)
            try:
                parsed[setting.field] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{setting.name}: {exc}") from None
        settings = cls(**parsed)  # type: ignore[arg-type]
        settings.check()
        return settings

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (values already parsed), re-checked."""
        settings = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Rules that involve more than one setting."""
        if self.api_key == "":
            raise ConfigError("API_KEY: must not be empty")
        if self.api_key == DEFAULT_API_KEY and not is_loopback(self.host):
            raise ConfigError(
                f"API_KEY: the default key {DEFAULT_API_KEY!r} is only allowed when HOST is a loopback "
                f"address; set a strong API_KEY to listen on {self.host}"
            )
        if self.cors_origins == ("*",) and self.api_key == DEFAULT_API_KEY:
            raise ConfigError(
                f"CORS_ORIGINS: '*' lets every web page you visit call the API, and with the default key "
                f"{DEFAULT_API_KEY!r} any of them could spend your Cursor quota; set a strong API_KEY, "
                "or list the origins you trust"
            )

    @property
    def upstream_http2(self) -> bool:
        """Whether the upstream transport speaks HTTP/2."""
        if self.upstream_http_version == "auto":
            return self.cursor_base_url.startswith("https://")
        return cast(str, self.upstream_http_version) == "2"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP literals."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
