"""The models the gateway offers and how a requested id resolves to an upstream model name.

Two static seed lists (cursor-protocol.md §11.1 and §11.2), each base id with a `-thinking` twin
that asks upstream for high thinking, and Cursor's live list (§11.3): an entry's public id is its
`name`, what is sent upstream its `serverModelName` (`gemini-3-pro` is sent as
`gemini-3-pro-preview`). Every entry has a context window: Cursor's `contextTokenLimit` when it
gives one (its 2026 answers give none, upstream-2026.md §8), else the first match in `CONTEXT`,
a table per model family. Pure data and lookups; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from gateway.neutral.model import LiveModel, ModelInfo

CREATED: Final = 1706659200  # fixed, so the list is stable between calls
THINKING_SUFFIX: Final = "-thinking"

# Seed list A: Cursor upstream names, sent unchanged.
SEED_A: Final[tuple[str, ...]] = (
    "claude-3.5-sonnet",
    "gpt-4",
    "gpt-4o",
    "claude-3-opus",
    "cursor-fast",
    "cursor-small",
    "gpt-3.5-turbo",
    "gpt-4-turbo-2024-04-09",
    "gpt-4o-128k",
    "gemini-1.5-flash-500k",
    "claude-3-haiku-200k",
    "claude-3-5-sonnet-200k",
    "claude-3-5-sonnet-20241022",
    "gpt-4o-mini",
    "o1-mini",
    "o1-preview",
    "o1",
    "claude-3.5-haiku",
    "gemini-exp-1206",
    "gemini-2.0-flash-thinking-exp",
    "gemini-2.0-flash-exp",
)

# Seed list B: public alias -> upstream name.
SEED_B: Final[dict[str, str]] = {
    "gemini-3-flash": "gemini-3-flash",
    "claude-sonnet-4-5-20250929": "claude-4.5-sonnet",
    "claude-sonnet-4-20250514": "claude-4-sonnet",
    "claude-3-5-sonnet-20241022": "claude-3.5-sonnet",
}

# Context windows per family, in tokens, the first match wins; `FALLBACK_CONTEXT` when none does.
# Current families carry the window Cursor's own model picker states for the non-Max mode the
# gateway uses (the tooltips of its June 2026 list); the 2024 seeds carry their vendor's.
CONTEXT: Final[tuple[tuple[str, int], ...]] = (
    (r"-1m(?:-|$)", 1_000_000),  # claude-4-sonnet-1m
    (r"^claude-", 200_000),
    (r"^composer-", 200_000),
    (r"^default$", 200_000),  # Auto: Cursor picks a model, each with at least this
    (r"^gpt-5", 272_000),
    (r"^gpt-4o|^gpt-4-turbo|^o1", 128_000),
    (r"^gpt-4$", 8_192),
    (r"^gpt-3\.5", 16_385),
    (r"^gemini-(?:2\.5|3)", 200_000),
    (r"^gemini-1\.5-flash-500k$", 500_000),
    (r"^gemini-", 1_000_000),
    (r"^grok-", 256_000),
    (r"^kimi-k2", 256_000),
)
FALLBACK_CONTEXT: Final = 128_000

_OWNERS: Final[tuple[tuple[str, str], ...]] = (
    (r"^claude", "anthropic"),
    (r"^(gpt|o\d)", "openai"),
    (r"^gemini", "google"),
    (r"^grok", "xai"),
    (r"^deepseek", "deepseek"),
)


def _owner(model_id: str) -> str:
    return next((owner for pattern, owner in _OWNERS if re.match(pattern, model_id)), "cursor")


def context_window(model_id: str) -> int:
    """The family's context window of a model without a stated one (`CONTEXT`)."""
    return next((size for pattern, size in CONTEXT if re.search(pattern, model_id)), FALLBACK_CONTEXT)


def _base_models() -> dict[str, tuple[str, int]]:
    models: dict[str, tuple[str, int]] = {}
    for name in SEED_A:
        models[name] = (name, context_window(name))
    for alias, upstream in SEED_B.items():
        models[alias] = (upstream, context_window(alias))
    return models


