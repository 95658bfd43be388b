"""The bounded store of recent output items: lookups, LRU eviction by bytes, copies."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.item_store import ItemStore


def item(item_id: str, text: str = "x") -> dict[str, object]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def test_items_are_found_by_id_as_copies() -> None:
    store = ItemStore(10_000)
    store.put([item("msg_1", "hello"), {"type": "no id"}])
    found = store.get("msg_1")
    assert found == item("msg_1", "hello") and len(store) == 1
    found["id"] = "changed"
    assert store.get("msg_1") == item("msg_1", "hello")
    assert store.get("msg_2") is None


def test_the_least_recently_used_go_first() -> None:
    one = len(orjson.dumps(item("msg_1")))
    store = ItemStore(2 * one)
    store.put([item("msg_1"), item("msg_2")])
    assert store.get("msg_1") is not None  # now the most recently used
    store.put([item("msg_3")])
    assert (store.get("msg_1"), store.get("msg_2")) == (item("msg_1"), None)
    assert store.get("msg_3") is not None and store.size == 2 * one


def test_an_item_larger_than_the_store_is_not_kept_and_zero_keeps_nothing() -> None:
    store = ItemStore(50)
    store.put([item("msg_big", "y" * 100)])
    assert store.get("msg_big") is None and store.size == 0
    empty = ItemStore(0)
    empty.put([item("msg_1")])
    assert len(empty) == 0


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.text(max_size=30)), max_size=40), st.integers(0, 400))
def test_the_store_never_exceeds_its_bound_and_keeps_the_newest(puts, bound) -> None:
    store = ItemStore(bound)
    for key, text in puts:
        store.put([item(key, text)])
        assert store.size <= bound
        assert store.size == sum(len(orjson.dumps(store.get(k))) for k in "abcdef" if store.get(k))
    if puts:
        key, text = puts[-1]
        assert store.get(key) in (item(key, text), None)
        if len(orjson.dumps(item(key, text))) <= bound:
            assert store.get(key) == item(key, text)
