"""One chat call to Cursor: build the request, send it, decode the stream, map every failure.

`ChatServiceClient.chat()` is an async generator of chat events ending with `Finish`; tool-call frames
are passed through as `NativeToolFrame`s for the caller to assemble and judge. Every failure is
raised as an `UpstreamError` whose class, status and code follow cursor-protocol.md §10; whether
content was already produced decides between "connection error" and "disconnected" codes.
Leaving the generator early (the client hung up) closes the upstream response at once.

Each call announces the IDE client version its `VersionSource` holds at that moment, in the
`x-cursor-client-version` header and in the body's `environment_info.cursor_version`; when Cursor
refuses it as outdated the failure is a `ClientOutdated` naming that version, so the chat service
can retry once with a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from google.protobuf.message import DecodeError

from gateway.errors import UpstreamError
from gateway.neutral.model import ChatRequest, Finish, LiveModel, Prompt, TextDelta, Timing
from gateway.upstream import errors as upstream_errors
from gateway.upstream.base import UpstreamEvent
from gateway.upstream.chatservice.decode import ResponseDecoder, UndecodableFrame
from gateway.upstream.chatservice.request import CHAT_PATH, MODELS_PATH, build_message
from gateway.upstream.framing import (
    EndStream,
    FrameDecoder,
    FramingError,
    encode_request_frame,
    gunzip_bounded,
    parse_end_stream,
)
from gateway.upstream.identity import HeaderOptions, UpstreamIdentity, build_headers
from gateway.upstream.pb import cursor_pb2 as pb
from gateway.upstream.text_only import CHAT_TEXT, text_only
from gateway.upstream.transport import (
    TransportError,
    TransportTimeout,
    UpstreamResponse,
    UpstreamTransport,
    error_body,
    read_capped,
)
from gateway.upstream.version import ClientOutdated, VersionSource

log = logging.getLogger(__name__)

MODELS_BODY_LIMIT: Final = 4 * 1024 * 1024
TRAILING_LIMIT: Final = 64 * 1024
TRAILING_SECONDS: Final = 0.05
DISABLED: Final = 2  # AvailableModel.degradation_status


@dataclass(frozen=True, slots=True)
class ClientOptions:
    base_url: str
    headers: HeaderOptions


class ChatServiceClient:
    """Speaks `aiserver.v1.ChatService/StreamUnifiedChatWithTools` over an `UpstreamTransport`."""

    def __init__(self, transport: UpstreamTransport, options: ClientOptions, versions: VersionSource) -> None:
        self._transport = transport
        self._options = options
        self._versions = versions
        self._url = options.base_url + CHAT_PATH

    def encode(self, chat: ChatRequest, prompt: Prompt, client_version: str) -> bytes:
        """The request body: one Connect envelope; 413 when the message is over the frame limit."""
        message = build_message(chat, prompt, client_version=client_version, now=datetime.now(UTC))
        payload = message.SerializeToString()
        upstream_errors.check_request_size(payload)
        return encode_request_frame(payload, gzip=self._options.headers.gzip_requests)

    async def available_models(self, who: UpstreamIdentity) -> list[LiveModel]:
        """Cursor's model list (`AvailableModels`, a Connect unary call, §7.8, §11.3)."""
        request = pb.AvailableModelsRequest(
            is_nightly=False, include_long_context_models=True, exclude_max_named_models=True
        )
        version = self._versions.current.version
        headers = build_headers(
            who, self._options.headers, client_version=version, unix_seconds=int(time.time()), unary=True
        )
        try:
            async with self._transport.post(
                self._options.base_url + MODELS_PATH, headers, request.SerializeToString()
            ) as response:
                return await _read_models(response)
        except UpstreamError as exc:
            outdated = self._outdated(exc, version)
            if outdated is exc:
                raise
            raise outdated from exc
        except TransportTimeout as exc:
            raise upstream_errors.build_error("timeout", f"Cursor did not answer in time: {exc}") from exc
        except TransportError as exc:
            raise upstream_errors.build_error("transport", f"Connection to Cursor failed: {exc}") from exc

    def _outdated(self, error: UpstreamError, version: str) -> UpstreamError:
        """An outdated-client refusal becomes a `ClientOutdated` naming the refused version."""
        if error.error_class != "outdated" or isinstance(error, ClientOutdated):
            return error
        return ClientOutdated(error.message, refused=version, source=self._versions)

    def _explained(self, error: UpstreamError, chat: ChatRequest, version: str) -> UpstreamError:
        """`error` with what the client needs to act on it: which model, or the refused version."""
        if error.error_class == "model":  # say which model, and where the current ones are listed
            error.message = (
                f"{error.message} (the model {chat.model.id!r}, sent to Cursor as {chat.model.upstream_name!r}; "
                "GET /v1/models lists the models on offer)"
            )
        return self._outdated(error, version)

    async def chat(
        self, chat: ChatRequest, prompt: Prompt, who: UpstreamIdentity, timing: Timing | None = None
    ) -> AsyncGenerator[UpstreamEvent, None]:
        # One generator from the response body to the caller: every layer between them costs each
        # streamed chunk a resumption.
        version = self._versions.current.version  # one version for the header and the body
        body = self.encode(chat, prompt, version)
        headers = build_headers(
            who, self._options.headers, client_version=version, unix_seconds=int(time.time())
        )
        content_seen = False
        if timing is not None:
            timing.upstream_sent = time.perf_counter()
            timing.upstream_rpc = "chat"
        try:
            async with self._transport.post(self._url, headers, body) as response:
                if response.status != 200:
                    raise await _http_error(response.status, response)
                frames = FrameDecoder()
                decoder = ResponseDecoder(composer=chat.model.composer)
                chunks = response.chunks()
                async for chunk in chunks:
                    # The usual chunk once the answer's text has begun: one plain frame of text,
                    # read from the wire without building frames or a message (each step costs
                    # a streamed chunk its share of cold caches between paced frames).
                    if decoder.text_started and frames.at_boundary:
                        text = text_only(chunk, CHAT_TEXT, framed=True)
                        if text is not None:
                            yield TextDelta(text)
                            continue
                    # Decoded first, then yielded: while the caller holds us suspended (a client
                    # that reads slowly), only the events are alive, not the frames they came from.
                    events, end = decode_chunk(frames, decoder, chunk)
                    for event in events:
                        if not content_seen and timing is not None:
                            timing.upstream_answer = time.perf_counter()
                        content_seen = True
                        yield event
                    if end is not None:
                        if end.error is not None:
                            error = upstream_errors.from_connect_error(end.error)
                            if error is not None:
                                raise error
                        for event in decoder.end():  # a composer answer left in its thinking
                            yield event
                        yield Finish("stop")
                        await _finish_body(chunks)
                        return
                frames.close()
                raise upstream_errors.disconnected(
                    content_seen, "the upstream stream ended without an end-of-stream frame"
                )
        except (FramingError, UndecodableFrame, TransportError) as exc:
            raise self._explained(upstream_errors.stream_failure(exc, content_seen), chat, version) from exc
        except UpstreamError as exc:
            explained = self._explained(exc, chat, version)
            if explained is exc:
                raise
            raise explained from exc


