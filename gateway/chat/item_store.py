"""`ItemStore`: the output items of recent Responses API answers, by id, bounded in bytes. Pure.

A Responses client may send an earlier output item back as `{"type": "item_reference", "id": …}`
instead of the item itself (the AI SDK does for assistant messages, as OpenAI stores responses by
default). The gateway keeps the items it produced, in memory only, up to
`RESPONSES_ITEM_STORE_BYTES` of JSON; the least recently used go first. A lock guards the store,
as large request bodies are parsed (and their references looked up) in a worker thread. Nothing else of a response
(its input, its usage) is kept, and nothing reaches the disk. A request with `store: false` leaves
no items behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson


class ItemStore:
    __slots__ = ("_items", "_lock", "_max_bytes", "_size")

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        """Bytes of JSON held."""
        return self._size

    def put(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Keep `items` (each with a string `id`), replacing older ones of the same id; an item larger
        than the whole store is not kept."""
        for item in items:
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            data = orjson.dumps(item)
            with self._lock:
                self._drop(item_id)
                if len(data) > self._max_bytes:
                    continue
                self._items[item_id] = (data, len(data))
                self._size += len(data)
                while self._size > self._max_bytes:
                    self._drop(next(iter(self._items)))

    def get(self, item_id: str) -> dict[str, object] | None:
        """The item with this id (a fresh copy), or None when it was never kept or is gone."""
        with self._lock:
            entry = self._items.get(item_id)
            if entry is None:
                return None
            self._items.move_to_end(item_id)
        value = orjson.loads(entry[0])
        return value if isinstance(value, dict) else None

    def _drop(self, item_id: str) -> None:
        entry = self._items.pop(item_id, None)
        if entry is not None:
            self._size -= entry[1]
