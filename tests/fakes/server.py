"""The HTTP/1.1 front: an aiohttp application serving the simulator core, plus the control API.

Routes: the SIM-01 RPC and JSON paths (via `CursorSimulator.handle`), the control API under
`/__sim/` (push scenarios, token table, unary faults, config, records, reset), and 404 Connect
`unimplemented` for anything else. `start_http` runs the app outside pytest (standalone runner,
the gateway's demo mode, benchmarks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from google.protobuf.message import DecodeError

from gateway.upstream.pb.aiserver_agent_pb2 import BidiRequestId
from tests.fakes.agent_run import RUN_PATH, RUN_SSE_PATH, AgentRun
from tests.fakes.scenarios import Scenario
from tests.fakes.sim import CursorSimulator, SimRecord
from tests.fakes.steps import Abort, Respond, Sleep, Stall, StartStream, Step, Write
from tests.fakes.validate import Rejection
from tests.fakes.wire import EnvelopeReader, WireError, decode_request_envelope

SIM_KEY: Final = web.AppKey("cursor_simulator", CursorSimulator)
STALL_POLL_S: Final = 0.02


async def read_body(request: web.BaseRequest, cap: int) -> tuple[bytes, bool]:
    """Read at most `cap` bytes of the body; the flag says whether more was on offer."""
    data = bytearray()
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return bytes(data), False
        data += chunk
        if len(data) > cap:
            return bytes(data[:cap]), True


def lower_headers(request: web.BaseRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


async def handle_rpc(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    if request.method == "POST" and request.rel_url.path in (RUN_PATH, RUN_SSE_PATH):
        return await serve_agent_run(request, sim)
    body, overflow = await read_body(request, sim.config.max_body)
    version = f"{request.version.major}.{request.version.minor}"
    record, plan = sim.handle(
        request.method,
        request.rel_url.path,
        lower_headers(request),
        body,
        http_version=version,
        overflow=overflow,
    )
    return await run_plan(request, sim, record, plan)


async def run_plan(
    request: web.Request, sim: CursorSimulator, record: SimRecord | None, plan: list[Step]
) -> web.StreamResponse:
    """Execute a plan on an aiohttp response; abrupt closes abort the transport."""
    transport = request.transport
    response: web.StreamResponse | None = None

    def close() -> None:
        if transport is not None:
            transport.abort()

    closer = sim.register_closer(close)
    outcome = "completed"
    try:
        for step in plan:
            if isinstance(step, Respond):
                return web.Response(status=step.status, headers=dict(step.headers), body=step.body)
            if isinstance(step, StartStream):
                response = web.StreamResponse(status=step.status, headers=dict(step.headers))
                await response.prepare(request)
            elif isinstance(step, Write):
                assert response is not None, "Write before StartStream"
                await response.write(step.payload())
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Abort):
                outcome = "aborted"
                close()
                return response or web.StreamResponse()
            elif isinstance(step, Stall):
                outcome = "stalled"
                while transport is not None and not transport.is_closing():
                    await asyncio.sleep(STALL_POLL_S)
                return response or web.StreamResponse()
        return response or web.Response(status=500)
    except ConnectionError:
        outcome = "client_gone"
        return response or web.StreamResponse()
    except asyncio.CancelledError:
        outcome = "client_gone"
        raise
    finally:
        sim.unregister_closer(closer)
        if record is not None:
            sim.finish(record, outcome)


# ---------------------------------------------------------------- agent runs


class _AiohttpRunOutput:
    """A run's frames on an aiohttp streaming response."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self._request = request
        self._response = response

    async def send(self, data: bytes) -> None:
        await self._response.write(data)

    def abort(self) -> None:
        if self._request.transport is not None:
            self._request.transport.abort()


