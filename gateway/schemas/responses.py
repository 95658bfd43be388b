"""OpenAI Responses API request (`POST /v1/responses`): parse the body and validate it, naming the
failing field in `param` (`input[2].content[0].image_url`).

`parse_responses_body(raw)` is the only entry point. `input` (a string, or a list of items) becomes
the same validated `ChatMessage`s a chat body has: message items (roles `user`, `system`,
`developer`, `assistant`), and the assistant's `function_call` / `custom_tool_call` items with
their `*_output` results. A run of assistant-side items (its messages and calls) is one assistant
turn, and the results after it answer its calls (the pairing rules of chat, H2-H3). `reasoning`
items are accepted and not sent upstream (H9).

Tools: `function`; `custom` (free-form text input, e.g. Codex's `apply_patch`), offered upstream as
a function with one string property `input` whose description carries the tool's grammar; and
`namespace` (a group of function and custom tools), flattened to `<namespace>__<name>`. Which names
are custom or namespaced is kept in `ToolKinds`, so answers are rendered back in the client's terms.
Built-in tools (web search, file search, computer use, code interpreter, image generation, MCP,
shells, …) run on OpenAI's servers and get a 400 naming `tools[i].type`.

Responses are not stored: `previous_response_id` and `conversation` are a 400 that asks for the
whole conversation in `input`. Only the gateway's own recent output items are kept (in memory,
`chat/item_store.py`), so an `item_reference` to one of them is read through `lookup`; any other
reference is a 400 `item_not_found`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import orjson

from gateway import client_schema
from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice
from gateway.schemas.common import (
    MAX_IMAGES,
    TOOL_NAME_RE,
    Check,
    ImageRef,
    ToolDef,
    check_history,
    check_parameters,
    check_user,
    checked_choice,
    function_tool,
    integer,
    load_object,
    number,
    of_type,
    one_of,
    required_model,
    response_format,
    tool_array,
    tool_name,
    unique_tool,
    unsupported,
)
from gateway.schemas.openai import MAX_MESSAGES, ChatMessage

NAMESPACE_SEPARATOR: Final = "__"
MAX_GRAMMAR_CHARS: Final = 64 * 1024  # a custom tool's grammar, carried in its description
MAX_METADATA_KEYS: Final = 16
MAX_METADATA_KEY: Final = 64
MAX_METADATA_VALUE: Final = 512
USER_ROLES: Final = frozenset({"user", "system", "developer"})
ASSISTANT_ITEMS: Final = frozenset({"function_call", "custom_tool_call", "reasoning"})
RESULT_ITEMS: Final = frozenset({"function_call_output", "custom_tool_call_output"})
# Tool types that run on OpenAI's side (or need OpenAI's client protocol for them).
BUILT_IN_TOOLS: Final = (
    "web_search, web_search_preview, file_search, computer_use_preview, computer, code_interpreter, "
    "image_generation, mcp, local_shell, shell, apply_patch, tool_search"
)
Lookup = Callable[[str], Mapping[str, object] | None]
STORE_HINT: Final = (
    "This gateway does not store responses: send the whole conversation in 'input' (earlier messages, "
    "function calls and their outputs) and leave '{param}' out."
)
INPUT_TEXT_PARTS: Final = frozenset({"input_text", "text"})
OUTPUT_TEXT_PARTS: Final = frozenset({"output_text", "input_text", "text"})


@dataclass(frozen=True, slots=True)
class ToolKinds:
    """How the client declared the tools whose calls are not plain functions: `custom` names (their
    calls are `custom_tool_call` items with a text `input`) and namespaced names (flattened name ->
    namespace and the name inside it)."""

    custom: frozenset[str] = frozenset()
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponsesBody:
    model: str
    instructions: str
    messages: tuple[ChatMessage, ...]
    stream: bool
    tools: tuple[ToolDef, ...] = ()
    tool_choice: ToolChoice | None = None  # None: the client sent none
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    kinds: ToolKinds = field(default_factory=ToolKinds)
    store: bool = True  # keep this answer's output items for later `item_reference`s
    # The request's parameters as the response object repeats them (JSON values, validated).
    echo: Mapping[str, object] = field(default_factory=dict)

    @property
    def image_refs(self) -> tuple[ImageRef, ...]:
        return tuple(ref for m in self.messages for ref in m.images)


def _nothing(item_id: str) -> Mapping[str, object] | None:
    return None


def parse_responses_body(raw: bytes, lookup: Lookup = _nothing) -> ResponsesBody:
    """Parse and validate a `/v1/responses` body; `lookup` finds the item an `item_reference` names."""
    data = load_object(raw)
    model = required_model(data)
    _refuse_stored_state(data)
    check_parameters(data, _PARAMETER_CHECKS)
    instructions = data.get("instructions")
    tools, kinds = _tools(data.get("tools"))
    choice = _tool_choice(data.get("tool_choice"), tools, kinds)
    messages = _input(data.get("input"), kinds, lookup)
    reasoning = _object(data, "reasoning")
    text = _object(data, "text")
    effort = reasoning.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise InvalidRequest(
            "'reasoning.effort' must be a string.", param="reasoning.effort", code="invalid_type"
        )
    check_parameters(reasoning, {"summary": one_of("auto", "concise", "detailed")}, "reasoning.")
    check_parameters(text, {"verbosity": one_of("low", "medium", "high")}, "text.")
    max_output_tokens = data.get("max_output_tokens")
    return ResponsesBody(
        model=model,
        instructions=instructions if isinstance(instructions, str) else "",
        messages=messages,
        stream=data.get("stream") is True,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=data.get("parallel_tool_calls") is not False,
        max_output_tokens=max_output_tokens if isinstance(max_output_tokens, int) else None,
        response_format=response_format(text.get("format"), "text.format", nested=False),
        reasoning_effort=effort,
        kinds=kinds,
        store=data.get("store") is not False,
        echo=_echo(data, reasoning, text),
    )


def _object(data: Mapping[str, object], name: str) -> dict[str, object]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{name}' must be an object.", param=name, code="invalid_type")
    return value


def _refuse_stored_state(data: Mapping[str, object]) -> None:
    for name in ("previous_response_id", "conversation"):
        if data.get(name) is not None:
            raise unsupported(STORE_HINT.format(param=name), name)
    if data.get("prompt") is not None:
        raise unsupported("Stored prompt templates ('prompt') are not available; send 'input'.", "prompt")
    if data.get("background") is True:
        raise unsupported("Background responses are not available; leave 'background' out.", "background")
    top_logprobs = data.get("top_logprobs")
    if isinstance(top_logprobs, int) and top_logprobs > 0:
        raise unsupported(
            "Log probabilities are not available: Cursor does not return token probabilities.", "top_logprobs"
        )
    include = data.get("include")
    if isinstance(include, list) and "message.output_text.logprobs" in include:
        raise unsupported(
            "Log probabilities are not available: Cursor does not return token probabilities.", "include"
        )


def _check_metadata(name: str, value: object) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{name}' must be an object.", param=name, code="invalid_type")
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"'{name}' may have at most {MAX_METADATA_KEYS} keys.", param=name, code="invalid_value"
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY or not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"'{name}' keys must be at most {MAX_METADATA_KEY} characters and values strings of at most "
                f"{MAX_METADATA_VALUE}.",
                param=f"{name}.{key}",
                code="invalid_value",
            )


def _check_include(name: str, value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"'{name}' must be an array of strings.", param=name, code="invalid_type")


_PARAMETER_CHECKS: Final[dict[str, Check]] = {
    "stream": of_type(bool, "a boolean"),
    "instructions": of_type(str, "a string"),
    # Any positive integer: a value above the model's output limit is lowered to it.
    "max_output_tokens": integer(1, 2**64),
    "max_tool_calls": integer(1, 10_000_000),
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "top_logprobs": integer(0, 20),
    "parallel_tool_calls": of_type(bool, "a boolean"),
    "store": of_type(bool, "a boolean"),
    "background": of_type(bool, "a boolean"),
    "metadata": _check_metadata,
    "user": check_user,
    "safety_identifier": check_user,
    "prompt_cache_key": of_type(str, "a string"),
    "truncation": one_of("auto", "disabled"),
    "service_tier": one_of("auto", "default", "flex", "scale", "priority"),
    "include": _check_include,
    "stream_options": of_type(dict, "an object"),
}

# Echoed as sent (OpenAI's default when absent); the rest of the response object is built by the renderer.
_ECHOED: Final[dict[str, object]] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": None,
    "top_p": None,
    "truncation": "disabled",
    "user": None,
    "safety_identifier": None,
    "prompt_cache_key": None,
    "service_tier": None,
}


def _echo(
    data: Mapping[str, object], reasoning: Mapping[str, object], text: Mapping[str, object]
) -> dict[str, object]:
    echo = {name: data[name] if data.get(name) is not None else default for name, default in _ECHOED.items()}
    echo["reasoning"] = {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
    echo["text"] = {
        "format": text.get("format") or {"type": "text"},
        "verbosity": text.get("verbosity") or "medium",
    }
    echo["store"] = data.get("store") is not False
    echo["previous_response_id"] = None
    echo["background"] = False
    return echo


# ---------------------------------------------------------------- tools


def qualified(namespace: str, name: str) -> str:
    """The flattened name a namespaced tool is offered upstream under."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}"


