"""Anthropic Messages request: parse the JSON body and validate it, naming the failing field.

`parse_messages_body(raw)` (POST /v1/messages) and `parse_messages_body(raw, count_tokens=True)`
(POST /v1/messages/count_tokens, where `max_tokens` is not taken) are the entry points. They return
a typed `MessagesBody` or raise `InvalidRequest` whose message names the JSON path of the problem
(`messages[2].content[0].source.media_type`), also kept as its `param`. Nothing past this module
sees untyped JSON.

What the conversation becomes: `system` (a string or text blocks) and the `system`-role messages
form the system text; consecutive messages of the same role are combined into one turn, as
Anthropic does. Text blocks are joined by a newline; `image` blocks (base64 or URL sources) are
image references; `tool_use` blocks are the assistant's calls (their `input` as compact JSON);
`tool_result` blocks (string or block content, `is_error`) answer the calls of the assistant turn
right before, each exactly once; `thinking` and `redacted_thinking` blocks are accepted and
dropped (H9). Blocks of Anthropic's server tools and other block types get a 400.

Tools are custom tools with an `input_schema` (tool-calls.md §7.1 applies). A tool with
`defer_loading: true` is offered only once a `tool_reference` block of a tool result names it
(client-side tool search); Anthropic's own tools (web search, bash, text editor, computer, code
execution, …) get a 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import orjson

from gateway.errors import InvalidRequest
from gateway.neutral.model import ResponseFormat, ToolCall, ToolChoice
from gateway.schemas.common import (
    MAX_IMAGES,
    Check,
    ImageRef,
    ToolDef,
    check_tool_schema,
    checked_choice,
    integer,
    load_json,
    number,
    of_type,
    required_model,
    response_schema,
    tool_catalog,
    tool_name,
)

Role = Literal["user", "assistant"]
ThinkingType = Literal["enabled", "adaptive", "between_tools", "disabled"]

MAX_MESSAGES: Final = 100_000  # Anthropic's documented limit
MAX_STOP_SEQUENCES: Final = 64
MIN_THINKING_BUDGET: Final = 1024
IMAGE_MEDIA_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
THINKING_TYPES: Final[tuple[ThinkingType, ...]] = ("enabled", "adaptive", "between_tools", "disabled")
EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
DROPPED_BLOCKS: Final = frozenset({"thinking", "redacted_thinking"})
TOOL_CHOICES: Final[dict[str, Literal["auto", "required", "named", "none"]]] = {
    "auto": "auto",
    "any": "required",
    "tool": "named",
    "none": "none",
}
# Top-level fields of Anthropic features this gateway cannot provide: a 400 rather than a silent no-op.
REFUSED_FIELDS: Final = {
    "container": "Code-execution containers are not available through this gateway.",
    "mcp_servers": "Anthropic's MCP connector is not available through this gateway; run MCP tools as client tools.",
}


@dataclass(frozen=True, slots=True)
class ResultBlock:
    """A `tool_result` block: the call it answers, its text, and whether the tool failed."""

    call_id: str
    content: str
    is_error: bool
    path: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One conversation turn: consecutive messages of one role, combined."""

    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ResultBlock, ...] = ()
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Thinking:
    """The `thinking` parameter: `budget` with `enabled`; `display` None means summarized."""

    type: ThinkingType
    budget: int | None = None
    display: Literal["summarized", "omitted"] | None = None

    @property
    def shown(self) -> bool:
        """Whether the answer carries thinking blocks."""
        return self.type != "disabled"


@dataclass(frozen=True, slots=True)
class MessagesBody:
    model: str
    system: str
    turns: tuple[Turn, ...]
    max_tokens: int | None  # None only for count_tokens
    stream: bool = False
    stop_sequences: tuple[str, ...] = ()
    tools: tuple[ToolDef, ...] = ()
    tool_choice: ToolChoice | None = None  # None: the client sent none
    parallel_tool_calls: bool = True
    thinking: Thinking | None = None
    effort: str | None = None  # output_config.effort
    response_format: ResponseFormat | None = None  # output_config.format

    @property
    def image_refs(self) -> tuple[ImageRef, ...]:
        return tuple(ref for turn in self.turns for ref in turn.images)


