"""The gateway over Cursor's agent service (`UPSTREAM_RPC=agent`) against the simulator,
on both carriers: HTTP/2 `Run` and HTTP/1.1 `RunSSE` + `BidiAppend`. Plain chat, thinking shown
and hidden, images, tool calls with the OpenAI SDK (native, emulated, the `auto` fallback),
Cursor's own tools refused, errors, and a client that hangs up cancelling the run."""

from __future__ import annotations

import json
import logging

import openai
import pytest

from gateway.app import create_app
from tests.chat.test_images import data_url, png
from tests.conftest import MODEL, fixed_pool, runs_ended, strict_openai
from tests.fakes import (
    CursorSimulator,
    Scenario,
    SimConfig,
    make_jwt,
    start_h2c,
)
from tests.fakes import (
    create_app as create_sim_app,
)
from tests.handlers.test_tools_http import TOOLS as READ_TOOLS
from tests.sse_reader import parse_sse

CHAT = "/v1/chat/completions"
CARRIERS = [pytest.param(True, id="http2-run"), pytest.param(False, id="http1-runsse")]
TASK = "create a file hello.txt with content 'hi from the agent', then read it back"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "description": "Write a file.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"],
            },
        },
    },
    *READ_TOOLS,
]


def ask(text="Hi", *, stream=False, model=MODEL, **extra):
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


async def agent(sim_gateway, http2: bool, config: SimConfig | None = None, **settings):
    return await sim_gateway(config, http2=http2, upstream_rpc="agent", **settings)


@pytest.mark.parametrize("http2", CARRIERS)
async def test_a_plain_chat_streams_through_the_agent_service(sim_gateway, http2, caplog):
    client, sim = await agent(sim_gateway, http2)
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = await client.post(CHAT, json=ask("Grüße 👋 agent", stream=True))
        events, _ = parse_sse(await response.text())
    assert response.status == 200 and events[-1] == "[DONE]"
    text = "".join(
        e["choices"][0]["delta"].get("content", "") for e in events if isinstance(e, dict) and e["choices"]
    )
    assert text == "You said: Grüße 👋 agent"
    assert sim.chat_records == []  # ChatService was never called
    assert await runs_ended(sim)
    record = sim.agent_records[0]
    assert record.agent.carrier == ("bidi" if http2 else "sse") and record.agent.closed_after_turn
    assert record.rejection is None and record.warnings == []
    assert any("upstream=agent" in line.getMessage() for line in caplog.records)


@pytest.mark.parametrize("http2", CARRIERS)
async def test_anthropic_messages_are_served_by_the_agent_service_too(sim_gateway, http2):
    client, sim = await agent(sim_gateway, http2)
    body = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "bonjour"}]}
    response = await client.post("/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    message = await response.json()
    assert response.status == 200 and message["content"] == [{"type": "text", "text": "You said: bonjour"}]
    assert len(sim.agent_records) == 1 and sim.chat_records == []


@pytest.mark.parametrize("http2", CARRIERS)
async def test_system_text_and_history_are_replayed_as_a_transcript(sim_gateway, http2):
    client, sim = await agent(sim_gateway, http2)
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "premier"},
        {"role": "user", "content": "second"},
    ]
    response = await client.post(CHAT, json={"model": MODEL, "messages": messages})
    assert (await response.json())["choices"][0]["message"]["content"] == "You said: second"
    text = sim.agent_records[0].agent.user_text
    assert (
        text.startswith("<system>\nAnswer in French.\n</system>")
        and "<assistant>\npremier\n</assistant>" in text
    )


@pytest.mark.parametrize("http2", CARRIERS)
@pytest.mark.parametrize(("output", "shown"), [("hidden", False), ("reasoning_content", True)])
async def test_thinking_is_shown_or_hidden(sim_gateway, http2, output, shown):
    client, sim = await agent(sim_gateway, http2, thinking_output=output)
    body = await (await client.post(CHAT, json=ask("think", model=MODEL + "-thinking"))).json()
    message = body["choices"][0]["message"]
    assert message["content"] == "You said: think"
    assert (message.get("reasoning_content") or "").startswith("The user wrote") is shown
    assert sim.agent_records[0].agent.run.requested_model.model_id == "claude-4.5-sonnet-thinking"