def build_catalog() -> dict[str, ModelInfo]:
    """Every offered model id, in a stable order, each base followed by its thinking twin."""
    catalog: dict[str, ModelInfo] = {}
    for model_id, (upstream, context) in _base_models().items():
        info = ModelInfo(model_id, upstream, False, _owner(model_id), context, context)
        catalog[model_id] = info
        if not model_id.endswith(THINKING_SUFFIX):
            twin = model_id + THINKING_SUFFIX
            catalog[twin] = ModelInfo(twin, upstream, True, info.owned_by, context, context)
    return catalog


CATALOG: Final[dict[str, ModelInfo]] = build_catalog()


def resolve(model_id: str) -> ModelInfo | None:
    """The model for a requested id, or None when the gateway does not offer it."""
    return CATALOG.get(model_id)


def model_entry(info: ModelInfo) -> dict[str, object]:
    """One entry of `GET /v1/models`."""
    return {
        "id": info.id,
        "object": "model",
        "created": CREATED,
        "owned_by": info.owned_by,
        "max_tokens": info.max_tokens,
        "context_window": info.context_window,
    }


def anthropic_model_entry(info: ModelInfo) -> dict[str, object]:
    """One entry of `GET /v1/models` for an Anthropic client (`anthropic-version` sent)."""
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.id,
        "created_at": datetime.fromtimestamp(CREATED, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lifecycle": "active",
        "max_input_tokens": info.context_window,
        "max_tokens": info.max_tokens,
    }


def anthropic_model_page(
    models: Sequence[ModelInfo], *, limit: int, after_id: str | None = None, before_id: str | None = None
) -> dict[str, Any] | None:
    """A page of Anthropic's model list: at most `limit` entries after `after_id` or before
    `before_id` (the catalog's order), with `has_more`, `first_id` and `last_id`; None when the id
    named by `after_id` or `before_id` is not offered."""
    ids = [info.id for info in models]
    start, end = 0, len(models)
    if after_id is not None:
        if after_id not in ids:
            return None
        start = ids.index(after_id) + 1
        end = min(start + limit, len(models))
        has_more = end < len(models)
    elif before_id is not None:
        if before_id not in ids:
            return None
        end = ids.index(before_id)
        start = max(end - limit, 0)
        has_more = start > 0
    else:
        end = min(limit, len(models))
        has_more = end < len(models)
    page = [anthropic_model_entry(info) for info in models[start:end]]
    return {
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }


# ---------------------------------------------------------------- the live list (cursor-protocol.md §11.3)

ModelSource = Literal["live", "static", "merged"]


def live_catalog(live: Sequence[LiveModel], source: ModelSource) -> dict[str, ModelInfo]:
    """The offered models once Cursor's list is known.

    `live`: Cursor's entries (not the disabled ones), each with a `-thinking` twin unless Cursor says
    it cannot think. `merged` adds the static ids whose upstream name Cursor still serves, so old
    aliases keep working; `static` ignores the live list. Pure.
    """
    if source == "static":
        return dict(CATALOG)
    catalog: dict[str, ModelInfo] = {}
    server_of: dict[str, str] = {}  # every name Cursor serves -> the name to send
    usable = [m for m in live if m.name and not m.disabled]
    for model in usable:
        context = model.context_window or context_window(model.name)
        thinking = model.name.endswith(THINKING_SUFFIX)  # Cursor's own thinking entry (§11.4)
        info = ModelInfo(
            model.name, model.server_name or model.name, thinking, _owner(model.name), context, context
        )
        catalog[info.id] = info
        server_of[model.name] = server_of[info.upstream_name] = info.upstream_name
    for model in usable:
        twin = model.name + THINKING_SUFFIX
        if (
            model.supports_thinking is not False
            and not model.name.endswith(THINKING_SUFFIX)
            and twin not in catalog
        ):
            base = catalog[model.name]
            catalog[twin] = replace(base, id=twin, thinking=True)
    if source == "merged":
        for model_id, info in CATALOG.items():
            if model_id not in catalog and info.upstream_name in server_of:
                catalog[model_id] = replace(info, upstream_name=server_of[info.upstream_name])
    return catalog