def _tools(value: object) -> tuple[tuple[ToolDef, ...], ToolKinds]:
    if value is None:
        return (), ToolKinds()
    tools: list[ToolDef] = []
    custom: set[str] = set()
    namespaced: dict[str, tuple[str, str]] = {}
    names: set[str] = set()

    def add(tool: ToolDef, name_param: str) -> None:
        tools.append(unique_tool(tool, names, name_param))

    items = tool_array(value)
    with client_schema.time_budget():  # one budget for the schemas of all tools together
        for i, item in enumerate(items):
            _declare(item, f"tools[{i}]", add, custom, namespaced)
    tool_array(value, count=len(tools))  # namespaces count their tools
    return tuple(tools), ToolKinds(frozenset(custom), namespaced)


def _declare(
    item: object,
    path: str,
    add: Callable[[ToolDef, str], None],
    custom: set[str],
    namespaced: dict[str, tuple[str, str]],
) -> None:
    """One entry of `tools`: a function or custom tool, or a namespace of them (flattened)."""
    kind = _tool_type(item, path)
    assert isinstance(item, dict)
    if kind != "namespace":
        tool = _tool(item, kind, path)
        if kind == "custom":
            custom.add(tool.name)
        add(tool, f"{path}.name")
        return
    space = tool_name(item.get("name"), f"{path}.name")
    if not isinstance(item.get("description"), str):
        raise InvalidRequest(
            f"'{path}.description' must be a string.", param=f"{path}.description", code="invalid_tools"
        )
    members = item.get("tools")
    if not isinstance(members, list) or not members:
        raise InvalidRequest(
            f"'{path}.tools' must be a non-empty array.", param=f"{path}.tools", code="invalid_tools"
        )
    for j, member in enumerate(members):
        at = f"{path}.tools[{j}]"
        member_kind = _tool_type(member, at)
        if member_kind not in ("function", "custom"):
            raise InvalidRequest(
                f"A namespace holds function and custom tools, not {member_kind!r}.",
                param=f"{at}.type",
                code="unsupported_tool_type",
            )
        assert isinstance(member, dict)
        inner = _tool(member, member_kind, at)
        flat = qualified(space, inner.name)
        if TOOL_NAME_RE.fullmatch(flat) is None:
            raise InvalidRequest(
                f"'{flat}' is longer than 128 characters.", param=f"{at}.name", code="invalid_tool_name"
            )
        namespaced[flat] = (space, inner.name)
        if member_kind == "custom":
            custom.add(flat)
        add(ToolDef(flat, inner.description, inner.parameters, inner.strict), f"{at}.name")


