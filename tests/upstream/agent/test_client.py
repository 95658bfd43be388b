"""The agent adapter against the simulator, on both carriers: HTTP/2 `Run` (full duplex) and HTTP/1.1
`RunSSE` + `BidiAppend`. Events out, answers in, heartbeats, refusals, cancellation, errors, hosts."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest

from gateway.chat.catalog import resolve
from gateway.errors import UpstreamError
from gateway.neutral.model import (
    ChatRequest,
    Finish,
    Image,
    Message,
    TextDelta,
    ThinkingDelta,
    ToolChoice,
    ToolSpec,
)
from gateway.neutral.toolcalls import NativeToolFrame
from gateway.tools.encode import native_prompt, plain_prompt
from gateway.upstream.agent.client import AgentClient, AgentOptions
from gateway.upstream.agent.decode import REFUSALS, RunDecoder, decode_chunk
from gateway.upstream.agent.hosts import AgentHosts
from gateway.upstream.agent.request import build_run
from gateway.upstream.checksum import Identity
from gateway.upstream.framing import FrameDecoder
from gateway.upstream.identity import AgentHeaderOptions, UpstreamIdentity, build_agent_headers
from gateway.upstream.pb import agent_v1_pb2 as pb
from gateway.upstream.transport import AiohttpTransport, Timeouts, UpstreamResponse, UpstreamTransport
from gateway.upstream.transport_h2 import H2Transport
from tests.conftest import eventually
from tests.fakes import CursorSimulator, Scenario, SimConfig, make_jwt, start_h2c, start_http

MODEL = "claude-sonnet-4-5-20250929"
WHO = UpstreamIdentity(make_jwt(), Identity("0" * 64, "1" * 64))
HEADERS = AgentHeaderOptions("cli-2026.08.11-e8db854")
PNG = Image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, "image/png", 1, 1)
WRITE = ToolSpec(
    "write",
    "Write a file.",
    {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}},
    '{"type":"object","properties":{"filePath":{"type":"string"},"content":{"type":"string"}}}',
)


class NoModels:
    async def available_models(self, who):
        return []


class Tee:
    """A transport that keeps every response body it delivers (to replay recorded streams)."""

    def __init__(self, inner: UpstreamTransport) -> None:
        self.inner = inner
        self.bodies: list[bytearray] = []

    def _tee(self, response: UpstreamResponse) -> UpstreamResponse:
        body = bytearray()
        self.bodies.append(body)
        return TeeResponse(response, body)

    @contextlib.asynccontextmanager
    async def post(self, url: str, headers: Mapping[str, str], body: bytes):
        async with self.inner.post(url, headers, body) as response:
            yield self._tee(response) if url.endswith("RunSSE") else response

    @contextlib.asynccontextmanager
    async def duplex(self, url: str, headers: Mapping[str, str]):
        async with self.inner.duplex(url, headers) as call:
            yield TeeCall(call, self)

    async def close(self) -> None:
        await self.inner.close()


class TeeResponse:
    def __init__(self, response: UpstreamResponse, body: bytearray) -> None:
        self.response, self.body = response, body
        self.status, self.headers, self.http_version = (
            response.status,
            response.headers,
            response.http_version,
        )

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.chunks():
            self.body.extend(chunk)
            yield chunk


class TeeCall:
    def __init__(self, call, tee: Tee) -> None:
        self.call, self.tee = call, tee

    async def send(self, data: bytes) -> None:
        await self.call.send(data)

    def send_nowait(self, data: bytes) -> bool:
        return self.call.send_nowait(data)

    async def response(self) -> UpstreamResponse:
        return self.tee._tee(await self.call.response())


@pytest.fixture(params=["http2", "http1"])
async def stack(request):
    """(simulator, adapter, transport) over one carrier; the adapter's heartbeat is fast."""
    sim = CursorSimulator(SimConfig(seed=0, agent_answer_timeout_s=2.0))
    http2 = request.param == "http2"
    front = await (start_h2c(sim) if http2 else start_http(sim))
    timeouts = Timeouts(connect=3.0, idle=3.0)
    transport = Tee(H2Transport(timeouts) if http2 else AiohttpTransport(timeouts))
    client = make_client(transport, front.url, bidi=http2)
    yield sim, client, transport
    await transport.close()
    await front.close()