async def serve_agent_run(request: web.Request, sim: CursorSimulator) -> web.StreamResponse:
    """`RunSSE` (its body names the run whose messages arrive as appends), or `Run` over HTTP/1.1,
    where the whole body arrives before the answer: its messages, then the end of the input."""
    path = request.rel_url.path
    version = f"{request.version.major}.{request.version.minor}"
    sse = path == RUN_SSE_PATH
    opening = sim.open_agent(
        path, lower_headers(request), http_version=version, carrier="sse" if sse else "bidi"
    )
    record = opening.record
    if opening.respond is not None:
        sim.finish(record, "completed")
        step = opening.respond
        return web.Response(status=step.status, headers=dict(step.headers), body=step.body)
    body, overflow = await read_body(request, sim.config.max_body)
    request_id = ""
    try:
        if sse:
            envelope = decode_request_envelope(body)
            request_id = BidiRequestId.FromString(envelope.payload).request_id
            if not request_id or overflow:
                raise WireError("no_request_id", "RunSSE needs a BidiRequestId")
            opening.input.log.request_id = request_id
            sim.sse_runs.attach(request_id, opening.input)
        else:
            reader = EnvelopeReader()
            for _, payload in reader.feed(body):
                opening.input.deliver(payload)
            opening.input.end()
    except (WireError, DecodeError):
        opening.rejection = opening.rejection or Rejection("bad_request_envelope", code="invalid_argument")
        opening.input.end()
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream" if sse else "application/connect+proto"}
    )
    await response.prepare(request)
    closer = sim.register_closer(lambda: request.transport.abort() if request.transport is not None else None)
    outcome = "completed"
    try:
        run = AgentRun(
            sim,
            record,
            opening.input,
            _AiohttpRunOutput(request, response),
            scenario=opening.scenario,
            rejection=opening.rejection,
        )
        outcome = await run.play()
    except asyncio.CancelledError:
        outcome = "closed_after_turn" if opening.input.log.turn_ended else "client_gone"
        opening.input.log.closed_after_turn = opening.input.log.turn_ended
        raise
    finally:
        sim.unregister_closer(closer)
        if request_id:
            sim.sse_runs.detach(request_id)
        sim.finish(record, outcome)
    return response


# ---------------------------------------------------------------- control API


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc


def _scenario(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="a scenario is a JSON object with a name")
    try:
        return Scenario.from_json(data)
    except (ValueError, TypeError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc


async def control_push(request: web.Request) -> web.Response:
    data = await _json(request)
    items = data if isinstance(data, list) else [data]
    request.app[SIM_KEY].push(*(_scenario(item) for item in items))
    return web.json_response({"queued": len(items)})


async def control_tokens(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        raise web.HTTPBadRequest(text='expected {"key": ..., "scenarios": [...]}')
    scenarios = [_scenario(item) for item in data.get("scenarios", [])]
    request.app[SIM_KEY].set_token_behaviour(data["key"], *scenarios)
    return web.json_response({"key": data["key"], "scenarios": len(scenarios)})


async def control_unary(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise web.HTTPBadRequest(text='expected {"path": ..., "scenario": {...}}')
    request.app[SIM_KEY].push_unary(data["path"], _scenario(data.get("scenario")))
    return web.json_response({"path": data["path"]})


async def control_records(request: web.Request) -> web.Response:
    return web.json_response([record.to_json() for record in request.app[SIM_KEY].records])


async def control_reset(request: web.Request) -> web.Response:
    request.app[SIM_KEY].reset()
    return web.json_response({"reset": True})


async def control_config(request: web.Request) -> web.Response:
    """GET: the scalar settings; PATCH: change scalar settings by name."""
    config = request.app[SIM_KEY].config
    scalars = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if isinstance(getattr(config, f.name), str | int | float | bool)
    }
    if request.method == "PATCH":
        data = await _json(request)
        if not isinstance(data, dict) or not set(data) <= set(scalars):
            raise web.HTTPBadRequest(text=f"settable: {sorted(scalars)}")
        for name, value in data.items():
            setattr(config, name, type(scalars[name])(value))
            scalars[name] = getattr(config, name)
    return web.json_response(scalars)


async def _abort_streams(app: web.Application) -> None:
    app[SIM_KEY].abort_all()


def create_app(sim: CursorSimulator) -> web.Application:
    """The HTTP/1.1 front. Serve it with pytest-aiohttp's `aiohttp_server` or `start_http`."""
    app = web.Application()
    app[SIM_KEY] = sim
    if sim.config.control_api:
        app.router.add_post("/__sim/scenarios", control_push)
        app.router.add_post("/__sim/tokens", control_tokens)
        app.router.add_post("/__sim/unary", control_unary)
        app.router.add_get("/__sim/records", control_records)
        app.router.add_post("/__sim/reset", control_reset)
        app.router.add_route("GET", "/__sim/config", control_config)
        app.router.add_route("PATCH", "/__sim/config", control_config)
    app.router.add_route("*", "/{tail:.*}", handle_rpc)
    app.on_shutdown.append(_abort_streams)
    return app


@dataclass(slots=True)
class HttpFront:
    """A running HTTP/1.1 front (from `start_http`)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_http(sim: CursorSimulator, host: str = "127.0.0.1", port: int = 0) -> HttpFront:
    """Serve `create_app(sim)` on host:port (0 = any free port) until `close()`."""
    runner = web.AppRunner(create_app(sim), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if port == 0 else port
    return HttpFront(runner=runner, host=host, port=bound)
