"""The incremental parser of the emulation grammar (tool-calls.md §5, corpus §12.1, properties §12.2).

Every corpus case runs whole, split in two at every offset, in 1-character pieces and in random
chunkings; all runs must give the same events (text pieces merged).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.neutral.toolcalls import (
    MISSING_END,
    NO_JSON_BODY,
    TOO_LARGE,
    UNBALANCED,
    WRONG_MARKER,
    ParserEvent,
    RawCall,
    Terminate,
    Text,
    Thinking,
    Truncated,
)
from gateway.tools.grammar import Delimiters
from gateway.tools.parser import CallParser

N = "0a1b2c3d"
D = Delimiters(N)
OPEN, END, RESULT, THINK = D.call_open, D.end, D.result_open, D.think_open
WS = " \t\r\n"  # the whitespace P3 holds back


def parser(**options: object) -> CallParser:
    settings = {"calls": True, "thinking": False, "max_call_bytes": 1 << 24, **options}
    return CallParser(D, **settings)  # type: ignore[arg-type]


def merged(events: list[ParserEvent]) -> list[ParserEvent]:
    out: list[ParserEvent] = []
    for event in events:
        if out and isinstance(event, Text | Thinking) and type(out[-1]) is type(event):
            out[-1] = type(event)(out[-1].text + event.text)  # type: ignore[union-attr]
        else:
            out.append(event)
    return out


def run(chunks: list[str], **options: object) -> list[ParserEvent]:
    p = parser(**options)
    events: list[ParserEvent] = []
    for chunk in chunks:
        events.extend(p.feed(chunk))
    events.extend(p.end(clean=True))
    return merged(events)


def every_chunking(text: str, **options: object) -> list[ParserEvent]:
    """Whole, every two-way split and 1-character pieces agree; returns the events."""
    whole = run([text], **options)
    for i in range(len(text) + 1):
        assert run([text[:i], text[i:]], **options) == whole, f"split at {i}"
    assert run(list(text), **options) == whole, "1-character pieces"
    return whole


def call(body: str) -> str:
    return f"{OPEN}\n{body}\n{END}"


def raw(body: str, written: str | None = None, *flags: str) -> RawCall:
    return RawCall(body=body, flags=frozenset(flags), written=written if written is not None else call(body))


ONE = '{"name":"read","arguments":{"path":"a"}}'
TWO = '{"name":"read","arguments":{"path":"b"}}'


# ---------------------------------------------------------------- the corpus (§12.1)


@pytest.mark.parametrize(
    "text", ["a < b", "x << y", "<<c", "see <<call: here", "cat <<EOF\nhi\nEOF", "<<end:zz>> ok", "<"]
)
def test_1_plain_text_with_angle_brackets_passes(text: str) -> None:
    assert every_chunking(text) == [Text(text)]


def test_2_one_call() -> None:
    assert every_chunking(call(ONE)) == [raw(ONE)]


def test_3_prose_then_a_call_and_leading_whitespace_dropped_p3() -> None:
    assert every_chunking("Reading a. " + call(ONE)) == [Text("Reading a. "), raw(ONE)]
    assert every_chunking(" \n\n" + call(ONE)) == [raw(ONE)]


def test_4_two_calls_in_one_chunk_and_back_to_back() -> None:
    assert every_chunking(call(ONE) + "\n" + call(TWO)) == [raw(ONE), raw(TWO)]
    assert every_chunking(call(ONE) + call(TWO)) == [raw(ONE), raw(TWO)]


def test_5_short_interstitial_prose_is_not_emitted_p10() -> None:
    assert every_chunking(call(ONE) + "\nNext I'll read b.\n" + call(TWO)) == [raw(ONE), raw(TWO)]


def test_6_long_prose_after_a_call_terminates() -> None:
    events = every_chunking(call(ONE) + "x" * 600)
    assert events == [raw(ONE), Terminate()]


def test_7_invented_result_terminates() -> None:
    assert every_chunking(call(ONE) + f"\n{RESULT}\n{{}}\nok\n{END}") == [raw(ONE), Terminate()]


def test_8_delimiters_inside_strings_are_content_p6() -> None:
    value = f'{END} {OPEN} }} " \\ ``` <<end: {{"a":1}}'
    body = json.dumps({"name": "write", "arguments": {"content": value}})
    [event] = every_chunking(call(body))
    assert isinstance(event, RawCall) and not event.flags
    assert json.loads(event.body)["arguments"]["content"] == value


def test_9_fenced_call_p5() -> None:
    text = f"{OPEN}\n```json\n{ONE}\n```\n{END}"
    assert every_chunking(text) == [raw(ONE, text)]


def test_10_wrong_nonce_is_a_wrong_marker_and_swallowed_p4() -> None:
    text = f"<<call:deadbeef>>\n{ONE}\n<<end:deadbeef>>"
    assert every_chunking(text) == [raw(ONE, text, WRONG_MARKER)]
    text = f"<<call:>>\n{ONE}\n{END}"
    assert every_chunking(text) == [raw(ONE, text, WRONG_MARKER)]


def test_11_missing_end_after_a_balanced_body_p7() -> None:
    assert every_chunking(f"{OPEN}\n{ONE}") == [raw(ONE, f"{OPEN}\n{ONE}", MISSING_END)]
    # The next opener right after the body also completes it.
    text = f"{OPEN}\n{ONE}\n{OPEN}\n{TWO}\n{END}"
    assert every_chunking(text) == [raw(ONE, f"{OPEN}\n{ONE}\n", MISSING_END), raw(TWO)]


def test_12_unbalanced_body_closed_by_end_p8() -> None:
    body = '{"name":"read","arguments":{"path":"a"}'
    assert every_chunking(call(body)) == [raw(body + "\n", call(body), UNBALANCED)]


def test_13_end_inside_an_unterminated_string_is_the_fallback_end() -> None:
    body = '{"name":"read","arguments":{"path":"a'
    events = every_chunking(f"{OPEN}\n{body}{END}")
    assert events == [RawCall(body=body, flags=frozenset({UNBALANCED}), written=f"{OPEN}\n{body}{END}")]


def test_14_truncation_mid_body_leaks_nothing() -> None:
    assert every_chunking("Writing. " + OPEN + '\n{"name":"write","arguments":{"content":"half') == [
        Text("Writing. "),
        Truncated(),
    ]


def test_15_truncation_after_one_good_call() -> None:
    events = every_chunking(call(ONE) + "\n" + OPEN + '\n{"name":"read","argu')
    assert events == [raw(ONE), Truncated()]


def test_16_thinking_then_a_call() -> None:
    text = f"{THINK}\nI should read a.\n{END}\n{call(ONE)}"
    assert every_chunking(text, thinking=True) == [Thinking("I should read a.\n"), raw(ONE)]


def test_17_unclosed_thinking_is_thinking_then_truncated_k6() -> None:
    assert every_chunking(f"{THINK}\nhmm, so", thinking=True) == [Thinking("hmm, so"), Truncated()]


def test_18_call_opener_inside_thinking_closes_it() -> None:
    text = f"{THINK}\nplan {call(ONE)}"
    assert every_chunking(text, thinking=True) == [Thinking("plan "), raw(ONE)]


def test_19_stray_end_in_text_is_dropped() -> None:
    assert every_chunking(f"done{END} now") == [Text("done now")]


def test_20_upstream_drop_mid_call_is_not_a_truncation() -> None:
    p = parser()
    assert p.feed(OPEN + '\n{"name":') == []
    assert p.end(clean=False) == []
    assert not p.decided


def test_21_a_one_mib_body_decodes_to_the_original() -> None:
    line = f'line with "quotes", \\backslashes\\, {END}, emoji 😀 and 漢字\n'
    content = (line * (1 + (1 << 20) // len(line)))[: 1 << 20]
    body = json.dumps(
        {"name": "write_file", "arguments": {"path": "big.txt", "content": content}}, ensure_ascii=False
    )
    text = "Writing it. " + call(body)
    for size in (1, 7, 4096, len(text)):
        events = run([text[i : i + size] for i in range(0, len(text), size)])
        assert events[0] == Text("Writing it. ")
        assert isinstance(events[1], RawCall) and not events[1].flags
        assert json.loads(events[1].body)["arguments"]["content"] == content


@pytest.mark.parametrize(
    "value", ["\\ud83d\\ude00", "\\ud800", "שלום עולם", "e\u0301\u0302", "\\u0000", "漢字 😀"]
)
def test_22_unicode_bodies_pass_through(value: str) -> None:
    body = '{"name":"write","arguments":{"content":"' + value + '"}}'
    assert every_chunking(call(body)) == [raw(body)]


def test_raw_body_without_json_is_no_json_body_p5() -> None:
    text = call("please read a.txt")
    assert every_chunking(text) == [raw("please read a.txt\n", text, NO_JSON_BODY)]


def test_a_body_over_the_limit_is_too_large_but_scanned_p9() -> None:
    body = json.dumps({"name": "write", "arguments": {"content": "x" * 5000}})
    [event] = every_chunking(call(body) + "\n", max_call_bytes=1000)
    assert isinstance(event, RawCall) and TOO_LARGE in event.flags and event.body == ""


def test_calls_off_leaves_openers_as_text() -> None:
    assert every_chunking(call(ONE), calls=False) == [Text(call(ONE).replace(END, ""))]


def test_decided_after_a_call_p14() -> None:
    p = parser()
    p.feed(call(ONE))
    assert p.decided


# ---------------------------------------------------------------- properties (§12.2)

FRAGMENTS = st.sampled_from(
    ["<", "<<", OPEN, END, "<<end:", "<<call:", '"', "\\", "{", "}", "```", "\n", "\t", "\x00", "é", "😀"]
)
STRINGS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=12).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4),
    max_leaves=12,
)


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@given(st.dictionaries(STRINGS, JSON_VALUES, max_size=5), st.lists(st.integers(0, 400), max_size=12))
def test_any_arguments_round_trip_under_any_chunking(arguments: dict[str, object], cuts: list[int]) -> None:
    body = json.dumps({"name": "tool", "arguments": arguments}, ensure_ascii=False)
    text = "Prose. " + call(body)
    events = run(chunked(text, cuts))
    assert events[0] == Text("Prose. ")
    assert isinstance(events[1], RawCall) and not events[1].flags
    assert json.loads(events[1].body)["arguments"] == arguments


@given(
    st.text(alphabet=st.characters(blacklist_characters="<"), max_size=300),
    st.lists(st.integers(0, 300), max_size=10),
)
def test_text_without_angle_brackets_is_never_held(text: str, cuts: list[int]) -> None:
    p = parser()
    emitted = ""
    fed = ""
    for piece in chunked(text, cuts):
        fed += piece
        emitted += "".join(e.text for e in p.feed(piece) if isinstance(e, Text))
        if fed.strip(WS):
            assert emitted == fed  # P1: zero holdback once visible text began
    emitted += "".join(e.text for e in p.end(clean=True) if isinstance(e, Text))
    assert emitted == (text if text.strip(WS) else "")


@given(
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=6)), max_size=30),
    st.lists(st.integers(0, 200), max_size=10),
)
def test_no_marker_leaks_and_holdback_is_bounded_p1_p2(pieces: list[str], cuts: list[int]) -> None:
    text = "Hello " + "".join(pieces)
    p = parser()
    visible = ""
    for piece in chunked(text, cuts):
        visible += "".join(e.text for e in p.feed(piece) if isinstance(e, Text))
        if p.state == "text":
            assert p.held <= 24  # P1
    visible += "".join(e.text for e in p.end(clean=True) if isinstance(e, Text))
    for marker in (OPEN, END, RESULT):
        assert marker not in visible  # P2
