"""POST /v1/chat/completions against a scripted upstream: shapes, streaming discipline, errors."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.handlers import openai as openai_handler
from gateway.handlers.body import INLINE_PARSE_BYTES
from gateway.tokens.pool import TokenPool
from tests.conftest import eventually
from tests.scripted import END, HEARTBEAT, Reply, end_error, reply, text, thinking
from tests.sse_reader import answer_text, parse_sse

CHAT = "/v1/chat/completions"


def chat(stream=False, model="claude-3.5-sonnet", **extra):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi"}], **extra}


async def test_non_streaming_answer(gateway):
    client, transport = await gateway(
        Reply([HEARTBEAT, text("\n\nHello"), text(" world", compress=True), END])
    )
    response = await client.post(CHAT, json=chat())
    assert response.status == 200
    body = await response.json()
    assert body["object"] == "chat.completion" and body["model"] == "claude-3.5-sonnet"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello world", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"]["completion_tokens"] == 3 and body["usage"]["estimated"] is True
    assert response.headers["X-Request-Id"]
    assert transport.sent[0].url.endswith("/aiserver.v1.ChatService/StreamUnifiedChatWithTools")


async def test_streaming_answer_shapes(gateway):
    client, _ = await gateway(reply("Hel", "lo"))
    response = await client.post(CHAT, json=chat(stream=True, stream_options={"include_usage": True}))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"] for c in chunks[1:3]] == [{"content": "Hel"}, {"content": "lo"}]
    assert chunks[3]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["total_tokens"] > 0
    assert len({c["id"] for c in chunks}) == 1 and all(c["usage"] is None for c in chunks[:4])


async def test_each_upstream_frame_reaches_the_client_before_the_next_arrives(gateway):
    gate = asyncio.Event()
    client, _ = await gateway(Reply([text("first"), gate, text("second"), END]))
    response = await client.post(CHAT, json=chat(stream=True))
    seen = b""
    while b'"first"' not in seen:
        seen += await asyncio.wait_for(response.content.readany(), 5)
    assert b"second" not in seen
    gate.set()
    rest = await response.text()
    assert '"second"' in rest and rest.endswith("data: [DONE]\n\n")


async def test_early_upstream_error_is_a_real_http_error(gateway):
    client, _ = await gateway(Reply([HEARTBEAT, end_error(50, "Rate limited", "Please slow down.")]))
    response = await client.post(CHAT, json=chat(stream=True))
    assert response.status == 429
    error = (await response.json())["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "Please slow down." in error["message"]


async def test_http_error_before_frames_keeps_retry_after(gateway):
    client, _ = await gateway(Reply([b"slow down"], status=429, headers={"Retry-After": "12"}))
    response = await client.post(CHAT, json=chat())
    assert response.status == 429 and response.headers["Retry-After"] == "12"


async def test_error_after_content_is_in_band_then_done(gateway):
    client, _ = await gateway(Reply([text("partial"), end_error(25, "Timeout")]))
    response = await client.post(CHAT, json=chat(stream=True))
    assert response.status == 200
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]"
    assert events[-2] == {
        "error": {
            "message": events[-2]["error"]["message"],
            "type": "server_error",
            "param": None,
            "code": "upstream_timeout",
        }
    }
    assert not any(
        isinstance(e, dict) and e.get("choices", [{}])[0].get("finish_reason") for e in events[:-2]
    )


async def test_disconnect_mid_stream_is_in_band(gateway):
    from gateway.upstream.transport import TransportError

    client, _ = await gateway(Reply([text("partial"), TransportError("reset")]))
    events, _ = parse_sse(await (await client.post(CHAT, json=chat(stream=True))).text())
    assert events[-2]["error"]["code"] == "upstream_disconnected" and events[-1] == "[DONE]"


async def test_keepalive_during_silence_commits_the_stream(gateway, make_settings):
    client, _ = await gateway(
        Reply([HEARTBEAT, 0.3, text("late"), END]), settings=make_settings(keepalive_seconds=0.05)
    )
    response = await client.post(CHAT, json=chat(stream=True))
    events, comments = parse_sse(await response.text())
    assert "keep-alive" in comments
    assert events[1]["choices"][0]["delta"] == {"content": "late"}


async def test_client_disconnect_closes_the_upstream_call(gateway):
    gate = asyncio.Event()
    client, transport = await gateway(Reply([text("one"), gate, text("two"), END]))
    response = await client.post(CHAT, json=chat(stream=True))
    while b'"one"' not in await response.content.readany():
        pass
    response.close()
    await eventually(lambda: transport.closed > 0, 1.0)
    assert transport.opened == transport.closed == 1
    assert transport.delivered == 1


async def test_empty_upstream_answer_is_502(gateway):
    client, _ = await gateway(Reply([HEARTBEAT, END]))
    response = await client.post(CHAT, json=chat(stream=True))
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "upstream_empty_response"


async def test_thinking_is_hidden_by_default(gateway):
    client, _transport = await gateway(Reply([thinking("secret plan"), text("Answer"), END]))
    response = await client.post(CHAT, json=chat(stream=True, model="claude-3.5-sonnet-thinking"))
    body = await response.text()
    assert "secret plan" not in body and "Answer" in body


async def test_thinking_as_reasoning_content(gateway, make_settings):
    client, _ = await gateway(
        Reply([thinking("plan"), text("Answer"), END]),
        settings=make_settings(thinking_output="reasoning_content"),
    )
    body = await (await client.post(CHAT, json=chat(model="gpt-4o-thinking"))).json()
    assert body["choices"][0]["message"]["reasoning_content"] == "plan"


async def test_no_token_is_a_503_that_says_how_to_add_one(gateway, make_settings):
    settings = make_settings()
    client, transport = await gateway(settings=settings, pool=TokenPool.fixed([]))
    response = await client.post(CHAT, json=chat())
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "no_token_configured" and settings.token_file in error["message"]
    assert transport.sent == []


@pytest.mark.parametrize(
    ("payload", "status", "param", "code"),
    [
        (b"{bad", 400, None, "invalid_json"),
        (b'{"model":"nope","messages":[{"role":"user","content":"x"}]}', 400, "model", "model_not_found"),
        (b'{"model":"gpt-4o","messages":[]}', 400, "messages", "empty_messages"),
        (
            b'{"model":"gpt-4o","messages":[{"role":"robot","content":"x"}]}',
            400,
            "messages[0].role",
            "invalid_role",
        ),
        (b'{"model":"gpt-4o","messages":[{"role":"user","content":"\\udc00"}]}', 400, None, "invalid_json"),
    ],
)
async def test_bad_requests_get_the_envelope(gateway, payload, status, param, code):
    client, transport = await gateway()
    response = await client.post(CHAT, data=payload, headers={"Content-Type": "application/json"})
    assert response.status == status
    assert await response.json() == {
        "error": {
            "message": (await response.json())["error"]["message"],
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    assert transport.sent == []


async def test_unknown_model_message(gateway):
    client, _ = await gateway()
    body = await (await client.post(CHAT, json=chat(model="gpt-99"))).json()
    assert body["error"]["message"] == "Invalid model: gpt-99"


async def test_body_over_the_limit_is_413(gateway, make_settings):
    client, _ = await gateway(settings=make_settings(max_body_bytes=2048))
    response = await client.post(CHAT, json=chat(padding="x" * 4096))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "request_too_large"


async def test_system_prompt_and_model_reach_upstream(gateway, make_settings):
    from gateway.upstream.framing import FrameDecoder
    from gateway.upstream.pb import cursor_pb2 as pb

    client, transport = await gateway(reply("ok"), settings=make_settings(system_prompt_inject="Be brief."))
    await client.post(
        CHAT,
        json={
            "model": "claude-sonnet-4-20250514-thinking",
            "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        },
    )
    [frame] = FrameDecoder().feed(transport.sent[0].body)
    request = pb.StreamUnifiedChatRequestWithTools.FromString(frame.payload).stream_unified_chat_request
    assert request.explicit_context.context == "S\n\nBe brief."
    assert request.model_details.model_name == "claude-4-sonnet" and request.thinking_level == 2
    assert [(m.type, m.text) for m in request.conversation] == [(1, "Q")]


@pytest.mark.parametrize(
    "data", [b"not gzip", gzip.compress(b"{" + b" " * 1_000_000 + b"}")], ids=["bad", "bomb"]
)
async def test_a_compressed_body_is_refused_unread(gateway, make_settings, data):
    client, transport = await gateway(settings=make_settings(max_body_bytes=4096))
    response = await client.post(CHAT, data=data, headers={"Content-Encoding": "gzip"})
    assert response.status == 415
    assert (await response.json())["error"]["code"] == "unsupported_content_encoding"
    assert transport.sent == []


async def test_unexpected_failure_after_commit_ends_the_stream_properly(gateway):
    client, _ = await gateway(Reply([text("partial"), RuntimeError("a bug")]))
    response = await client.post(CHAT, json=chat(stream=True))
    events, _ = parse_sse(await response.text())
    assert events[-2]["error"]["code"] == "internal_error" and events[-1] == "[DONE]"


async def test_nothing_follows_done_while_upstream_lingers(gateway, make_settings):
    client, _ = await gateway(
        Reply([text("x"), END, asyncio.Event()]), settings=make_settings(keepalive_seconds=0.05)
    )
    response = await client.post(CHAT, json=chat(stream=True))
    body = await asyncio.wait_for(response.text(), 5)
    assert body.endswith("data: [DONE]\n\n") and "keep-alive" not in body


async def test_non_streaming_answer_does_not_wait_for_a_lingering_upstream(gateway):
    client, _ = await gateway(Reply([text("x"), END, asyncio.Event()]))
    response = await asyncio.wait_for(client.post(CHAT, json=chat()), 2)
    assert (await response.json())["choices"][0]["message"]["content"] == "x"


async def test_keepalive_commit_then_early_error_is_in_band(gateway, make_settings):
    client, _ = await gateway(
        Reply([HEARTBEAT, 0.2, end_error(50, "Rate limited")]), settings=make_settings(keepalive_seconds=0.05)
    )
    response = await client.post(CHAT, json=chat(stream=True))
    assert response.status == 200
    events, comments = parse_sse(await response.text())
    assert comments and events[0]["error"]["code"] == "rate_limit_exceeded" and events[1:] == ["[DONE]"]


async def test_eof_inside_a_frame_after_content_is_a_disconnect(gateway):
    client, _ = await gateway(Reply([text("partial"), text("cut")[:7]]))
    events, _ = parse_sse(await (await client.post(CHAT, json=chat(stream=True))).text())
    assert events[-2]["error"]["code"] == "upstream_disconnected"


async def test_closing_the_service_closes_the_upstream_at_once(gateway):
    client, transport = await gateway(Reply([text("one"), asyncio.Event()]))
    from gateway import keys
    from gateway.chat.catalog import resolve
    from gateway.neutral.model import ChatRequest, Message

    service = client.app[keys.CHAT]
    events = service.events(ChatRequest(resolve("gpt-4o"), "", (Message("user", "x"),), True))
    await events.__anext__()
    await events.aclose()
    assert transport.opened == transport.closed == 1


async def test_late_stream_that_never_wrote_is_ended_in_band_at_shutdown(gateway):
    from gateway import keys
    from gateway.errors import UpstreamError

    gate = asyncio.Event()
    client, _ = await gateway(Reply([HEARTBEAT, gate, text("never"), END]))
    request = asyncio.ensure_future(client.post(CHAT, json=chat(stream=True)))
    live = client.app[keys.LIVE_STREAMS]
    await eventually(lambda: len(live) > 0, 1.0)
    await live.finish(0.05, UpstreamError("stopping", code="gateway_shutting_down"))
    response = await request
    assert response.status == 200
    events, _ = parse_sse(await asyncio.wait_for(response.text(), 5))
    assert events == [{"error": events[0]["error"]}, "[DONE]"]
    assert events[0]["error"]["code"] == "gateway_shutting_down"


@pytest.mark.parametrize(("size", "off_loop"), [(100, False), (INLINE_PARSE_BYTES + 1, True)])
async def test_a_large_body_is_parsed_off_the_event_loop(gateway, monkeypatch, size, off_loop):
    threads = []
    real = openai_handler.parse_chat_body

    def recording(raw, **kwargs):
        threads.append(threading.current_thread())
        return real(raw, **kwargs)

    monkeypatch.setattr(openai_handler, "parse_chat_body", recording)
    client, _ = await gateway(reply("ok"))
    body = chat()
    body["messages"][0]["content"] = "x" * size
    response = await client.post(CHAT, json=body)
    assert response.status == 200
    assert (threads[0] is not threading.main_thread()) == off_loop


async def test_a_chunk_that_ends_a_frame_is_never_read_as_a_frame_of_its_own(gateway):
    # The rest of this frame, cut where its text holds the bytes of a whole text frame, looks
    # exactly like the usual chunk the gateway reads without the frame decoder.
    inner = text("EVIL")
    assert inner.isascii()
    carrier = "tail:" + inner.decode()
    outer = text(carrier)
    assert outer.endswith(inner)
    client, _ = await gateway(Reply([text("Hello "), outer[: -len(inner)], outer[-len(inner) :], END]))
    response = await client.post(CHAT, json=chat(stream=True))
    assert await answer_text(response) == "Hello " + carrier


@given(
    pieces=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_chunking_of_the_upstream_stream_streams_the_same_text(gateway, pieces, cuts):
    stream = b"".join(text(piece) for piece in pieces)
    bounds = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    client, _ = await gateway(Reply([*chunks, END]))
    response = await client.post(CHAT, json=chat(stream=True))
    assert await answer_text(response) == "".join(pieces).lstrip("\r\n")