def _tool_type(item: object, path: str) -> str:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_tools")
    kind = item.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"'{path}.type' must be a string.", param=f"{path}.type", code="invalid_tools")
    if kind not in ("function", "custom", "namespace"):
        raise InvalidRequest(
            f"Tools of type {kind!r} are not available through this gateway: built-in tools ({BUILT_IN_TOOLS}) "
            'run on OpenAI\'s servers. Use "function" (or "custom") tools that your client runs itself.',
            param=f"{path}.type",
            code="unsupported_tool_type",
        )
    return kind


def _tool(item: Mapping[str, object], kind: str, path: str) -> ToolDef:
    if kind == "function":
        return function_tool(item, path)
    return _custom_tool(item, path)


def _custom_tool(item: Mapping[str, object], path: str) -> ToolDef:
    """A free-form tool, offered as a function taking its text in the one string property `input`."""
    base = function_tool({k: v for k, v in item.items() if k in ("name", "description")}, path)
    fmt = item.get("format")
    input_help = "The complete free-form text for this tool (not JSON)."
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "grammar"):
            raise InvalidRequest(
                f'\'{path}.format\' must be {{"type":"text"}} or {{"type":"grammar","syntax","definition"}}.',
                param=f"{path}.format",
                code="invalid_tools",
            )
        if fmt["type"] == "grammar":
            syntax, definition = fmt.get("syntax"), fmt.get("definition")
            if syntax not in ("lark", "regex"):
                raise InvalidRequest(
                    f'\'{path}.format.syntax\' must be "lark" or "regex".',
                    param=f"{path}.format.syntax",
                    code="invalid_tools",
                )
            if not isinstance(definition, str) or not definition or len(definition) > MAX_GRAMMAR_CHARS:
                raise InvalidRequest(
                    f"'{path}.format.definition' must be a non-empty string of at most {MAX_GRAMMAR_CHARS} characters.",
                    param=f"{path}.format.definition",
                    code="invalid_tools",
                )
            input_help += f" It must match this {syntax} grammar:\n{definition}"
    parameters: dict[str, object] = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": input_help}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return ToolDef(base.name, base.description, parameters, strict=True)


