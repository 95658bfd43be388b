"""A tiny hand-written client for the simulator's own tests (the gateway's client is separate).

Owns: building a well-formed `StreamUnifiedChatRequestWithTools`, the §3.1 header set with a
valid checksum, and decoding a complete response body back into text / thinking / tool calls.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf.unknown_fields import UnknownFieldSet

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes.identity import make_checksum, make_jwt
from tests.fakes.wire import (
    FLAG_COMPRESSED,
    FLAG_END_STREAM,
    HEARTBEAT_PAYLOAD,
    encode_frame,
    gunzip_bounded,
    split_frames,
)

MACHINE_ID: Final = hashlib.sha256(b"machine").hexdigest()
MAC_MACHINE_ID: Final = hashlib.sha256(b"mac-machine").hexdigest()
CLIENT_VERSION: Final = "2.6.21"


def build_request(
    text: str = "Hello",
    *,
    model: str = "claude-4.5-sonnet",
    system: str = "",
    history: Sequence[tuple[int, str]] = (),
    tools: Sequence[tuple[str, dict[str, Any]]] = (),
    thinking: bool = False,
    use_web: bool = False,
) -> pb.StreamUnifiedChatRequestWithTools:
    """A request shaped like §7.2: `history` is (type, text) pairs before the final HUMAN `text`."""
    wrapper = pb.StreamUnifiedChatRequestWithTools()
    req = wrapper.stream_unified_chat_request
    has_tools = bool(tools)
    mode = pb.UNIFIED_MODE_AGENT if has_tools else pb.UNIFIED_MODE_CHAT
    messages = [*history, (pb.MESSAGE_TYPE_HUMAN, text)]
    for i, (kind, body) in enumerate(messages):
        message = req.conversation.add(text=body, type=kind, bubble_id=str(uuid.uuid4()), unified_mode=mode)
        header = req.full_conversation_headers_only.add(bubble_id=message.bubble_id, type=kind)
        if kind == pb.MESSAGE_TYPE_AI:
            message.server_bubble_id = str(uuid.uuid4())
            header.server_bubble_id = message.server_bubble_id
        elif has_tools:
            message.is_agentic = True
        if has_tools and i == len(messages) - 1:
            message.supported_tools.append(pb.CLIENT_SIDE_TOOL_V2_MCP)
    if system:
        req.explicit_context.context = system
    req.model_details.model_name = model
    req.model_details.azure_state.SetInParent()
    req.model_details.max_mode = False
    if use_web:
        req.use_web = "full_search"
    req.should_cache = True
    req.current_file.contents_start_at_line = 1
    req.current_file.total_number_of_lines = 1
    req.current_file.cursor_position.SetInParent()
    req.current_file.selection.start_position.SetInParent()
    req.current_file.selection.end_position.SetInParent()
    req.use_new_compression_scheme = True
    req.is_chat = not has_tools
    req.conversation_id = str(uuid.uuid4())
    req.environment_info.local_timestamp = "2023-11-14T22:13:20.000Z"
    req.environment_info.cursor_version = CLIENT_VERSION.encode()
    req.is_agentic = has_tools
    for name, schema in tools:
        req.mcp_tools.add(name=name, description="", parameters=json.dumps(schema), server_name="custom")
    if has_tools:
        req.supported_tools.append(pb.CLIENT_SIDE_TOOL_V2_MCP)
    req.allow_model_fallbacks = False
    req.unified_mode = mode
    req.should_disable_tools = not has_tools
    req.thinking_level = pb.THINKING_LEVEL_HIGH if thinking else pb.THINKING_LEVEL_UNSPECIFIED
    req.uses_rules = False
    req.unified_mode_name = "Agent" if has_tools else "Ask"
    return wrapper


def frame_request(message: pb.StreamUnifiedChatRequestWithTools, *, compress: bool | None = None) -> bytes:
    """One envelope; by default gzip only when > 1024 bytes (§6.2)."""
    payload = message.SerializeToString()
    if compress is None:
        compress = len(payload) > 1024
    return encode_frame(payload, compress=compress)


def chat_headers(
    token: str | None = None, *, now: float = 1_700_000_000, streaming: bool = True
) -> dict[str, str]:
    """The §3.1 header set for a streaming (or unary) call, with a checksum fresh for `now`."""
    request_id = str(uuid.uuid4())
    headers = {
        "authorization": f"Bearer {token if token is not None else make_jwt()}",
        "content-type": "application/connect+proto" if streaming else "application/proto",
        "connect-protocol-version": "1",
        "user-agent": "connect-es/1.6.1",
        "x-cursor-client-version": CLIENT_VERSION,
        "x-cursor-checksum": make_checksum(now, MACHINE_ID, MAC_MACHINE_ID),
        "x-client-key": hashlib.sha256(f"{MACHINE_ID}:client-key".encode()).hexdigest(),
        "x-session-id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cursor2api:{MACHINE_ID}")),
        "x-request-id": request_id,
        "x-amzn-trace-id": f"Root={request_id}",
        "x-cursor-timezone": "UTC",
        "x-ghost-mode": "true",
    }
    if streaming:
        headers["connect-accept-encoding"] = "gzip"
        headers["connect-content-encoding"] = "gzip"
    else:
        headers["accept-encoding"] = "gzip"
    return headers


@dataclass(slots=True)
class DecodedStream:
    """A whole response body, decoded the plain way (no caps: tests feed trusted output)."""

    text: str = ""
    thinking: str = ""
    signatures: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    citations: int = 0
    tool_calls: list[pb.ClientSideToolV2Call] = field(default_factory=list)
    heartbeats: int = 0
    unknown_field_frames: int = 0
    flags: list[int] = field(default_factory=list)
    text_frames: list[str] = field(default_factory=list)
    end: dict[str, Any] | None = None


def decode_stream(data: bytes) -> DecodedStream:
    out = DecodedStream()
    for flags, payload in split_frames(data):
        out.flags.append(flags)
        if flags & FLAG_COMPRESSED:
            payload = gunzip_bounded(payload)
        if flags & FLAG_END_STREAM:
            out.end = json.loads(payload)
            break
        if payload in (b"", HEARTBEAT_PAYLOAD):
            out.heartbeats += 1
            continue
        message = pb.StreamUnifiedChatResponseWithTools.FromString(payload)
        if message.WhichOneof("response") == "client_side_tool_v2_call":
            out.tool_calls.append(message.client_side_tool_v2_call)
            continue
        chat = message.stream_unified_chat_response
        if len(UnknownFieldSet(chat)):
            out.unknown_field_frames += 1
        if chat.text:
            out.text += chat.text
            out.text_frames.append(chat.text)
        elif chat.HasField("thinking"):
            out.thinking += chat.thinking.text
            if chat.thinking.signature:
                out.signatures.append(chat.thinking.signature)
            if chat.thinking.redacted_thinking:
                out.redacted.append(chat.thinking.redacted_thinking)
        elif chat.HasField("web_citation"):
            out.citations += len(chat.web_citation.references)
    return out
