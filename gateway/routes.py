"""The route table. The configured ROUTE_PREFIX is joined in here and nowhere else.

API paths (`api()`) answer with or without a trailing slash: clients that join a base URL
ending in `/` to a path, or add one, reach the same route, under the same name.
"""

from __future__ import annotations

from aiohttp import web

from gateway.handlers.anthropic import count_tokens, messages
from gateway.handlers.completions import completions
from gateway.handlers.config_api import config_api
from gateway.handlers.health import health
from gateway.handlers.logs_api import query_logs
from gateway.handlers.metrics import metrics
from gateway.handlers.models import list_models, retrieve_model
from gateway.handlers.openai import chat_completions
from gateway.handlers.pages import (
    builtin_static_file,
    config_page,
    env_example,
    index,
    logs_page,
    static_file,
    tokeninfo_page,
)
from gateway.handlers.responses import create_response
from gateway.handlers.stats_api import stats_charts, stats_json
from gateway.handlers.tokens import (
    checksum,
    get_tokens,
    pool_health,
    reload_tokens,
    reset_tokens,
    update_tokens,
)


def api(prefix: str, path: str) -> str:
    """`prefix + path`, also matched with one trailing slash."""
    return f"{prefix}{path}{{slash:/?}}"


def setup_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/" if prefix else "/", index, name="index")
    app.router.add_get(f"{prefix}/health", health, name="health")
    # Pages and their files: public (the admin pages ask for the key in the browser).
    app.router.add_get(f"{prefix}/tokeninfo", tokeninfo_page, name="page.tokeninfo")
    app.router.add_get(f"{prefix}/logs", logs_page, name="page.logs")
    app.router.add_get(f"{prefix}/config", config_page, name="page.config")
    app.router.add_get(f"{prefix}/env-example", env_example, name="page.env_example")
    app.router.add_get(f"{prefix}/static/{{name}}", static_file, name="page.static")
    app.router.add_get(f"{prefix}/static/builtin/{{name}}", builtin_static_file, name="page.static_builtin")
    app.router.add_get(api(prefix, "/v1/models"), list_models, name="models")
    app.router.add_get(api(prefix, "/v1/models/{model_id:[^/]+}"), retrieve_model, name="model")
    app.router.add_get(f"{prefix}/metrics", metrics, name="metrics")
    app.router.add_post(api(prefix, "/v1/chat/completions"), chat_completions, name="chat_completions")
    app.router.add_post(api(prefix, "/v1/responses"), create_response, name="responses")
    app.router.add_post(api(prefix, "/v1/completions"), completions, name="completions")
    # Anthropic Messages (names starting with "anthropic." get Anthropic's error envelope).
    app.router.add_post(api(prefix, "/v1/messages"), messages, name="anthropic.messages")
    app.router.add_post(api(prefix, "/v1/messages/count_tokens"), count_tokens, name="anthropic.count_tokens")
    # Admin API (names starting with "admin." take only AUTH_TOKEN, see middlewares.py).
    app.router.add_get(f"{prefix}/update-tokeninfo", reload_tokens, name="admin.reload_tokens")
    app.router.add_post(f"{prefix}/update-tokeninfo", update_tokens, name="admin.update_tokens")
    app.router.add_post(f"{prefix}/get-tokeninfo", get_tokens, name="admin.get_tokens")
    app.router.add_get(f"{prefix}/checksum", checksum, name="admin.checksum")
    app.router.add_get(f"{prefix}/api/tokens", pool_health, name="admin.pool_health")
    app.router.add_post(f"{prefix}/api/tokens/reset", reset_tokens, name="admin.reset_tokens")
    app.router.add_post(f"{prefix}/logs", query_logs, name="admin.logs")
    app.router.add_get(f"{prefix}/api/stats", stats_json, name="admin.stats")
    app.router.add_get(f"{prefix}/api/stats/charts", stats_charts, name="admin.stats_charts")
    app.router.add_post(f"{prefix}/config", config_api, name="admin.config")
