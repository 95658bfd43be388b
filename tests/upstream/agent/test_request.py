"""The agent run request: transcript, tools, images, model, request context (agent-v1 §4, §7)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.neutral.model import (
    ChatRequest,
    Image,
    Message,
    ModelInfo,
    Prompt,
    PromptMessage,
    ReplayedResult,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)
from gateway.tools.encode import native_prompt, plain_prompt
from gateway.upstream.agent.decode import to_python
from gateway.upstream.agent.request import (
    ALLOWED_WITH_TOOLS,
    BUILTIN_TOOL_NAMES,
    CONTINUE_LINE,
    PROVIDER,
    build_run,
    requested_model_id,
    tool_names,
    transcript,
)
from gateway.upstream.pb import agent_v1_pb2 as pb

PNG = Image(b"\x89PNG\r\n\x1a\nfake", "image/png", 3, 2)


def spec(name: str, schema: dict[str, object] | None = None, description: str = "") -> ToolSpec:
    schema = schema if schema is not None else {"type": "object", "properties": {"path": {"type": "string"}}}
    return ToolSpec(name, description, schema, json.dumps(schema, separators=(",", ":")))


def chat(*messages: Message, system: str = "", tools: tuple[ToolSpec, ...] = (), model: str = "gpt-4o"):
    return ChatRequest(model=resolve(model), system=system, messages=messages, stream=True, tools=tools)


def run(chat_request: ChatRequest, prompt: Prompt | None = None, **kwargs: object):
    prompt = prompt or plain_prompt(chat_request)
    images = sum(len(m.images) for m in prompt.messages if m.role == "user")
    return build_run(
        chat_request,
        prompt,
        run_id="run-1",
        conversation_id="conv-1",
        message_id="msg-1",
        image_ids=tuple(f"img-{i}" for i in range(images)),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_plain_chat_sends_the_text_as_it_is():
    plan = run(chat(Message("user", "Hello there")))
    request = plan.run_request.run_request
    message = request.action.user_message_action.user_message
    assert message.text == "Hello there"
    assert message.message_id == "msg-1"
    assert message.mode == pb.AGENT_MODE_AGENT
    assert not message.HasField("selected_context")
    assert request.model_details.model_id == request.requested_model.model_id == "gpt-4o"
    assert request.conversation_id == request.conversation_group_id == "conv-1"
    assert request.run_id == "run-1"
    assert request.HasField("exclude_workspace_context") and not request.exclude_workspace_context
    assert not request.HasField("mcp_tools") and not request.HasField("client_supports_inline_images")
    assert plan.allowed_tools == ""
    assert plan.servers == ()


def test_the_empty_checkpoint_is_on_the_wire():
    """`conversation_state` is present and empty (field 1, length 0) for a new conversation."""
    raw = run(chat(Message("user", "hi"))).run_request.run_request.SerializeToString()
    assert raw.startswith(b"\x0a\x00")


def test_the_request_context_has_no_workspace_no_web_and_the_time_zone():
    plan = run(chat(Message("user", "hi")), time_zone="Europe/Berlin")
    context = plan.request_context
    assert context.env.time_zone == "Europe/Berlin"
    assert list(context.env.workspace_paths) == [] and context.env.project_folder == ""
    assert context.HasField("web_search_enabled") and not context.web_search_enabled
    assert context.HasField("web_fetch_enabled") and not context.web_fetch_enabled
    assert list(context.tools) == [] and list(context.mcp_instructions) == []


def test_system_text_and_history_become_a_role_labelled_transcript():
    request = chat(
        Message("user", "first question"),
        Message("assistant", "first answer"),
        Message("user", "second question"),
        system="Be brief.",
    )
    assert run(request).run_request.run_request.action.user_message_action.user_message.text == (
        "<system>\nBe brief.\n</system>\n\n"
        "<conversation>\n<user>\nfirst question\n</user>\n<assistant>\nfirst answer\n</assistant>\n</conversation>\n\n"
        "second question"
    )


def test_system_text_alone_precedes_the_message():
    assert transcript(Prompt("Rules.", (PromptMessage("user", "Go"),))) == "<system>\nRules.\n</system>\n\nGo"


def test_native_tool_history_is_replayed_as_calls_and_results_then_a_continue_line():
    tools = (spec("get_weather"),)
    request = chat(
        Message("user", "Weather in Paris?"),
        Message("assistant", "Let me look.", tool_calls=(ToolCall("call_1", "get_weather", '{"path":"x"}'),)),
        Message("tool", "", results=(ToolResult("call_1", "get_weather", "sunny", is_error=True),)),
        tools=tools,
    )
    prompt = native_prompt(request, ToolChoice())
    text = transcript(prompt)
    assert text == (
        "<conversation>\n<user>\nWeather in Paris?\n</user>\n"
        "<assistant>\nLet me look.\n</assistant>\n"
        '<assistant>\n<tool_call id="call_1" name="get_weather">\n{"path":"x"}\n</tool_call>\n</assistant>\n'
        '<tool_result id="call_1" name="get_weather" is_error="true">\nsunny\n</tool_result>\n'
        "</conversation>\n\n" + CONTINUE_LINE
    )


def test_several_calls_of_one_message_share_one_assistant_block():
    results = tuple(ReplayedResult(f"c{i}", "t", i, "{}", None, f"r{i}") for i in (1, 2))
    text = transcript(
        Prompt("", (PromptMessage("user", "go"), PromptMessage("assistant", "", tool_results=results)))
    )
    assert (
        text.count("<assistant>") == 1 and text.count("<tool_call ") == 2 and text.count("<tool_result ") == 2
    )
    assert text.index('<tool_result id="c1"') < text.index('<tool_result id="c2"')


def test_attribute_values_are_escaped():
    result = ReplayedResult('a"<b>&', 'n"', 1, "{}", None, "r")
    text = transcript(
        Prompt("", (PromptMessage("user", "go"), PromptMessage("assistant", "", tool_results=(result,))))
    )
    assert 'id="a&quot;&lt;b&gt;&amp;" name="n&quot;"' in text


def test_images_ride_along_in_order_and_are_marked_in_history():
    request = chat(
        Message("user", "look", images=(PNG,)),
        Message("assistant", "seen"),
        Message("user", "and this", images=(PNG, PNG)),
    )
    plan = run(request)
    message = plan.run_request.run_request.action.user_message_action.user_message
    images = list(message.selected_context.selected_images)
    assert [i.uuid for i in images] == ["img-0", "img-1", "img-2"]
    assert all(i.data == PNG.data and i.mime_type == "image/png" for i in images)
    assert (images[0].dimension.width, images[0].dimension.height) == (3, 2)
    assert plan.run_request.run_request.client_supports_inline_images is True
    assert "<user>\nlook\n[image 1]\n</user>" in message.text
    assert message.text.endswith("and this")


def test_every_image_needs_an_id():
    request = chat(Message("user", "look", images=(PNG,)))
    with pytest.raises(ValueError, match="ids"):
        build_run(request, plain_prompt(request), run_id="r", conversation_id="c", message_id="m")


def test_client_tools_are_declared_in_the_run_and_in_the_request_context():
    tools = (spec("write_to_file", description="Writes a file.\nMore."), spec("read_file"))
    request = chat(Message("user", "task"), tools=tools)
    plan = run(request, native_prompt(request, ToolChoice()))
    declared = list(plan.run_request.run_request.mcp_tools.mcp_tools)
    assert [d.name for d in declared] == [f"{PROVIDER}-read_file_", f"{PROVIDER}-write_to_file"]
    assert [d.tool_name for d in declared] == ["read_file_", "write_to_file"]
    assert all(d.provider_identifier == PROVIDER for d in declared)
    assert to_python(declared[0].input_schema) == tools[1].parameters
    assert declared[0].input_schema_json == tools[1].parameters_json
    assert list(plan.request_context.tools) == declared
    [instructions] = plan.request_context.mcp_instructions
    assert instructions.server_identifier == instructions.server_name == PROVIDER
    assert "- write_to_file: Writes a file." in instructions.instructions
    assert "- read_file_: (no description)" in instructions.instructions
    [server] = plan.servers
    assert list(server.tools) == declared and server.server_identifier == PROVIDER
    assert plan.allowed_tools == ALLOWED_WITH_TOOLS


def test_a_tool_without_parameters_gets_an_empty_object_schema():
    tool = ToolSpec("ping", "", {}, "")
    request = chat(Message("user", "x"), tools=(tool,))
    [declared] = run(
        request, native_prompt(request, ToolChoice())
    ).run_request.run_request.mcp_tools.mcp_tools
    assert to_python(declared.input_schema) == {"type": "object", "properties": {}}


def test_names_that_collide_with_cursors_tools_are_renamed_and_mapped_back():
    names = tool_names((spec("read"), spec("read_"), spec("Shell"), spec("mine")))
    assert names.to_wire == {"read": "read__", "read_": "read_", "Shell": "Shell_", "mine": "mine"}
    assert names.client_name("read__", "") == "read"
    assert names.client_name("read_", "") == "read_"
    assert names.client_name("", f"{PROVIDER}-Shell_") == "Shell"
    assert names.client_name("unknown", "x") == "unknown"
    assert names.client_name("", "x") == "x"


def test_a_thinking_twin_asks_for_cursors_thinking_variant():
    base = resolve("claude-sonnet-4-5-20250929")
    twin = resolve("claude-sonnet-4-5-20250929-thinking")
    assert base is not None and twin is not None
    assert requested_model_id(base) == "claude-4.5-sonnet"
    assert requested_model_id(twin) == "claude-4.5-sonnet-thinking"
    live = ModelInfo(
        "claude-4.5-opus-high-thinking", "claude-4.5-opus-high-thinking", True, "anthropic", 1, 1
    )
    assert requested_model_id(live) == "claude-4.5-opus-high-thinking"


names_strategy = st.lists(st.text("abcdREADWrite_shel", min_size=1, max_size=8), unique=True, max_size=8)


@given(names_strategy)
def test_wire_names_are_distinct_never_builtin_and_map_back(names):
    mapping = tool_names(tuple(spec(n) for n in names))
    wires = list(mapping.to_wire.values())
    assert len(set(wires)) == len(wires)
    assert not any(w.lower() in BUILTIN_TOOL_NAMES for w in wires)
    for name, wire in mapping.to_wire.items():
        assert mapping.client_name(wire, f"{PROVIDER}-{wire}") == name
        assert mapping.client_name("", f"{PROVIDER}-{wire}") == name


texts = st.text(max_size=40)
prompt_messages = st.lists(
    st.builds(PromptMessage, st.sampled_from(["user", "assistant"]), texts), min_size=1, max_size=6
)


@given(texts, prompt_messages)
def test_the_transcript_keeps_every_text_in_order(system, messages):
    text = transcript(Prompt(system, tuple(messages)))
    position = 0
    for piece in [system, *(m.text for m in messages)]:
        found = text.find(piece, position)
        assert found >= 0
        position = found + len(piece)
    if not system and len(messages) == 1 and messages[0].role == "user":
        assert text == messages[0].text
