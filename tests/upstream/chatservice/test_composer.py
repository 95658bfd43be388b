"""The composer thinking splitter: thinking before the first `</think>`, the answer after it."""

from __future__ import annotations

import itertools

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.neutral.model import TextDelta, ThinkingDelta
from gateway.upstream.chatservice.composer import LEADING, MARKER, ThinkSplitter

THINKING = "Let me see: a <b>tag</b> < and </thin are not the marker."
ANSWER = "\n\nThe answer, with a </think> of its own and <unicode ✓>."


def split(pieces: list[str]) -> tuple[str, str, list[tuple[str, str]]]:
    """Feed `pieces`, then end: (thinking, text, every event as (kind, text) in order)."""
    splitter = ThinkSplitter()
    events = [e for piece in pieces for e in splitter.feed(piece)] + splitter.end()
    kinds = [("text" if isinstance(e, TextDelta) else "thinking", e.text) for e in events]
    thinking = "".join(t for kind, t in kinds if kind == "thinking")
    text = "".join(t for kind, t in kinds if kind == "text")
    return thinking, text, kinds


def test_the_public_example():
    """A Go client's test decodes `private thinking</think>OK` to the visible `OK`."""
    assert split(["private thinking</think>OK"])[:2] == ("private thinking", "OK")


def test_a_split_at_every_offset_of_the_marker():
    whole = THINKING + MARKER + ANSWER
    start = len(THINKING)
    for cut in range(start - 2, start + len(MARKER) + 3):
        thinking, text, kinds = split([whole[:cut], whole[cut:]])
        assert thinking == THINKING, cut
        assert text == ANSWER.lstrip(LEADING), cut
        # Every thinking piece comes before every text piece.
        assert kinds == sorted(kinds, key=lambda k: k[0] == "text"), cut


@given(st.lists(st.integers(min_value=0, max_value=len(THINKING + MARKER + ANSWER)), max_size=12))
def test_any_cuts_give_the_same_split(cuts):
    whole = THINKING + MARKER + ANSWER
    points = [0, *sorted(cuts), len(whole)]
    thinking, text, _ = split([whole[a:b] for a, b in itertools.pairwise(points)])
    assert (thinking, text) == (THINKING, ANSWER.lstrip(LEADING))


@given(st.text(alphabet="</thinkab>\n ", max_size=40), st.text(max_size=40))
@example("</thin", "k>")
@example("<</think>", " x</think>")
def test_text_is_released_as_soon_as_it_cannot_be_the_marker(before, after):
    """Fed one character at a time, what is held back is exactly the longest end of the input
    that could still begin `</think>`; once the marker is seen, nothing is held back at all."""
    whole = before + after
    splitter = ThinkSplitter()
    released_thinking = released_text = ""
    for i, ch in enumerate(whole, start=1):
        for event in splitter.feed(ch):
            if isinstance(event, ThinkingDelta):
                released_thinking += event.text
            else:
                released_text += event.text
        fed = whole[:i]
        marker_at = fed.find(MARKER)
        if marker_at < 0:
            held = max((k for k in range(1, len(MARKER)) if fed.endswith(MARKER[:k])), default=0)
            assert released_thinking == fed[: len(fed) - held]
            assert released_text == ""
        else:
            assert released_thinking == fed[:marker_at]
            assert released_text == fed[marker_at + len(MARKER) :].lstrip(LEADING)


def test_only_the_first_marker_splits():
    thinking, text, _ = split(["a</think>b</think>c"])
    assert (thinking, text) == ("a", "b</think>c")


def test_no_marker_is_all_thinking_and_the_held_end_is_released_at_the_end():
    assert split(["thinking without an end </th"]) == (
        "thinking without an end </th",
        "",
        [("thinking", "thinking without an end "), ("thinking", "</th")],
    )


def test_only_whitespace_after_the_marker_gives_no_text_until_a_character_comes():
    splitter = ThinkSplitter()
    assert splitter.feed("x</think> \n\t") == [ThinkingDelta("x")]
    assert splitter.visible
    assert splitter.feed("\n") == []
    assert splitter.feed(" Yes") == [TextDelta("Yes")]
    assert splitter.feed("  and more") == [TextDelta("  and more")]  # only the start is trimmed
