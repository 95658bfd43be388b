"""Scenarios: deterministic scripts of steps, produced from (scenario, request context).

Owns: the `Scenario` value and its directive syntax (`[[sim:NAME key=value ...]]`), the named
scenario builders (SIM-17…SIM-28; tool calls live in `toolcalls.py`, the scripted tool-using
agent in `agent.py`, the framing machinery in `script.py`). Every builder is pure: the same scenario, request and seed give the same bytes.

Common parameters (every content scenario): `gzip` (ratio 0..1 of compressed frames, default
from config, 0.6), `writes` (`frame` | `byte` | `split_header` | `split_mid` | `coalesce` |
`random`), `coalesce` (frames per write, 4), `pace` (seconds between content frames),
`heartbeat_every` (heartbeat period during pauses, 0 = none), `heartbeats` (bool, default true),
`unknown_fields` (bool, default true), `trailer` (`plain` | `compressed` | `metadata`),
`first_delay` (pause after headers before content), `header_delay` (pause before headers),
`seed`.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import catalog
from tests.fakes.agent import build_agent
from tests.fakes.script import Context, Params, Script, chunk_text
from tests.fakes.steps import (
    Abort,
    Respond,
    Sleep,
    Stall,
    StartStream,
    Step,
    Write,
    json_response,
    text_response,
)
from tests.fakes.toolcalls import build_tool_call
from tests.fakes.wire import (
    CLEAN_END,
    FLAG_COMPRESSED,
    FLAG_END_STREAM,
    MAX_FRAME,
    ErrorDetail,
    connect_error,
    encode_frame,
    end_stream_frame,
    error_detail_json,
    frame_header,
    gzip_bytes,
    pb_bytes,
    wrap_chat_response,
)

DIRECTIVE: Final = re.compile(r"\[\[sim:([A-Za-z0-9_]+)((?:\s+[^\]]*)?)\]\]")

ALIASES: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "rate_limit": ("error", {"error": 50}),
    "too_many_computers": ("error", {"error": 29}),
    "outdated": ("error", {"error": 30}),
    "update_required": ("error", {"error": 28, "variant": "update"}),
    "update_required_http": ("http_error", {"status": 400, "body": catalog.UPDATE_REQUIRED_HTTP_BODY}),
    "expired": ("error", {"error": 12}),
    "unauthorized": ("error", {"error": 38}),
    "usage_limit": ("error", {"error": 10}),
    "slow": ("echo", {"pace": 2.0, "heartbeat_every": 0.5}),
    "native_tool": ("tool_call", {"native": True}),
}


class Scenario:
    """A named scenario plus parameters: `Scenario("error", error=50, after_frames=0)`."""

    __slots__ = ("name", "params")

    def __init__(self, name: str, **params: Any) -> None:
        if name in ALIASES:
            base, defaults = ALIASES[name]
            name, params = base, {**defaults, **params}
        if name not in BUILDERS:
            raise ValueError(f"unknown scenario {name!r}; known: {sorted(BUILDERS) + sorted(ALIASES)}")
        self.name = name
        self.params = params

    def __repr__(self) -> str:
        args = "".join(f", {key}={value!r}" for key, value in sorted(self.params.items()))
        return f"Scenario({self.name!r}{args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and (self.name, self.params) == (other.name, other.params)

    __hash__ = None  # type: ignore[assignment]  # mutable params

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in self.params.items() if _jsonable(v)}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        params = dict(data)
        name = str(params.pop("name", "echo"))
        return cls(name, **params)


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def find_directive(text: str) -> Scenario | None:
    """The first `[[sim:NAME key=value ...]]` directive in `text` (values: int, float, bool, str)."""
    match = DIRECTIVE.search(text)
    if match is None:
        return None
    params: dict[str, Any] = {}
    for item in shlex.split(match.group(2)):
        key, sep, raw = item.partition("=")
        params[key] = _coerce(raw) if sep else True
    return Scenario(match.group(1), **params)


STICKY: Final = frozenset({"agent"})


def sticky_directive_in(texts: list[str]) -> Scenario | None:
    """The latest directive of a sticky scenario among `texts` (oldest first)."""
    for text in reversed(texts):
        found = find_directive(text)
        if found is not None and found.name in STICKY:
            return found
    return None


def strip_directives(text: str) -> str:
    return DIRECTIVE.sub("", text).strip()


def _coerce(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


# ---------------------------------------------------------------- content scenarios


def echo_reply(ctx: Context, prefix: str = "You said: ") -> str:
    said = strip_directives(ctx.last_human_text)
    return "\n\n" + prefix + said if said else "\n\n" + prefix.rstrip(": ") + " nothing."


def build_echo(scenario: Scenario, ctx: Context) -> list[Step]:
    s = Script(scenario, ctx)
    s.preamble()
    if ctx.wants_web or s.p.flag("citations", False):
        s.citation_frame()
    reply = echo_reply(ctx, s.p.text("prefix", "You said: "))
    s.texts(reply[: s.p.integer("max_chars", 4000)], s.p.integer("chunk", 4))
    s.end()
    return s.finish()


DEFAULT_TEXT: Final = "\n\nHello, wörld! 你好 🌍 — multibyte text split across frames."


def build_text(scenario: Scenario, ctx: Context) -> list[Step]:
    s = Script(scenario, ctx)
    s.preamble()
    if ctx.wants_web or s.p.flag("citations", False):
        s.citation_frame()
    s.texts(s.p.text("text", DEFAULT_TEXT), s.p.integer("chunk", 4))
    s.end()
    return s.finish()


def build_stamped(scenario: Scenario, ctx: Context) -> list[Step]:
    """Benchmarks: `frames` plain text frames, `pace` apart, each holding its send time.

    The text of every frame is `"<time.monotonic_ns() at write>;"`, so a client on the same machine
    can measure the one-way latency of each frame through whatever sits in between.
    """
    frames = Params(scenario.params).integer("frames", 50)
    pace = Params(scenario.params).number("pace", 0.02)

    def stamp() -> bytes:
        return encode_frame(wrap_chat_response(pb_bytes(1, f"{time.monotonic_ns()};".encode())))

    steps: list[Step] = [StartStream()]
    for index in range(frames):
        if index:
            steps.append(Sleep(pace))
        steps.append(Write(b"", render=stamp))
    steps.append(Write(CLEAN_END))
    return steps


def build_thinking(scenario: Scenario, ctx: Context) -> list[Step]:
    s = Script(scenario, ctx)
    s.preamble()
    chunk = s.p.integer("chunk", 4)
    if s.p.flag("redacted", False):
        s.thinking_frame(redacted=s.p.text("redacted_data", "EmwKAhgBEgy" + s.token(40)))
    else:
        said = strip_directives(ctx.last_human_text)
        thought = s.p.text("thinking", f"The user wrote {len(said)} characters. I will echo them back.")
        for piece in chunk_text(thought, chunk):
            s.thinking_frame(text=piece)
        s.thinking_frame(signature=s.p.text("signature", "sig_" + s.token(48)))
    if not s.p.flag("no_text", False):
        s.texts(s.p.text("text", echo_reply(ctx)), chunk)
    s.end()
    return s.finish()


def build_composer(scenario: Scenario, ctx: Context) -> list[Step]:
    """A composer-style answer for any model (upstream-2026.md §3): `thinking`, then `</think>`
    (cut across frames), then the answer (`text`, default the echo), all in the thinking field.
    `marker=false` leaves the marker out (the whole field is thinking); `second_marker=true` puts
    another `</think>` inside the answer."""
    s = Script(scenario, ctx)
    s.composer = True
    s.preamble()
    text = s.p.text("text", echo_reply(ctx))
    if s.p.flag("second_marker", False):
        text = f"{text} A tag such as </think> can appear in an answer."
    if s.p.flag("marker", True):
        s.texts(text, s.p.integer("chunk", 4))
    else:
        for piece in chunk_text(s.composer_thinking + text, s.p.integer("chunk", 4)):
            s.thinking_frame(text=piece)
    s.end()
    return s.finish()


@lru_cache(maxsize=2)
def capture_bytes(path: str) -> bytes:
    """A recorded response body kept as a hex dump (tests/fixtures/README.md)."""
    return bytes.fromhex(Path(path).read_text(encoding="ascii"))


REPLAY_FILE: Final = str(
    Path(__file__).resolve().parent.parent / "fixtures" / "chatservice-response-2026-01.hex"
)


def build_replay(scenario: Scenario, ctx: Context) -> list[Step]:
    """The body of a real ChatService response (`file`, default the 2026-01 capture), byte for
    byte, in writes of random sizes from 1 to `max_write` bytes (seeded, like every scenario)."""
    s = Script(scenario, ctx)
    data = capture_bytes(s.p.text("file", REPLAY_FILE))
    most = max(1, s.p.integer("max_write", 4096))
    steps: list[Step] = [StartStream()]
    pos = 0
    while pos < len(data):
        size = s.rng.randint(1, most)
        steps.append(Write(data[pos : pos + size]))
        pos += size
    return steps


def build_empty(scenario: Scenario, ctx: Context) -> list[Step]:
    s = Script(scenario, ctx)
    s.start()
    for _ in range(s.p.integer("heartbeats", 4)):
        s.heartbeat(force=True)
        s.pause(s.pace)
    s.end()
    return s.finish()


def build_large(scenario: Scenario, ctx: Context) -> list[Step]:
    """`frames` text frames (default 1) whose payloads are `size` bytes (default 64 bytes under 4 MiB)."""
    s = Script(scenario, ctx)
    s.start()
    size = s.p.integer("size", MAX_FRAME - 64)
    overhead = (
        len(wrap_chat_response(pb.StreamUnifiedChatResponse(text="x" * size).SerializeToString())) - size
    )
    text = "\n\n" + "x" * (size - overhead - 2)
    payload = wrap_chat_response(pb.StreamUnifiedChatResponse(text=text).SerializeToString())
    for _ in range(s.p.integer("frames", 1)):
        s.frame(payload, compress=s.p.flag("compress", False))
        s.content_frames += 1
    s.end()
    return s.finish()


def build_raw(scenario: Scenario, ctx: Context) -> list[Step]:
    """Test-supplied bytes: `chunks` (a list of bytes, each one write) after the 200 headers."""
    s = Script(scenario, ctx)
    s.start()
    for chunk in s.p.raw("chunks", []):
        s.write(bytes(chunk))
    return s.finish()


# ---------------------------------------------------------------- errors


def error_trailer(p: Params) -> dict[str, Any]:
    """The Connect error object for an `error` scenario's parameters (SIM-22)."""
    error = p.integer("error", 50)
    code = p.text("code", catalog.connect_code_for(error))
    mode = p.text("details", "one")
    if mode == "none":
        return connect_error(code, p.text("message", "Error"))
    title, detail = catalog.default_texts(error)
    action = None
    if error == 28 and p.text("variant", "rate") == "update":
        title, detail = catalog.UPDATE_REQUIRED_TITLE, catalog.UPDATE_REQUIRED_DETAIL
        action = "payment"
    items = [
        ErrorDetail(
            error,
            title=p.opt_text("title", title),
            detail=p.opt_text("detail", detail),
            is_expected=p.flag("is_expected", True),
            action_required=action,
        )
    ]
    if mode == "multi":
        second = p.integer("error2", 8)
        t2, d2 = catalog.default_texts(second)
        items.append(ErrorDetail(second, title=t2, detail=d2))
    if p.flag("no_texts", False):
        items = [ErrorDetail(item.error, is_expected=item.is_expected) for item in items]
    details = [error_detail_json(item, catalog.error_name(item.error)) for item in items]
    return connect_error(code, p.text("message", "Error"), details)


