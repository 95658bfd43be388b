"""Incremental stop sequences: cut the visible text at the first occurrence of any stop string.

`StopFilter.feed(text)` takes the text deltas of one answer in order and returns the part that is
safe to show now. It holds back only the longest tail of what it has seen that is a proper prefix
of some stop string (the tail could still grow into a match), so text that cannot become part of a
match is never delayed. Once a stop string is complete, `feed` returns the text before it, sets
`stopped` and `matched` (the stop string), and returns nothing afterwards. At the end of the text, `flush()` releases the held tail.

The result does not depend on how the text was split into deltas. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable


def first_match(text: str, stops: Iterable[str]) -> tuple[int, int] | None:
    """`(end, start)` of the stop string that is complete first in `text`, or None.

    "First" is the earliest end, as when text is generated one character at a time; of two stop
    strings ending at the same place, the longer (earlier start) wins.
    """
    found = [(i + len(stop), i) for stop in stops if (i := text.find(stop)) >= 0]
    return min(found) if found else None


def held_length(text: str, stops: Iterable[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `stops`."""
    best = 0
    for stop in stops:
        # Only the last len(stop) - 1 characters can start such a suffix; try the longest first.
        start = max(len(text) - len(stop) + 1, 0)
        while start < len(text) and len(text) - start > best:
            start = text.find(stop[0], start)
            if start < 0 or len(text) - start <= best:
                break
            if stop.startswith(text[start:]):
                best = len(text) - start
                break
            start += 1
    return best


class StopFilter:
    """One answer's stop-sequence state. Empty stop strings are ignored."""

    __slots__ = ("_held", "_stops", "matched", "stopped")

    def __init__(self, stops: Iterable[str]) -> None:
        self._stops = tuple(dict.fromkeys(stop for stop in stops if stop))
        self._held = ""
        self.stopped = False
        self.matched: str | None = None

    @property
    def active(self) -> bool:
        return bool(self._stops)

    @property
    def held(self) -> str:
        """The text seen but not yet released."""
        return self._held

    def feed(self, text: str) -> str:
        """The text that can be shown now; after a match, the text before it (then nothing more)."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        seen = self._held + text
        match = first_match(seen, self._stops)
        if match is not None:
            self.stopped = True
            self._held = ""
            self.matched = seen[match[1] : match[0]]
            return seen[: match[1]]
        keep = held_length(seen, self._stops)
        self._held = seen[len(seen) - keep :]
        return seen[: len(seen) - keep]

    def flush(self) -> str:
        """The held tail, when the text has ended (or is interrupted by a non-text event)."""
        held, self._held = self._held, ""
        return held
