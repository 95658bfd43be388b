"""The script writer every scenario builder uses: framing, heartbeats, pacing, write cuts.

Owns: the request `Context` a builder may look at, simulator-wide `Defaults`, typed access to
scenario `Params` (directive values arrive as strings), the `Script` accumulator (gzip/plain mix,
heartbeats, unmodeled fields, pacing, trailers; SIM-12…SIM-16, SIM-26) and the write-boundary
transform `apply_writes` (SIM-15).
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes.steps import Sleep, StartStream, Step, Write
from tests.fakes.wire import (
    CLEAN_END,
    HEARTBEAT_PAYLOAD,
    encode_frame,
    end_stream_frame,
    pb_bytes,
    pb_varint,
    wrap_chat_response,
)

COMPOSER_MARKER: Final = "</think>"
COMPOSER_THINKING: Final = "The user wants an answer; I will give it directly."

# Parameters that change only how bytes are cut or timed; they do not reseed the content.
FRAMING_PARAMS: Final = frozenset(
    {"writes", "coalesce", "pace", "heartbeat_every", "first_delay", "header_delay"}
)


class ScenarioLike(Protocol):
    """What the script needs from a scenario (avoids importing `Scenario`)."""

    name: str
    params: dict[str, Any]


# ---------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class Defaults:
    """Simulator-wide defaults a scenario's own parameters override."""

    seed: int = 0
    gzip_ratio: float = 0.6
    pace_s: float = 0.0
    heartbeat_every_s: float = 0.0
    writes: str = "frame"


@dataclass(frozen=True, slots=True)
class Context:
    """What a builder may look at: the decoded request (None for a malformed one) and defaults."""

    request: pb.StreamUnifiedChatRequest | None
    defaults: Defaults

    @property
    def last_human_text(self) -> str:
        if self.request is None:
            return ""
        for message in reversed(self.request.conversation):
            if message.type == pb.MESSAGE_TYPE_HUMAN:
                return message.text
        return ""

    @property
    def model_name(self) -> str:
        return self.request.model_details.model_name if self.request is not None else ""

    @property
    def wants_thinking(self) -> bool:
        if self.request is None:
            return False
        return self.request.thinking_level == pb.THINKING_LEVEL_HIGH or self.model_name.endswith("-thinking")

    @property
    def composer(self) -> bool:
        """A `composer-*` model: it answers inside the thinking field (upstream-2026.md §3)."""
        return re.search(r"(?:^|/)composer(?:-|$)", self.model_name.lower()) is not None

    @property
    def wants_web(self) -> bool:
        return self.request is not None and self.request.use_web == "full_search"

    @property
    def first_tool(self) -> pb.MCPParams.Tool | None:
        if self.request is None or not self.request.mcp_tools:
            return None
        return self.request.mcp_tools[0]


