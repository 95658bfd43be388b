"""ChatRequest -> Prompt for each strategy (tool-calls.md §3-§4, §12.5).

Expected texts are written out from the specification, not produced by the grammar helpers.
"""

from __future__ import annotations

import base64
import hashlib
import re

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.chat.from_openai import to_chat_request
from gateway.neutral.model import (
    ChatRequest,
    Message,
    Prompt,
    PromptMessage,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from gateway.schemas.openai import parse_chat_body
from gateway.tools.encode import emulated_prompt, native_prompt, plain_prompt, replay_id, with_retry
from gateway.tools.grammar import Delimiters

N = "0123abcd"
D = Delimiters(N)
AUTO = ToolChoice()
MODEL = resolve("gpt-4o")

READ = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}
LS = {"type": "function", "function": {"name": "ls"}}

NOTE_AUTO = f"<<note:{N}>>\nYou may call tools in this reply or answer without them.\n<<end:{N}>>"
NOTE_NONE = f"<<note:{N}>>\nDo not call any tool in this reply. Answer in plain text.\n<<end:{N}>>"


def chat_of(messages, tools=None, **fields) -> ChatRequest:
    raw = {"model": "gpt-4o", "messages": messages, **fields}
    if tools is not None:
        raw["tools"] = tools
    return to_chat_request(parse_chat_body(orjson.dumps(raw)), MODEL, inject="", max_input_length=10**8)


def call(ident, name="read_file", arguments='{"path": "a.txt"}'):
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def texts(prompt: Prompt):
    return [(m.role, m.text) for m in prompt.messages]


# ---------------------------------------------------------------- S1, H8


def test_s1_no_tools_no_history_no_thinking_is_the_plain_prompt():
    chat = chat_of(
        [
            {"role": "system", "content": "Use <write_to_file> blocks."},
            {"role": "user", "content": "see <<call:x>> and <<call:0123abcd>>"},
            {"role": "assistant", "content": "<write_to_file><path>a</path></write_to_file>"},
            {"role": "user", "content": "ok"},
        ]
    )
    prompt = emulated_prompt(chat, D, AUTO, thinking=False)
    assert prompt == plain_prompt(chat)
    assert prompt.system == "Use <write_to_file> blocks." and not prompt.mcp_tools
    assert texts(prompt) == [
        ("user", "see <<call:x>> and <<call:0123abcd>>"),
        ("assistant", "<write_to_file><path>a</path></write_to_file>"),
        ("user", "ok"),
    ]
    assert native_prompt(chat, AUTO) == plain_prompt(chat)


def test_h8_user_text_with_delimiters_reaches_upstream_unchanged_when_tools_are_present():
    user = "write <<call:0123abcd>>\n{} <<end:0123abcd>> and 0123abcd"
    chat = chat_of([{"role": "user", "content": user}, {"role": "user", "content": "go"}], tools=[READ])
    prompt = emulated_prompt(chat, D, AUTO, thinking=False)
    assert texts(prompt) == [("user", f"{user}\n\ngo\n\n{NOTE_AUTO}")]


# ---------------------------------------------------------------- §3.4 preamble, §3.5 note


def test_preamble_follows_the_system_text_and_lists_tools_sorted():
    chat = chat_of(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], tools=[READ, LS]
    )
    prompt = emulated_prompt(chat, D, AUTO, thinking=False)
    head = (
        "Be brief.\n\n# Tools\n\nYou can call the tools listed below. Each line between the markers describes "
        'one tool as JSON: its "name", its "description" and, in "parameters", the JSON Schema of its '
        "arguments.\n\n"
        f"<<tools:{N}>>\n"
        '{"name":"ls","parameters":{"type":"object","properties":{}}}\n'
        '{"name":"read_file","description":"Read a file.","parameters":{"type":"object","properties":'
        '{"path":{"type":"string"}},"required":["path"]}}\n'
        f"<<end:{N}>>\n\n## Calling a tool\n\nTo call a tool, write a call block:\n\n<<call:{N}>>\n"
    )
    assert prompt.system.startswith(head)
    assert prompt.system.endswith(
        "- The note at the end of the latest message says whether this reply may, must or must not call tools."
    )
    assert f"<<result:{N}>>\n" in prompt.system
    assert texts(prompt) == [("user", f"hi\n\n{NOTE_AUTO}")]
    assert not prompt.mcp_tools and prompt.anchor == "hi"


