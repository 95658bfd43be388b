"""The models the gateway offers right now: Cursor's live list, cached, or the static seed lists.

`ModelDirectory` fetches `AvailableModels` lazily with any token in the pool, at most once per
`MODELS_CACHE_TTL`, one fetch at a time. A failed fetch keeps what was there (the static lists at
first) and is tried again after a minute. `MODEL_SOURCE=static` never fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from gateway.chat.catalog import CATALOG, ModelSource, live_catalog
from gateway.errors import UpstreamError
from gateway.neutral.model import ModelInfo
from gateway.tokens.access import Credentials
from gateway.tokens.pool import TokenPool
from gateway.upstream.base import Upstream

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE: Final = 60.0
FETCH_TIMEOUT: Final = 30.0


class ModelDirectory:
    def __init__(
        self,
        pool: TokenPool,
        upstream: Upstream,
        *,
        credentials: Credentials,
        source: ModelSource,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._upstream = upstream
        self._credentials = credentials
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._catalog: dict[str, ModelInfo] = dict(CATALOG)
        self._next_fetch = 0.0
        self._lock = asyncio.Lock()
        self.live = False  # whether the catalog comes from Cursor's list

    async def models(self) -> dict[str, ModelInfo]:
        await self._refresh()
        return self._catalog

    async def resolve(self, model_id: str) -> ModelInfo | None:
        """The model for a requested id, or None when the gateway does not offer it."""
        return (await self.models()).get(model_id)

    async def _refresh(self) -> None:
        if self._source == "static" or self._clock() < self._next_fetch:
            return
        async with self._lock:
            now = self._clock()
            if now < self._next_fetch:
                return  # another request fetched meanwhile
            await self._pool.refresh()
            lease = self._pool.lease()
            if lease is None or lease.entry.identity is None:
                return  # no token yet: the static lists, and a fetch as soon as there is one
            try:
                async with asyncio.timeout(FETCH_TIMEOUT):
                    who = await self._credentials.identity(lease.entry)
                    live = await self._upstream.available_models(who)
            except (UpstreamError, TimeoutError) as exc:
                log.warning("could not fetch Cursor's model list (%s); keeping the current one", exc)
                self._next_fetch = now + RETRY_AFTER_FAILURE
                return
            catalog = live_catalog(live, self._source)
            if catalog:
                self._catalog, self.live = catalog, True
            self._next_fetch = now + self._ttl
