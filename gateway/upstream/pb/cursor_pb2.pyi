from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_TYPE_UNSPECIFIED: _ClassVar[MessageType]
    MESSAGE_TYPE_HUMAN: _ClassVar[MessageType]
    MESSAGE_TYPE_AI: _ClassVar[MessageType]

class UnifiedMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNIFIED_MODE_UNSPECIFIED: _ClassVar[UnifiedMode]
    UNIFIED_MODE_CHAT: _ClassVar[UnifiedMode]
    UNIFIED_MODE_AGENT: _ClassVar[UnifiedMode]
    UNIFIED_MODE_EDIT: _ClassVar[UnifiedMode]
    UNIFIED_MODE_CUSTOM: _ClassVar[UnifiedMode]
    UNIFIED_MODE_PLAN: _ClassVar[UnifiedMode]
    UNIFIED_MODE_DEBUG: _ClassVar[UnifiedMode]

class ThinkingLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THINKING_LEVEL_UNSPECIFIED: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_MEDIUM: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_HIGH: _ClassVar[ThinkingLevel]

class ClientSideToolV2(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_SIDE_TOOL_V2_UNSPECIFIED: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_SEMSEARCH_FILES: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_RIPGREP_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_LIST_DIR: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_EDIT_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FILE_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_SEMANTIC_SEARCH_FULL: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_DELETE_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_REAPPLY: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_RUN_TERMINAL_COMMAND_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FETCH_RULES: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_WEB_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_MCP: _ClassVar[ClientSideToolV2]
MESSAGE_TYPE_UNSPECIFIED: MessageType
MESSAGE_TYPE_HUMAN: MessageType
MESSAGE_TYPE_AI: MessageType
UNIFIED_MODE_UNSPECIFIED: UnifiedMode
UNIFIED_MODE_CHAT: UnifiedMode
UNIFIED_MODE_AGENT: UnifiedMode
UNIFIED_MODE_EDIT: UnifiedMode
UNIFIED_MODE_CUSTOM: UnifiedMode
UNIFIED_MODE_PLAN: UnifiedMode
UNIFIED_MODE_DEBUG: UnifiedMode
THINKING_LEVEL_UNSPECIFIED: ThinkingLevel
THINKING_LEVEL_MEDIUM: ThinkingLevel
THINKING_LEVEL_HIGH: ThinkingLevel
CLIENT_SIDE_TOOL_V2_UNSPECIFIED: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_SEMSEARCH_FILES: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_RIPGREP_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_LIST_DIR: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_EDIT_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FILE_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_SEMANTIC_SEARCH_FULL: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_DELETE_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_REAPPLY: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_RUN_TERMINAL_COMMAND_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FETCH_RULES: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_WEB_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_MCP: ClientSideToolV2

class StreamUnifiedChatRequestWithTools(_message.Message):
    __slots__ = ("stream_unified_chat_request", "client_side_tool_v2_result")
    STREAM_UNIFIED_CHAT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SIDE_TOOL_V2_RESULT_FIELD_NUMBER: _ClassVar[int]
    stream_unified_chat_request: StreamUnifiedChatRequest
    client_side_tool_v2_result: ClientSideToolV2Result
    def __init__(self, stream_unified_chat_request: _Optional[_Union[StreamUnifiedChatRequest, _Mapping]] = ..., client_side_tool_v2_result: _Optional[_Union[ClientSideToolV2Result, _Mapping]] = ...) -> None: ...

class StreamUnifiedChatRequest(_message.Message):
    __slots__ = ("conversation", "explicit_context", "model_details", "use_web", "external_links", "should_cache", "current_file", "use_new_compression_scheme", "is_chat", "conversation_id", "environment_info", "is_agentic", "supported_tools", "full_conversation_headers_only", "mcp_tools", "use_full_inputs_context", "allow_model_fallbacks", "unified_mode", "should_disable_tools", "thinking_level", "uses_rules", "unified_mode_name")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    EXPLICIT_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_DETAILS_FIELD_NUMBER: _ClassVar[int]
    USE_WEB_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_LINKS_FIELD_NUMBER: _ClassVar[int]
    SHOULD_CACHE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FILE_FIELD_NUMBER: _ClassVar[int]
    USE_NEW_COMPRESSION_SCHEME_FIELD_NUMBER: _ClassVar[int]
    IS_CHAT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_INFO_FIELD_NUMBER: _ClassVar[int]
    IS_AGENTIC_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    FULL_CONVERSATION_HEADERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    MCP_TOOLS_FIELD_NUMBER: _ClassVar[int]
    USE_FULL_INPUTS_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MODEL_FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_MODE_FIELD_NUMBER: _ClassVar[int]
    SHOULD_DISABLE_TOOLS_FIELD_NUMBER: _ClassVar[int]
    THINKING_LEVEL_FIELD_NUMBER: _ClassVar[int]
    USES_RULES_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_MODE_NAME_FIELD_NUMBER: _ClassVar[int]
    conversation: _containers.RepeatedCompositeFieldContainer[ConversationMessage]
    explicit_context: ExplicitContext
    model_details: ModelDetails
    use_web: str
    external_links: _containers.RepeatedCompositeFieldContainer[ComposerExternalLink]
    should_cache: bool
    current_file: CurrentFileInfo
    use_new_compression_scheme: bool
    is_chat: bool
    conversation_id: str
    environment_info: EnvironmentInfo
    is_agentic: bool
    supported_tools: _containers.RepeatedScalarFieldContainer[ClientSideToolV2]
    full_conversation_headers_only: _containers.RepeatedCompositeFieldContainer[ConversationMessageHeader]
    mcp_tools: _containers.RepeatedCompositeFieldContainer[MCPParams.Tool]
    use_full_inputs_context: bool
    allow_model_fallbacks: bool
    unified_mode: UnifiedMode
    should_disable_tools: bool
    thinking_level: ThinkingLevel
    uses_rules: bool
    unified_mode_name: str
    def __init__(self, conversation: _Optional[_Iterable[_Union[ConversationMessage, _Mapping]]] = ..., explicit_context: _Optional[_Union[ExplicitContext, _Mapping]] = ..., model_details: _Optional[_Union[ModelDetails, _Mapping]] = ..., use_web: _Optional[str] = ..., external_links: _Optional[_Iterable[_Union[ComposerExternalLink, _Mapping]]] = ..., should_cache: _Optional[bool] = ..., current_file: _Optional[_Union[CurrentFileInfo, _Mapping]] = ..., use_new_compression_scheme: _Optional[bool] = ..., is_chat: _Optional[bool] = ..., conversation_id: _Optional[str] = ..., environment_info: _Optional[_Union[EnvironmentInfo, _Mapping]] = ..., is_agentic: _Optional[bool] = ..., supported_tools: _Optional[_Iterable[_Union[ClientSideToolV2, str]]] = ..., full_conversation_headers_only: _Optional[_Iterable[_Union[ConversationMessageHeader, _Mapping]]] = ..., mcp_tools: _Optional[_Iterable[_Union[MCPParams.Tool, _Mapping]]] = ..., use_full_inputs_context: _Optional[bool] = ..., allow_model_fallbacks: _Optional[bool] = ..., unified_mode: _Optional[_Union[UnifiedMode, str]] = ..., should_disable_tools: _Optional[bool] = ..., thinking_level: _Optional[_Union[ThinkingLevel, str]] = ..., uses_rules: _Optional[bool] = ..., unified_mode_name: _Optional[str] = ...) -> None: ...

class ConversationMessage(_message.Message):
    __slots__ = ("text", "type", "images", "bubble_id", "tool_results", "is_agentic", "server_bubble_id", "web_references", "thinking", "unified_mode", "supported_tools", "external_links", "use_web")
    class Thinking(_message.Message):
        __slots__ = ("text", "signature", "redacted_thinking")
        TEXT_FIELD_NUMBER: _ClassVar[int]
        SIGNATURE_FIELD_NUMBER: _ClassVar[int]
        REDACTED_THINKING_FIELD_NUMBER: _ClassVar[int]
        text: str
        signature: str
        redacted_thinking: str
        def __init__(self, text: _Optional[str] = ..., signature: _Optional[str] = ..., redacted_thinking: _Optional[str] = ...) -> None: ...
    class ToolResult(_message.Message):
        __slots__ = ("tool_call_id", "tool_name", "tool_index", "raw_args", "result", "tool_call", "model_call_id")
        TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
        TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
        TOOL_INDEX_FIELD_NUMBER: _ClassVar[int]
        RAW_ARGS_FIELD_NUMBER: _ClassVar[int]
        RESULT_FIELD_NUMBER: _ClassVar[int]
        TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
        MODEL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
        tool_call_id: str
        tool_name: str
        tool_index: int
        raw_args: str
        result: ClientSideToolV2Result
        tool_call: ClientSideToolV2Call
        model_call_id: str
        def __init__(self, tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., tool_index: _Optional[int] = ..., raw_args: _Optional[str] = ..., result: _Optional[_Union[ClientSideToolV2Result, _Mapping]] = ..., tool_call: _Optional[_Union[ClientSideToolV2Call, _Mapping]] = ..., model_call_id: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    BUBBLE_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    IS_AGENTIC_FIELD_NUMBER: _ClassVar[int]
    SERVER_BUBBLE_ID_FIELD_NUMBER: _ClassVar[int]
    WEB_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_MODE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_LINKS_FIELD_NUMBER: _ClassVar[int]
    USE_WEB_FIELD_NUMBER: _ClassVar[int]
    text: str
    type: MessageType
    images: _containers.RepeatedCompositeFieldContainer[ImageProto]
    bubble_id: str
    tool_results: _containers.RepeatedCompositeFieldContainer[ConversationMessage.ToolResult]
    is_agentic: bool
    server_bubble_id: str
    web_references: _containers.RepeatedCompositeFieldContainer[WebReference]
    thinking: ConversationMessage.Thinking
    unified_mode: UnifiedMode
    supported_tools: _containers.RepeatedScalarFieldContainer[ClientSideToolV2]
    external_links: _containers.RepeatedCompositeFieldContainer[ComposerExternalLink]
    use_web: bool
    def __init__(self, text: _Optional[str] = ..., type: _Optional[_Union[MessageType, str]] = ..., images: _Optional[_Iterable[_Union[ImageProto, _Mapping]]] = ..., bubble_id: _Optional[str] = ..., tool_results: _Optional[_Iterable[_Union[ConversationMessage.ToolResult, _Mapping]]] = ..., is_agentic: _Optional[bool] = ..., server_bubble_id: _Optional[str] = ..., web_references: _Optional[_Iterable[_Union[WebReference, _Mapping]]] = ..., thinking: _Optional[_Union[ConversationMessage.Thinking, _Mapping]] = ..., unified_mode: _Optional[_Union[UnifiedMode, str]] = ..., supported_tools: _Optional[_Iterable[_Union[ClientSideToolV2, str]]] = ..., external_links: _Optional[_Iterable[_Union[ComposerExternalLink, _Mapping]]] = ..., use_web: _Optional[bool] = ...) -> None: ...

class ConversationMessageHeader(_message.Message):
    __slots__ = ("bubble_id", "server_bubble_id", "type")
    BUBBLE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_BUBBLE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    bubble_id: str
    server_bubble_id: str
    type: MessageType
    def __init__(self, bubble_id: _Optional[str] = ..., server_bubble_id: _Optional[str] = ..., type: _Optional[_Union[MessageType, str]] = ...) -> None: ...

class ExplicitContext(_message.Message):
    __slots__ = ("context", "repo_context", "mode_specific_context")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REPO_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MODE_SPECIFIC_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: str
    repo_context: str
    mode_specific_context: str
    def __init__(self, context: _Optional[str] = ..., repo_context: _Optional[str] = ..., mode_specific_context: _Optional[str] = ...) -> None: ...

class AzureState(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelDetails(_message.Message):
    __slots__ = ("model_name", "azure_state", "enable_slow_pool", "max_mode")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    AZURE_STATE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_SLOW_POOL_FIELD_NUMBER: _ClassVar[int]
    MAX_MODE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    azure_state: AzureState
    enable_slow_pool: bool
    max_mode: bool
    def __init__(self, model_name: _Optional[str] = ..., azure_state: _Optional[_Union[AzureState, _Mapping]] = ..., enable_slow_pool: _Optional[bool] = ..., max_mode: _Optional[bool] = ...) -> None: ...

class ImageProto(_message.Message):
    __slots__ = ("data", "dimension", "uuid")
    class Dimension(_message.Message):
        __slots__ = ("width", "height")
        WIDTH_FIELD_NUMBER: _ClassVar[int]
        HEIGHT_FIELD_NUMBER: _ClassVar[int]
        width: int
        height: int
        def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...
    DATA_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    dimension: ImageProto.Dimension
    uuid: str
    def __init__(self, data: _Optional[bytes] = ..., dimension: _Optional[_Union[ImageProto.Dimension, _Mapping]] = ..., uuid: _Optional[str] = ...) -> None: ...

class ComposerExternalLink(_message.Message):
    __slots__ = ("url", "uuid", "pdf_content", "is_pdf", "filename")
    URL_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    PDF_CONTENT_FIELD_NUMBER: _ClassVar[int]
    IS_PDF_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    url: str
    uuid: str
    pdf_content: str
    is_pdf: bool
    filename: str
    def __init__(self, url: _Optional[str] = ..., uuid: _Optional[str] = ..., pdf_content: _Optional[str] = ..., is_pdf: _Optional[bool] = ..., filename: _Optional[str] = ...) -> None: ...

class WebReference(_message.Message):
    __slots__ = ("url", "title", "chunk")
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    url: str
    title: str
    chunk: str
    def __init__(self, url: _Optional[str] = ..., title: _Optional[str] = ..., chunk: _Optional[str] = ...) -> None: ...

class WebCitation(_message.Message):
    __slots__ = ("references",)
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    references: _containers.RepeatedCompositeFieldContainer[WebReference]
    def __init__(self, references: _Optional[_Iterable[_Union[WebReference, _Mapping]]] = ...) -> None: ...

class CursorPosition(_message.Message):
    __slots__ = ("line", "column")
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    line: int
    column: int
    def __init__(self, line: _Optional[int] = ..., column: _Optional[int] = ...) -> None: ...

class CursorRange(_message.Message):
    __slots__ = ("start_position", "end_position")
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    END_POSITION_FIELD_NUMBER: _ClassVar[int]
    start_position: CursorPosition
    end_position: CursorPosition
    def __init__(self, start_position: _Optional[_Union[CursorPosition, _Mapping]] = ..., end_position: _Optional[_Union[CursorPosition, _Mapping]] = ...) -> None: ...

class CurrentFileInfo(_message.Message):
    __slots__ = ("cursor_position", "selection", "total_number_of_lines", "contents_start_at_line")
    CURSOR_POSITION_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_NUMBER_OF_LINES_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_START_AT_LINE_FIELD_NUMBER: _ClassVar[int]
    cursor_position: CursorPosition
    selection: CursorRange
    total_number_of_lines: int
    contents_start_at_line: int
    def __init__(self, cursor_position: _Optional[_Union[CursorPosition, _Mapping]] = ..., selection: _Optional[_Union[CursorRange, _Mapping]] = ..., total_number_of_lines: _Optional[int] = ..., contents_start_at_line: _Optional[int] = ...) -> None: ...

class EnvironmentInfo(_message.Message):
    __slots__ = ("exthost_platform", "exthost_arch", "local_timestamp", "cursor_version")
    EXTHOST_PLATFORM_FIELD_NUMBER: _ClassVar[int]
    EXTHOST_ARCH_FIELD_NUMBER: _ClassVar[int]
    LOCAL_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CURSOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    exthost_platform: str
    exthost_arch: str
    local_timestamp: str
    cursor_version: bytes
    def __init__(self, exthost_platform: _Optional[str] = ..., exthost_arch: _Optional[str] = ..., local_timestamp: _Optional[str] = ..., cursor_version: _Optional[bytes] = ...) -> None: ...

class MCPParams(_message.Message):
    __slots__ = ("tools",)
    class Tool(_message.Message):
        __slots__ = ("name", "description", "parameters", "server_name")
        NAME_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        PARAMETERS_FIELD_NUMBER: _ClassVar[int]
        SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
        name: str
        description: str
        parameters: str
        server_name: str
        def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[str] = ..., server_name: _Optional[str] = ...) -> None: ...
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[MCPParams.Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[MCPParams.Tool, _Mapping]]] = ...) -> None: ...