class Params:
    """Typed access to scenario parameters, which may arrive as strings from a directive."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params

    def has(self, key: str) -> bool:
        return key in self._params

    def integer(self, key: str, default: int) -> int:
        value = self._params.get(key, default)
        return int(value)

    def number(self, key: str, default: float) -> float:
        value = self._params.get(key, default)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._params.get(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)

    def text(self, key: str, default: str) -> str:
        value = self._params.get(key, default)
        return default if value is None else str(value)

    def opt_text(self, key: str, default: str | None) -> str | None:
        value = self._params.get(key, default)
        return None if value is None else str(value)

    def raw(self, key: str, default: Any = None) -> Any:
        return self._params.get(key, default)


# ---------------------------------------------------------------- script writer


class Script:
    """Accumulates steps for one response: framing choices, heartbeats, pacing, unknown fields."""

    def __init__(self, scenario: ScenarioLike, ctx: Context) -> None:
        self.p = Params(scenario.params)
        content_params = sorted((k, v) for k, v in scenario.params.items() if k not in FRAMING_PARAMS)
        seed_text = f"{self.p.integer('seed', ctx.defaults.seed)}|{scenario.name}|{content_params!r}"
        seed_text += f"|{ctx.model_name}|{ctx.last_human_text}"
        self.rng = random.Random(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big"))
        self.ctx = ctx
        self.gzip_ratio = self.p.number("gzip", ctx.defaults.gzip_ratio)
        self.pace = self.p.number("pace", ctx.defaults.pace_s)
        self.heartbeat_every = self.p.number("heartbeat_every", ctx.defaults.heartbeat_every_s)
        self.heartbeats = self.p.flag("heartbeats", True)
        self.unknown_fields = self.p.flag("unknown_fields", True)
        self.steps: list[Step] = []
        self.content_frames = 0
        self._heartbeat_toggle = False
        # Composer style: every text goes into the thinking field, after the thinking and `</think>`.
        self.composer = ctx.composer and self.p.flag("composer_style", True)
        self.composer_thinking = self.p.text("thinking", COMPOSER_THINKING)
        self._composer_open = False

    # -- ids

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    # -- primitives

    def start(self) -> None:
        header_delay = self.p.number("header_delay", 0.0)
        if header_delay > 0:
            self.steps.append(Sleep(header_delay))
        self.steps.append(StartStream())

    def write(self, data: bytes) -> None:
        self.steps.append(Write(data))

    def frame(self, payload: bytes, *, compress: bool | None = None) -> None:
        if compress is None:
            compress = self.rng.random() < self.gzip_ratio
        self.write(encode_frame(payload, compress=compress))

    def heartbeat(self, *, force: bool = False) -> None:
        if not (self.heartbeats or force):
            return
        self._heartbeat_toggle = not self._heartbeat_toggle
        if self._heartbeat_toggle:
            self.frame(HEARTBEAT_PAYLOAD)
        else:
            self.write(encode_frame(b""))

    def pause(self, seconds: float) -> None:
        """Sleep, sending heartbeats every `heartbeat_every` seconds meanwhile (SIM-26)."""
        if seconds <= 0:
            return
        remaining = seconds
        if self.heartbeat_every > 0:
            while remaining > self.heartbeat_every:
                self.steps.append(Sleep(self.heartbeat_every))
                self.heartbeat(force=True)
                remaining -= self.heartbeat_every
        self.steps.append(Sleep(remaining))

    def preamble(self) -> None:
        """Headers, leading heartbeats and unmodeled-field frames (SIM-13, SIM-14)."""
        self.start()
        self.heartbeat()
        if self.unknown_fields:
            self.frame(
                wrap_chat_response(
                    pb_bytes(22, self.uuid())
                    + pb_bytes(27, self.uuid())
                    + pb_bytes(30, pb_varint(1, 3) + pb_varint(2, 7) + pb_varint(3, 1))
                )
            )
            self.frame(
                wrap_chat_response(
                    pb_varint(13, 1) + pb_bytes(15, "sim") + pb_varint(16, 42) + pb_bytes(32, pb_varint(1, 1))
                )
            )
        self.heartbeat()
        self.pause(self.p.number("first_delay", 0.0))

    def content(self, payload: bytes) -> None:
        """One content frame, with pacing and the occasional heartbeat before it."""
        if self.content_frames > 0:
            self.pause(self.pace)
            if self.rng.random() < 0.25:
                self.heartbeat()
        self.frame(payload)
        self.content_frames += 1

    def text_frame(self, text: str) -> None:
        if self.composer:
            if not self._composer_open:
                self._composer_open = True
                # The marker is cut across frames, as the model's tokens would cut it.
                for piece in chunk_text(self.composer_thinking + COMPOSER_MARKER, 5):
                    self.thinking_frame(text=piece)
            self.thinking_frame(text=text)
            return
        inner = pb.StreamUnifiedChatResponse(text=text).SerializeToString()
        if self.content_frames == 0 and self.unknown_fields:
            inner += pb_bytes(22, self.uuid())
        self.content(wrap_chat_response(inner))

    def thinking_frame(self, *, text: str = "", signature: str = "", redacted: str = "") -> None:
        thinking = pb.ConversationMessage.Thinking(text=text, signature=signature, redacted_thinking=redacted)
        self.content(wrap_chat_response(pb.StreamUnifiedChatResponse(thinking=thinking).SerializeToString()))

    def citation_frame(self) -> None:
        refs = [
            pb.WebReference(url="https://example.com/a", title="Example A", chunk="First result."),
            pb.WebReference(url="https://example.org/b", title="Example B", chunk="Second result."),
        ]
        message = pb.StreamUnifiedChatResponse(web_citation=pb.WebCitation(references=refs))
        self.content(wrap_chat_response(message.SerializeToString()))

    def texts(self, text: str, chunk: int) -> None:
        for piece in chunk_text(text, chunk):
            self.text_frame(piece)

    def end(self) -> None:
        self.heartbeat()
        trailer = self.p.text("trailer", "plain")
        if trailer == "compressed":
            self.write(end_stream_frame(compress=True))
        elif trailer == "metadata":
            self.write(end_stream_frame(metadata={"x-sim-request": [self.uuid()]}))
        elif trailer == "none":
            return
        else:
            self.write(CLEAN_END)

    def finish(self) -> list[Step]:
        return apply_writes(
            self.steps,
            self.p.text("writes", self.ctx.defaults.writes),
            coalesce=self.p.integer("coalesce", 4),
            rng=self.rng,
        )


def chunk_text(text: str, chunk: int) -> Iterator[str]:
    """Split by code points, so a multibyte character is never cut inside a frame."""
    chunk = max(1, chunk)
    for start in range(0, len(text), chunk):
        yield text[start : start + chunk]


def apply_writes(steps: Sequence[Step], mode: str, *, coalesce: int = 4, rng: random.Random) -> list[Step]:
    """Re-cut the `Write` steps for SIM-15 (frame boundaries stay intact inside the byte stream)."""
    if mode == "frame":
        return list(steps)
    out: list[Step] = []
    pending: list[bytes] = []

    def flush() -> None:
        for i in range(0, len(pending), max(1, coalesce)):
            out.append(Write(b"".join(pending[i : i + coalesce])))
        pending.clear()

    for step in steps:
        if not isinstance(step, Write):
            flush()
            out.append(step)
            continue
        data = step.data
        if mode == "coalesce":
            pending.append(data)
        elif mode == "byte":
            out.extend(Write(data[i : i + 1]) for i in range(len(data)))
        elif mode == "split_header":
            out.extend(Write(part) for part in (data[:5], data[5:]) if part)
        elif mode == "split_mid":
            cut = 5 + max(1, (len(data) - 5) // 2) if len(data) > 6 else len(data)
            out.extend(Write(part) for part in (data[:cut], data[cut:]) if part)
        elif mode == "random":
            pos = 0
            while pos < len(data):
                size = rng.randint(1, 16)
                out.append(Write(data[pos : pos + size]))
                pos += size
        else:
            raise ValueError(f"unknown write mode {mode!r}")
    flush()
    return out
