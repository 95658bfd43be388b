"""The route table. The configured ROUTE_PREFIX is joined in here and nowhere else."""

from __future__ import annotations

from aiohttp import web

from gateway.handlers.health import health
from gateway.handlers.index import index
from gateway.handlers.metrics import metrics
from gateway.handlers.models import list_models
from gateway.handlers.openai import chat_completions


def setup_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/" if prefix else "/", index, name="index")
    app.router.add_get(f"{prefix}/health", health, name="health")
    app.router.add_get(f"{prefix}/v1/models", list_models, name="models")
    app.router.add_get(f"{prefix}/metrics", metrics, name="metrics")
    app.router.add_post(f"{prefix}/v1/chat/completions", chat_completions, name="chat_completions")
