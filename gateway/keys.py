"""Every typed application and request key, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

from gateway.chat.item_store import ItemStore
from gateway.chat.models import ModelDirectory
from gateway.chat.service import ChatService
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.reqlog.record import RequestRecord
from gateway.reqlog.sink import RequestLog
from gateway.runtime_config import RuntimeConfig
from gateway.sse import LiveStreams
from gateway.tokens.access import Credentials
from gateway.tokens.pool import TokenPool
from gateway.upstream.router import UpstreamRouter
from gateway.upstream.transport import UpstreamTransport
from gateway.upstream.version import VersionSource

SETTINGS: Final = web.AppKey("settings", Settings)
POOL: Final = web.AppKey("pool", TokenPool)
CREDENTIALS: Final = web.AppKey("credentials", Credentials)
TRANSPORT: Final = web.AppKey("transport", UpstreamTransport)
ROUTER: Final = web.AppKey("router", UpstreamRouter)
CHAT: Final = web.AppKey("chat", ChatService)
MODELS: Final = web.AppKey("models", ModelDirectory)
STARTED_AT: Final = web.AppKey("started_at", float)
LIVE_STREAMS: Final = web.AppKey("live_streams", LiveStreams)
METRICS: Final = web.AppKey("metrics", Metrics)
REQUEST_LOG: Final = web.AppKey("request_log", RequestLog)
WEB_DIR: Final = web.AppKey("web_dir", Path)
RUNTIME_CONFIG: Final = web.AppKey("runtime_config", RuntimeConfig)
ITEM_STORE: Final = web.AppKey("item_store", ItemStore)  # recent Responses API output items
CLIENT_VERSION: Final = web.AppKey("client_version", VersionSource)

REQUEST_ID: Final = web.RequestKey("request_id", str)
REQUEST_STARTED: Final = web.RequestKey("request_started", float)  # time.perf_counter()
REQUEST_RECORD: Final = web.RequestKey("request_record", RequestRecord)  # logged routes only
KEY_ACCEPTED: Final = web.RequestKey("key_accepted", bool)  # set once the client's key passed
