"""The run request of one turn: `ChatRequest` + `Prompt` -> `AgentClientMessage{run_request}`.

Every client request is a fresh run: the gateway keeps no run open between requests and no
conversation state upstream (`conversation_state` is empty). The conversation is replayed as
text in the one user message (`transcript()`), because the run request has no field for earlier
turns that the model is known to see, and `custom_system_prompt` is refused for these clients:

* a prompt with no system text and a single user message is sent as that message's text;
* otherwise the system text comes first as `<system>…</system>`, the earlier turns as
  `<conversation>` with one `<user>`, `<assistant>`, `<tool_call id name>` (arguments) and
  `<tool_result id name [is_error]>` block each, then the last user message as it is (or, when
  the conversation ends with tool results, a line asking to continue). Images of earlier user
  messages are marked `[image N]` in their block; all images ride along as `selected_images`.

Client tools are declared as MCP tools of one synthetic server, `custom-user-tools`, as Cursor's
official SDK declares its custom tools: in the run request (`mcp_tools`) and in the request
context the server asks for. A name that is one of Cursor's own tool names is declared with `_`
appended (`ToolNames` maps it back). Cursor's own tools are restricted away with the
`x-cursor-agent-allowed-tools` header (`allowed_tools()`).

Pure: ids come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson
from google.protobuf import json_format, struct_pb2

from gateway.neutral.model import ChatRequest, Image, ModelInfo, Prompt, PromptMessage, ToolSpec
from gateway.upstream.pb import agent_v1_pb2 as pb

RUN_PATH: Final = "/agent.v1.AgentService/Run"
RUN_SSE_PATH: Final = "/agent.v1.AgentService/RunSSE"
BIDI_APPEND_PATH: Final = "/aiserver.v1.BidiService/BidiAppend"

PROVIDER: Final = "custom-user-tools"
PROVIDER_INSTRUCTIONS: Final = (
    "These tools belong to the user's own client and run on the user's machine. They are the only "
    "tools of this conversation: call them through MCP with their exact names and arguments that "
    "match their input schema."
)
# The ToolCall kinds a run with client tools may use (x-cursor-agent-allowed-tools): the MCP call
# and the MCP tool discovery, nothing of Cursor's own. Without client tools: none at all.
ALLOWED_WITH_TOOLS: Final = "mcp_tool_call,get_mcp_tools_tool_call"
THINKING_SUFFIX: Final = "-thinking"
CONTINUE_LINE: Final = "Continue the conversation above as the assistant."

# Cursor's own agent tool names (its ToolCall kinds, the names its models are trained on, and the
# names of its earlier chat tools). A client tool of one of these names is renamed on the wire.
BUILTIN_TOOL_NAMES: Final = frozenset(
    {
        "apply_patch",
        "ask_question",
        "bash",
        "codebase_search",
        "create_plan",
        "delete",
        "delete_file",
        "edit",
        "edit_file",
        "fetch",
        "file_search",
        "generate_image",
        "get_mcp_tools",
        "glob",
        "grep",
        "grep_search",
        "list_dir",
        "list_mcp_resources",
        "ls",
        "mcp",
        "multi_edit",
        "read",
        "read_file",
        "read_lints",
        "read_mcp_resource",
        "read_todos",
        "run_terminal_cmd",
        "search_replace",
        "sem_search",
        "shell",
        "switch_mode",
        "task",
        "todo_write",
        "update_todos",
        "web_fetch",
        "web_search",
        "write",
        "write_file",
        "write_shell_stdin",
    }
)


@dataclass(frozen=True, slots=True)
class ToolNames:
    """Client tool names <-> the names declared upstream (`wire`)."""

    to_wire: dict[str, str]
    to_client: dict[str, str]

    def client_name(self, tool_name: str, name: str) -> str:
        """The client's name for a call's `tool_name` (preferred) or full `name`, else as given."""
        for candidate in (tool_name, name.removeprefix(PROVIDER + "-")):
            if candidate in self.to_client:
                return self.to_client[candidate]
        return tool_name or name


def tool_names(tools: tuple[ToolSpec, ...]) -> ToolNames:
    """Each client name, with `_` appended while it is a built-in name or already taken."""
    taken = {t.name for t in tools}
    to_wire: dict[str, str] = {}
    for tool in tools:
        wire = tool.name
        if wire.lower() in BUILTIN_TOOL_NAMES:
            wire += "_"
            while wire.lower() in BUILTIN_TOOL_NAMES or wire in taken:
                wire += "_"
            taken.add(wire)
        to_wire[tool.name] = wire
    return ToolNames(to_wire, {wire: name for name, wire in to_wire.items()})


def allowed_tools(prompt: Prompt) -> str:
    """The `x-cursor-agent-allowed-tools` value: the MCP family with client tools, else none."""
    return ALLOWED_WITH_TOOLS if prompt.mcp_tools else ""


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One run: the first client message and what the server's questions are answered with."""

    run_request: pb.AgentClientMessage
    request_context: pb.RequestContext
    servers: tuple[pb.McpStateServer, ...]
    names: ToolNames
    allowed_tools: str