def build_error(scenario: Scenario, ctx: Context) -> list[Step]:
    s = Script(scenario, ctx)
    after = s.p.integer("after_frames", 0)
    s.preamble()
    for piece in _cycle_chunks(echo_reply(ctx), s.p.integer("chunk", 4), after):
        s.text_frame(piece)
    s.heartbeat()
    s.write(end_stream_frame(error=error_trailer(s.p), compress=s.p.flag("compressed", False)))
    return s.finish()


def _cycle_chunks(text: str, chunk: int, count: int) -> list[str]:
    pieces = list(chunk_text(text, chunk)) or ["…"]
    out: list[str] = []
    while len(out) < count:
        out.extend(pieces)
        pieces = list(chunk_text(" more text", chunk))
    return out[:count]


_HTML_403: Final = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1><p>You are unable to access cursor.sh</p></body></html>"
)


def http_error_response(status: int, p: Params) -> Respond:
    body = p.opt_text("body", None)
    if status == 403 and body is None:
        return text_response(403, _HTML_403, "text/html; charset=utf-8")
    if status == 404 and body is None:
        err = connect_error(
            "unimplemented", "aiserver.v1.ChatService/StreamUnifiedChatWithTools is not implemented"
        )
        return json_response(404, json.dumps(err).encode())
    if status == 401 and body is None:
        return json_response(401, json.dumps(connect_error("unauthenticated", "Unauthorized")).encode())
    if status == 429:
        headers = (
            ("content-type", "text/plain; charset=utf-8"),
            ("retry-after", str(p.integer("retry_after", 30))),
        )
        return Respond(429, headers, (body or "Too Many Requests").encode())
    defaults = {
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable: upstream connect error",
        505: "HTTP Version Not Supported",
    }
    return text_response(status, body if body is not None else defaults.get(status, f"HTTP {status}"))