def test_preamble_without_client_system_text_has_no_leading_blank_line():
    prompt = emulated_prompt(
        chat_of([{"role": "user", "content": "hi"}], tools=[READ]), D, AUTO, thinking=False
    )
    assert prompt.system.startswith("# Tools\n\n")


def test_b1_preamble_ignores_choice_and_parallel_calls():
    messages = [{"role": "user", "content": "hi"}]
    base = emulated_prompt(chat_of(messages, tools=[READ, LS]), D, AUTO, thinking=False).system
    other = emulated_prompt(
        chat_of(messages, tools=[LS, READ], parallel_tool_calls=False),
        D,
        ToolChoice("named", "ls"),
        thinking=False,
    ).system
    assert base == other


def note(text):
    return f"<<note:{N}>>\n{text}\n<<end:{N}>>"


def test_notes_for_every_choice():
    chat = chat_of([{"role": "user", "content": "hi"}], tools=[READ])
    serial = chat_of([{"role": "user", "content": "hi"}], tools=[READ], parallel_tool_calls=False)
    cases = [
        (chat, AUTO, "You may call tools in this reply or answer without them."),
        (chat, ToolChoice("none"), "Do not call any tool in this reply. Answer in plain text."),
        (chat, ToolChoice("required"), "This reply must call at least one tool. Begin with a call block."),
        (
            chat,
            ToolChoice("named", "read_file"),
            'This reply must call the tool "read_file" and no other tool. Begin with a call block for "read_file".',
        ),
        (
            serial,
            AUTO,
            "You may call tools in this reply or answer without them. Call at most one tool in this reply.",
        ),
        (serial, ToolChoice("none"), "Do not call any tool in this reply. Answer in plain text."),
    ]
    for c, choice, sentences in cases:
        assert texts(emulated_prompt(c, D, choice, thinking=False)) == [("user", f"hi\n\n{note(sentences)}")]


def test_m9_note_goes_on_the_last_human_message_which_may_hold_results():
    chat = chat_of(
        [
            {"role": "user", "content": "read a"},
            {"role": "assistant", "content": None, "tool_calls": [call("c1")]},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
        ],
        tools=[READ],
    )
    last = emulated_prompt(chat, D, AUTO, thinking=False).messages[-1]
    assert last.role == "user" and last.text.endswith(f"<<end:{N}>>\n\n{NOTE_AUTO}")


def test_m7_history_only_variant():
    chat = chat_of(
        [
            {"role": "user", "content": "read a"},
            {"role": "assistant", "content": None, "tool_calls": [call("c1")]},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
            {"role": "user", "content": "and now?"},
        ]
    )
    prompt = emulated_prompt(chat, D, ToolChoice("auto"), thinking=False)
    assert prompt.system.startswith(
        "# Tools\n\nNo tools are available now. Call and result blocks earlier in this conversation are a record "
        "of past tool use.\n\n## Calling a tool\n\n"
    )
    assert "<<tools:" not in prompt.system
    assert prompt.messages[-1].text.endswith(f"and now?\n\n{NOTE_NONE}")


THINKING_SECTION = (
    "## Thinking\n\nYou may think before you reply, in one thinking block at the very start of your reply:\n\n"
    f"<<think:{N}>>\nYOUR REASONING\n<<end:{N}>>\n\n"
    "The thinking block is kept apart from your reply. Never put call blocks inside it."
)


def test_m8_thinking_section():
    plain = chat_of([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}])
    prompt = emulated_prompt(plain, D, AUTO, thinking=True)
    assert prompt.system == f"S\n\n{THINKING_SECTION}"
    assert texts(prompt) == [("user", "hi")]  # no tools: no note
    tools = emulated_prompt(
        chat_of([{"role": "user", "content": "hi"}], tools=[READ]), D, AUTO, thinking=True
    )
    assert tools.system.endswith(f"must not call tools.\n\n{THINKING_SECTION}")


# ---------------------------------------------------------------- H5-H7, M6


HISTORY = [
    {"role": "user", "content": "read a and b"},
    {
        "role": "assistant",
        "content": "Reading both.",
        "tool_calls": [
            call("c1", arguments='{ "path" : "a.txt", "n": 1.50, "z": "é" }'),
            call("c2", "ls", "not json {"),
        ],
    },
    {"role": "tool", "tool_call_id": "c2", "content": 'line "1"\n\\back\\slash\n```code```'},
    {
        "role": "tool",
        "tool_call_id": "c1",
        "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
    },
    {"role": "user", "content": "thanks"},
]