def build_run(
    chat: ChatRequest,
    prompt: Prompt,
    *,
    run_id: str,
    conversation_id: str,
    message_id: str,
    image_ids: tuple[str, ...] = (),
    time_zone: str = "UTC",
) -> RunPlan:
    """The run of one attempt. `image_ids` name the images in order (one id per image)."""
    names = tool_names(prompt.mcp_tools)
    definitions = [_definition(tool, names.to_wire[tool.name]) for tool in prompt.mcp_tools]
    instructions = [_instructions(prompt.mcp_tools, names)] if prompt.mcp_tools else []
    context = pb.RequestContext(
        env=pb.RequestContextEnv(time_zone=time_zone),
        tools=definitions,
        mcp_instructions=instructions,
        web_search_enabled=False,
        web_fetch_enabled=False,
    )
    servers = (
        (
            pb.McpStateServer(
                server_name=PROVIDER, server_identifier=PROVIDER, tools=definitions, instructions=instructions
            ),
        )
        if definitions
        else ()
    )
    message = pb.UserMessage(text=transcript(prompt), message_id=message_id, mode=pb.AGENT_MODE_AGENT)
    images = [image for m in prompt.messages if m.role == "user" for image in m.images]
    if images:
        if len(image_ids) != len(images):
            raise ValueError(f"{len(images)} images need as many ids, got {len(image_ids)}")
        message.selected_context.selected_images.extend(
            _image(image, image_id) for image, image_id in zip(images, image_ids, strict=True)
        )
    model_id = requested_model_id(chat.model)
    run = pb.AgentRunRequest(
        action=pb.ConversationAction(user_message_action=pb.UserMessageAction(user_message=message)),
        model_details=pb.ModelDetails(model_id=model_id),
        requested_model=pb.RequestedModel(model_id=model_id),
        conversation_id=conversation_id,
        exclude_workspace_context=False,
        conversation_group_id=conversation_id,
        run_id=run_id,
    )
    run.conversation_state.SetInParent()  # a new conversation: an empty checkpoint, present
    if definitions:
        run.mcp_tools.mcp_tools.extend(definitions)
    if images:
        run.client_supports_inline_images = True
    return RunPlan(
        run_request=pb.AgentClientMessage(run_request=run),
        request_context=context,
        servers=servers,
        names=names,
        allowed_tools=allowed_tools(prompt),
    )


def requested_model_id(model: ModelInfo) -> str:
    """The model id a run asks for: Cursor's flat name, `-thinking` for a thinking twin.

    Cursor lists its thinking variants under their own flat names (`claude-4.5-sonnet-thinking`);
    the run request has no thinking-level field, so a twin asks for that variant by name.
    """
    name = model.upstream_name
    if model.thinking and not name.endswith(THINKING_SUFFIX):
        return name + THINKING_SUFFIX
    return name


def _definition(tool: ToolSpec, wire: str) -> pb.McpToolDefinition:
    schema = struct_pb2.Value()
    json_format.ParseDict(orjson.loads(tool.schema_json), schema)
    return pb.McpToolDefinition(
        name=f"{PROVIDER}-{wire}",
        description=tool.description,
        input_schema=schema,
        provider_identifier=PROVIDER,
        tool_name=wire,
        input_schema_json=tool.schema_json,
    )


def _instructions(tools: tuple[ToolSpec, ...], names: ToolNames) -> pb.McpInstructions:
    lines = [PROVIDER_INSTRUCTIONS]
    for tool in tools:
        summary = tool.description.strip().splitlines()[0] if tool.description.strip() else "(no description)"
        lines.append(f"- {names.to_wire[tool.name]}: {summary}")
    return pb.McpInstructions(server_name=PROVIDER, instructions="\n".join(lines), server_identifier=PROVIDER)


def _image(image: Image, image_id: str) -> pb.SelectedImage:
    return pb.SelectedImage(
        data=image.data,
        uuid=image_id,
        mime_type=image.media_type,
        dimension=pb.SelectedImage.Dimension(width=image.width, height=image.height),
    )


# ---------------------------------------------------------------- the conversation as text


def transcript(prompt: Prompt) -> str:
    """The user message text of a run: the whole conversation, role-labelled (see the module doc)."""
    messages = list(prompt.messages)
    last = (
        messages.pop() if messages and messages[-1].role == "user" and not messages[-1].tool_results else None
    )
    if not prompt.system and not messages:
        return last.text if last is not None else ""
    parts: list[str] = []
    if prompt.system:
        parts.append(f"<system>\n{prompt.system}\n</system>")
    if messages:
        blocks: list[str] = []
        image_number = 0
        for message in messages:
            block, image_number = _block(message, image_number)
            blocks.append(block)
        parts.append("<conversation>\n" + "\n".join(blocks) + "\n</conversation>")
    parts.append(last.text if last is not None else CONTINUE_LINE)
    return "\n\n".join(parts)


def _block(message: PromptMessage, image_number: int) -> tuple[str, int]:
    if message.role == "user":
        marks = []
        for _ in message.images:
            image_number += 1
            marks.append(f"[image {image_number}]")
        text = "\n".join([message.text, *marks]) if marks else message.text
        return f"<user>\n{text}\n</user>", image_number
    lines: list[str] = []
    if message.text or not message.tool_results:
        lines.append(f"<assistant>\n{message.text}\n</assistant>")
    if message.tool_results:
        calls = [
            f"<tool_call {_attributes(r.tool_call_id, r.name)}>\n{r.raw_args}\n</tool_call>"
            for r in message.tool_results
        ]
        lines.append("<assistant>\n" + "\n".join(calls) + "\n</assistant>")
        for result in message.tool_results:
            error = ' is_error="true"' if result.is_error else ""
            lines.append(
                f"<tool_result {_attributes(result.tool_call_id, result.name)}{error}>\n{result.content}\n</tool_result>"
            )
    return "\n".join(lines), image_number


def _attributes(call_id: str, name: str) -> str:
    return f'id="{_attribute(call_id)}" name="{_attribute(name)}"'


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
