"""The upstream request message and headers (cursor-protocol.md §3, §7.2, Appendix A)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from gateway.chat.catalog import resolve
from gateway.neutral.model import ChatRequest, Message
from gateway.tools.encode import plain_prompt
from gateway.upstream.chatservice.request import build_message as build_for
from gateway.upstream.checksum import Identity, decode_prefix
from gateway.upstream.identity import HeaderOptions, Platform, UpstreamIdentity, build_headers


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
        HeaderOptions("Europe/Berlin", "urlsafe"),
        client_version="3.20.14",
        unix_seconds=1_700_000_000,
    )
    assert headers["authorization"] == "Bearer eyJ.a.b"
    assert headers["content-type"] == "application/connect+proto"
    assert headers["connect-protocol-version"] == "1"
    assert headers["connect-accept-encoding"] == "gzip"
    assert "connect-content-encoding" not in headers  # request frames go uncompressed by default
    assert headers["user-agent"] == "connect-es/1.6.1"
    assert headers["x-cursor-client-version"] == "3.20.14"
    assert headers["x-cursor-timezone"] == "Europe/Berlin"
    assert headers["x-ghost-mode"] == "true"
    assert headers["x-cursor-checksum"] == "Vfb45Bi9" + IDENTITY.machine_id + "/" + IDENTITY.mac_machine_id
    assert re.fullmatch(r"[0-9a-f]{64}", headers["x-client-key"])
    assert uuid.UUID(headers["x-session-id"]).version == 5
    assert uuid.UUID(headers["x-request-id"]).version == 4
    assert headers["x-amzn-trace-id"] == f"Root={headers['x-request-id']}"
    assert (headers["x-cursor-client-os"], headers["x-cursor-client-arch"]) == ("linux", "x64")
    assert uuid.UUID(headers["x-cursor-config-version"]).version == 5
    assert "accept-encoding" not in headers and "cookie" not in headers


def test_compressed_requests_declare_their_encoding_and_unary_calls_never():
    who = UpstreamIdentity("eyJ.a.b", IDENTITY)
    options = HeaderOptions("UTC", "urlsafe", Platform.parse("darwin-arm64"), gzip_requests=True)
    streaming = build_headers(who, options, client_version="3.20.14", unix_seconds=1_700_000_000)
    assert streaming["connect-content-encoding"] == streaming["connect-accept-encoding"] == "gzip"
    assert (streaming["x-cursor-client-os"], streaming["x-cursor-client-arch"]) == ("darwin", "arm64")
    unary = build_headers(who, options, client_version="3.20.14", unix_seconds=1_700_000_000, unary=True)
    assert unary["accept-encoding"] == "gzip"
    assert "connect-content-encoding" not in unary and "content-encoding" not in unary


def test_identity_headers_are_stable_per_machine_and_the_prefix_fresh():
    options = HeaderOptions("UTC", "urlsafe")
    who = UpstreamIdentity("eyJ.a.b", IDENTITY)
    first = build_headers(who, options, client_version="3.20.14", unix_seconds=1_700_000_000)
    later = build_headers(who, options, client_version="3.20.14", unix_seconds=1_700_005_000)
    stable = ("x-client-key", "x-session-id", "x-cursor-config-version")
    assert [first[name] for name in stable] == [later[name] for name in stable]
    assert first["x-request-id"] != later["x-request-id"]
    assert decode_prefix(later["x-cursor-checksum"][:8]) == 1_700_005
    # Derived from the machine id alone: the same after a restart, different for another machine.
    assert first["x-cursor-config-version"] == str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:config-version:{IDENTITY.machine_id}")
    )
    other = UpstreamIdentity("eyJ.a.b", Identity("1" * 64, None))
    other_headers = build_headers(other, options, client_version="3.20.14", unix_seconds=1_700_000_000)
    assert other_headers["x-cursor-config-version"] != first["x-cursor-config-version"]


def test_platform_names_round_trip():
    assert Platform.parse("linux-arm64") == Platform("linux", "arm64")
    assert Platform.parse("darwin-x64").name == "darwin-x64"
    for bad in ("linux", "-x64", ""):
        with pytest.raises(ValueError):
            Platform.parse(bad)


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
