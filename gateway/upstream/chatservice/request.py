"""Build the upstream request: the `StreamUnifiedChatRequestWithTools` message and its headers.

cursor-protocol.md §3 (headers), §4 (checksum), §7.2-7.7 (message fields) and §8 (mapping the
conversation); tool-calls.md N1, N2 and H10 for native tools and replayed results. Pure: time
and randomness come in as arguments or from `uuid4`, nothing is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import orjson

from gateway.neutral.model import ChatRequest, Prompt, PromptMessage, ReplayedResult, ToolSpec
from gateway.upstream.pb import cursor_pb2 as pb

CHAT_PATH: Final = "/aiserver.v1.ChatService/StreamUnifiedChatWithTools"
MODELS_PATH: Final = "/aiserver.v1.AiService/AvailableModels"

HUMAN: Final = pb.MESSAGE_TYPE_HUMAN
AI: Final = pb.MESSAGE_TYPE_AI
SERVER_NAME: Final = "custom"
MCP_TOOL_PREFIX: Final = "mcp_custom_"
# M4: conversation ids are name-based UUIDs of the anchor in this namespace.
CONVERSATION_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "cursor2api:conversation-id")


def _timestamp(now: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and `Z`, e.g. `2023-11-14T22:13:20.123Z`."""
    utc = now.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


def conversation_id(anchor: str) -> str:
    """M4: a UUID derived from the conversation anchor, so every request of one conversation
    (and Cursor's cache key) shares it."""
    return str(uuid.uuid5(CONVERSATION_NAMESPACE, anchor))


def mcp_result_json(content: str, *, is_error: bool) -> str:
    """H10: the MCP-shaped result text of one replayed result."""
    return orjson.dumps({"content": [{"type": "text", "text": content}], "isError": is_error}).decode()


def _tool_result(replayed: ReplayedResult) -> pb.ConversationMessage.ToolResult:
    """H10: one historical call and its result, as a `ConversationMessage.ToolResult`."""
    mcp_tool = pb.MCPParams.Tool(name=replayed.name, server_name=SERVER_NAME)
    if replayed.parameters_json is not None:
        mcp_tool.parameters = replayed.parameters_json
    tool_name = MCP_TOOL_PREFIX + replayed.name
    return pb.ConversationMessage.ToolResult(
        tool_call_id=replayed.tool_call_id,
        tool_name=tool_name,
        tool_index=replayed.index,
        raw_args=replayed.raw_args,
        tool_call=pb.ClientSideToolV2Call(
            tool=pb.CLIENT_SIDE_TOOL_V2_MCP,
            tool_call_id=replayed.tool_call_id,
            name=tool_name,
            raw_args=replayed.raw_args,
            mcp_params=pb.MCPParams(tools=[mcp_tool]),
            tool_index=replayed.index,
        ),
        result=pb.ClientSideToolV2Result(
            tool=pb.CLIENT_SIDE_TOOL_V2_MCP,
            tool_call_id=replayed.tool_call_id,
            tool_index=replayed.index,
            mcp_result=pb.MCPResult(
                selected_tool=replayed.name,
                result=mcp_result_json(replayed.content, is_error=replayed.is_error),
            ),
        ),
    )


def _mcp_tool(tool: ToolSpec) -> pb.MCPParams.Tool:
    """N1: name, description (omitted when empty), compact JSON schema, server "custom"."""
    entry = pb.MCPParams.Tool(name=tool.name, parameters=tool.schema_json, server_name=SERVER_NAME)
    if tool.description:
        entry.description = tool.description
    return entry


def _new_uuid() -> str:
    return str(uuid.uuid4())


# ImageProto.uuid is a per-request counter rendered in decimal (cursor-protocol.md §8.3).
IMAGE_UUID_START: Final = 256


def build_message(
    chat: ChatRequest,
    prompt: Prompt,
    *,
    client_version: str,
    now: datetime,
    new_id: Callable[[], str] = _new_uuid,
) -> pb.StreamUnifiedChatRequestWithTools:
    """The request message for one attempt: `chat` gives the model, `prompt` the conversation (§7.2, §8).

    A prompt with `mcp_tools` gets the agent flags (N2); otherwise the chat flags. `new_id` makes
    the bubble ids (tests pass a counter).
    """
    request = pb.StreamUnifiedChatRequest()
    agent = bool(prompt.mcp_tools)
    mode = pb.UNIFIED_MODE_AGENT if agent else pb.UNIFIED_MODE_CHAT
    messages = list(prompt.messages) or [PromptMessage("user", "")]
    image_uuid = IMAGE_UUID_START
    for m in messages:
        kind = HUMAN if m.role == "user" else AI
        bubble_id = new_id()
        message = request.conversation.add(text=m.text, type=kind, bubble_id=bubble_id, unified_mode=mode)
        header = request.full_conversation_headers_only.add(bubble_id=bubble_id, type=kind)
        if kind == AI:
            server_bubble_id = new_id()
            message.server_bubble_id = server_bubble_id
            header.server_bubble_id = server_bubble_id
        elif agent:
            message.is_agentic = True
        for image in m.images if kind == HUMAN else ():  # §8.3: images ride on HUMAN messages
            proto = message.images.add(data=image.data, uuid=str(image_uuid))
            proto.dimension.width, proto.dimension.height = image.width, image.height
            image_uuid += 1
        for replayed in m.tool_results:
            message.tool_results.append(_tool_result(replayed))
    if agent:
        request.conversation[-1].supported_tools.append(pb.CLIENT_SIDE_TOOL_V2_MCP)
        request.mcp_tools.extend(_mcp_tool(t) for t in prompt.mcp_tools)
        request.supported_tools.append(pb.CLIENT_SIDE_TOOL_V2_MCP)
    if prompt.system.strip():
        request.explicit_context.context = prompt.system
    details = request.model_details
    details.model_name = chat.model.upstream_name
    details.azure_state.SetInParent()
    details.max_mode = False
    if chat.slow_pool:  # set only when true (cursor-protocol.md §7.2)
        details.enable_slow_pool = True
    request.should_cache = True
    current = request.current_file
    current.contents_start_at_line = 1
    current.total_number_of_lines = 1
    current.cursor_position.SetInParent()
    current.selection.start_position.SetInParent()
    current.selection.end_position.SetInParent()
    request.use_new_compression_scheme = True
    request.is_chat = not agent
    request.conversation_id = conversation_id(prompt.anchor)
    request.environment_info.local_timestamp = _timestamp(now)
    request.environment_info.cursor_version = client_version.encode()
    request.is_agentic = agent
    request.allow_model_fallbacks = False
    request.unified_mode = mode
    request.should_disable_tools = not agent
    request.thinking_level = _thinking_level(chat)
    request.uses_rules = False
    request.unified_mode_name = "Agent" if agent else "Ask"
    return pb.StreamUnifiedChatRequestWithTools(stream_unified_chat_request=request)


def _thinking_level(chat: ChatRequest) -> pb.ThinkingLevel:
    """K2: a thinking twin asks for its level (MEDIUM or HIGH); a base model sends UNSPECIFIED."""
    if not chat.model.thinking:
        return pb.THINKING_LEVEL_UNSPECIFIED
    return pb.THINKING_LEVEL_MEDIUM if chat.thinking_level == "medium" else pb.THINKING_LEVEL_HIGH