def decode_chunk(
    frames: FrameDecoder, decoder: ResponseDecoder, chunk: bytes
) -> tuple[list[UpstreamEvent], EndStream | None]:
    """The events of the frames `chunk` completes, and the end-of-stream frame if it came."""
    events: list[UpstreamEvent] = []
    for frame in frames.feed(chunk):
        if frame.is_end_stream:
            return events, parse_end_stream(frame.payload)
        events += decoder.message(frame.payload)
    return events, None


async def _read_models(response: UpstreamResponse) -> list[LiveModel]:
    if response.status != 200:
        raise await _http_error(response.status, response)
    raw = await read_capped(response, MODELS_BODY_LIMIT + 1)
    if len(raw) > MODELS_BODY_LIMIT:
        raise upstream_errors.build_error(
            "protocol", f"Cursor's model list is over {MODELS_BODY_LIMIT} bytes"
        )
    try:
        if raw[:2] == b"\x1f\x8b":  # Content-Encoding: gzip, not inflated by the transport
            raw = gunzip_bounded(raw, MODELS_BODY_LIMIT)
        answer = pb.AvailableModelsResponse.FromString(raw)
    except (FramingError, DecodeError) as exc:
        raise upstream_errors.build_error(
            "protocol", f"Cursor sent an undecodable model list: {exc}"
        ) from exc
    return [
        LiveModel(
            name=m.name,
            server_name=m.server_model_name if m.HasField("server_model_name") else m.name,
            context_window=m.context_token_limit if m.HasField("context_token_limit") else None,
            supports_thinking=m.supports_thinking if m.HasField("supports_thinking") else None,
            disabled=m.HasField("degradation_status") and m.degradation_status == DISABLED,
        )
        for m in answer.models
    ]


async def _finish_body(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows the end-of-stream frame: normally only the HTTP body's own end.

    Finishing the body lets HTTP/1.1 reuse the connection instead of dropping it. The answer is
    already complete, so this is bounded hard: at most `TRAILING_SECONDS` and `TRAILING_LIMIT`
    bytes, errors ignored; past that the connection is simply closed (§6.3: ignore what follows).
    """
    seen = 0
    with contextlib.suppress(TimeoutError, TransportError):
        async with asyncio.timeout(TRAILING_SECONDS):
            async for chunk in chunks:
                seen += len(chunk)
                if seen > TRAILING_LIMIT:
                    return


async def _http_error(status: int, response: UpstreamResponse) -> UpstreamError:
    """Map a non-200 answer; its body (JSON, text or HTML) is read up to 64 KiB."""
    return upstream_errors.from_http_answer(
        status, await error_body(response), response.headers.get("retry-after")
    )
