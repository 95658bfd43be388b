"""Build the upstream request: the `StreamUnifiedChatRequestWithTools` message and its headers.

cursor-protocol.md §3 (headers), §4 (checksum), §7.2-7.6 (message fields) and §8 (mapping the
conversation). Pure: time and randomness come in as arguments or from `uuid4`, nothing is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from gateway.chat.model import ChatRequest, Prompt
from gateway.upstream import checksum
from gateway.upstream.pb import cursor_pb2 as pb

CHAT_PATH: Final = "/aiserver.v1.ChatService/StreamUnifiedChatWithTools"
USER_AGENT: Final = "connect-es/1.6.1"

HUMAN: Final = pb.MESSAGE_TYPE_HUMAN
AI: Final = pb.MESSAGE_TYPE_AI


@dataclass(frozen=True, slots=True)
class UpstreamIdentity:
    """What identifies one token upstream: the JWT and its persisted machine ids."""

    jwt: str
    identity: checksum.Identity


@dataclass(frozen=True, slots=True)
class HeaderOptions:
    client_version: str
    timezone: str
    alphabet: checksum.Alphabet


def build_headers(who: UpstreamIdentity, options: HeaderOptions, *, unix_seconds: int) -> dict[str, str]:
    """The headers of one streaming chat call (§3.1); the checksum prefix is fresh per call."""
    request_id = str(uuid.uuid4())
    return {
        "authorization": f"Bearer {who.jwt}",
        "content-type": "application/connect+proto",
        "connect-protocol-version": "1",
        "connect-accept-encoding": "gzip",
        "connect-content-encoding": "gzip",
        "user-agent": USER_AGENT,
        "x-cursor-client-version": options.client_version,
        "x-cursor-checksum": checksum.checksum_header(who.identity, unix_seconds, options.alphabet),
        "x-client-key": checksum.client_key(who.identity),
        "x-session-id": checksum.session_id(who.identity),
        "x-request-id": request_id,
        "x-amzn-trace-id": f"Root={request_id}",
        "x-cursor-timezone": options.timezone,
        "x-ghost-mode": "true",
        "x-cursor-client-type": "ide",
        "x-cursor-client-device-type": "desktop",
        "x-cursor-streaming": "true",
        "x-new-onboarding-completed": "false",
    }


def _timestamp(now: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and `Z`, e.g. `2023-11-14T22:13:20.123Z`."""
    utc = now.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


def build_message(
    chat: ChatRequest, prompt: Prompt, *, client_version: str, now: datetime
) -> pb.StreamUnifiedChatRequestWithTools:
    """The request message for one attempt: `chat` gives the model, `prompt` the conversation (§7.2, §8)."""
    request = pb.StreamUnifiedChatRequest()
    mode = pb.UNIFIED_MODE_CHAT
    conversation = [(HUMAN if m.role == "user" else AI, m.text) for m in prompt.messages]
    if not conversation:
        conversation = [(HUMAN, "")]
    for kind, text in conversation:
        bubble_id = str(uuid.uuid4())
        message = request.conversation.add(text=text, type=kind, bubble_id=bubble_id, unified_mode=mode)
        header = request.full_conversation_headers_only.add(bubble_id=bubble_id, type=kind)
        if kind == AI:
            server_bubble_id = str(uuid.uuid4())
            message.server_bubble_id = server_bubble_id
            header.server_bubble_id = server_bubble_id
    if prompt.system.strip():
        request.explicit_context.context = prompt.system
    details = request.model_details
    details.model_name = chat.model.upstream_name
    details.azure_state.SetInParent()
    details.max_mode = False
    request.should_cache = True
    current = request.current_file
    current.contents_start_at_line = 1
    current.total_number_of_lines = 1
    current.cursor_position.SetInParent()
    current.selection.start_position.SetInParent()
    current.selection.end_position.SetInParent()
    request.use_new_compression_scheme = True
    request.is_chat = True
    request.conversation_id = str(uuid.uuid4())
    request.environment_info.local_timestamp = _timestamp(now)
    request.environment_info.cursor_version = client_version.encode()
    request.is_agentic = False
    request.allow_model_fallbacks = False
    request.unified_mode = mode
    request.should_disable_tools = True
    request.thinking_level = _thinking_level(chat)
    request.uses_rules = False
    request.unified_mode_name = "Ask"
    return pb.StreamUnifiedChatRequestWithTools(stream_unified_chat_request=request)


def _thinking_level(chat: ChatRequest) -> pb.ThinkingLevel:
    """K2: a thinking twin asks for its level (MEDIUM or HIGH); a base model sends UNSPECIFIED."""
    if not chat.model.thinking:
        return pb.THINKING_LEVEL_UNSPECIFIED
    return pb.THINKING_LEVEL_MEDIUM if chat.thinking_level == "medium" else pb.THINKING_LEVEL_HIGH