class ClientSideToolV2Call(_message.Message):
    __slots__ = ("tool", "tool_call_id", "name", "raw_args", "is_streaming", "is_last_message", "mcp_params", "tool_index", "model_call_id")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RAW_ARGS_FIELD_NUMBER: _ClassVar[int]
    IS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    IS_LAST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MCP_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    MODEL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    tool: ClientSideToolV2
    tool_call_id: str
    name: str
    raw_args: str
    is_streaming: bool
    is_last_message: bool
    mcp_params: MCPParams
    tool_index: int
    model_call_id: str
    def __init__(self, tool: _Optional[_Union[ClientSideToolV2, str]] = ..., tool_call_id: _Optional[str] = ..., name: _Optional[str] = ..., raw_args: _Optional[str] = ..., is_streaming: _Optional[bool] = ..., is_last_message: _Optional[bool] = ..., mcp_params: _Optional[_Union[MCPParams, _Mapping]] = ..., tool_index: _Optional[int] = ..., model_call_id: _Optional[str] = ...) -> None: ...

class MCPResult(_message.Message):
    __slots__ = ("selected_tool", "result")
    SELECTED_TOOL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    selected_tool: str
    result: str
    def __init__(self, selected_tool: _Optional[str] = ..., result: _Optional[str] = ...) -> None: ...

