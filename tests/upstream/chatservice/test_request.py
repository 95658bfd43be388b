"""The upstream request message and headers (cursor-protocol.md §3, §7.2, Appendix A)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from gateway.chat.catalog import resolve
from gateway.neutral.model import ChatRequest, Message
from gateway.tools.encode import plain_prompt
from gateway.upstream.chatservice.request import build_message as build_for
from gateway.upstream.checksum import Identity, decode_prefix
from gateway.upstream.identity import HeaderOptions, UpstreamIdentity, build_headers


def build_message(chat: ChatRequest, **kwargs: object):  # type: ignore[no-untyped-def]
    return build_for(chat, plain_prompt(chat), **kwargs)  # type: ignore[arg-type]


IDENTITY = Identity("0123456789abcdef" * 4, "fedcba9876543210" * 4)
NOW = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)


def chat(*messages: Message, model: str = "gpt-4o", system: str = "") -> ChatRequest:
    return ChatRequest(model=resolve(model), system=system, messages=messages, stream=True)


def inner(request):
    return request.stream_unified_chat_request


def test_headers_of_a_streaming_call():
    headers = build_headers(
        UpstreamIdentity("eyJ.a.b", IDENTITY),
        HeaderOptions("2.6.21", "Europe/Berlin", "urlsafe"),
        unix_seconds=1_700_000_000,
    )
    assert headers["authorization"] == "Bearer eyJ.a.b"
    assert headers["content-type"] == "application/connect+proto"
    assert headers["connect-protocol-version"] == "1"
    assert headers["connect-accept-encoding"] == headers["connect-content-encoding"] == "gzip"
    assert headers["user-agent"] == "connect-es/1.6.1"
    assert headers["x-cursor-client-version"] == "2.6.21"
    assert headers["x-cursor-timezone"] == "Europe/Berlin"
    assert headers["x-ghost-mode"] == "true"
    assert headers["x-cursor-checksum"] == "Vfb45Bi9" + IDENTITY.machine_id + "/" + IDENTITY.mac_machine_id
    assert re.fullmatch(r"[0-9a-f]{64}", headers["x-client-key"])
    assert uuid.UUID(headers["x-session-id"]).version == 5
    assert uuid.UUID(headers["x-request-id"]).version == 4
    assert headers["x-amzn-trace-id"] == f"Root={headers['x-request-id']}"
    assert "accept-encoding" not in headers and "cookie" not in headers


def test_identity_headers_are_stable_and_the_prefix_fresh():
    options = HeaderOptions("2.6.21", "UTC", "urlsafe")
    who = UpstreamIdentity("eyJ.a.b", IDENTITY)
    first = build_headers(who, options, unix_seconds=1_700_000_000)
    later = build_headers(who, options, unix_seconds=1_700_005_000)
    assert first["x-client-key"] == later["x-client-key"] and first["x-session-id"] == later["x-session-id"]
    assert first["x-request-id"] != later["x-request-id"]
    assert decode_prefix(later["x-cursor-checksum"][:8]) == 1_700_005


def test_chat_message_fields():
    request = build_message(
        chat(Message("user", "Q1"), Message("assistant", "A1"), Message("user", "Q2"), system="S"),
        client_version="2.6.21",
        now=NOW,
    )
    r = inner(request)
    assert [(m.type, m.text) for m in r.conversation] == [(1, "Q1"), (2, "A1"), (1, "Q2")]
    assert [h.bubble_id for h in r.full_conversation_headers_only] == [m.bubble_id for m in r.conversation]
    assert [h.type for h in r.full_conversation_headers_only] == [1, 2, 1]
    assert [m.HasField("server_bubble_id") for m in r.conversation] == [False, True, False]
    assert r.full_conversation_headers_only[1].server_bubble_id == r.conversation[1].server_bubble_id
    assert len({m.bubble_id for m in r.conversation}) == 3
    assert all(m.unified_mode == 1 and not m.is_agentic and not m.supported_tools for m in r.conversation)
    assert r.explicit_context.context == "S"
    assert r.model_details.model_name == "gpt-4o" and r.model_details.HasField("azure_state")
    assert r.model_details.HasField("max_mode") and not r.model_details.max_mode
    assert not r.model_details.HasField("enable_slow_pool")
    assert r.is_chat and not r.is_agentic and not r.supported_tools and not r.mcp_tools
    assert r.unified_mode == 1 and r.unified_mode_name == "Ask"
    assert r.should_cache and r.use_new_compression_scheme and r.should_disable_tools
    assert r.HasField("allow_model_fallbacks") and r.HasField("uses_rules") and r.HasField("thinking_level")
    assert r.thinking_level == 0
    assert r.environment_info.local_timestamp == "2023-11-14T22:13:20.123Z"
    assert r.environment_info.cursor_version == b"2.6.21"
    # M4: derived from the anchor (the first user message), the same for every turn.
    later = inner(
        build_message(
            chat(Message("user", "Q1"), Message("assistant", "A1"), Message("user", "Q3")),
            client_version="2.6.21",
            now=NOW,
        )
    )
    other = inner(build_message(chat(Message("user", "Q2")), client_version="2.6.21", now=NOW))
    assert uuid.UUID(r.conversation_id) and later.conversation_id == r.conversation_id
    assert other.conversation_id != r.conversation_id


def test_dummy_current_file_bytes_of_appendix_a():
    r = inner(build_message(chat(Message("user", "x")), client_version="2.6.21", now=NOW))
    assert bytes.fromhex("7a 0c 1a 00 32 04 0a 00 12 00 40 01 48 01") in r.SerializeToString()


def test_thinking_twin_asks_for_high_thinking():
    r = inner(
        build_message(
            chat(Message("user", "x"), model="claude-3.5-sonnet-thinking"), client_version="2", now=NOW
        )
    )
    assert r.thinking_level == 2 and r.model_details.model_name == "claude-3.5-sonnet"


def test_blank_system_is_omitted_and_empty_history_gets_one_empty_human():
    r = inner(build_message(chat(system="  "), client_version="2.6.21", now=NOW))
    assert not r.HasField("explicit_context")
    assert [(m.type, m.text) for m in r.conversation] == [(1, "")]