def make_client(transport, base: str, *, bidi: bool, heartbeat: float = 5.0) -> AgentClient:
    hosts = AgentHosts(
        transport,
        base,
        lambda who: build_agent_headers(who, HEADERS, request_id=str(uuid.uuid4()), unary=True),
        ttl=60,
    )
    return AgentClient(
        transport, AgentOptions(HEADERS, bidi=bidi, heartbeat_seconds=heartbeat), hosts, NoModels()
    )


def chat(
    text: str = "hello", *, model: str = MODEL, tools: tuple[ToolSpec, ...] = (), images=()
) -> ChatRequest:
    info = resolve(model)
    assert info is not None
    return ChatRequest(
        model=info, system="", messages=(Message("user", text, images=images),), stream=True, tools=tools
    )


def prompt_for(request: ChatRequest):
    return native_prompt(request, ToolChoice()) if request.tools else plain_prompt(request)


async def events(client: AgentClient, request: ChatRequest) -> list[object]:
    out = []
    async with contextlib.aclosing(client.chat(request, prompt_for(request), WHO)) as stream:
        async for event in stream:
            out.append(event)
    return out


async def settled(sim: CursorSimulator) -> None:
    """Every run the simulator has seen (at least one) has ended."""
    assert await eventually(
        lambda: bool(sim.agent_records) and all(r.outcome for r in sim.agent_records), 3.0
    )


def text_of(items) -> str:
    return "".join(e.text for e in items if isinstance(e, TextDelta))


async def test_a_plain_chat_answers_the_run_and_closes_it_after_the_turn(stack):
    sim, client, _ = stack
    out = await events(client, chat("hello agent"))
    assert text_of(out) == "You said: hello agent" and out[-1] == Finish("stop")
    await settled(sim)
    [record] = sim.agent_records
    log = record.agent
    assert log.answered == ["request_context", "set_blob", "set_blob", "get_blob"]
    assert log.closed_after_turn and record.outcome == "closed_after_turn" and record.rejection is None
    assert log.run.action.user_message_action.user_message.text == "hello agent"
    headers = record.headers
    assert headers["x-cursor-client-type"] == "cli" and headers["x-cursor-agent-allowed-tools"] == ""
    assert headers["x-request-id"] == headers["x-original-request-id"] == log.run.run_id
    assert "x-cursor-checksum" not in headers
    assert (headers.get("x-cursor-streaming") == "true") == (log.carrier == "sse")
    context = log.context
    assert (
        context.HasField("web_search_enabled")
        and not context.web_search_enabled
        and not context.web_fetch_enabled
    )
    assert record.warnings == []


async def test_the_carrier_follows_the_transport(stack):
    sim, client, _ = stack
    await events(client, chat())
    await settled(sim)
    record = sim.agent_records[0]
    assert record.agent.carrier == ("bidi" if record.http_version == "2" else "sse")
    if record.agent.carrier == "sse":
        appends = [r for r in sim.records if r.path.endswith("BidiAppend")]
        assert record.agent.appends == list(range(len(appends)))
        assert all(r.headers["content-type"] == "application/proto" for r in appends)


async def test_thinking_and_text_arrive_as_their_own_events(stack):
    sim, client, _ = stack
    out = await events(client, chat("ponder", model=MODEL + "-thinking"))
    thinking = "".join(e.text for e in out if isinstance(e, ThinkingDelta))
    assert thinking.startswith("The user wrote 6 characters") and text_of(out) == "You said: ponder"
    first_text = next(i for i, e in enumerate(out) if isinstance(e, TextDelta))
    assert all(isinstance(e, ThinkingDelta) for e in out[:first_text])
    assert sim.agent_records[0].agent.run.requested_model.model_id == "claude-4.5-sonnet-thinking"


async def test_images_ride_in_the_user_message(stack):
    sim, client, _ = stack
    await events(client, chat("look", images=(PNG,)))
    [image] = sim.agent_records[
        0
    ].agent.run.action.user_message_action.user_message.selected_context.selected_images
    assert image.data == PNG.data and image.mime_type == "image/png"