class ClientSideToolV2Result(_message.Message):
    __slots__ = ("tool", "mcp_result", "tool_call_id", "model_call_id", "tool_index")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    MCP_RESULT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    tool: ClientSideToolV2
    mcp_result: MCPResult
    tool_call_id: str
    model_call_id: str
    tool_index: int
    def __init__(self, tool: _Optional[_Union[ClientSideToolV2, str]] = ..., mcp_result: _Optional[_Union[MCPResult, _Mapping]] = ..., tool_call_id: _Optional[str] = ..., model_call_id: _Optional[str] = ..., tool_index: _Optional[int] = ...) -> None: ...

class StreamUnifiedChatResponseWithTools(_message.Message):
    __slots__ = ("client_side_tool_v2_call", "stream_unified_chat_response")
    CLIENT_SIDE_TOOL_V2_CALL_FIELD_NUMBER: _ClassVar[int]
    STREAM_UNIFIED_CHAT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    client_side_tool_v2_call: ClientSideToolV2Call
    stream_unified_chat_response: StreamUnifiedChatResponse
    def __init__(self, client_side_tool_v2_call: _Optional[_Union[ClientSideToolV2Call, _Mapping]] = ..., stream_unified_chat_response: _Optional[_Union[StreamUnifiedChatResponse, _Mapping]] = ...) -> None: ...

