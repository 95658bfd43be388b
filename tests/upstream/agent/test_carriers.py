"""The two carriers' framing: Connect envelopes on the duplex stream, ordered hex appends for RunSSE."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.agent.carriers import AppendRefused, Bidi, open_sse
from gateway.upstream.framing import FrameDecoder
from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from tests.scripted import Reply, ScriptedTransport

payloads = st.lists(st.binary(max_size=300), min_size=1, max_size=6)


class Recorder:
    """A duplex call that keeps what is written to it."""

    def __init__(self, room: bool = True) -> None:
        self.sent: list[bytes] = []
        self.room = room

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    def send_nowait(self, data: bytes) -> bool:
        if self.room:
            self.sent.append(data)
        return self.room

    async def response(self):
        return "the response"


@given(payloads)
async def test_bidi_writes_one_plain_envelope_per_message(messages):
    call = Recorder()
    carrier = Bidi(call)  # type: ignore[arg-type]
    assert await carrier.start(messages[0]) == "the response"
    for message in messages[1:]:
        await carrier.send(message)
    frames = FrameDecoder().feed(b"".join(call.sent))
    assert [f.payload for f in frames] == messages
    assert all(f.flags == 0 for f in frames)  # uncompressed, never end-of-stream: the body stays open
    assert len(call.sent) == len(messages)


async def test_bidi_last_words_go_out_only_without_waiting():
    assert Bidi(Recorder(room=True)).send_last(b"bye")  # type: ignore[arg-type]
    assert not Bidi(Recorder(room=False)).send_last(b"bye")  # type: ignore[arg-type]


@given(payloads)
async def test_runsse_appends_every_message_as_hex_in_seqno_order(messages):
    transport = ScriptedTransport(Reply([b"stream"]), *(Reply([]) for _ in messages))
    async with open_sse(transport, "http://h", {"h": "run"}, {"h": "append"}, "rid-1") as carrier:
        response = await carrier.start(messages[0])
        for message in messages[1:]:
            await carrier.send(message)
        assert not carrier.send_last(b"bye")
    assert response.status == 200
    opening, *appends = transport.sent
    assert opening.url == "http://h/agent.v1.AgentService/RunSSE" and opening.headers == {"h": "run"}
    [frame] = FrameDecoder().feed(opening.body)
    assert bidi_pb.BidiRequestId.FromString(frame.payload).request_id == "rid-1"
    decoded = [bidi_pb.BidiAppendRequest.FromString(a.body) for a in appends]
    assert [a.url for a in appends] == ["http://h/aiserver.v1.BidiService/BidiAppend"] * len(messages)
    assert all(a.headers == {"h": "append"} for a in appends)
    assert [d.append_seqno for d in decoded] == list(range(len(messages)))
    assert [bytes.fromhex(d.data) for d in decoded] == messages
    assert all(d.data == d.data.lower() and d.request_id.request_id == "rid-1" for d in decoded)


async def test_a_refused_append_says_how():
    transport = ScriptedTransport(
        Reply([b""]), Reply([b'{"code":"unauthenticated"}'], status=401, headers={"Retry-After": "3"})
    )
    async with open_sse(transport, "http://h", {}, {}, "rid") as carrier:
        with pytest.raises(AppendRefused) as refused:
            await carrier.start(b"run")
    assert (refused.value.status, refused.value.body, refused.value.retry_after) == (
        401,
        b'{"code":"unauthenticated"}',
        "3",
    )


async def test_a_refused_runsse_gets_no_append():
    transport = ScriptedTransport(Reply([b"gone"], status=404))
    async with open_sse(transport, "http://h", {}, {}, "rid") as carrier:
        response = await carrier.start(b"run")
    assert response.status == 404 and len(transport.sent) == 1
