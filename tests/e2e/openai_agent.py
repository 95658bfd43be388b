"""An OpenAI-compatible endpoint that answers with the simulator's agent planner directly.

It speaks only the plain OpenAI Chat Completions shapes (streamed tool calls as one complete delta,
O8) and records every request body. The harness tests run the real CLIs against it to prove the
client side on its own — config, invocation, the agent's plan against each client's real catalog —
apart from the gateway; `capture.py` uses it to record the requests each client sends.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from tests.fakes.agent import Answer, Call, Done, Tool, View, find_task, find_workdir, plan


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def view_of(body: dict[str, Any]) -> View:
    """What the planner needs, read from an OpenAI request (the counterpart of `agent.read_view`)."""
    tools = [
        Tool(str(t["function"]["name"]), t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    view = View("native" if tools else "none", tools)
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    texts: list[str] = []
    task_index = -1
    for index, message in enumerate(messages):
        if message.get("role") in ("system", "developer", "user"):
            texts.append(text_of(message.get("content")))
        if message.get("role") == "user":
            view.latest_human = text_of(message.get("content"))
            task = find_task(view.latest_human)
            if task is not None:
                view.task, task_index = task, index
    names: dict[str, str] = {}
    for index, message in enumerate(messages):
        for call in message.get("tool_calls") or []:
            names[str(call.get("id"))] = str(call.get("function", {}).get("name", ""))
        if index > task_index and message.get("role") == "tool":
            name = names.get(str(message.get("tool_call_id")), "")
            view.done.append(Done(name, text_of(message.get("content")), False))
    view.workdir = find_workdir(texts)
    return view


@dataclass(slots=True)
class AgentEndpoint:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def reply(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        step = plan(view_of(body))
        if isinstance(step, Call):
            call = {
                "index": 0,
                "id": f"call_{next(self._ids):024d}",
                "type": "function",
                "function": {"name": step.name, "arguments": json.dumps(step.arguments, ensure_ascii=False)},
            }
            return {"content": step.prose, "tool_calls": [call]}, "tool_calls"
        assert isinstance(step, Answer)
        return {"content": step.text}, "stop"


RECORDER_KEY: Final = web.AppKey("openai_agent", AgentEndpoint)


async def chat(request: web.Request) -> web.StreamResponse:
    endpoint = request.app[RECORDER_KEY]
    body = await request.json()
    endpoint.requests.append(body)
    endpoint.headers.append(dict(request.headers))
    message, finish = endpoint.reply(body)
    base = {"id": "chatcmpl-agent", "created": int(time.time()), "model": body.get("model", "")}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    if not body.get("stream"):
        choice = {
            "index": 0,
            "message": {"role": "assistant", "refusal": None, **message},
            "logprobs": None,
            "finish_reason": finish,
        }
        return web.json_response({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("content"):
        deltas.append({"content": message["content"]})
    if "tool_calls" in message:
        deltas.append({"tool_calls": message["tool_calls"]})
    chunks = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None} for delta in deltas] + [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}
    ]
    for choice in chunks:
        chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    if (body.get("stream_options") or {}).get("include_usage"):
        chunk = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": []})


def create_app(endpoint: AgentEndpoint) -> web.Application:
    app = web.Application()
    app[RECORDER_KEY] = endpoint
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app
