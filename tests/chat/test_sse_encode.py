"""SSE encoding: every payload round-trips through an SSE reader as exactly one data line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.sse_encode import encode_event, encode_named
from tests.sse_reader import parse_named_sse, parse_sse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=15,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
names = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=30) | st.just(
    "response.output_text.delta"
)


@given(st.lists(payloads, max_size=5))
def test_events_round_trip_through_an_sse_reader(events):
    # Line breaks of every kind inside strings stay escaped: each event is exactly one data line.
    body = b"".join(encode_event(p) for p in events).decode()
    decoded, comments = parse_sse(body)
    assert decoded == events and comments == []


@given(st.lists(st.tuples(names, payloads), max_size=5))
def test_named_events_round_trip_with_their_names(events):
    body = b"".join(encode_named(name, payload) for name, payload in events).decode()
    decoded, comments = parse_named_sse(body)
    assert decoded == events and comments == []


@given(st.text())
def test_one_event_is_one_line(value):
    encoded = encode_event({"content": value})
    assert encoded.count(b"\n") == 2 and encoded.endswith(b"\n\n") and b"\r" not in encoded
    named = encode_named("x", {"content": value})
    assert named.count(b"\n") == 3 and b"\r" not in named