def _tool_choice(value: object, tools: Sequence[ToolDef], kinds: ToolKinds) -> ToolChoice | None:
    if value is None:
        return None
    if value in ("none", "auto", "required"):
        return checked_choice(ToolChoice(value), tools, label=value, name_param="tool_choice")
    if isinstance(value, dict) and value.get("type") in ("function", "custom"):
        name = value.get("name")
        if not isinstance(name, str):
            raise InvalidRequest(
                "'tool_choice.name' must be a string.", param="tool_choice.name", code="invalid_tool_choice"
            )
        if (value["type"] == "custom") != (name in kinds.custom):
            raise InvalidRequest(
                f"tool_choice names {name!r} as a {value['type']} tool, which 'tools' does not declare.",
                param="tool_choice.name",
                code="tool_choice_not_found",
            )
        return checked_choice(
            ToolChoice("named", name), tools, label=value["type"], name_param="tool_choice.name"
        )
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        raise InvalidRequest(
            f'tool_choice of type {value["type"]!r} is not supported; use "auto", "none", "required" or '
            '{"type":"function","name":...}.',
            param="tool_choice.type",
            code="unsupported_tool_choice",
        )
    raise InvalidRequest(
        '\'tool_choice\' must be "none", "auto", "required" or {"type":"function","name":...}.',
        param="tool_choice",
        code="invalid_tool_choice",
    )


# ---------------------------------------------------------------- input


@dataclass(slots=True)
class _Turns:
    """The messages being built, with the input path of every call and result (for history errors)."""

    kinds: ToolKinds
    lookup: Lookup
    messages: list[ChatMessage] = field(default_factory=list)
    call_paths: dict[tuple[int, int], str] = field(default_factory=dict)
    result_paths: dict[int, str] = field(default_factory=dict)
    run: int | None = None  # index of the assistant message the current run of items extends

    def assistant(self) -> int:
        if self.run is None:
            self.messages.append(ChatMessage("assistant", ""))
            self.run = len(self.messages) - 1
        return self.run

    def add_text(self, text: str) -> None:
        at = self.assistant()
        old = self.messages[at]
        joined = f"{old.text}\n{text}" if old.text and text else old.text or text
        self.messages[at] = ChatMessage("assistant", joined, old.tool_calls)

    def add_call(self, call: ToolCall, path: str) -> None:
        at = self.assistant()
        old = self.messages[at]
        if any(c.id == call.id for c in old.tool_calls):
            raise InvalidRequest(
                f"'{path}.call_id' repeats the call id {call.id!r} of an earlier call of this turn.",
                param=f"{path}.call_id",
                code="duplicate_tool_call_id",
            )
        self.call_paths[at, len(old.tool_calls)] = f"{path}.call_id"
        self.messages[at] = ChatMessage("assistant", old.text, (*old.tool_calls, call))

    def add(self, message: ChatMessage, result_path: str | None = None) -> None:
        self.run = None
        if result_path is not None:
            self.result_paths[len(self.messages)] = result_path
        self.messages.append(message)


