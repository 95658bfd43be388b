"""Composer models answer inside the thinking field: split it into thinking and the visible answer.

For Cursor's `composer-*` models, field 25 (`thinking`) of the chat response carries the thinking
and then, after a `</think>` marker, the visible answer (upstream-2026.md §3). `ThinkSplitter`
takes that text as it arrives and returns thinking and text deltas. Before the marker the text is
thinking; the few characters that might still begin a `</think>` are held back until the next
piece decides (at most 7), so visible text is streamed as soon as it can no longer be part of the
marker, and nothing of the marker ever shows.

Decided here:

* Only the first `</think>` splits. Everything after it is the answer, a later `</think>`
  included, as written: text already streamed cannot be taken back, and a later marker is more
  likely part of the answer (say, code about tags) than a second thinking block.
* Spaces and line breaks right after the marker are dropped (the visible answer starts with its
  first other character, like the leading-newline trim of cursor-protocol.md §9.2).
* `end()` releases held-back characters as thinking: the stream ended before a marker.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Final

from gateway.neutral.model import TextDelta, ThinkingDelta

MARKER: Final = "</think>"
LEADING: Final = " \t\r\n"


def _partial_marker(text: str) -> int:
    """The length of the longest end of `text` that begins `MARKER` (without being all of it)."""
    for size in range(min(len(text), len(MARKER) - 1), 0, -1):
        if text.endswith(MARKER[:size]):
            return size
    return 0


class ThinkSplitter:
    """Incremental: `feed()` each piece of the thinking field, `end()` once at the end."""

    __slots__ = ("_held", "_trimming", "visible")

    def __init__(self) -> None:
        self._held = ""
        self._trimming = True
        self.visible = False  # the marker was seen: what follows is the answer

    def feed(self, text: str) -> list[TextDelta | ThinkingDelta]:
        if self.visible:
            return self._answer(text)
        data = self._held + text
        index = data.find(MARKER)
        if index >= 0:
            self._held = ""
            self.visible = True
            before = [ThinkingDelta(data[:index])] if index else []
            return [*before, *self._answer(data[index + len(MARKER) :])]
        keep = _partial_marker(data)
        self._held = data[len(data) - keep :]
        thinking = data[: len(data) - keep]
        return [ThinkingDelta(thinking)] if thinking else []

    def _answer(self, text: str) -> list[TextDelta | ThinkingDelta]:
        if self._trimming:
            text = text.lstrip(LEADING)
            if not text:
                return []
            self._trimming = False
        return [TextDelta(text)]

    def end(self) -> list[TextDelta | ThinkingDelta]:
        held, self._held = self._held, ""
        return [ThinkingDelta(held)] if held else []