def build_http_error(scenario: Scenario, ctx: Context) -> list[Step]:
    p = Params(scenario.params)
    return [http_error_response(p.integer("status", 500), p)]


# ---------------------------------------------------------------- timing and failures


def build_stall(scenario: Scenario, ctx: Context) -> list[Step]:
    """SIM-27. `at`: before_headers | after_headers (default) | after_content | heartbeats."""
    s = Script(scenario, ctx)
    at = s.p.text("at", "after_headers")
    if at == "before_headers":
        return [Stall()]
    if at == "after_headers":
        s.start()
    elif at == "heartbeats":
        s.start()
        for _ in range(s.p.integer("heartbeats", 3)):
            s.heartbeat(force=True)
    elif at == "after_content":
        s.preamble()
        for piece in _cycle_chunks(echo_reply(ctx), s.p.integer("chunk", 4), s.p.integer("frames", 2)):
            s.text_frame(piece)
    else:
        raise ValueError(f"stall: unknown at={at!r}")
    s.steps.append(Stall())
    return s.finish()


def build_disconnect(scenario: Scenario, ctx: Context) -> list[Step]:
    """SIM-28. `at`: before_headers | after_headers | mid_frame | between_frames (default)."""
    s = Script(scenario, ctx)
    at = s.p.text("at", "between_frames")
    if at == "before_headers":
        return [Abort()]
    s.start()
    if at != "after_headers":
        s.heartbeat()
        for piece in _cycle_chunks(echo_reply(ctx), s.p.integer("chunk", 4), s.p.integer("frames", 2)):
            s.text_frame(piece)
        if at == "mid_frame":
            partial = encode_frame(
                wrap_chat_response(pb.StreamUnifiedChatResponse(text="cut off").SerializeToString())
            )
            s.write(partial[: len(partial) // 2])
        elif at != "between_frames":
            raise ValueError(f"disconnect: unknown at={at!r}")
    s.steps.append(Abort())
    return s.finish()


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """A small gzip member that inflates to 1 MiB past the 4 MiB frame limit."""
    return gzip_bytes(b"\x00" * (MAX_FRAME + 1024 * 1024), level=9)


def build_broken(scenario: Scenario, ctx: Context) -> list[Step]:
    """SIM-25. `kind`: flag | too_large | bad_gzip | gzip_bomb | bad_protobuf | bad_end_json."""
    s = Script(scenario, ctx)
    kind = s.p.text("kind", "flag")
    s.preamble()
    for piece in _cycle_chunks(echo_reply(ctx), s.p.integer("chunk", 4), s.p.integer("after_frames", 1)):
        s.text_frame(piece)
    text_payload = wrap_chat_response(
        pb.StreamUnifiedChatResponse(text="must not appear").SerializeToString()
    )
    if kind == "flag":
        s.write(frame_header(0x04, len(text_payload)) + text_payload)
    elif kind == "too_large":
        s.write(frame_header(0, MAX_FRAME + 1) + text_payload)
    elif kind == "bad_gzip":
        junk = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xde\xad\xbe\xef" * 4
        s.write(frame_header(FLAG_COMPRESSED, len(junk)) + junk)
    elif kind == "gzip_bomb":
        bomb = gzip_bomb()
        s.write(frame_header(FLAG_COMPRESSED, len(bomb)) + bomb)
    elif kind == "bad_protobuf":
        junk = b"\x12\x7f\x0a\x05abc"  # the inner length overruns the payload
        s.write(encode_frame(junk))
    elif kind == "bad_end_json":
        s.write(frame_header(FLAG_END_STREAM, 9) + b"{not json")
        return s.finish()
    else:
        raise ValueError(f"broken: unknown kind={kind!r}")
    s.write(CLEAN_END)
    return s.finish()


BUILDERS: Final[dict[str, Callable[[Scenario, Context], list[Step]]]] = {
    "echo": build_echo,
    "text": build_text,
    "stamped": build_stamped,
    "thinking": build_thinking,
    "empty": build_empty,
    "error": build_error,
    "http_error": build_http_error,
    "stall": build_stall,
    "disconnect": build_disconnect,
    "broken": build_broken,
    "tool_call": build_tool_call,
    "agent": build_agent,
    "large": build_large,
    "raw": build_raw,
    "composer": build_composer,
    "replay": build_replay,
}


def build(scenario: Scenario, ctx: Context) -> list[Step]:
    """The step list for `scenario` answering the request in `ctx`."""
    return BUILDERS[scenario.name](scenario, ctx)
