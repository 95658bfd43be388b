"""Agent mode: a scripted model that works through a small file task with the request's tools.

Scenario `agent` (directive `[[sim:agent]]`, or `SimConfig.default_scenario = "agent"` for real
clients that cannot put directives into prompts). Every turn it reads the whole request, decides
the next step and answers the way Cursor would:

* **Native tools** (the request declares `mcp_tools`): the call goes out as `ClientSideToolV2Call`
  frames (tool MCP, `mcp_params` naming the tool, cumulative `raw_args` snapshots, the last one with
  `is_last_message`), then the stream waits for results like Cursor's does (`end=wait`, the
  default) or ends (`end=trailer`).
* **Emulated tools** (the system context holds the tool preamble with its `<<tools:N>>` catalog):
  the call is written as text, `<<call:N>>` + newline + `{"name":…,"arguments":{…}}` + newline +
  `<<end:N>>`, with the nonce read from the preamble, after one short sentence of prose.
* **No tools**: a plain text answer; with no task either, the echo of the default scenario.

Tasks it understands, in the latest user message that contains one (quotes may be `'`, `"` or a
backtick; case does not matter; other text around the task is ignored):

* `create a file NAME with content 'TEXT'` — call the catalog's write tool, then answer.
* `create a file NAME with content 'TEXT', then read it back` — write, then call the read tool,
  then answer with a text that quotes what the read returned.
* `read the file NAME` (also `read file NAME`) — call the read tool, then answer quoting it.

Anything else gets a text answer that says which phrasing is understood.

Tools are found by name (write: `write_to_file`, `write_file`, `write`, `create_file`,
`create_new_file`, `file_write`, else any name containing "write" or "create"; read: `read_file`,
`read`, `view_file`, `open_file`, `cat`, else any name containing "read"), case-insensitively, and
only when every required property can be filled. Without a fillable write tool the file is written
with a patch tool (`apply_patch`, one text property: `*** Begin Patch` / `*** Add File: NAME` /
`+TEXT` / `*** End Patch`, as Codex's tool takes it), else with a shell tool (`exec_command` with
`cmd`, `shell_command` or `bash` with a `command` string, `shell` with a `command` array) running
`printf '%s' 'TEXT' > NAME`; without a read tool the file is read with `cat NAME` through the shell
tool. When one tool serves both steps, the read is the result that came after the write's. Arguments are filled by the schema's property
names: the path goes to `path`, `file_path`, `filePath`, `filepath`, `target_file`, `filename`,
`file`, `absolute_path` or `relative_workspace_path`; the text to `content`, `contents`, `text`,
`file_text` or `data`. When a path property's description asks for an absolute path, NAME is
joined to the working directory the client states (`Working directory: DIR`, `Workspace root
folder: DIR`, `Current working directory: DIR`, `Primary working directory: DIR` (Claude Code) or
`<cwd>DIR</cwd>` in the system context or a user message).

Progress comes from the conversation itself: emulated results are the `<<result:N>>` blocks in
HUMAN messages, native results the `tool_results` of AI messages; only results after the task
message count. When the catalog has a completion tool (`attempt_completion` and the like, for
clients that want a tool call on every turn), the final answer goes through it (`result`,
`message`, `text` or `summary`) instead of plain text. A failed tool result ends the task with a
text answer that names the error, and after `max_steps` calls (8) the agent stops with text.

Parameters: `prose_first` (answer a turn that should call a tool with prose only, unless the
latest message carries the gateway's corrective note: exercises the required-tool retry),
`end` (`wait` | `trailer`, native only), `chunk` (characters per text frame, 24), plus every
framing parameter of `script.py` and the MCP framing parameters of `toolcalls.mcp_call`.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes.script import Context, Params, ScenarioLike, Script
from tests.fakes.steps import Stall, Step
from tests.fakes.toolcalls import mcp_call

WRITE_NAMES: Final = ("write_to_file", "write_file", "write", "create_file", "create_new_file", "file_write")
READ_NAMES: Final = ("read_file", "read", "view_file", "open_file", "cat")
COMPLETION_NAMES: Final = ("attempt_completion", "complete_task", "task_complete", "completion")
PATH_KEYS: Final = (
    "path",
    "file_path",
    "filePath",
    "filepath",
    "target_file",
    "filename",
    "file",
    "absolute_path",
    "relative_workspace_path",
)
CONTENT_KEYS: Final = ("content", "contents", "text", "file_text", "data")
PATCH_NAMES: Final = ("apply_patch",)
PATCH_KEYS: Final = ("input", "patch")
SHELL_NAMES: Final = ("exec_command", "shell_command", "shell", "bash", "run_command")
SHELL_KEYS: Final = ("cmd", "command")
ANSWER_KEYS: Final = ("result", "message", "text", "summary")
NATIVE_PREFIXES: Final = ("mcp_custom_", "mcp__custom__")

_Q: Final = r"""(?P<q>['"`])"""
CREATE_TASK: Final = re.compile(
    r"create (?:a |the )?(?:new )?file (?:named |called )?[`'\"]?(?P<name>[^\s`'\"]+?)[`'\"]?,?\s+"
    r"with (?:the )?(?:content|contents|text) " + _Q + r"(?P<text>.*?)(?P=q)"
    r"(?P<rest>[^\n]*)",
    re.IGNORECASE | re.DOTALL,
)
READ_BACK: Final = re.compile(r"\bread (?:it|the file|that file)? ?back\b", re.IGNORECASE)
READ_TASK: Final = re.compile(
    r"\bread (?:the )?file (?:named |called )?[`'\"]?(?P<name>[^\s`'\"]+)",
    re.IGNORECASE,
)
WORKDIR: Final = (
    re.compile(r"^\s*Working directory: *(\S[^\n]*?)\s*$", re.MULTILINE),
    re.compile(r"^\s*Workspace root folder: *(\S[^\n]*?)\s*$", re.MULTILINE),
    re.compile(r"^\s*Current working directory: *(\S[^\n]*?)\s*$", re.MULTILINE),
    re.compile(r"^\s*-?\s*Primary working directory: *(\S[^\n]*?)\s*$", re.MULTILINE),
    re.compile(r"<cwd>\s*([^<\n]+?)\s*</cwd>"),
)
NONCE: Final = re.compile(r"<<tools:([0-9a-f]{8})>>")
MISS_HINTS: Final = ("did not call a tool", "could not be used")
NO_TOOLS_HINT: Final = "Do not call any tool in this reply."


# ---------------------------------------------------------------- what the request says


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    schema: dict[str, Any]

    @property
    def properties(self) -> dict[str, Any]:
        props = self.schema.get("properties")
        return props if isinstance(props, dict) else {}

    @property
    def required(self) -> list[str]:
        req = self.schema.get("required")
        return [r for r in req if isinstance(r, str)] if isinstance(req, list) else []


@dataclass(frozen=True, slots=True)
class Done:
    """One tool result found in the conversation after the task."""

    name: str
    content: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class Task:
    kind: str  # create | read
    name: str
    text: str = ""
    read_back: bool = False


@dataclass(slots=True)
class View:
    """The parts of a request the agent plans from."""

    mode: str  # native | emulated | none
    tools: list[Tool] = field(default_factory=list)
    nonce: str = ""
    task: Task | None = None
    done: list[Done] = field(default_factory=list)
    workdir: str = ""
    latest_human: str = ""


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def emulated_catalog(system: str) -> tuple[str, list[Tool]] | None:
    """The nonce and tools of a §3.4 preamble in the system context, or None."""
    match = NONCE.search(system)
    if match is None:
        return None
    nonce = match.group(1)
    end = system.find(f"<<end:{nonce}>>", match.end())
    if end < 0:
        return None
    tools: list[Tool] = []
    for line in system[match.end() : end].strip("\n").split("\n"):
        entry = _loads_object(line)
        if entry is None or not isinstance(entry.get("name"), str):
            continue
        schema = entry.get("parameters")
        tools.append(Tool(entry["name"], schema if isinstance(schema, dict) else {}))
    return nonce, tools


def _blocks(text: str, opener: str, nonce: str) -> list[str]:
    """The bodies of every `<<opener:N>>` … `<<end:N>>` block in `text`."""
    pattern = re.compile(
        re.escape(f"<<{opener}:{nonce}>>") + r"\n(.*?)\n" + re.escape(f"<<end:{nonce}>>"), re.DOTALL
    )
    return pattern.findall(text)


def _strip_blocks(text: str, nonce: str) -> str:
    if not nonce:
        return text
    pattern = re.compile(r"<<(?:call|result|note|think):" + nonce + r">>.*?<<end:" + nonce + r">>", re.DOTALL)
    return pattern.sub("", text)


def emulated_results(text: str, nonce: str) -> list[Done]:
    done: list[Done] = []
    for body in _blocks(text, "result", nonce):
        header, _, content = body.partition("\n")
        meta = _loads_object(header) or {}
        done.append(Done(str(meta.get("name", "")), content, bool(meta.get("is_error", False))))
    return done


def native_results(message: pb.ConversationMessage) -> list[Done]:
    done: list[Done] = []
    for result in message.tool_results:
        name = result.tool_name
        for prefix in NATIVE_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        payload = _loads_object(result.result.mcp_result.result) or {}
        parts = payload.get("content")
        texts = [p.get("text", "") for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
        done.append(Done(name, "\n".join(str(t) for t in texts), bool(payload.get("isError", False))))
    return done


def find_task(text: str) -> Task | None:
    create = CREATE_TASK.search(text)
    if create is not None:
        rest = create.group("rest")
        return Task("create", create.group("name"), create.group("text"), bool(READ_BACK.search(rest)))
    read = READ_TASK.search(text)
    if read is not None:
        return Task("read", read.group("name").rstrip(".,;:!?"))
    return None


def find_workdir(texts: Sequence[str]) -> str:
    for pattern in WORKDIR:
        for text in texts:
            match = pattern.search(text)
            if match is not None:
                return match.group(1).strip()
    return ""


def read_view(request: pb.StreamUnifiedChatRequest) -> View:
    """Tools, task, progress and working directory of one upstream request."""
    system = request.explicit_context.context
    if request.mcp_tools:
        view = View("native", [Tool(t.name, _loads_object(t.parameters) or {}) for t in request.mcp_tools])
    else:
        found = emulated_catalog(system)
        view = View("emulated", found[1], found[0]) if found is not None else View("none")
    humans: list[str] = []
    task_index = -1
    for index, message in enumerate(request.conversation):
        if message.type != pb.MESSAGE_TYPE_HUMAN:
            continue
        text = _strip_blocks(message.text, view.nonce)
        humans.append(text)
        view.latest_human = message.text
        task = find_task(text)
        if task is not None:
            view.task, task_index = task, index
    for index, message in enumerate(request.conversation):
        if index <= task_index:
            continue
        if view.mode == "native" and message.type == pb.MESSAGE_TYPE_AI:
            view.done.extend(native_results(message))
        elif view.nonce and message.type == pb.MESSAGE_TYPE_HUMAN:
            view.done.extend(emulated_results(message.text, view.nonce))
    view.workdir = find_workdir([system, *humans])
    return view


# ---------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any]
    prose: str


@dataclass(frozen=True, slots=True)
class Answer:
    text: str


def _pick(tools: Sequence[Tool], names: Sequence[str], words: Sequence[str]) -> list[Tool]:
    by_name = {t.name.lower(): t for t in tools}
    picked = [by_name[n] for n in names if n in by_name]
    picked += [t for t in tools if t not in picked and any(w in t.name.lower() for w in words)]
    return picked


def _path_value(tool: Tool, key: str, name: str, workdir: str) -> str:
    spec = tool.properties.get(key)
    description = str(spec.get("description", "")) if isinstance(spec, dict) else ""
    if "absolute" in description.lower() and workdir and not posixpath.isabs(name):
        return posixpath.join(workdir, name)
    return name


def fill(tool: Tool, *, path: str, workdir: str, content: str | None = None) -> dict[str, Any] | None:
    """Arguments for `tool` by its property names, or None when a required one cannot be filled."""
    props = tool.properties
    args: dict[str, Any] = {}
    path_key = next((k for k in PATH_KEYS if k in props), None)
    if path_key is None:
        return None
    args[path_key] = _path_value(tool, path_key, path, workdir)
    if content is not None:
        content_key = next((k for k in CONTENT_KEYS if k in props), None)
        if content_key is None:
            return None
        args[content_key] = content
    if any(r not in args for r in tool.required):
        return None
    return args


def _fillable(tools: list[Tool], **kwargs: Any) -> tuple[Tool, dict[str, Any]] | None:
    for tool in tools:
        args = fill(tool, **kwargs)
        if args is not None:
            return tool, args
    return None


def _finish(view: View, text: str) -> Call | Answer:
    completion = _pick(view.tools, COMPLETION_NAMES, ())
    for tool in completion:
        key = next((k for k in ANSWER_KEYS if k in tool.properties), None)
        if key is not None and all(r == key for r in tool.required):
            return Call(tool.name, {key: text}, "")
    return Answer(text)


def _patch(view: View, name: str, text: str, prose: str) -> Call | None:
    """Codex's `apply_patch`: the whole file as an added-file patch in its one text property."""
    for tool in _pick(view.tools, PATCH_NAMES, ()):
        key = next((k for k in PATCH_KEYS if k in tool.properties), None)
        if key is not None and all(r == key for r in tool.required):
            lines = "".join(f"+{line}\n" for line in text.split("\n"))
            patch = f"*** Begin Patch\n*** Add File: {name}\n{lines}*** End Patch\n"
            return Call(tool.name, {key: patch}, prose)
    return None


def _shell(view: View, command: str, prose: str) -> Call | None:
    """A shell tool running `command`: a string property, or an argv array for `bash -lc`."""
    for tool in _pick(view.tools, SHELL_NAMES, ()):
        key = next((k for k in SHELL_KEYS if k in tool.properties), None)
        if key is None or any(r != key for r in tool.required):
            continue
        spec = tool.properties[key]
        argv = isinstance(spec, dict) and spec.get("type") == "array"
        return Call(tool.name, {key: ["bash", "-lc", command] if argv else command}, prose)
    return None


def _write_step(view: View, task: Task) -> Call | None:
    prose = f"I'll create {task.name}."
    writes = _pick(view.tools, WRITE_NAMES, ("write", "create"))
    found = _fillable(writes, path=task.name, workdir=view.workdir, content=task.text)
    if found is not None:
        return Call(found[0].name, found[1], prose)
    command = f"printf '%s' {shlex.quote(task.text)} > {shlex.quote(task.name)}"
    return _patch(view, task.name, task.text, prose) or _shell(view, command, prose)


def _read_step(view: View, task: Task) -> Call | None:
    prose = f"Now I'll read {task.name}."
    reads = _pick(view.tools, READ_NAMES, ("read",))
    found = _fillable(reads, path=task.name, workdir=view.workdir)
    if found is not None:
        return Call(found[0].name, found[1], prose)
    return _shell(view, f"cat {shlex.quote(task.name)}", prose)


def plan(view: View, *, max_steps: int = 8) -> Call | Answer:
    """The next step for the request described by `view`."""
    task = view.task
    if task is None:
        return Answer(
            'I can do one of these: "create a file NAME with content \'TEXT\'" (optionally ", then read it '
            'back") or "read the file NAME".'
        )
    if not view.tools:
        return Answer(f"I have no tools, so I cannot work on {task.name}.")
    if NO_TOOLS_HINT in view.latest_human:
        return Answer(f"I was asked not to use tools now, so {task.name} is left as it is.")
    failed = next((d for d in view.done if d.is_error), None)
    if failed is not None:
        return Answer(f"The tool {failed.name} failed: {failed.content}")
    if len(view.done) >= max_steps:
        return Answer(f"I stopped after {len(view.done)} tool calls without finishing.")
    start = 0
    if task.kind == "create":
        write = _write_step(view, task)
        if write is None:
            return Answer(f"None of the tools can write a file: {sorted(t.name for t in view.tools)}.")
        wrote = next((i for i, d in enumerate(view.done) if d.name == write.name), None)
        if wrote is None:
            return write
        start = wrote + 1
    if task.kind == "read" or task.read_back:
        read = _read_step(view, task)
        if read is None:
            return Answer(f"None of the tools can read a file: {sorted(t.name for t in view.tools)}.")
        result = next((d for d in reversed(view.done[start:]) if d.name == read.name), None)
        if result is None:
            return read
        return _finish(view, f"I read {task.name}. It says:\n\n{result.content}")
    return _finish(view, f"I created {task.name} with the requested content.")


# ---------------------------------------------------------------- the scenario


def next_step(view: View, p: Params, echo: str) -> Call | Answer:
    """The step the scripted model takes for `view`; `echo` answers a plain chat (no tools, no task).

    With `prose_first` a turn that should call a tool answers with prose only, unless the latest
    message carries the gateway's corrective note.
    """
    step = plan(view, max_steps=p.integer("max_steps", 8))
    if view.mode == "none" and view.task is None:
        # A plain chat is answered like the default scenario: the demo serves tool agents and
        # plain chats from one simulator.
        return Answer(echo)
    corrected = any(hint in view.latest_human for hint in MISS_HINTS)
    if isinstance(step, Call) and p.flag("prose_first", False) and not corrected:
        return Answer(f"{step.prose} Let me think about how to do it first.".strip())
    return step


def call_block(nonce: str, step: Call) -> str:
    """An emulated call as the model writes it: the prose, then the marker block."""
    body = json.dumps(
        {"name": step.name, "arguments": step.arguments}, ensure_ascii=False, separators=(",", ":")
    )
    prose = f"{step.prose}\n\n" if step.prose else ""
    return f"{prose}<<call:{nonce}>>\n{body}\n<<end:{nonce}>>"


def build_agent(scenario: ScenarioLike, ctx: Context) -> list[Step]:
    from tests.fakes.scenarios import echo_reply

    s = Script(scenario, ctx)
    s.preamble()
    chunk = s.p.integer("chunk", 24)
    view = read_view(ctx.request) if ctx.request is not None else View("none")
    step = next_step(view, s.p, echo_reply(ctx))
    if ctx.wants_thinking:
        s.thinking_frame(text=f"Planning the next step for a {view.mode} tool request.")
    if isinstance(step, Answer):
        s.texts(step.text, chunk)
        s.end()
        return s.finish()
    if view.mode == "native":
        if step.prose:
            s.texts(step.prose, chunk)
        mcp_call(s, step.name, json.dumps(step.arguments, ensure_ascii=False, indent=2))
        if s.p.text("end", "wait") == "wait":
            s.steps.append(Stall())
            return s.finish()
        s.end()
        return s.finish()
    s.texts(call_block(view.nonce, step), chunk)
    s.end()
    return s.finish()