def _error(message: str, param: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def _type_error(path: str, expected: str) -> InvalidRequest:
    return _error(f"'{path}' must be {expected}.", path, "invalid_type")


def _missing(path: str) -> InvalidRequest:
    return _error(f"Missing required parameter: '{path}'.", path, "missing_required_parameter")


def parse_messages_body(raw: bytes, *, count_tokens: bool = False) -> MessagesBody:
    """Parse and validate a Messages body (a count_tokens body when `count_tokens`)."""
    data = load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = required_model(data)
    for name, reason in REFUSED_FIELDS.items():
        if data.get(name):
            raise _error(f"'{name}' is not supported: {reason}", name, "unsupported_parameter")
    max_tokens: int | None = None
    if not count_tokens:
        value = data.get("max_tokens")
        if value is None:
            raise _missing("max_tokens")
        integer(1, 10_000_000)("max_tokens", value)
        max_tokens = value if isinstance(value, int) else None
    for name, check in _PARAMETER_CHECKS.items():
        if data.get(name) is not None:
            check(name, data[name])
    system_parts = _system(data.get("system"))
    turns, system_messages, loaded = _conversation(data.get("messages"))
    tools = _tools(data.get("tools"), loaded)
    choice, parallel = _tool_choice(data.get("tool_choice"), tools)
    thinking = _thinking(data.get("thinking"), max_tokens)
    effort, response_format = _output_config(data.get("output_config"))
    return MessagesBody(
        model=model,
        system="\n".join([*system_parts, *system_messages]),
        turns=turns,
        max_tokens=max_tokens,
        stream=data.get("stream") is True and not count_tokens,
        stop_sequences=_stop_sequences(data.get("stop_sequences")),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        thinking=thinking,
        effort=effort,
        response_format=response_format,
    )


# ---------------------------------------------------------------- system and messages


def _text_blocks(value: object, path: str) -> list[str]:
    """A string, or an array of `text` blocks (the shape of `system`)."""
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, list):
        raise _type_error(path, "a string or an array of text blocks")
    texts: list[str] = []
    for i, block in enumerate(value):
        at = f"{path}[{i}]"
        if not isinstance(block, dict):
            raise _type_error(at, "an object")
        if block.get("type") != "text":
            raise _error(f"'{at}.type' must be \"text\".", f"{at}.type", "invalid_content_block")
        texts.append(_string(block.get("text"), f"{at}.text"))
    return texts


def _system(value: object) -> list[str]:
    if value is None:
        return []
    return _text_blocks(value, "system")


def _string(value: object, path: str) -> str:
    if value is None:
        raise _missing(path)
    if not isinstance(value, str):
        raise _type_error(path, "a string")
    return value


@dataclass(slots=True)
class _Draft:
    """A turn being assembled from the blocks of one or more messages."""

    role: Role
    texts: list[str] = field(default_factory=list)
    calls: list[tuple[ToolCall, str]] = field(default_factory=list)  # with the block's path
    results: list[ResultBlock] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)

    def turn(self) -> Turn:
        return Turn(
            self.role,
            "\n".join(self.texts),
            tuple(call for call, _ in self.calls),
            tuple(self.results),
            tuple(self.images),
        )


def _conversation(value: object) -> tuple[tuple[Turn, ...], list[str], set[str]]:
    """The turns, the text of `system`-role messages, and the tool names `tool_reference` blocks load."""
    if value is None:
        raise _missing("messages")
    if not isinstance(value, list):
        raise _type_error("messages", "an array")
    if not value:
        raise _error("'messages' must contain at least one message.", "messages", "empty_messages")
    if len(value) > MAX_MESSAGES:
        raise _error(f"'messages' has more than {MAX_MESSAGES} entries.", "messages", "too_many_messages")
    drafts: list[_Draft] = []
    system: list[str] = []
    loaded: set[str] = set()
    for i, item in enumerate(value):
        path = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _type_error(path, "an object")
        role = item.get("role")
        if role == "system":
            system.extend(_text_blocks(item.get("content"), f"{path}.content"))
            continue
        if role not in ("user", "assistant"):
            raise _error(
                f"Invalid role {role!r} in '{path}.role'; expected one of: assistant, system, user.",
                f"{path}.role",
                "invalid_role",
            )
        if not drafts or drafts[-1].role != role:
            drafts.append(_Draft(role))
        _blocks(item.get("content"), f"{path}.content", drafts[-1], loaded)
    _check_pairs(drafts)
    return tuple(d.turn() for d in drafts), system, loaded