def _input(value: object, kinds: ToolKinds, lookup: Lookup) -> tuple[ChatMessage, ...]:
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    if isinstance(value, str):
        return (ChatMessage("user", value),)
    if not isinstance(value, list):
        raise InvalidRequest(
            "'input' must be a string or an array of items.", param="input", code="invalid_type"
        )
    if not value:
        raise InvalidRequest("'input' must contain at least one item.", param="input", code="empty_messages")
    if len(value) > MAX_MESSAGES:
        raise InvalidRequest(
            f"'input' has more than {MAX_MESSAGES} items.", param="input", code="too_many_messages"
        )
    turns = _Turns(kinds, lookup)
    for i, item in enumerate(value):
        _item(turns, item, f"input[{i}]")
    messages = tuple(turns.messages)
    check_history(
        messages,
        call_param=lambda i, j: turns.call_paths[i, j],
        result_param=lambda i: turns.result_paths[i],
    )
    if not any(m.role in ("user", "assistant", "tool") for m in messages):
        raise InvalidRequest(
            "'input' has no user message or tool output to answer.", param="input", code="empty_messages"
        )
    return messages


def _item(turns: _Turns, item: object, path: str, *, stored: bool = False) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path, code="invalid_type")
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = "message"
    if kind is not None and not isinstance(kind, str):
        raise InvalidRequest(f"'{path}.type' must be a string.", param=f"{path}.type", code="invalid_type")
    if kind == "message":
        _message(turns, item, path)
    elif kind in ASSISTANT_ITEMS:
        if kind == "reasoning":
            return  # H9: earlier reasoning is accepted and not sent upstream; it does not end a turn
        turns.add_call(_call(item, kind, path, turns.kinds), path)
    elif kind in RESULT_ITEMS:
        call_id = _string(item, "call_id", path)
        turns.add(
            ChatMessage(
                "tool", _text(item.get("output"), f"{path}.output", _output_part), tool_call_id=call_id
            ),
            f"{path}.call_id",
        )
    elif (kind == "item_reference" or (kind is None and "id" in item)) and not stored:
        _reference(turns, item, path)
    elif kind is not None:
        raise InvalidRequest(
            f"Input items of type {kind!r} are not supported: they belong to OpenAI's built-in tools or stored "
            "state. Send messages, function calls and their outputs.",
            param=f"{path}.type",
            code="unsupported_item_type",
        )
    else:
        raise InvalidRequest(f"'{path}.type' must be a string.", param=f"{path}.type", code="invalid_type")


def _reference(turns: _Turns, item: Mapping[str, object], path: str) -> None:
    """An `item_reference`: the stored item it names, read as if it had been sent."""
    item_id = _string(item, "id", path)
    found = turns.lookup(item_id)
    if found is None:
        raise InvalidRequest(
            f"'{path}' refers to the item {item_id!r}, which this gateway does not hold: it keeps only the "
            "output items of its recent responses, in memory (RESPONSES_ITEM_STORE_BYTES). Send the item "
            "itself (with the AI SDK: providerOptions.openai.store = false).",
            param=f"{path}.id",
            code="item_not_found",
        )
    _item(turns, found, path, stored=True)


def _string(item: Mapping[str, object], key: str, path: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            f"'{path}.{key}' must be a non-empty string.", param=f"{path}.{key}", code="invalid_type"
        )
    return value


def _call(item: Mapping[str, object], kind: str, path: str, kinds: ToolKinds) -> ToolCall:
    call_id = _string(item, "call_id", path)
    name = _string(item, "name", path)
    namespace = item.get("namespace")
    if namespace is not None:
        if not isinstance(namespace, str):
            raise InvalidRequest(
                f"'{path}.namespace' must be a string.", param=f"{path}.namespace", code="invalid_type"
            )
        name = qualified(namespace, name)
    if kind == "custom_tool_call":
        text = item.get("input")
        if not isinstance(text, str):
            raise InvalidRequest(
                f"'{path}.input' must be a string.", param=f"{path}.input", code="invalid_type"
            )
        return ToolCall(call_id, name, orjson.dumps({"input": text}).decode())
    arguments = item.get("arguments")
    if not isinstance(arguments, str):
        raise InvalidRequest(
            f"'{path}.arguments' must be a string.", param=f"{path}.arguments", code="invalid_type"
        )
    return ToolCall(call_id, name, arguments)


