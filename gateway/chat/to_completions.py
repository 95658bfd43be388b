"""Chat events -> legacy `text_completion` chunks, or one final `text_completion` object. Pure.

The stream has the framing of a streamed chat completion (`to_openai.ChatStream`: choices
interleaved, an optional usage chunk, `data: [DONE]`, errors in the OpenAI envelope); only the
chunks differ: `{"object": "text_completion", "choices": [{"text", "index", "logprobs": null,
"finish_reason"}]}`. With `echo` a choice starts with its prompt. Thinking is never shown (this
endpoint has no place for it). No I/O, no clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.chat.collect import Answer
from gateway.chat.to_openai import usage_dict
from gateway.neutral.model import Event, Finish, FinishReason, TextDelta, Usage


def completion_id() -> str:
    return "cmpl-" + secrets.token_hex(12)


@dataclass(slots=True)
class TextWriter:
    """The chunks of one streamed choice (a `ChoiceWriter` of `ChatStream`)."""

    id: str
    created: int
    model: str
    choice_index: int
    echo: str = ""  # the prompt, when `echo` is on
    include_usage: bool = False

    def _chunk(self, text: str, finish: FinishReason | None = None) -> dict[str, Any]:
        choice = {"text": text, "index": self.choice_index, "logprobs": None, "finish_reason": finish}
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }

    def opening(self) -> list[dict[str, Any]]:
        return [self._chunk(self.echo)] if self.echo else []

    def render(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, TextDelta):
            return [self._chunk(event.text)]
        if isinstance(event, Finish):
            return [self._chunk("", event.reason)]
        return []

    def content_frame(self) -> tuple[bytes, bytes] | None:
        """No fast path here: `render` makes every chunk."""
        return None

    def usage_chunk(self, usage: Usage) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_dict(usage),
        }


def text_completion(
    answers: Sequence[Answer], echoes: Sequence[str], *, id: str, created: int, model: str
) -> dict[str, Any]:
    """The `text_completion` of `answers` (one per choice; `echoes[i]` is choice i's echoed prompt)."""
    usages = [answer.usage for answer in answers]
    return {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"text": echo + answer.text, "index": i, "logprobs": None, "finish_reason": answer.finish}
            for i, (answer, echo) in enumerate(zip(answers, echoes, strict=True))
        ],
        "usage": usage_dict(sum(usages[1:], usages[0])),
    }
