"""One turn on Cursor's agent service: open a run, answer what it asks, relay what it says.

`AgentClient.chat()` is an async generator of chat events ending with `Finish`, like every
adapter (`upstream/base.py`). Each call is a fresh run: the run request carries the whole
conversation (`request.py`); the server's questions are answered as they arrive (`decode.py`),
each answer sent before the next message is read; a client heartbeat goes out every
`HEARTBEAT_SECONDS` while the run is open. The turn ends at `turn_ended`, after which the
gateway closes the run itself (the service keeps it open). A client tool call is passed on as a
`NativeToolFrame`; the caller then stops reading, which ends the run: the tool runs at the
client, and the client's next request replays its result in a new run.

Leaving the generator before the turn ended (the client hung up, or a tool call was passed on)
cancels the run: on the bidirectional carrier a `cancel_action` goes out if it can without
waiting, then the stream is reset; on the HTTP/1.1 carrier the `RunSSE` connection is dropped.

Failures map through `upstream/errors.py` like the ChatService adapter's: HTTP errors before the
stream (404 on `Run` is the `retired` class), Connect end-of-stream errors, a stream that ends
before the turn does (a clean end-of-stream too), broken frames. `available_models()` is the
`aiserver.v1` AvailableModels call of the API host, delegated to the adapter that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.errors import UpstreamError
from gateway.neutral.model import ChatRequest, Finish, LiveModel, Prompt, Timing
from gateway.upstream import errors as upstream_errors
from gateway.upstream.agent.carriers import AppendRefused, Carrier, open_bidi, open_sse
from gateway.upstream.agent.decode import RunDecoder, UndecodableFrame, decode_chunk
from gateway.upstream.agent.hosts import AgentHost, AgentHosts
from gateway.upstream.agent.request import build_run
from gateway.upstream.base import UpstreamEvent
from gateway.upstream.framing import FrameDecoder, FramingError
from gateway.upstream.identity import AgentHeaderOptions, UpstreamIdentity, build_agent_headers
from gateway.upstream.pb import agent_v1_pb2 as pb
from gateway.upstream.transport import TransportError, UpstreamTransport, error_body

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 5.0
HEARTBEAT: Final = pb.AgentClientMessage(client_heartbeat=pb.ClientHeartbeat()).SerializeToString()
CANCEL_REASON: Final = "The client stopped reading the answer."


class ModelLister(Protocol):
    async def available_models(self, who: UpstreamIdentity) -> list[LiveModel]: ...


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """`bidi`: the transport speaks HTTP/2, so runs use `Run`; else `RunSSE` + `BidiAppend`."""

    headers: AgentHeaderOptions
    bidi: bool
    time_zone: str = "UTC"
    heartbeat_seconds: float = HEARTBEAT_SECONDS


class AgentClient:
    """Speaks `agent.v1.AgentService` over an `UpstreamTransport`."""

    def __init__(
        self,
        transport: UpstreamTransport,
        options: AgentOptions,
        hosts: AgentHosts,
        models: ModelLister,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._transport = transport
        self._options = options
        self._hosts = hosts
        self._models = models
        self._new_id = new_id

    async def available_models(self, who: UpstreamIdentity) -> list[LiveModel]:
        return await self._models.available_models(who)

    async def chat(
        self, chat: ChatRequest, prompt: Prompt, who: UpstreamIdentity, timing: Timing | None = None
    ) -> AsyncGenerator[UpstreamEvent, None]:
        request_id = self._new_id()
        images = sum(len(m.images) for m in prompt.messages if m.role == "user")
        plan = build_run(
            chat,
            prompt,
            run_id=request_id,
            conversation_id=self._new_id(),
            message_id=self._new_id(),
            image_ids=tuple(self._new_id() for _ in range(images)),
            time_zone=self._options.time_zone,
        )
        run_request = plan.run_request.SerializeToString()
        upstream_errors.check_request_size(run_request)
        host = await self._hosts.host(who)
        bidi = self._options.bidi and host.bidi is not False
        headers = build_agent_headers(
            who,
            self._options.headers,
            request_id=request_id,
            allowed_tools=plan.allowed_tools,
            http1=not bidi,
        )
        decoder = RunDecoder(plan)
        content_seen = False
        if timing is not None:
            timing.upstream_sent = time.perf_counter()
            timing.upstream_rpc = "agent"
        try:
            async with self._open(bidi, host, who, headers, request_id) as carrier:
                heartbeats: asyncio.Task[None] | None = None
                try:
                    response = await carrier.start(run_request)
                    if response.status != 200:
                        raise upstream_errors.from_http_answer(
                            response.status, await error_body(response), response.headers.get("retry-after")
                        )
                    heartbeats = asyncio.get_running_loop().create_task(self._heartbeats(carrier))
                    frames = FrameDecoder()
                    async for chunk in response.chunks():
                        decoded, end = decode_chunk(frames, decoder, chunk)
                        for reply in decoded.replies:  # answered before anything else is read
                            await carrier.send(reply.SerializeToString())
                        for event in decoded.events:
                            if not content_seen and timing is not None:
                                timing.upstream_answer = time.perf_counter()
                            content_seen = True
                            yield event
                        if decoded.turn_ended:
                            yield Finish("stop")
                            return
                        if end is not None:
                            error = upstream_errors.from_connect_error(end.error) if end.error else None
                            raise error or upstream_errors.disconnected(
                                content_seen, "Cursor ended the run before the turn ended"
                            )
                    frames.close()
                    raise upstream_errors.disconnected(
                        content_seen, "the run's stream ended before the turn ended"
                    )
                finally:
                    if heartbeats is not None:
                        heartbeats.cancel()
                    if not decoder.ended:
                        cancel = pb.ConversationAction(cancel_action=pb.CancelAction(reason=CANCEL_REASON))
                        carrier.send_last(
                            pb.AgentClientMessage(conversation_action=cancel).SerializeToString()
                        )
        except AppendRefused as exc:
            raise upstream_errors.from_http_answer(exc.status, exc.body, exc.retry_after) from exc
        except (FramingError, UndecodableFrame, TransportError) as exc:
            raise upstream_errors.stream_failure(exc, content_seen) from exc
        except UpstreamError as exc:
            if exc.error_class == "outdated":
                exc.message += (
                    f" (on Cursor's agent service the version is CURSOR_AGENT_CLIENT_VERSION, "
                    f"now {self._options.headers.client_version})"
                )
            raise

    def _open(
        self, bidi: bool, host: AgentHost, who: UpstreamIdentity, headers: dict[str, str], request_id: str
    ) -> contextlib.AbstractAsyncContextManager[Carrier]:
        if bidi:
            return open_bidi(self._transport, host.base_url, headers)
        append_headers = build_agent_headers(
            who, self._options.headers, request_id=request_id, unary=True, http1=True
        )
        return open_sse(self._transport, host.base_url, headers, append_headers, request_id)

    async def _heartbeats(self, carrier: Carrier) -> None:
        """A client heartbeat every few seconds while the run is open; a failed one stops them
        (the broken run then fails where it is read)."""
        try:
            while True:
                await asyncio.sleep(self._options.heartbeat_seconds)
                await carrier.send(HEARTBEAT)
        except TransportError as exc:
            log.debug("agent heartbeat failed: %s", exc)