def _blocks(content: object, path: str, draft: _Draft, loaded: set[str]) -> None:
    if content is None:
        raise _missing(path)
    if isinstance(content, str):
        draft.texts.append(content)
        return
    if not isinstance(content, list):
        raise _type_error(path, "a string or an array of content blocks")
    for i, block in enumerate(content):
        at = f"{path}[{i}]"
        if not isinstance(block, dict):
            raise _type_error(at, "an object")
        kind = block.get("type")
        if not isinstance(kind, str):
            raise _error(f"'{at}.type' must be a string.", f"{at}.type", "invalid_content_block")
        if kind == "text":
            draft.texts.append(_string(block.get("text"), f"{at}.text"))
        elif kind in DROPPED_BLOCKS:
            continue  # H9: earlier thinking is accepted and not sent upstream
        elif kind == "image" and draft.role == "user":
            draft.images.append(_image(block.get("source"), at))
            if len(draft.images) > MAX_IMAGES:
                raise _error(f"A message may carry at most {MAX_IMAGES} images.", at, "too_many_images")
        elif kind == "document" and draft.role == "user":
            draft.texts.append(_document(block.get("source"), f"{at}.source"))
        elif kind == "tool_use" and draft.role == "assistant":
            draft.calls.append((_tool_use(block, at), at))
        elif kind == "tool_result" and draft.role == "user":
            draft.results.append(_tool_result(block, at, loaded))
        elif kind in ("image", "document", "tool_use", "tool_result"):
            raise _error(
                f"'{at}.type': {kind} blocks are not allowed in {draft.role} messages.",
                f"{at}.type",
                "invalid_content_block",
            )
        elif kind.startswith(("server_tool", "mcp_")) or kind.endswith("_result"):
            raise _error(
                f"'{at}.type' is {kind!r}, a block of an Anthropic server tool; this gateway runs client "
                "tools only.",
                f"{at}.type",
                "unsupported_content",
            )
        else:
            raise _error(
                f"'{at}.type' is {kind!r}; content blocks of that type are not supported by this gateway.",
                f"{at}.type",
                "unsupported_content",
            )


def _image(source: object, path: str) -> ImageRef:
    at = f"{path}.source"
    if not isinstance(source, dict):
        raise _missing(at) if source is None else _type_error(at, "an object")
    kind = source.get("type")
    if kind == "base64":
        media_type = source.get("media_type")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise _error(
                f"'{at}.media_type' must be one of: {', '.join(IMAGE_MEDIA_TYPES)}.",
                f"{at}.media_type",
                "invalid_value",
            )
        data = _string(source.get("data"), f"{at}.data")
        return ImageRef(f"data:{media_type};base64,{data}", path, f"{at}.data")
    if kind == "url":
        url = _string(source.get("url"), f"{at}.url")
        if not url:
            raise _error(f"'{at}.url' must not be empty.", f"{at}.url", "invalid_value")
        return ImageRef(url, path, f"{at}.url")
    if kind == "file":
        raise _error(
            f"'{at}.type' is \"file\": file sources need Anthropic's Files API, which this gateway does not "
            "offer; send the image as base64 or a URL.",
            f"{at}.type",
            "unsupported_content",
        )
    raise _error(f'\'{at}.type\' must be "base64" or "url".', f"{at}.type", "invalid_value")


def _document(source: object, path: str) -> str:
    """A plain-text document's text; other document sources (PDF, URL, file) are refused."""
    if not isinstance(source, dict):
        raise _missing(path) if source is None else _type_error(path, "an object")
    if source.get("type") != "text":
        raise _error(
            f"'{path}.type': only plain-text documents (source type \"text\") are supported.",
            f"{path}.type",
            "unsupported_content",
        )
    return _string(source.get("data"), f"{path}.data")


def _tool_use(block: Mapping[str, object], path: str) -> ToolCall:
    ident = block.get("id")
    if not isinstance(ident, str) or not ident:
        raise _error(f"'{path}.id' must be a non-empty string.", f"{path}.id", "invalid_tool_call_history")
    name = _string(block.get("name"), f"{path}.name")
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise _error(f"'{path}.input' must be an object.", f"{path}.input", "invalid_tool_call_history")
    return ToolCall(ident, name, orjson.dumps(arguments).decode())


