"""The benchmark speaking Cursor's agent service itself: the baseline of the gateway's agent path.

One run per call, over either carrier: `RunSSE` + `BidiAppend` on an aiohttp session, or the
bidirectional `Run` on an HTTP/2 duplex stream. It answers the run's questions (request context,
parked blobs) with the simulator's test answers and yields the text of every `text_delta` as it
arrives, stopping at `turn_ended`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.upstream.pb import agent_v1_pb2 as apb
from gateway.upstream.pb import aiserver_agent_pb2 as bidi_pb
from gateway.upstream.transport_h2 import H2Transport
from tests.fakes import BIDI_APPEND_PATH, RUN_PATH, RUN_SSE_PATH
from tests.fakes.agent_client_for_tests import agent_headers, handshake_answers, run_request
from tests.fakes.wire import FLAG_END_STREAM, EnvelopeReader, encode_frame


class RunFailed(RuntimeError):
    """The run ended (with the end-of-stream JSON given) before its turn did."""


def _message(flags: int, payload: bytes) -> apb.AgentServerMessage:
    if flags & FLAG_END_STREAM:
        raise RunFailed(payload.decode("utf-8", "replace"))
    return apb.AgentServerMessage.FromString(payload)


def _texts(message: apb.AgentServerMessage) -> tuple[str, bool]:
    update = message.interaction_update
    kind = update.WhichOneof("message") if message.WhichOneof("message") == "interaction_update" else None
    return (update.text_delta.text if kind == "text_delta" else ""), kind == "turn_ended"


async def run_sse(session: aiohttp.ClientSession, base: str, text: str) -> AsyncIterator[str]:
    request_id = str(uuid.uuid4())
    headers = agent_headers(request_id=request_id)
    append_headers = agent_headers(unary=True, request_id=request_id)
    seqno = 0

    async def append(message: apb.AgentClientMessage) -> None:
        nonlocal seqno
        request = bidi_pb.BidiAppendRequest(
            data=message.SerializeToString().hex(),
            request_id=bidi_pb.BidiRequestId(request_id=request_id),
            append_seqno=seqno,
        )
        seqno += 1
        async with session.post(
            base + BIDI_APPEND_PATH, data=request.SerializeToString(), headers=append_headers
        ) as r:
            await r.read()
            assert r.status == 200, r.status

    opening = encode_frame(bidi_pb.BidiRequestId(request_id=request_id).SerializeToString())
    async with session.post(base + RUN_SSE_PATH, data=opening, headers=headers) as response:
        assert response.status == 200, response.status
        await append(run_request(text))
        answers, reader = handshake_answers(), EnvelopeReader()
        while chunk := await response.content.readany():
            for flags, payload in reader.feed(chunk):
                message = _message(flags, payload)
                for reply in answers(message) or []:
                    await append(reply)
                piece, ended = _texts(message)
                if piece:
                    yield piece
                if ended:
                    return


async def run_bidi(transport: H2Transport, base: str, text: str) -> AsyncIterator[str]:
    async with transport.duplex(base + RUN_PATH, agent_headers()) as call:
        await call.send(encode_frame(run_request(text).SerializeToString()))
        response = await call.response()
        assert response.status == 200, response.status
        answers, reader = handshake_answers(), EnvelopeReader()
        async for chunk in response.chunks():
            for flags, payload in reader.feed(chunk):
                message = _message(flags, payload)
                for reply in answers(message) or []:
                    await call.send(encode_frame(reply.SerializeToString()))
                piece, ended = _texts(message)
                if piece:
                    yield piece
                if ended:
                    return