class StreamUnifiedChatResponse(_message.Message):
    __slots__ = ("text", "web_citation", "thinking")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WEB_CITATION_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    text: str
    web_citation: WebCitation
    thinking: ConversationMessage.Thinking
    def __init__(self, text: _Optional[str] = ..., web_citation: _Optional[_Union[WebCitation, _Mapping]] = ..., thinking: _Optional[_Union[ConversationMessage.Thinking, _Mapping]] = ...) -> None: ...

class CustomErrorDetails(_message.Message):
    __slots__ = ("title", "detail", "additional_info")
    class AdditionalInfoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_INFO_FIELD_NUMBER: _ClassVar[int]
    title: str
    detail: str
    additional_info: _containers.ScalarMap[str, str]
    def __init__(self, title: _Optional[str] = ..., detail: _Optional[str] = ..., additional_info: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ErrorDetails(_message.Message):
    __slots__ = ("error", "details", "is_expected")
    class Error(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ERROR_UNSPECIFIED: _ClassVar[ErrorDetails.Error]
        ERROR_BAD_API_KEY: _ClassVar[ErrorDetails.Error]
        ERROR_NOT_LOGGED_IN: _ClassVar[ErrorDetails.Error]
        ERROR_INVALID_AUTH_ID: _ClassVar[ErrorDetails.Error]
        ERROR_NOT_HIGH_ENOUGH_PERMISSIONS: _ClassVar[ErrorDetails.Error]
        ERROR_BAD_MODEL_NAME: _ClassVar[ErrorDetails.Error]
        ERROR_USER_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_FREE_USER_RATE_LIMIT_EXCEEDED: _ClassVar[ErrorDetails.Error]
        ERROR_PRO_USER_RATE_LIMIT_EXCEEDED: _ClassVar[ErrorDetails.Error]
        ERROR_FREE_USER_USAGE_LIMIT: _ClassVar[ErrorDetails.Error]
        ERROR_PRO_USER_USAGE_LIMIT: _ClassVar[ErrorDetails.Error]
        ERROR_AUTH_TOKEN_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_AUTH_TOKEN_EXPIRED: _ClassVar[ErrorDetails.Error]
        ERROR_OPENAI: _ClassVar[ErrorDetails.Error]
        ERROR_OPENAI_RATE_LIMIT_EXCEEDED: _ClassVar[ErrorDetails.Error]
        ERROR_OPENAI_ACCOUNT_LIMIT_EXCEEDED: _ClassVar[ErrorDetails.Error]
        ERROR_TASK_UUID_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_TASK_NO_PERMISSIONS: _ClassVar[ErrorDetails.Error]
        ERROR_AGENT_REQUIRES_LOGIN: _ClassVar[ErrorDetails.Error]
        ERROR_AGENT_ENGINE_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_MAX_TOKENS: _ClassVar[ErrorDetails.Error]
        ERROR_USER_ABORTED_REQUEST: _ClassVar[ErrorDetails.Error]
        ERROR_GENERIC_RATE_LIMIT_EXCEEDED: _ClassVar[ErrorDetails.Error]
        ERROR_PRO_USER_ONLY: _ClassVar[ErrorDetails.Error]
        ERROR_API_KEY_NOT_SUPPORTED: _ClassVar[ErrorDetails.Error]
        ERROR_TIMEOUT: _ClassVar[ErrorDetails.Error]
        ERROR_SLASH_EDIT_FILE_TOO_LONG: _ClassVar[ErrorDetails.Error]
        ERROR_FILE_UNSUPPORTED: _ClassVar[ErrorDetails.Error]
        ERROR_GPT_4_VISION_PREVIEW_RATE_LIMIT: _ClassVar[ErrorDetails.Error]
        ERROR_CUSTOM_MESSAGE: _ClassVar[ErrorDetails.Error]
        ERROR_OUTDATED_CLIENT: _ClassVar[ErrorDetails.Error]
        ERROR_CLAUDE_IMAGE_TOO_LARGE: _ClassVar[ErrorDetails.Error]
        ERROR_GITGRAPH_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_FILE_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_API_KEY_RATE_LIMIT: _ClassVar[ErrorDetails.Error]
        ERROR_DEBOUNCED: _ClassVar[ErrorDetails.Error]
        ERROR_BAD_REQUEST: _ClassVar[ErrorDetails.Error]
        ERROR_REPOSITORY_SERVICE_REPOSITORY_IS_NOT_INITIALIZED: _ClassVar[ErrorDetails.Error]
        ERROR_UNAUTHORIZED: _ClassVar[ErrorDetails.Error]
        ERROR_NOT_FOUND: _ClassVar[ErrorDetails.Error]
        ERROR_DEPRECATED: _ClassVar[ErrorDetails.Error]
        ERROR_RESOURCE_EXHAUSTED: _ClassVar[ErrorDetails.Error]
        ERROR_BAD_USER_API_KEY: _ClassVar[ErrorDetails.Error]
        ERROR_CONVERSATION_TOO_LONG: _ClassVar[ErrorDetails.Error]
        ERROR_USAGE_PRICING_REQUIRED: _ClassVar[ErrorDetails.Error]
        ERROR_USAGE_PRICING_REQUIRED_CHANGEABLE: _ClassVar[ErrorDetails.Error]
        ERROR_GITHUB_NO_USER_CREDENTIALS: _ClassVar[ErrorDetails.Error]
        ERROR_GITHUB_USER_NO_ACCESS: _ClassVar[ErrorDetails.Error]
        ERROR_GITHUB_APP_NO_ACCESS: _ClassVar[ErrorDetails.Error]
        ERROR_GITHUB_MULTIPLE_OWNERS: _ClassVar[ErrorDetails.Error]
        ERROR_RATE_LIMITED: _ClassVar[ErrorDetails.Error]
        ERROR_RATE_LIMITED_CHANGEABLE: _ClassVar[ErrorDetails.Error]
        ERROR_CUSTOM: _ClassVar[ErrorDetails.Error]
        ERROR_HOOKS_BLOCKED: _ClassVar[ErrorDetails.Error]
        ERROR_SUSPICIOUS_USAGE_BLOCKED: _ClassVar[ErrorDetails.Error]
        ERROR_EXTENSION_HOST_TIMEOUT: _ClassVar[ErrorDetails.Error]
        ERROR_NETWORK_ERROR: _ClassVar[ErrorDetails.Error]
        ERROR_PROVIDER_ERROR: _ClassVar[ErrorDetails.Error]
        ERROR_MODEL_BLOCKED: _ClassVar[ErrorDetails.Error]
        ERROR_INTERNAL: _ClassVar[ErrorDetails.Error]
        ERROR_MAX_MODE_REQUIRED: _ClassVar[ErrorDetails.Error]
        ERROR_MODEL_NO_LONGER_SUPPORTED: _ClassVar[ErrorDetails.Error]
        ERROR_PRICING_WARNING: _ClassVar[ErrorDetails.Error]
        ERROR_SLOW_POOL: _ClassVar[ErrorDetails.Error]
        ERROR_UNSUPPORTED_REGION: _ClassVar[ErrorDetails.Error]
    ERROR_UNSPECIFIED: ErrorDetails.Error
    ERROR_BAD_API_KEY: ErrorDetails.Error
    ERROR_NOT_LOGGED_IN: ErrorDetails.Error
    ERROR_INVALID_AUTH_ID: ErrorDetails.Error
    ERROR_NOT_HIGH_ENOUGH_PERMISSIONS: ErrorDetails.Error
    ERROR_BAD_MODEL_NAME: ErrorDetails.Error
    ERROR_USER_NOT_FOUND: ErrorDetails.Error
    ERROR_FREE_USER_RATE_LIMIT_EXCEEDED: ErrorDetails.Error
    ERROR_PRO_USER_RATE_LIMIT_EXCEEDED: ErrorDetails.Error
    ERROR_FREE_USER_USAGE_LIMIT: ErrorDetails.Error
    ERROR_PRO_USER_USAGE_LIMIT: ErrorDetails.Error
    ERROR_AUTH_TOKEN_NOT_FOUND: ErrorDetails.Error
    ERROR_AUTH_TOKEN_EXPIRED: ErrorDetails.Error
    ERROR_OPENAI: ErrorDetails.Error
    ERROR_OPENAI_RATE_LIMIT_EXCEEDED: ErrorDetails.Error
    ERROR_OPENAI_ACCOUNT_LIMIT_EXCEEDED: ErrorDetails.Error
    ERROR_TASK_UUID_NOT_FOUND: ErrorDetails.Error
    ERROR_TASK_NO_PERMISSIONS: ErrorDetails.Error
    ERROR_AGENT_REQUIRES_LOGIN: ErrorDetails.Error
    ERROR_AGENT_ENGINE_NOT_FOUND: ErrorDetails.Error
    ERROR_MAX_TOKENS: ErrorDetails.Error
    ERROR_USER_ABORTED_REQUEST: ErrorDetails.Error
    ERROR_GENERIC_RATE_LIMIT_EXCEEDED: ErrorDetails.Error
    ERROR_PRO_USER_ONLY: ErrorDetails.Error
    ERROR_API_KEY_NOT_SUPPORTED: ErrorDetails.Error
    ERROR_TIMEOUT: ErrorDetails.Error
    ERROR_SLASH_EDIT_FILE_TOO_LONG: ErrorDetails.Error
    ERROR_FILE_UNSUPPORTED: ErrorDetails.Error
    ERROR_GPT_4_VISION_PREVIEW_RATE_LIMIT: ErrorDetails.Error
    ERROR_CUSTOM_MESSAGE: ErrorDetails.Error
    ERROR_OUTDATED_CLIENT: ErrorDetails.Error
    ERROR_CLAUDE_IMAGE_TOO_LARGE: ErrorDetails.Error
    ERROR_GITGRAPH_NOT_FOUND: ErrorDetails.Error
    ERROR_FILE_NOT_FOUND: ErrorDetails.Error
    ERROR_API_KEY_RATE_LIMIT: ErrorDetails.Error
    ERROR_DEBOUNCED: ErrorDetails.Error
    ERROR_BAD_REQUEST: ErrorDetails.Error
    ERROR_REPOSITORY_SERVICE_REPOSITORY_IS_NOT_INITIALIZED: ErrorDetails.Error
    ERROR_UNAUTHORIZED: ErrorDetails.Error
    ERROR_NOT_FOUND: ErrorDetails.Error
    ERROR_DEPRECATED: ErrorDetails.Error
    ERROR_RESOURCE_EXHAUSTED: ErrorDetails.Error
    ERROR_BAD_USER_API_KEY: ErrorDetails.Error
    ERROR_CONVERSATION_TOO_LONG: ErrorDetails.Error
    ERROR_USAGE_PRICING_REQUIRED: ErrorDetails.Error
    ERROR_USAGE_PRICING_REQUIRED_CHANGEABLE: ErrorDetails.Error
    ERROR_GITHUB_NO_USER_CREDENTIALS: ErrorDetails.Error
    ERROR_GITHUB_USER_NO_ACCESS: ErrorDetails.Error
    ERROR_GITHUB_APP_NO_ACCESS: ErrorDetails.Error
    ERROR_GITHUB_MULTIPLE_OWNERS: ErrorDetails.Error
    ERROR_RATE_LIMITED: ErrorDetails.Error
    ERROR_RATE_LIMITED_CHANGEABLE: ErrorDetails.Error
    ERROR_CUSTOM: ErrorDetails.Error
    ERROR_HOOKS_BLOCKED: ErrorDetails.Error
    ERROR_SUSPICIOUS_USAGE_BLOCKED: ErrorDetails.Error
    ERROR_EXTENSION_HOST_TIMEOUT: ErrorDetails.Error
    ERROR_NETWORK_ERROR: ErrorDetails.Error
    ERROR_PROVIDER_ERROR: ErrorDetails.Error
    ERROR_MODEL_BLOCKED: ErrorDetails.Error
    ERROR_INTERNAL: ErrorDetails.Error
    ERROR_MAX_MODE_REQUIRED: ErrorDetails.Error
    ERROR_MODEL_NO_LONGER_SUPPORTED: ErrorDetails.Error
    ERROR_PRICING_WARNING: ErrorDetails.Error
    ERROR_SLOW_POOL: ErrorDetails.Error
    ERROR_UNSUPPORTED_REGION: ErrorDetails.Error
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    IS_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    error: ErrorDetails.Error
    details: CustomErrorDetails
    is_expected: bool
    def __init__(self, error: _Optional[_Union[ErrorDetails.Error, str]] = ..., details: _Optional[_Union[CustomErrorDetails, _Mapping]] = ..., is_expected: _Optional[bool] = ...) -> None: ...

class AvailableModelsRequest(_message.Message):
    __slots__ = ("is_nightly", "include_long_context_models", "exclude_max_named_models", "additional_model_names")
    IS_NIGHTLY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_LONG_CONTEXT_MODELS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MAX_NAMED_MODELS_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    is_nightly: bool
    include_long_context_models: bool
    exclude_max_named_models: bool
    additional_model_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, is_nightly: _Optional[bool] = ..., include_long_context_models: _Optional[bool] = ..., exclude_max_named_models: _Optional[bool] = ..., additional_model_names: _Optional[_Iterable[str]] = ...) -> None: ...

class AvailableModelsResponse(_message.Message):
    __slots__ = ("models", "composer_model_config", "cmd_k_model_config", "background_composer_model_config", "plan_execution_model_config", "spec_model_config", "deep_search_model_config", "quick_agent_model_config")
    class DegradationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DEGRADATION_STATUS_UNSPECIFIED: _ClassVar[AvailableModelsResponse.DegradationStatus]
        DEGRADATION_STATUS_DEGRADED: _ClassVar[AvailableModelsResponse.DegradationStatus]
        DEGRADATION_STATUS_DISABLED: _ClassVar[AvailableModelsResponse.DegradationStatus]
    DEGRADATION_STATUS_UNSPECIFIED: AvailableModelsResponse.DegradationStatus
    DEGRADATION_STATUS_DEGRADED: AvailableModelsResponse.DegradationStatus
    DEGRADATION_STATUS_DISABLED: AvailableModelsResponse.DegradationStatus
    class TooltipData(_message.Message):
        __slots__ = ("primary_text", "secondary_text", "secondary_warning_text", "icon", "tertiary_text", "tertiary_text_url", "markdown_content")
        PRIMARY_TEXT_FIELD_NUMBER: _ClassVar[int]
        SECONDARY_TEXT_FIELD_NUMBER: _ClassVar[int]
        SECONDARY_WARNING_TEXT_FIELD_NUMBER: _ClassVar[int]
        ICON_FIELD_NUMBER: _ClassVar[int]
        TERTIARY_TEXT_FIELD_NUMBER: _ClassVar[int]
        TERTIARY_TEXT_URL_FIELD_NUMBER: _ClassVar[int]
        MARKDOWN_CONTENT_FIELD_NUMBER: _ClassVar[int]
        primary_text: str
        secondary_text: str
        secondary_warning_text: bool
        icon: str
        tertiary_text: str
        tertiary_text_url: str
        markdown_content: str
        def __init__(self, primary_text: _Optional[str] = ..., secondary_text: _Optional[str] = ..., secondary_warning_text: _Optional[bool] = ..., icon: _Optional[str] = ..., tertiary_text: _Optional[str] = ..., tertiary_text_url: _Optional[str] = ..., markdown_content: _Optional[str] = ...) -> None: ...
    class AvailableModel(_message.Message):
        __slots__ = ("name", "default_on", "is_long_context_only", "is_chat_only", "supports_agent", "degradation_status", "price", "tooltip_data", "supports_thinking", "supports_images", "supports_max_mode", "context_token_limit", "context_token_limit_for_max_mode", "client_display_name", "server_model_name", "supports_non_max_mode", "tooltip_data_for_max_mode", "is_recommended_for_background_composer", "supports_plan_mode", "inputbox_short_model_name", "supports_sandboxing", "supports_cmd_k", "background_composer_sort_order")
        NAME_FIELD_NUMBER: _ClassVar[int]
        DEFAULT_ON_FIELD_NUMBER: _ClassVar[int]
        IS_LONG_CONTEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
        IS_CHAT_ONLY_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_AGENT_FIELD_NUMBER: _ClassVar[int]
        DEGRADATION_STATUS_FIELD_NUMBER: _ClassVar[int]
        PRICE_FIELD_NUMBER: _ClassVar[int]
        TOOLTIP_DATA_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_THINKING_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_IMAGES_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_TOKEN_LIMIT_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_TOKEN_LIMIT_FOR_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
        CLIENT_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
        SERVER_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_NON_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
        TOOLTIP_DATA_FOR_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
        IS_RECOMMENDED_FOR_BACKGROUND_COMPOSER_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_PLAN_MODE_FIELD_NUMBER: _ClassVar[int]
        INPUTBOX_SHORT_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_SANDBOXING_FIELD_NUMBER: _ClassVar[int]
        SUPPORTS_CMD_K_FIELD_NUMBER: _ClassVar[int]
        BACKGROUND_COMPOSER_SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
        name: str
        default_on: bool
        is_long_context_only: bool
        is_chat_only: bool
        supports_agent: bool
        degradation_status: AvailableModelsResponse.DegradationStatus
        price: float
        tooltip_data: AvailableModelsResponse.TooltipData
        supports_thinking: bool
        supports_images: bool
        supports_max_mode: bool
        context_token_limit: int
        context_token_limit_for_max_mode: int
        client_display_name: str
        server_model_name: str
        supports_non_max_mode: bool
        tooltip_data_for_max_mode: AvailableModelsResponse.TooltipData
        is_recommended_for_background_composer: bool
        supports_plan_mode: bool
        inputbox_short_model_name: str
        supports_sandboxing: bool
        supports_cmd_k: bool
        background_composer_sort_order: int
        def __init__(self, name: _Optional[str] = ..., default_on: _Optional[bool] = ..., is_long_context_only: _Optional[bool] = ..., is_chat_only: _Optional[bool] = ..., supports_agent: _Optional[bool] = ..., degradation_status: _Optional[_Union[AvailableModelsResponse.DegradationStatus, str]] = ..., price: _Optional[float] = ..., tooltip_data: _Optional[_Union[AvailableModelsResponse.TooltipData, _Mapping]] = ..., supports_thinking: _Optional[bool] = ..., supports_images: _Optional[bool] = ..., supports_max_mode: _Optional[bool] = ..., context_token_limit: _Optional[int] = ..., context_token_limit_for_max_mode: _Optional[int] = ..., client_display_name: _Optional[str] = ..., server_model_name: _Optional[str] = ..., supports_non_max_mode: _Optional[bool] = ..., tooltip_data_for_max_mode: _Optional[_Union[AvailableModelsResponse.TooltipData, _Mapping]] = ..., is_recommended_for_background_composer: _Optional[bool] = ..., supports_plan_mode: _Optional[bool] = ..., inputbox_short_model_name: _Optional[str] = ..., supports_sandboxing: _Optional[bool] = ..., supports_cmd_k: _Optional[bool] = ..., background_composer_sort_order: _Optional[int] = ...) -> None: ...
    class FeatureModelConfig(_message.Message):
        __slots__ = ("default_model", "fallback_models", "best_of_n_default_models")
        DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
        FALLBACK_MODELS_FIELD_NUMBER: _ClassVar[int]
        BEST_OF_N_DEFAULT_MODELS_FIELD_NUMBER: _ClassVar[int]
        default_model: str
        fallback_models: _containers.RepeatedScalarFieldContainer[str]
        best_of_n_default_models: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, default_model: _Optional[str] = ..., fallback_models: _Optional[_Iterable[str]] = ..., best_of_n_default_models: _Optional[_Iterable[str]] = ...) -> None: ...
    MODELS_FIELD_NUMBER: _ClassVar[int]
    COMPOSER_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CMD_K_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_COMPOSER_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    PLAN_EXECUTION_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SPEC_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DEEP_SEARCH_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    QUICK_AGENT_MODEL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[AvailableModelsResponse.AvailableModel]
    composer_model_config: AvailableModelsResponse.FeatureModelConfig
    cmd_k_model_config: AvailableModelsResponse.FeatureModelConfig
    background_composer_model_config: AvailableModelsResponse.FeatureModelConfig
    plan_execution_model_config: AvailableModelsResponse.FeatureModelConfig
    spec_model_config: AvailableModelsResponse.FeatureModelConfig
    deep_search_model_config: AvailableModelsResponse.FeatureModelConfig
    quick_agent_model_config: AvailableModelsResponse.FeatureModelConfig
    def __init__(self, models: _Optional[_Iterable[_Union[AvailableModelsResponse.AvailableModel, _Mapping]]] = ..., composer_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., cmd_k_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., background_composer_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., plan_execution_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., spec_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., deep_search_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ..., quick_agent_model_config: _Optional[_Union[AvailableModelsResponse.FeatureModelConfig, _Mapping]] = ...) -> None: ...
