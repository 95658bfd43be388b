"""The model catalog: both seed lists, thinking twins, entry shape."""

from __future__ import annotations

from gateway.chat.catalog import CATALOG, SEED_A, SEED_B, model_entry, resolve


def test_both_seeds_and_a_thinking_twin_of_each():
    for base in (*SEED_A, *SEED_B):
        assert resolve(base) is not None and not resolve(base).thinking
        twin = resolve(base + "-thinking")
        assert twin is not None and twin.thinking
        assert twin.upstream_name == resolve(base).upstream_name
    assert len(CATALOG) == 2 * len({*SEED_A, *SEED_B})


def test_aliases_map_to_upstream_names():
    assert resolve("claude-sonnet-4-5-20250929").upstream_name == "claude-4.5-sonnet"
    assert resolve("claude-3-5-sonnet-20241022").upstream_name == "claude-3.5-sonnet"
    assert resolve("gpt-4o").upstream_name == "gpt-4o"
    assert resolve("gpt-5-imaginary") is None


def test_entry_shape():
    entry = model_entry(resolve("claude-sonnet-4-20250514"))
    assert set(entry) == {"id", "object", "created", "owned_by", "max_tokens", "context_window"}
    assert entry["owned_by"] == "anthropic" and entry["context_window"] == 200_000
    assert model_entry(resolve("o1-mini"))["owned_by"] == "openai"
    assert model_entry(resolve("cursor-small"))["owned_by"] == "cursor"
