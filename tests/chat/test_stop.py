"""The incremental stop-sequence filter: the same cut for every split, and minimal holdback."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.chat.stop import StopFilter, held_length


def reference_cut(text: str, stops: list[str]) -> str | None:
    """Brute force: generate one character at a time; stop when a stop string is complete.

    Returns the text before the earliest-starting stop string among those complete at that
    point, or None when no stop string occurs.
    """
    stops = [s for s in stops if s]
    for end in range(1, len(text) + 1):
        done = [s for s in stops if text[:end].endswith(s)]
        if done:
            return text[: end - max(len(s) for s in done)]
    return None


def reference_held(seen: str, stops: list[str]) -> int:
    """Brute force: the longest suffix of `seen` that is a proper prefix of a stop string."""
    best = 0
    for stop in stops:
        for k in range(1, len(stop)):
            if k <= len(seen) and seen.endswith(stop[:k]):
                best = max(best, k)
    return best


def run(pieces: list[str], stops: list[str]) -> tuple[str, bool]:
    f = StopFilter(stops)
    out = "".join(f.feed(piece) for piece in pieces)
    if not f.stopped:
        out += f.flush()
        assert f.matched is None
    else:
        # The text went on with the stop string that was complete first.
        assert f.matched in stops and "".join(pieces).startswith(out + f.matched)
    return out, f.stopped


alphabet = st.sampled_from("ab\nc")  # small, so stop strings occur often
texts = st.text(alphabet, max_size=30)
stop_lists = st.lists(st.text(alphabet, min_size=1, max_size=4), min_size=1, max_size=4)


def test_cut_at_the_first_stop_string():
    assert run(["Hello END world"], ["END"]) == ("Hello ", True)
    f = StopFilter(["zz", "c", "abcd"])
    assert f.feed("ab") == "" and f.feed("cd") == "ab"
    assert f.matched == "c"  # the stop string that completed first
    assert run(["no stop here"], ["END"]) == ("no stop here", False)
    assert run(["abc"], ["c", "abcd"]) == ("ab", True)  # "c" is complete first


def test_stop_split_across_deltas_is_cut_and_nothing_after_is_shown():
    f = StopFilter(["<END>"])
    assert f.feed("answer <E") == "answer "
    assert f.held == "<E"
    assert f.feed("N") == ""
    assert f.feed("D> trailing") == ""
    assert f.stopped
    assert f.feed("more") == "" and f.flush() == ""


def test_held_text_is_released_when_it_cannot_match():
    f = StopFilter(["<END>"])
    assert f.feed("a <E") == "a "
    assert f.feed("x") == "<Ex"
    assert not f.stopped


def test_no_stop_strings_pass_everything_through():
    f = StopFilter(["", ""])
    assert not f.active
    assert f.feed("abc") == "abc" and f.flush() == ""


@pytest.mark.parametrize("cut", range(len("one two STOP three") + 1))
def test_every_split_point_of_a_fixed_text(cut):
    text = "one two STOP three"
    assert run([text[:cut], text[cut:]], ["STOP"]) == ("one two ", True)


@given(texts, stop_lists, st.data())
@example("aab", ["ab"], None)
@example("abcd", ["abcd", "c"], None)
@example("a\nb", ["\n"], None)
def test_any_split_gives_the_reference_cut(text, stops, data):
    expected = reference_cut(text, stops)
    whole = run([text], stops)
    assert whole == ((text, False) if expected is None else (expected, True))
    # Every single split point, and an arbitrary chunking.
    for cut in range(len(text) + 1):
        assert run([text[:cut], text[cut:]], stops) == whole
    if data is not None:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert run(pieces, stops) == whole
    assert run(list(text), stops) == whole


@given(texts, stop_lists)
def test_holdback_is_minimal(text, stops):
    """Before a match, everything is shown except the longest tail that could still become one."""
    f = StopFilter(stops)
    shown = ""
    for end in range(1, len(text) + 1):
        shown += f.feed(text[end - 1])
        if f.stopped:
            break
        seen = text[:end]
        keep = reference_held(seen, stops)
        assert held_length(seen, stops) == keep
        assert shown == seen[: len(seen) - keep]
        assert f.held == seen[len(seen) - keep :]