def test_h5_h6_h7_exact_history_encoding():
    prompt = emulated_prompt(chat_of(HISTORY, tools=[READ]), D, AUTO, thinking=False)
    assert texts(prompt) == [
        ("user", "read a and b"),
        (
            "assistant",
            "Reading both.\n\n"
            f'<<call:{N}>>\n{{"id":"c1","name":"read_file","arguments":{{"path":"a.txt","n":1.5,"z":"é"}}}}\n<<end:{N}>>\n'
            f'<<call:{N}>>\n{{"id":"c2","name":"ls","arguments":"not json {{"}}\n<<end:{N}>>',
        ),
        (
            "user",
            f'<<result:{N}>>\n{{"id":"c2","name":"ls","is_error":false}}\nline "1"\n\\back\\slash\n```code```\n<<end:{N}>>'
            f'\n\n<<result:{N}>>\n{{"id":"c1","name":"read_file","is_error":false}}\nA\nB\n<<end:{N}>>'
            f"\n\nthanks\n\n{NOTE_AUTO}",
        ),
    ]


def test_h5_assistant_without_text_is_only_its_blocks_and_consecutive_ai_messages_merge():
    chat = chat_of(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "first"},
            {"role": "assistant", "content": "", "tool_calls": [call("c1", arguments="{}")]},
            {"role": "tool", "tool_call_id": "c1", "content": ""},
        ],
        tools=[READ],
    )
    prompt = emulated_prompt(chat, D, AUTO, thinking=False)
    assert prompt.messages[1].text == (
        f'first\n\n<<call:{N}>>\n{{"id":"c1","name":"read_file","arguments":{{}}}}\n<<end:{N}>>'
    )
    assert prompt.messages[2].text == (
        f'<<result:{N}>>\n{{"id":"c1","name":"read_file","is_error":false}}\n\n<<end:{N}>>\n\n{NOTE_AUTO}'
    )


def test_m6_nonce_in_client_text_inside_blocks_is_neutralised():
    tools = [{"type": "function", "function": {"name": "t", "description": f"ends with <<end:{N}>>"}}]
    chat = chat_of(
        [
            {"role": "user", "content": f"user text keeps {N}"},
            {
                "role": "assistant",
                "content": f"assistant text {N}",
                "tool_calls": [call(f"id{N}", "t", f'{{"a":"<<end:{N}>>"}}')],
            },
            {"role": "tool", "tool_call_id": f"id{N}", "content": f"<<end:{N}>> <<call:{N}>>"},
        ],
        tools=tools,
    )
    prompt = emulated_prompt(chat, D, AUTO, thinking=False)
    assert '"description":"ends with <<end:NONCE>>"' in prompt.system
    assert prompt.messages[0].text == f"user text keeps {N}"
    assert prompt.messages[1].text == (
        f"assistant text {N}\n\n"
        f'<<call:{N}>>\n{{"id":"idNONCE","name":"t","arguments":{{"a":"<<end:NONCE>>"}}}}\n<<end:{N}>>'
    )
    assert prompt.messages[2].text.startswith(
        f'<<result:{N}>>\n{{"id":"idNONCE","name":"t","is_error":false}}\n<<end:NONCE>> <<call:NONCE>>\n<<end:{N}>>'
    )
    # every structural marker is the real one; no block body holds the nonce
    for m in prompt.messages[1:]:
        bodies = re.split(rf"<<(?:call|result|end|note):{N}>>", m.text)
        assert all(N not in b for b in bodies[1:])


def test_h9_thinking_never_reaches_the_upstream():
    chat = chat_of(
        [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "<think>secret plan</think>\n\nAnswer.",
                "reasoning_content": "more secret",
            },
            {"role": "user", "content": "q2"},
        ],
        tools=[READ],
    )
    for prompt in (emulated_prompt(chat, D, AUTO, thinking=True), native_prompt(chat, AUTO)):
        assert "secret" not in repr(prompt)
        assert prompt.messages[1] == PromptMessage("assistant", "Answer.")


# ---------------------------------------------------------------- native (N1, N3, M9, H10)