@pytest.mark.parametrize("http2", CARRIERS)
async def test_images_reach_the_run_as_selected_images(sim_gateway, http2):
    client, sim = await agent(sim_gateway, http2)
    image = png(40, 30)
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_url(image, "image/png")}},
    ]
    response = await client.post(
        CHAT, json={"model": MODEL, "messages": [{"role": "user", "content": parts}]}
    )
    assert response.status == 200, await response.text()
    [selected] = sim.agent_records[
        0
    ].agent.run.action.user_message_action.user_message.selected_context.selected_images
    assert selected.data == image and selected.mime_type == "image/png"
    assert (selected.dimension.width, selected.dimension.height) == (40, 30)


@pytest.mark.parametrize("http2", CARRIERS)
async def test_cursors_own_tools_are_refused_and_the_answer_completes(sim_gateway, http2):
    client, sim = await agent(sim_gateway, http2)
    sim.push(Scenario("echo", builtin="all", queries="all"))
    body = await (await client.post(CHAT, json=ask("no tools for you"))).json()
    assert body["choices"][0]["message"]["content"] == "You said: no tools for you"
    assert await runs_ended(sim)
    log = sim.agent_records[0].agent
    assert (
        log.protocol_error is None
        and "shell_args" in log.refused
        and "web_search_request_query" in log.refused
    )


@pytest.mark.parametrize("http2", CARRIERS)
@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        (Scenario("error", error=50), 429, "rate_limit_exceeded"),
        (Scenario("error", error=10), 429, "insufficient_quota"),
        (Scenario("http_error", status=404), 502, "upstream_rpc_unavailable"),
        (Scenario("error", error=5), 404, "model_not_found"),
        (Scenario("broken", kind="bad_protobuf"), 502, "upstream_protocol_error"),
    ],
)
async def test_upstream_errors_keep_their_classes(sim_gateway, http2, scenario, status, code):
    client, sim = await agent(sim_gateway, http2)
    sim.push(scenario)
    response = await client.post(CHAT, json=ask())
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_a_token_cursor_refuses_fails_over_to_the_next(sim_gateway):
    from gateway.tokens.pool import TokenPool
    from gateway.tokens.store import TokenEntry
    from tests.conftest import IDENTITY

    bad, good = make_jwt(sub="auth0|user_bad"), make_jwt(sub="auth0|user_good")
    pool = TokenPool.fixed([TokenEntry("bad", bad, bad, IDENTITY), TokenEntry("good", good, good, IDENTITY)])
    client, sim = await agent(
        sim_gateway, True, SimConfig(seed=0, token_errors={"auth0|user_bad": "unauthorized"}), pool=pool
    )
    for _ in range(2):
        body = await (await client.post(CHAT, json=ask("still here"))).json()
        assert body["choices"][0]["message"]["content"] == "You said: still here"
    assert [r.sub for r in sim.agent_records] == ["auth0|user_bad", "auth0|user_good", "auth0|user_good"]


@pytest.mark.parametrize("http2", CARRIERS)
async def test_a_client_that_hangs_up_cancels_the_run(sim_gateway, http2):
    client, sim = await agent(sim_gateway, http2)
    sim.push(Scenario("text", text="x" * 400, chunk=1, pace=0.01))
    response = await client.post(CHAT, json=ask(stream=True))
    await response.content.readany()
    response.close()
    assert await runs_ended(sim)
    record = sim.agent_records[0]
    assert not record.agent.turn_ended
    if http2:
        assert record.outcome == "cancelled" and record.agent.cancelled
    else:
        assert record.outcome == "client_gone"


# ---------------------------------------------------------------- tools with the OpenAI SDK


