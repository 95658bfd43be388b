"""The application factory: `create_app(settings)` builds everything; tests call it too."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway import keys
from gateway.chat.item_store import ItemStore
from gateway.chat.models import ModelDirectory
from gateway.chat.service import ChatService
from gateway.chat.turn import ToolOptions
from gateway.config import Settings
from gateway.cors import CorsPolicy, preflight_middleware, response_hook
from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.middlewares import (
    add_request_id,
    authenticate,
    refuse_encoded_bodies,
    render_errors,
    request_context,
)
from gateway.reqlog.sink import RequestLog, Retention
from gateway.routes import setup_routes
from gateway.runtime_config import RuntimeConfig
from gateway.server import connection_gate
from gateway.sse import LiveStreams
from gateway.tokens.access import Credentials
from gateway.tokens.files import TokenFiles
from gateway.tokens.pool import PoolPolicy, TokenPool
from gateway.upstream.agent.client import AgentClient, AgentOptions, ModelLister
from gateway.upstream.agent.hosts import AgentHosts
from gateway.upstream.chatservice.client import ChatServiceClient, ClientOptions
from gateway.upstream.exchange import KeyExchange
from gateway.upstream.identity import AgentHeaderOptions, HeaderOptions, Platform, build_agent_headers
from gateway.upstream.router import UpstreamRouter
from gateway.upstream.transport import Timeouts, UpstreamTransport, open_transport
from gateway.upstream.version import IDE, SAVE_FILE, UpdateFeed, VersionSource, VersionStore

BUNDLED_WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(
    settings: Settings,
    *,
    transport: UpstreamTransport | None = None,
    pool: TokenPool | None = None,
) -> web.Application:
    cors = CorsPolicy.of(settings.cors_origins, settings.route_prefix) if settings.cors_origins else None
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            connection_gate,
            request_context,
            render_errors,
            refuse_encoded_bodies,
            *([preflight_middleware(cors)] if cors else []),
            authenticate,
        ],
    )
    app[keys.SETTINGS] = settings
    if cors:
        app.on_response_prepare.append(response_hook(cors))
    app[keys.STARTED_AT] = time.time()
    if transport is None:
        transport = open_transport(
            settings.upstream_http2, Timeouts(connect=settings.timeout, idle=settings.idle_timeout)
        )
    app[keys.TRANSPORT] = transport
    if pool is None:
        pool = TokenPool(
            TokenFiles(Path(settings.token_file), Path(settings.token_list_file)),
            policy=PoolPolicy(
                strategy=settings.token_strategy,
                cooldown_max=settings.token_cooldown_max,
                exhausted_for=settings.exhausted_recheck,
            ),
        )
    app[keys.POOL] = pool
    metrics = app[keys.METRICS] = Metrics()
    credentials = app[keys.CREDENTIALS] = Credentials(
        KeyExchange(transport, settings.cursor_base_url), metrics=metrics
    )
    versions = app[keys.CLIENT_VERSION] = client_version(settings, transport)
    chat_client = ChatServiceClient(
        transport,
        ClientOptions(
            base_url=settings.cursor_base_url,
            headers=HeaderOptions(
                timezone=settings.cursor_timezone,
                alphabet=settings.checksum_alphabet,
                platform=Platform.parse(settings.cursor_client_platform),
                gzip_requests=settings.upstream_gzip_requests,
            ),
        ),
        versions,
    )
    router = app[keys.ROUTER] = UpstreamRouter(
        chat_client,
        agent_client(settings, transport, chat_client),
        mode=settings.upstream_rpc,
        recheck=settings.upstream_recheck,
        metrics=metrics,
    )
    app[keys.CHAT] = ChatService(
        pool,
        router,
        credentials=credentials,
        token_file=settings.token_file,
        max_attempts=settings.max_token_attempts,
        tools=tool_options(settings),
        metrics=metrics,
    )
    app[keys.MODELS] = ModelDirectory(
        pool, router, credentials=credentials, source=settings.model_source, ttl=settings.models_cache_ttl
    )
    app[keys.REQUEST_LOG] = RequestLog(
        Path(settings.data_dir) if settings.data_dir else None,
        Retention(settings.log_retention_days * 86400, settings.log_max_rows),
        queue_size=settings.log_queue_size,
    )
    web_dir = app[keys.WEB_DIR] = Path(settings.web_dir) if settings.web_dir else BUNDLED_WEB_DIR
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(web_dir / "templates"), autoescape=True)
    live = app[keys.LIVE_STREAMS] = LiveStreams()
    app[keys.RUNTIME_CONFIG] = RuntimeConfig.for_settings(settings)
    app[keys.ITEM_STORE] = ItemStore(settings.responses_item_store_bytes)
    metrics.active_streams.set_function(lambda: len(live))
    metrics.tokens.set_function(lambda: pool.size)
    metrics.track_token_states(pool.counts)
    metrics.track_client_versions(lambda: [versions])
    reqlog = app[keys.REQUEST_LOG]
    metrics.reqlog_dropped.set_function(lambda: reqlog.dropped)
    app.on_response_prepare.append(add_request_id)
    app.on_shutdown.append(_finish_streams)
    app.cleanup_ctx.append(_lifetime)
    app.cleanup_ctx.append(_client_version_lifetime)  # stopped before `_lifetime` closes the transport
    setup_routes(app, settings.route_prefix)
    return app


def agent_client(settings: Settings, transport: UpstreamTransport, models: ModelLister) -> AgentClient:
    """The agent-service adapter: agent hosts from GetServerConfig, `Run` on HTTP/2, else `RunSSE`."""
    headers = AgentHeaderOptions(settings.cursor_agent_client_version)
    hosts = AgentHosts(
        transport,
        settings.cursor_base_url,
        lambda who: build_agent_headers(who, headers, request_id=str(uuid.uuid4()), unary=True),
        ttl=settings.agent_host_ttl,
    )
    options = AgentOptions(headers, bidi=settings.upstream_http2, time_zone=settings.cursor_timezone)
    return AgentClient(transport, options, hosts, models)


def client_version(settings: Settings, transport: UpstreamTransport) -> VersionSource:
    """The IDE client version to announce: CURSOR_CLIENT_VERSION, or learnt from the update feed."""
    folder = Path(settings.data_dir) if settings.data_dir else None
    return VersionSource(
        IDE,
        settings.cursor_client_version,
        feed=UpdateFeed(transport, settings.cursor_base_url, settings.cursor_client_platform),
        store=VersionStore(folder / SAVE_FILE if folder else None),
        origin=settings.cursor_base_url,
        refresh_every=settings.cursor_version_refresh,
    )


def tool_options(settings: Settings) -> ToolOptions:
    secret = settings.tool_nonce_secret.encode() if settings.tool_nonce_secret else secrets.token_bytes(32)
    return ToolOptions(
        mode=settings.tool_mode,
        kilo_strict=settings.kilo_tool_strict,
        retry_max=settings.tool_retry_max,
        required_prose_max=settings.tool_required_prose_max,
        call_max_bytes=settings.tool_call_max_bytes,
        nonce_scope=settings.tool_nonce_scope,
        nonce_secret=secret,
        settle_seconds=settings.native_tool_settle_ms / 1000,
    )


async def _finish_streams(app: web.Application) -> None:
    """On SIGTERM: streams get SHUTDOWN_GRACE seconds, then end with an in-stream error."""
    await app[keys.LIVE_STREAMS].finish(
        app[keys.SETTINGS].shutdown_grace,
        UpstreamError("The gateway is shutting down; retry the request.", code="gateway_shutting_down"),
    )


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    pool = app[keys.POOL]
    await pool.load()
    await app[keys.RUNTIME_CONFIG].load()
    reqlog = app[keys.REQUEST_LOG]
    await asyncio.to_thread(reqlog.open)
    # Access tokens for the pool's API keys: exchanged now, then renewed before they expire.
    refresher = asyncio.create_task(app[keys.CREDENTIALS].keep_fresh(pool), name="api-key-refresh")
    try:
        yield
    finally:
        await _stop(refresher)
        await asyncio.to_thread(reqlog.close)  # writes every queued row first
        await app[keys.TRANSPORT].close()


async def _client_version_lifetime(app: web.Application) -> AsyncIterator[None]:
    """The saved version is read before the first request; the feed is read in the background."""
    versions = app[keys.CLIENT_VERSION]
    await versions.load()
    refresher = asyncio.get_running_loop().create_task(versions.run())
    try:
        yield
    finally:
        await _stop(refresher)
        await versions.close()


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel a background task of the app's lifetime and wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