PartReader = Callable[[str, Mapping[str, object], str], str | None]


def _text(value: object, path: str, read: PartReader) -> str:
    """A string, or its parts' texts joined by "\\n"; `read(type, part, path)` gives a part's text
    (None: the part adds none) or raises the part's 400."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequest(
            f"'{path}' must be a string or an array of parts.", param=path, code="invalid_type"
        )
    texts: list[str] = []
    for i, part in enumerate(value):
        at = f"{path}[{i}]"
        text = read(_part_type(part, at), part, at)
        if text is not None:
            texts.append(text)
    return "\n".join(texts)


def _output_part(kind: str, part: Mapping[str, object], path: str) -> str:
    """A tool output's part: text is kept, images and files become a note (H6)."""
    if kind in INPUT_TEXT_PARTS or kind == "output_text":
        return _part_text(part, path)
    return f"[{kind} content omitted]"


def _assistant_part(kind: str, part: Mapping[str, object], path: str) -> str | None:
    if kind in OUTPUT_TEXT_PARTS:
        return _part_text(part, path)
    if kind == "refusal":
        refusal = part.get("refusal")
        if not isinstance(refusal, str):
            raise InvalidRequest(
                f"'{path}.refusal' must be a string.", param=f"{path}.refusal", code="invalid_type"
            )
        return refusal
    if kind in ("reasoning_text", "summary_text"):
        return None  # H9
    raise InvalidRequest(
        f"Unknown assistant content part type {kind!r}.", param=f"{path}.type", code="invalid_content_part"
    )


def _part_type(part: object, path: str) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise InvalidRequest(
            f"'{path}' must be an object with a string 'type'.", param=path, code="invalid_type"
        )
    kind: str = part["type"]
    return kind


def _part_text(part: Mapping[str, object], path: str) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"'{path}.text' must be a string.", param=f"{path}.text", code="invalid_type")
    return text


def _message(turns: _Turns, item: Mapping[str, object], path: str) -> None:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"Invalid role {role!r} in '{path}.role'; expected one of: assistant, developer, system, user.",
            param=f"{path}.role",
            code="invalid_role",
        )
    content = item.get("content")
    at = f"{path}.content"
    if role == "assistant":
        turns.add_text(_text(content, at, _assistant_part))
        return
    assert role in USER_ROLES
    images: list[ImageRef] = []

    def read(kind: str, part: Mapping[str, object], part_path: str) -> str | None:
        if kind in INPUT_TEXT_PARTS:
            return _part_text(part, part_path)
        if kind == "input_image" and role == "user":
            images.append(_image(part, part_path))
            if len(images) > MAX_IMAGES:
                raise InvalidRequest(
                    f"A message may carry at most {MAX_IMAGES} images.",
                    param=part_path,
                    code="too_many_images",
                )
            return None
        if kind in ("input_image", "input_file", "input_audio"):
            where = "only in user messages" if kind == "input_image" else "not through this gateway"
            raise InvalidRequest(
                f"Content parts of type {kind!r} are supported {where}.",
                param=f"{part_path}.type",
                code="unsupported_content",
            )
        raise InvalidRequest(
            f"Unknown content part type {kind!r}.", param=f"{part_path}.type", code="invalid_content_part"
        )

    text = _text(content, at, read)
    turns.add(ChatMessage(role, text, images=tuple(images)))


def _image(part: Mapping[str, object], path: str) -> ImageRef:
    if part.get("file_id") is not None:
        raise InvalidRequest(
            "Images by 'file_id' are not available (there is no file store); send 'image_url' as a data URL.",
            param=f"{path}.file_id",
            code="unsupported_content",
        )
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest(
            f"'{path}.image_url' must be a non-empty string.", param=f"{path}.image_url", code="invalid_type"
        )
    return ImageRef(url, path, f"{path}.image_url")