def _tool_result(block: Mapping[str, object], path: str, loaded: set[str]) -> ResultBlock:
    ident = block.get("tool_use_id")
    if not isinstance(ident, str) or not ident:
        raise _error(
            f"'{path}.tool_use_id' must be a non-empty string.",
            f"{path}.tool_use_id",
            "invalid_tool_call_history",
        )
    is_error = block.get("is_error", False)
    if is_error is not None and not isinstance(is_error, bool):
        raise _type_error(f"{path}.is_error", "a boolean")
    return ResultBlock(
        ident, _result_content(block.get("content"), f"{path}.content", loaded), bool(is_error), path
    )


def _result_content(value: object, path: str, loaded: set[str]) -> str:
    """A result's text: a string, or blocks whose text is joined; other blocks become a line saying
    what was left out (H6); a `tool_reference` names a deferred tool it loads."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _type_error(path, "a string or an array of content blocks")
    lines: list[str] = []
    for i, block in enumerate(value):
        at = f"{path}[{i}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _error(f"'{at}' must be a content block with a string 'type'.", at, "invalid_content_block")
        kind = block["type"]
        if kind == "text":
            lines.append(_string(block.get("text"), f"{at}.text"))
        elif kind == "tool_reference":
            name = _string(block.get("tool_name"), f"{at}.tool_name")
            loaded.add(name)
            lines.append(f"[tool_reference: {name}]")
        else:
            lines.append(f"[{kind} content omitted]")
    return "\n".join(lines)


def _check_pairs(drafts: Sequence[_Draft]) -> None:
    """Every result answers a call of the assistant turn right before it, once; every `tool_use`
    (ids unique in its turn) is answered by a `tool_result` in the turn right after it (H1-H3)."""
    for k, draft in enumerate(drafts):
        if draft.role == "assistant":
            seen: set[str] = set()
            for call, path in draft.calls:
                if call.id in seen:
                    raise _error(
                        f"'{path}.id' repeats the id {call.id!r} of an earlier tool_use in this turn.",
                        f"{path}.id",
                        "duplicate_tool_call_id",
                    )
                seen.add(call.id)
            continue
        ids = {call.id for call, _ in drafts[k - 1].calls} if k > 0 else set()
        done: set[str] = set()
        for result in draft.results:
            at = f"{result.path}.tool_use_id"
            if result.call_id not in ids:
                raise _error(
                    f"'{at}' answers {result.call_id!r}, which is not a tool_use of the assistant message "
                    "right before it.",
                    at,
                    "unknown_tool_call_id",
                )
            if result.call_id in done:
                raise _error(
                    f"'{at}': a second tool_result for {result.call_id!r}.", at, "duplicate_tool_result"
                )
            done.add(result.call_id)
    for k, draft in enumerate(drafts):
        answered = {r.call_id for r in drafts[k + 1].results} if k + 1 < len(drafts) else set()
        for call, path in draft.calls:
            if call.id not in answered:
                raise _error(
                    f"'{path}.id': the tool_use {call.id!r} has no tool_result; every tool_use needs a "
                    "tool_result block in the user message right after it.",
                    f"{path}.id",
                    "missing_tool_result",
                )


# ---------------------------------------------------------------- tools


@dataclass(frozen=True, slots=True)
class _Tool:
    tool: ToolDef
    deferred: bool


def _tools(value: object, loaded: set[str]) -> tuple[ToolDef, ...]:
    """The custom tools; a deferred one only once a tool_reference loaded it."""
    deferred: set[str] = set()

    def parse(item: object, path: str) -> ToolDef:
        parsed = _tool(item, path)
        if parsed.deferred:
            deferred.add(parsed.tool.name)
        return parsed.tool

    tools = tool_catalog(value, parse, ".name")
    return tuple(t for t in tools if t.name not in deferred or t.name in loaded)


def _tool(item: object, path: str) -> _Tool:
    if not isinstance(item, dict):
        raise _error(f"'{path}' must be an object.", path, "invalid_tools")
    kind = item.get("type")
    if kind is not None and kind != "custom":
        raise _error(
            f"'{path}.type' is {kind!r}, a tool Anthropic defines; this gateway runs client tools only "
            "(custom tools with an input_schema).",
            f"{path}.type",
            "unsupported_tool_type",
        )
    name = tool_name(item.get("name"), f"{path}.name")
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        raise _error(f"'{path}.description' must be a string.", f"{path}.description", "invalid_tools")
    strict = item.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _error(f"'{path}.strict' must be a boolean.", f"{path}.strict", "invalid_tools")
    deferred = item.get("defer_loading")
    if deferred is not None and not isinstance(deferred, bool):
        raise _error(f"'{path}.defer_loading' must be a boolean.", f"{path}.defer_loading", "invalid_tools")
    schema = item.get("input_schema")
    at = f"{path}.input_schema"
    if schema is None:
        raise _error(f"Missing required parameter: '{at}'.", at, "invalid_tool_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise _error(
            f'\'{at}\' must be a JSON Schema object with "type": "object".', at, "invalid_tool_schema"
        )
    check_tool_schema(schema, at)
    return _Tool(ToolDef(name, description or "", schema, strict is True), deferred is True)


def _tool_choice(value: object, tools: Sequence[ToolDef]) -> tuple[ToolChoice | None, bool]:
    """The choice (None when absent) and whether parallel calls are allowed."""
    if value is None:
        return None, True
    if not isinstance(value, dict):
        raise _type_error("tool_choice", "an object")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in TOOL_CHOICES:
        raise _error(
            "'tool_choice.type' must be one of: auto, any, tool, none.",
            "tool_choice.type",
            "invalid_tool_choice",
        )
    mode = TOOL_CHOICES[kind]
    name = None
    if mode == "named":
        name = _string(value.get("name"), "tool_choice.name")
    disable = value.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise _type_error("tool_choice.disable_parallel_tool_use", "a boolean")
    choice = checked_choice(ToolChoice(mode, name), tools, label=kind, name_param="tool_choice.name")
    return choice, disable is not True


# ---------------------------------------------------------------- thinking and output


def _thinking(value: object, max_tokens: int | None) -> Thinking | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error("thinking", "an object")
    kind = value.get("type")
    if kind not in THINKING_TYPES:
        raise _error(
            f"'thinking.type' must be one of: {', '.join(THINKING_TYPES)}.", "thinking.type", "invalid_value"
        )
    display = value.get("display")
    if display not in (None, "summarized", "omitted"):
        raise _error(
            '\'thinking.display\' must be "summarized" or "omitted".', "thinking.display", "invalid_value"
        )
    budget = None
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if budget is None:
            raise _missing("thinking.budget_tokens")
        integer(MIN_THINKING_BUDGET, 10_000_000)("thinking.budget_tokens", budget)
        if max_tokens is not None and budget >= max_tokens:
            raise _error(
                f"'thinking.budget_tokens' ({budget}) must be less than 'max_tokens' ({max_tokens}).",
                "thinking.budget_tokens",
                "invalid_value",
            )
    return Thinking(kind, budget, display)


def _output_config(value: object) -> tuple[str | None, ResponseFormat | None]:
    """`output_config.effort` and `output_config.format` (a JSON Schema the answer must satisfy)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise _type_error("output_config", "an object")
    effort = value.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise _error(
            f"'output_config.effort' must be one of: {', '.join(EFFORTS)}.",
            "output_config.effort",
            "invalid_value",
        )
    spec = value.get("format")
    if spec is None:
        return effort, None
    if not isinstance(spec, dict):
        raise _type_error("output_config.format", "an object")
    if spec.get("type") != "json_schema":
        raise _error(
            "'output_config.format.type' must be \"json_schema\".",
            "output_config.format.type",
            "invalid_value",
        )
    if spec.get("schema") is None:
        raise _missing("output_config.format.schema")
    schema = response_schema(spec["schema"], "output_config.format.schema")
    return effort, ResponseFormat("json_schema", name="output", schema=schema)


# ---------------------------------------------------------------- plain parameters


def _stop_sequences(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOP_SEQUENCES
        or not all(isinstance(v, str) for v in value)
    ):
        raise _type_error("stop_sequences", f"an array of at most {MAX_STOP_SEQUENCES} strings")
    return tuple(v for v in value if v)


def _check_metadata(name: str, value: object) -> None:
    if not isinstance(value, dict):
        raise _type_error(name, "an object")
    user_id = value.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise _type_error(f"{name}.user_id", "a string")


def _check_service_tier(name: str, value: object) -> None:
    if value not in ("auto", "standard_only"):
        raise _error(f'\'{name}\' must be "auto" or "standard_only".', name, "invalid_value")


_PARAMETER_CHECKS: Final[dict[str, Check]] = {
    "stream": of_type(bool, "a boolean"),
    "temperature": number(0, 1),
    "top_p": number(0, 1),
    "top_k": integer(0, 2**31 - 1),
    "metadata": _check_metadata,
    "service_tier": _check_service_tier,
}