async def test_every_request_for_cursors_own_tools_and_questions_is_refused(stack):
    sim, client, _ = stack
    sim.push(Scenario("echo", builtin="all", queries="all"))
    out = await events(client, chat("still fine"))
    assert text_of(out) == "You said: still fine"
    await settled(sim)
    log = sim.agent_records[0].agent
    assert log.protocol_error is None
    asked = [f.name for f in pb.ExecServerMessage.DESCRIPTOR.oneofs_by_name["message"].fields]
    queried = [f.name for f in pb.InteractionQuery.DESCRIPTOR.oneofs_by_name["query"].fields]
    assert set(REFUSALS) <= set(log.refused)
    assert log.refused == [k for k in asked if k not in ("request_context_args", "mcp_args")] + [
        "unknown",
        *queried,
    ]


async def test_a_client_tool_call_is_passed_on_and_the_run_cancelled(stack):
    sim, client, _ = stack
    sim.push(Scenario("tool_call", args='{"filePath": "a.txt", "content": "hi"}'))
    request = chat("write it", tools=(WRITE,))
    frames = []
    async with contextlib.aclosing(client.chat(request, prompt_for(request), WHO)) as stream:
        async for event in stream:
            if isinstance(event, NativeToolFrame):
                frames.append(event)
                break  # the tool layer stops reading once it has the call
    [frame] = frames
    assert frame.name == "write" and frame.is_last_message and not frame.is_streaming
    assert json.loads(frame.raw_args) == {"filePath": "a.txt", "content": "hi"}
    await settled(sim)
    record = sim.agent_records[0]
    log = record.agent
    assert log.calls == ["write_"]  # declared under another name: `write` is one of Cursor's tools
    assert record.headers["x-cursor-agent-allowed-tools"] == "mcp_tool_call,get_mcp_tools_tool_call"
    assert [d.tool_name for d in log.run.mcp_tools.mcp_tools] == ["write_"]
    if log.carrier == "bidi":
        assert log.cancelled and record.outcome == "cancelled"
    else:
        assert record.outcome == "client_gone"


async def test_a_client_that_goes_away_mid_answer_cancels_the_run(stack):
    sim, client, _ = stack
    sim.push(Scenario("text", text="x" * 400, chunk=4, pace=0.01))
    request = chat()
    async with contextlib.aclosing(client.chat(request, prompt_for(request), WHO)) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    await settled(sim)
    record = sim.agent_records[0]
    assert not record.agent.turn_ended
    assert record.outcome in ("cancelled", "client_gone")
    if record.agent.carrier == "bidi":
        assert record.agent.cancelled == "The client stopped reading the answer."


async def test_client_heartbeats_flow_while_the_run_is_open(stack):
    sim, client, transport = stack
    fast = make_client(transport, client._hosts._api_base, bidi=client._options.bidi, heartbeat=0.05)
    sim.push(Scenario("text", text="slow answer", chunk=2, pace=0.05))
    await events(fast, chat())
    await settled(sim)
    assert sim.agent_records[0].agent.heartbeats >= 2


@pytest.mark.parametrize(
    ("scenario", "error_class", "code"),
    [
        (Scenario("error", error=50), "rate", "rate_limit_exceeded"),
        (Scenario("unauthorized"), "auth", "no_available_tokens"),
        (Scenario("http_error", status=404), "retired", "upstream_rpc_unavailable"),
        (Scenario("http_error", status=429), "rate", "rate_limit_exceeded"),
        (Scenario("error", error=28, variant="update"), "outdated", "upstream_client_outdated"),
        (Scenario("broken", kind="bad_protobuf"), "protocol", "upstream_protocol_error"),
        (Scenario("broken", kind="too_large"), "protocol", "upstream_protocol_error"),
        (Scenario("disconnect"), "transport", "upstream_disconnected"),
        (Scenario("empty", heartbeats=0), None, None),
    ],
)
async def test_failures_map_to_the_gateways_error_classes(stack, scenario, error_class, code):
    sim, client, _ = stack
    sim.push(scenario)
    if error_class is None:  # a turn that ends with nothing is not an error here (the service says so)
        assert await events(client, chat()) == [Finish("stop")]
        return
    with pytest.raises(UpstreamError) as caught:
        await events(client, chat())
    assert (caught.value.error_class, caught.value.code) == (error_class, code)
    if error_class == "outdated":
        assert "CURSOR_AGENT_CLIENT_VERSION" in caught.value.message