@pytest.fixture
async def agent_sdk(aiohttp_server, make_settings):
    """`start(http2, **settings)`: an AsyncOpenAI client (strict validation) on a gateway over the
    agent service, and the simulator playing its scripted agent."""
    fronts = []
    clients = []

    async def start(http2: bool, **settings):
        sim = CursorSimulator(SimConfig(seed=0, default_scenario="agent"))
        if http2:
            front = await start_h2c(sim)
            fronts.append(front)
            base = front.url
        else:
            base = str((await aiohttp_server(create_sim_app(sim))).make_url("")).rstrip("/")
        config = make_settings(
            cursor_base_url=base, upstream_http_version="2" if http2 else "1.1", **settings
        )
        gateway = await aiohttp_server(
            create_app(config.replace(upstream_rpc="agent"), pool=fixed_pool(make_jwt()))
        )
        client = strict_openai(gateway)
        clients.append(client)
        return client, sim

    yield start
    for client in clients:
        await client.close()
    for front in fronts:
        await front.close()


async def run_task(client: openai.AsyncOpenAI) -> tuple[dict[str, str], str, int]:
    """Play the client's side of the file task: run each tool call, send the results back."""
    files: dict[str, str] = {}
    messages: list[dict[str, object]] = [{"role": "user", "content": TASK}]
    for turn in range(1, 6):
        completion = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        choice = completion.choices[0]
        if choice.finish_reason != "tool_calls":
            return files, choice.message.content or "", turn
        messages.append(choice.message.model_dump(exclude_none=True))
        for call in choice.message.tool_calls or []:
            args = json.loads(call.function.arguments)
            if call.function.name == "write_file":
                files[args["path"]] = args["content"]
                result = "written"
            else:
                result = files.get(args["path"], "no such file")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the task did not finish")


@pytest.mark.parametrize("http2", CARRIERS)
@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
async def test_the_sdk_completes_a_file_task_through_the_agent_service(agent_sdk, http2, tool_mode):
    client, sim = await agent_sdk(http2, tool_mode=tool_mode)
    files, answer, turns = await run_task(client)
    assert files == {"hello.txt": "hi from the agent"}
    assert "I read hello.txt" in answer and "hi from the agent" in answer and turns == 3
    assert await runs_ended(sim, 3)
    runs = sim.agent_records
    assert [r.rejection for r in runs] == [None] * len(runs)
    if tool_mode == "native":
        assert all(
            [d.tool_name for d in r.agent.run.mcp_tools.mcp_tools] == ["read_file_", "write_file_"]
            for r in runs
        )
        assert [c for r in runs for c in r.agent.calls] == ["write_file_", "read_file_"]
        assert '<tool_result id="' in runs[-1].agent.user_text  # the results were replayed
        assert all(
            r.headers["x-cursor-agent-allowed-tools"] == "mcp_tool_call,get_mcp_tools_tool_call" for r in runs
        )
    else:
        assert all(not r.agent.run.mcp_tools.mcp_tools and "<<tools:" in r.agent.user_text for r in runs)
        assert all(r.headers["x-cursor-agent-allowed-tools"] == "" for r in runs)


async def test_auto_falls_back_to_emulation_when_the_native_run_is_refused(agent_sdk):
    client, sim = await agent_sdk(True, tool_mode="auto")
    sim.push(Scenario("error", error=36))  # BAD_REQUEST on the native attempt, before any output
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": TASK}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    [call] = completion.choices[0].message.tool_calls or []
    assert call.function.name == "write_file"
    first, second = sim.agent_records[:2]
    assert first.agent.run.mcp_tools.mcp_tools and not second.agent.run.mcp_tools.mcp_tools
    assert "<<tools:" in second.agent.user_text


async def test_the_sdk_streams_a_native_call_from_the_agent_service(agent_sdk):
    client, _ = await agent_sdk(True, tool_mode="native")
    async with client.chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": TASK}],
        tools=TOOLS,  # type: ignore[arg-type]
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "write_file"
    assert json.loads(call.function.arguments) == {"path": "hello.txt", "content": "hi from the agent"}
    assert final.choices[0].finish_reason == "tool_calls"