def test_native_tools_sorted_no_preamble_and_note_only_when_it_says_more():
    chat = chat_of([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}], tools=[READ, LS])
    prompt = native_prompt(chat, AUTO)
    assert [t.name for t in prompt.mcp_tools] == ["ls", "read_file"]
    assert prompt.system == "S" and texts(prompt) == [("user", "hi")]
    required = native_prompt(chat, ToolChoice("required"))
    assert texts(required) == [
        ("user", "hi\n\nNote on tool use: This reply must call at least one tool before any text.")
    ]
    named = native_prompt(chat, ToolChoice("named", "ls"))
    assert texts(named) == [
        ("user", 'hi\n\nNote on tool use: This reply must call the tool "ls" and no other tool.')
    ]
    assert [t.name for t in native_prompt(chat, ToolChoice("none")).mcp_tools] == ["ls", "read_file"]  # N3
    serial = native_prompt(
        chat_of([{"role": "user", "content": "hi"}], tools=[READ], parallel_tool_calls=False), AUTO
    )
    assert texts(serial) == [
        (
            "user",
            "hi\n\nNote on tool use: You may call tools in this reply or answer without them. "
            "Call at most one tool in this reply.",
        )
    ]


def test_h10_native_replay():
    bad = "toolu_01\nmc_abc"
    chat = chat_of(
        [
            {"role": "user", "content": "read"},
            {"role": "assistant", "content": "Reading.", "tool_calls": [call("c1"), call(bad, "gone", "{x")]},
            {"role": "tool", "tool_call_id": bad, "content": "G"},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "thanks"},
        ],
        tools=[READ],
    )
    prompt = native_prompt(chat, AUTO)
    assert [(m.role, m.text, len(m.tool_results)) for m in prompt.messages] == [
        ("user", "read", 0),
        ("assistant", "Reading.", 0),
        ("assistant", "", 2),
        ("assistant", "Done.", 0),  # H7 never merges into a tool_results message
        ("user", "thanks", 0),
    ]
    first, second = prompt.messages[2].tool_results
    assert (first.tool_call_id, first.name, first.index, first.raw_args, first.content) == (
        "c1",
        "read_file",
        1,
        '{"path": "a.txt"}',
        "A",
    )
    assert (
        first.parameters_json
        == '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}'
    )
    hashed = "call_" + base64.b32encode(hashlib.sha256(bad.encode()).digest()).decode().lower()[:24]
    assert (second.tool_call_id, second.name, second.index, second.raw_args) == (hashed, "gone", 2, "{x")
    assert second.parameters_json is None and not second.is_error


def test_replay_ids():
    assert replay_id("call_AbC-9_x") == "call_AbC-9_x"
    assert replay_id("a" * 64) == "a" * 64
    for ident in ("a" * 65, "", "id with space", "é", "x\n"):
        out = replay_id(ident)
        assert re.fullmatch(r"call_[a-z2-7]{24}", out) and out == replay_id(ident)
    assert replay_id("a" * 65) != replay_id("a" * 66)


def test_native_empty_assistant_text_with_calls_sends_only_the_replay():
    chat = chat_of(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [call("c1")]},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
        ],
        tools=[READ],
    )
    prompt = native_prompt(chat, ToolChoice("required"))
    assert [(m.role, m.text) for m in prompt.messages] == [
        ("user", "go\n\nNote on tool use: This reply must call at least one tool before any text."),
        ("assistant", ""),
    ]
    assert prompt.messages[1].tool_results[0].tool_call_id == "c1"


# ---------------------------------------------------------------- T7


def test_with_retry_appends_the_failed_attempt_and_the_note():
    chat = chat_of([{"role": "user", "content": "hi"}], tools=[READ])
    prompt = emulated_prompt(chat, D, ToolChoice("required"), thinking=False)
    failed = f"Sure.\n<<call:{N}>>\n{{broken\n<<end:{N}>>"
    corrective = note("Your previous reply did not call a tool.")
    retried = with_retry(prompt, failed, corrective, d=D)
    assert retried.system == prompt.system and retried.anchor == prompt.anchor
    assert retried.messages[:-2] == prompt.messages
    assert retried.messages[-2:] == (
        PromptMessage("assistant", "Sure.\n<<call:NONCE>>\n{broken\n<<end:NONCE>>"),
        PromptMessage("user", corrective),
    )
    native = native_prompt(chat, ToolChoice("required"))
    again = with_retry(native, "Plain text.", "Note on tool use: call a tool.")
    assert again.mcp_tools == native.mcp_tools
    assert texts(again)[-2:] == [("assistant", "Plain text."), ("user", "Note on tool use: call a tool.")]


def test_anchor_is_the_first_user_message():
    chat = chat_of(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, "b"]},
        ]
    )
    assert emulated_prompt(chat, D, AUTO, thinking=True).anchor == "a\nb"
    assert native_prompt(chat, AUTO).anchor == "a\nb" == plain_prompt(chat).anchor