async def test_a_stream_that_ends_cleanly_before_the_turn_is_an_interruption(stack):
    sim, client, _ = stack
    sim.push(Scenario("broken", kind="clean_end"))
    with pytest.raises(UpstreamError) as caught:
        await events(client, chat())
    assert (caught.value.error_class, caught.value.code) == ("transport", "upstream_disconnected")
    assert "before the turn ended" in caught.value.message


async def test_an_idle_run_times_out() -> None:
    sim = CursorSimulator(SimConfig(seed=0))
    front = await start_h2c(sim)
    transport = H2Transport(Timeouts(connect=2.0, idle=0.3))
    try:
        sim.push(Scenario("stall"))
        with pytest.raises(UpstreamError) as caught:
            await events(make_client(transport, front.url, bidi=True), chat())
        assert caught.value.error_class == "timeout"
    finally:
        await transport.close()
        await front.close()


# ---------------------------------------------------------------- hosts and Cursor's say on the carrier


async def test_runs_go_to_the_agent_host_cursor_names() -> None:
    api, agents = CursorSimulator(SimConfig(seed=0)), CursorSimulator(SimConfig(seed=0))
    api_front, agent_front = await start_h2c(api), await start_h2c(agents)
    api.config.agent_url = agent_front.url
    transport = H2Transport(Timeouts(connect=2.0, idle=2.0))
    try:
        client = make_client(transport, api_front.url, bidi=True)
        for _ in range(2):
            assert text_of(await events(client, chat("where?"))) == "You said: where?"
        assert [r.path for r in api.records] == ["/aiserver.v1.ServerConfigService/GetServerConfig"]
        assert len(agents.agent_records) == 2  # the answer is remembered
    finally:
        await transport.close()
        await api_front.close()
        await agent_front.close()


async def test_cursor_can_turn_the_bidirectional_run_off() -> None:
    sim = CursorSimulator(SimConfig(seed=0, http2_config=pb_http2_bidi_disabled()))
    front = await start_h2c(sim)
    transport = H2Transport(Timeouts(connect=2.0, idle=2.0))
    try:
        assert (
            text_of(await events(make_client(transport, front.url, bidi=True), chat("sse please")))
            == "You said: sse please"
        )
        await settled(sim)
        record = sim.agent_records[0]
        assert record.agent.carrier == "sse" and record.http_version == "2"
    finally:
        await transport.close()
        await front.close()


def pb_http2_bidi_disabled() -> int:
    from gateway.upstream.pb import aiserver_agent_pb2

    return aiserver_agent_pb2.HTTP2_CONFIG_FORCE_BIDI_DISABLED


# ---------------------------------------------------------------- a recorded stream at every split point


def decode(chunks: list[bytes], request: ChatRequest) -> tuple[list[object], list[bytes]]:
    plan = build_run(request, prompt_for(request), run_id="r", conversation_id="c", message_id="m")
    decoder, frames = RunDecoder(plan), FrameDecoder()
    out: list[object] = []
    replies: list[bytes] = []
    for chunk in chunks:
        decoded, end = decode_chunk(frames, decoder, chunk)
        out.extend(decoded.events)
        replies.extend(r.SerializeToString() for r in decoded.replies)
        if decoded.turn_ended:
            return [*out, Finish("stop")], replies
        if end is not None:
            break
    return out, replies


async def test_a_recorded_stream_decodes_alike_at_every_split_point(stack):
    sim, client, transport = stack
    sim.push(
        Scenario(
            "thinking", builtin="read_args,shell_stream_args,unknown", queries="web_search_request_query"
        )
    )
    request = chat("split me", model=MODEL + "-thinking")
    live = await events(client, request)
    body = bytes(transport.bodies[-1])
    assert len(body) > 300
    whole, whole_replies = decode([body], request)
    assert whole == live and len(whole_replies) >= 8
    for cut in range(len(body) + 1):
        assert decode([body[:cut], body[cut:]], request) == (whole, whole_replies), cut
