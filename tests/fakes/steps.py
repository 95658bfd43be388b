"""The step language shared by the scenario engine and both server fronts.

A plan is a list of steps. The HTTP/1.1 front (aiohttp) and the HTTP/2 front (h2) each execute
the same plan: `Respond` is a complete non-streaming answer; `StartStream` sends the 200 headers;
`Write` sends bytes exactly as one write (one chunk / one or more DATA frames); `Sleep` pauses;
`Abort` closes abruptly (transport abort / RST_STREAM); `Stall` waits until the client goes away
or the server shuts down. A plan that runs out after `StartStream` ends the body normally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

CONNECT_STREAM_HEADERS: Final = (("content-type", "application/connect+proto"),)


@dataclass(frozen=True, slots=True)
class Respond:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class StartStream:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = CONNECT_STREAM_HEADERS


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes
    # When set, the bytes are made at the moment of writing (benchmarks stamp the send time).
    render: Callable[[], bytes] | None = None

    def payload(self) -> bytes:
        return self.render() if self.render is not None else self.data


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Abort:
    pass


@dataclass(frozen=True, slots=True)
class Stall:
    pass


Step = Respond | StartStream | Write | Sleep | Abort | Stall


def json_response(status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> Respond:
    return Respond(status, (("content-type", "application/json"), *extra), body)


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Respond:
    return Respond(status, (("content-type", content_type),), text.encode())