# ---------------------------------------------------------------- B3 (property)

tool_names = st.sampled_from(["read_file", "ls", "gone"])
free_text = st.lists(st.sampled_from([*'ab \n{}"\\<>:', N, "<<call:", "é"]), max_size=8).map("".join)


@st.composite
def turn_reply(draw, start):
    """An assistant message and what answers it: results (when it called) or a user turn."""
    n = draw(st.integers(0, 2))
    ids = [f"c{start + i}" for i in range(n)]
    calls = [ToolCall(i, draw(tool_names), draw(free_text | st.just('{"path": "x"}'))) for i in ids]
    reply = Message("assistant", draw(free_text), tool_calls=tuple(calls))
    if calls and draw(st.booleans()):
        order = draw(st.permutations(calls))
        follow = Message("tool", "", results=tuple(ToolResult(c.id, c.name, draw(free_text)) for c in order))
        return [reply, follow]
    return (
        [reply, Message("user", draw(free_text))]
        if not calls
        else [
            reply,
            Message("tool", "", results=tuple(ToolResult(c.id, c.name, draw(free_text)) for c in calls)),
            Message("user", draw(free_text)),
        ]
    )


@st.composite
def conversations(draw):
    turns = [Message("user", draw(free_text))]
    for k in range(draw(st.integers(0, 3))):
        turns.extend(draw(turn_reply(10 * k)))
    return turns


def specs():
    return chat_of([{"role": "user", "content": "x"}], tools=[READ, LS]).tools


@given(
    conversations(), st.data(), st.sampled_from(["auto", "required", "none"]), st.booleans(), st.booleans()
)
def test_b3_extension_keeps_the_prefix_byte_identical(turns, data, mode, parallel, thinking):
    """B3: C' = C + reply + (results or user turn): same system context, same first m-1 messages, and
    message m differs only by its removed note."""
    extension = data.draw(turn_reply(100))
    tools = specs()

    def chat(messages):
        return ChatRequest(MODEL, "S", tuple(messages), False, tools=tools, parallel_tool_calls=parallel)

    c, c2 = chat(turns), chat([*turns, *extension])
    choice = ToolChoice(mode)
    before = emulated_prompt(c, D, choice, thinking=thinking)
    after = emulated_prompt(c2, D, choice, thinking=thinking)
    m = len(before.messages)
    assert after.system == before.system and after.anchor == before.anchor
    assert after.messages[: m - 1] == before.messages[: m - 1]
    last = before.messages[m - 1]
    assert last.role == "user"
    suffix = re.search(rf"(?:\n\n)?<<note:{N}>>\n[^\n]*\n<<end:{N}>>$", last.text)
    assert suffix is not None
    assert after.messages[m - 1].text == last.text[: suffix.start()]
    assert len(after.messages) > m
    # native: the system context and every message before the one carrying the note stay identical
    native_before, native_after = native_prompt(c, choice), native_prompt(c2, choice)
    assert native_after.system == native_before.system and native_after.mcp_tools == native_before.mcp_tools
    k = len(native_before.messages)
    same = [x == y for x, y in zip(native_before.messages, native_after.messages[:k], strict=True)]
    assert same.count(False) <= 1


@given(conversations())
def test_b2_a_message_encoding_does_not_depend_on_later_messages(turns):
    tools = specs()
    full = emulated_prompt(ChatRequest(MODEL, "", tuple(turns), False, tools=tools), D, AUTO, thinking=False)
    for cut in range(1, len(turns)):
        if turns[cut - 1].role == "assistant":
            continue  # the note then sits on an earlier message
        head = emulated_prompt(
            ChatRequest(MODEL, "", tuple(turns[:cut]), False, tools=tools), D, AUTO, thinking=False
        )
        assert head.system == full.system
        for x, y in zip(head.messages[:-1], full.messages, strict=False):
            assert x == y


def test_plain_prompt_keeps_tool_history_as_text_lines():
    """The inert path is not meant for tool history; if it gets some, nothing is lost."""
    chat = chat_of(HISTORY)
    assert texts(plain_prompt(chat)) == [
        ("user", "read a and b"),
        (
            "assistant",
            'Reading both.\n[tool call c1] read_file({ "path" : "a.txt", "n": 1.50, "z": "é" })\n'
            "[tool call c2] ls(not json {)",
        ),
        ("user", '[tool result c2]\nline "1"\n\\back\\slash\n```code```\n\n[tool result c1]\nA\nB\n\nthanks'),
    ]
