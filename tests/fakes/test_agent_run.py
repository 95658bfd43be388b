"""The simulator's agent service over its HTTP/1.1 front: RunSSE + BidiAppend played by hand.

The bidirectional `Run` over the HTTP/2 front is exercised with the gateway's own transport in
tests/upstream/agent/ (a second duplex HTTP/2 client here would only restate it).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.upstream.pb import agent_v1_pb2 as apb
from tests.conftest import runs_ended
from tests.fakes import RUN_PATH, SERVER_CONFIG_PATH, CursorSimulator, Scenario
from tests.fakes.agent_checks import read_transcript
from tests.fakes.agent_client_for_tests import (
    SseRunClient,
    agent_headers,
    handshake_answers,
    run_request,
    tool,
)
from tests.fakes.agent_run import AgentLog, RunInput, SseRuns, agent_view
from tests.fakes.wire import encode_frame, pb_bytes

Client = TestClient[web.Request, web.Application]


async def run(client: Client, message: apb.AgentClientMessage, answer=None, **kwargs):
    runner = SseRunClient(client)
    response = await runner.open()
    assert response.status == 200
    await runner.append(message)
    try:
        return runner, await runner.play(answer or handshake_answers(), **kwargs)
    finally:
        runner.close()


async def test_an_echo_run_asks_parks_reads_back_then_waits_for_the_client_to_close(
    client: Client, sim: CursorSimulator
):
    runner, seen = await run(client, run_request("hello there"))
    assert seen.text == "You said: hello there" and seen.turn_ended and seen.end is None
    kinds = seen.kinds()
    assert kinds[:4] == [
        "exec_server_message.request_context_args",
        "kv_server_message.set_blob_args",
        "kv_server_message.set_blob_args",
        "kv_server_message.get_blob_args",
    ]
    assert "interaction_update.turn_ended" in kinds
    assert await runs_ended(sim, timeout=3.0)
    [record] = sim.agent_records
    log = record.agent
    assert log.carrier == "sse" and log.request_id == runner.request_id
    assert log.answered == ["request_context", "set_blob", "set_blob", "get_blob"]
    assert log.appends == [0, 1, 2, 3, 4]
    assert log.turn_ended and log.closed_after_turn and record.outcome == "closed_after_turn"
    assert record.rejection is None and record.warnings == []


async def test_appends_out_of_order_are_delivered_in_seqno_order(client: Client, sim: CursorSimulator):
    runner = SseRunClient(client)
    await runner.open()
    heartbeat = apb.AgentClientMessage(client_heartbeat=apb.ClientHeartbeat())
    await asyncio.gather(runner.append(heartbeat, seqno=2), runner.append(heartbeat, seqno=1))
    await runner.append(run_request("late first"), seqno=0)
    runner.seqno = 3
    seen = await runner.play(handshake_answers())
    runner.close()
    assert seen.text == "You said: late first"
    assert await runs_ended(sim, timeout=3.0)
    log = sim.agent_records[0].agent
    assert log.kinds()[:3] == ["run_request", "client_heartbeat", "client_heartbeat"]
    assert log.heartbeats == 2 and log.appends[:3] == [2, 1, 0]


def test_appends_may_come_before_the_run_opens_and_repeats_are_refused():
    runs = SseRuns()
    heartbeat = apb.AgentClientMessage(client_heartbeat=apb.ClientHeartbeat()).SerializeToString()
    assert runs.append("r", 1, heartbeat) is None
    assert runs.append("r", 0, run_request().SerializeToString()) is None
    assert runs.append("r", 0, heartbeat) is not None  # already taken
    assert runs.append("r", 5000, heartbeat) is not None  # too far ahead
    log = AgentLog("sse")
    runs.attach("r", RunInput(log))
    assert log.kinds() == ["run_request", "client_heartbeat"]


async def test_a_repeated_append_is_a_client_error(client: Client, sim: CursorSimulator):
    runner = SseRunClient(client)
    await runner.open()
    assert await runner.append(run_request(), seqno=0) == 200
    assert await runner.append(run_request(), seqno=0) == 400
    runner.close()


async def test_an_unanswered_question_stalls_the_run_until_the_simulator_gives_up(
    client: Client, sim: CursorSimulator
):
    sim.config.agent_answer_timeout_s = 0.2
    _, seen = await run(client, run_request(), answer=lambda message: None)
    assert seen.end is not None and seen.end["error"]["code"] == "deadline_exceeded"
    assert "request context" in seen.end["error"]["message"]
    assert sim.agent_records[0].rejection == "unanswered:the request context"


async def test_a_blob_the_client_lost_ends_the_run(client: Client, sim: CursorSimulator):
    answers = handshake_answers()

    def forgetful(message):
        replies = answers(message)
        if message.WhichOneof("message") == "kv_server_message" and message.kv_server_message.HasField(
            "get_blob_args"
        ):
            replies[0].kv_client_message.get_blob_result.ClearField("blob_data")
        return replies

    _, seen = await run(client, run_request(), answer=forgetful)
    assert seen.end["error"]["code"] == "data_loss"


async def test_a_tool_schema_that_is_not_a_value_is_refused(client: Client, sim: CursorSimulator):
    broken = apb.McpToolDefinition(name="x", provider_identifier="p", tool_name="x")  # no input schema
    _, seen = await run(client, run_request(), answer=handshake_answers(apb.RequestContext(tools=[broken])))
    assert (
        seen.end["error"]["code"] == "invalid_argument"
        and sim.agent_records[0].rejection == "bad_tool_schema"
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.ClearField("conversation_state"), "bad_run_request"),
        (lambda r: setattr(r.requested_model, "model_id", "no-such-model"), "bad_model_name"),
        (lambda r: setattr(r.action.user_message_action.user_message, "mode", 0), "bad_run_request"),
        (lambda r: setattr(r, "exclude_workspace_context", True), "exclude_workspace_context"),
        (lambda r: r.mcp_tools.mcp_tools.add(name="bare"), "bad_run_request"),
    ],
)
async def test_a_malformed_run_request_is_refused(client: Client, sim: CursorSimulator, mutate, reason):
    message = run_request()
    mutate(message.run_request)
    _, seen = await run(client, message)
    assert seen.end is not None and "error" in seen.end
    assert sim.agent_records[0].rejection == reason


async def test_a_custom_system_prompt_is_refused_like_cursor_does(client: Client, sim: CursorSimulator):
    raw = run_request().run_request.SerializeToString() + pb_bytes(8, "You are a pirate.")
    message = apb.AgentClientMessage(run_request=apb.AgentRunRequest.FromString(raw))
    _, seen = await run(client, message)
    assert seen.end["error"]["message"] == "Error"
    assert sim.agent_records[0].rejection == "custom_system_prompt"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"x-cursor-client-type": "ide", "x-cursor-client-version": "3.1.0"}, 200),
        ({"x-cursor-client-version": "2026.08.11"}, 200),
        ({"content-type": "application/json"}, 415),
        ({"connect-protocol-version": "0"}, 400),
    ],
)
async def test_the_agent_service_checks_its_headers(client: Client, sim: CursorSimulator, overrides, status):
    runner = SseRunClient(client, headers=agent_headers(**overrides))
    response = await runner.open()
    assert response.status == status
    if status == 200:  # refused in-band: a desktop identity on the agent service
        await runner.append(run_request())
        seen = await runner.play(handshake_answers())
        assert seen.end["error"]["code"] == "permission_denied"
        assert sim.agent_records[0].rejection == "agent_client_identity"
    runner.close()


async def test_an_expired_token_is_unauthenticated(client: Client, sim: CursorSimulator):
    from tests.fakes import make_jwt

    runner = SseRunClient(client, headers=agent_headers(authorization=f"Bearer {make_jwt(exp=1)}"))
    await runner.open()
    seen = await runner.play(handshake_answers())
    assert seen.end["error"]["code"] == "unauthenticated"
    runner.close()


async def test_server_config_takes_the_agent_identity_without_a_checksum(
    client: Client, sim: CursorSimulator
):
    async with client.post(SERVER_CONFIG_PATH, data=b"", headers=agent_headers(unary=True)) as r:
        assert r.status == 200
    assert sim.records[-1].rejection is None


async def test_a_half_closed_run_gets_no_exec_result(client: Client, sim: CursorSimulator):
    """`Run` over HTTP/1.1 delivers the whole body first: the run cannot get its answers."""
    body = encode_frame(run_request().SerializeToString())
    async with client.post(RUN_PATH, data=body, headers=agent_headers()) as r:
        data = await r.read()
    assert b"No exec result" in data
    assert sim.agent_records[0].rejection == "half_closed"


async def test_a_thinking_model_thinks_first(client: Client, sim: CursorSimulator):
    _, seen = await run(client, run_request("ponder", model="claude-4.5-sonnet-thinking"))
    assert seen.thinking.startswith("The user wrote 6 characters") and seen.text == "You said: ponder"


async def test_an_error_scenario_ends_with_its_connect_error(client: Client, sim: CursorSimulator):
    sim.push(Scenario("error", error=50, after_frames=2))
    _, seen = await run(client, run_request())
    assert seen.text == "You said: hello"[:8] and seen.end["error"]["code"] == "resource_exhausted"


async def test_an_http_error_chosen_before_the_run_is_its_status(client: Client, sim: CursorSimulator):
    sim.push(Scenario("http_error", status=404))
    runner = SseRunClient(client)
    response = await runner.open()
    assert response.status == 404
    assert (await response.json())["code"] == "unimplemented"
    runner.close()


# ---------------------------------------------------------------- Cursor's own tools and questions


def refusing(answers):
    def answer(message):
        replies = answers(message)
        if replies is not None:
            return replies
        if message.WhichOneof("message") == "exec_server_message":
            request = message.exec_server_message
            reply = apb.ExecClientMessage(id=request.id)
            if request.WhichOneof("message") == "read_args":
                reply.read_result.rejected.reason = "no"
            else:
                reply.read_result.rejected.reason = "wrong case"  # a refusal in the wrong result type
            return [apb.AgentClientMessage(exec_client_message=reply)]
        if message.WhichOneof("message") == "interaction_query":
            response = apb.InteractionResponse(id=message.interaction_query.id)
            response.web_search_request_response.rejected.reason = "no"
            return [apb.AgentClientMessage(interaction_response=response)]
        return None

    return answer


async def test_a_builtin_tool_request_must_be_refused_in_its_own_result_type(
    client: Client, sim: CursorSimulator
):
    sim.push(Scenario("echo", builtin="read_args", queries="web_search_request_query"))
    _, seen = await run(client, run_request(), answer=refusing(handshake_answers()))
    assert seen.turn_ended
    assert await runs_ended(sim, timeout=3.0)
    assert sim.agent_records[0].agent.refused == ["read_args", "web_search_request_query"]


async def test_a_refusal_in_the_wrong_type_ends_the_run(client: Client, sim: CursorSimulator):
    sim.push(Scenario("echo", builtin="shell_args"))
    await run(client, run_request(), answer=refusing(handshake_answers()), timeout=2)
    assert await runs_ended(sim, timeout=3.0)
    assert sim.agent_records[0].agent.protocol_error == "exec shell_args was answered in read_result"


# ---------------------------------------------------------------- client tools


def with_tools(*names: str) -> apb.RequestContext:
    return apb.RequestContext(tools=[tool(n) for n in names])


async def test_a_tool_call_waits_for_the_result_and_carries_on(client: Client, sim: CursorSimulator):
    sim.push(Scenario("tool_call"))
    answers = handshake_answers(with_tools("get_weather"))
    calls = []

    def answer(message):
        replies = answers(message)
        if replies is None and message.exec_server_message.WhichOneof("message") == "mcp_args":
            calls.append(message.exec_server_message.mcp_args)
            reply = apb.ExecClientMessage(id=message.exec_server_message.id)
            reply.mcp_result.success.content.add().text.text = "sunny"
            replies = [apb.AgentClientMessage(exec_client_message=reply)]
        return replies

    _, seen = await run(client, run_request(tools=(tool("get_weather"),)), answer=answer)
    [call] = calls
    assert (call.tool_name, call.provider_identifier, call.name) == (
        "get_weather",
        "custom-user-tools",
        "custom-user-tools-get_weather",
    )
    assert call.args["city"].string_value == "Paris" and call.tool_call_id.startswith("toolu_01")
    assert seen.text == "The tool said: sunny" and seen.turn_ended


async def test_a_client_that_cancels_at_the_call_is_recorded(client: Client, sim: CursorSimulator):
    sim.push(Scenario("tool_call"))
    runner = SseRunClient(client)
    await runner.open()
    await runner.append(run_request(tools=(tool("get_weather"),)))
    answers = handshake_answers(with_tools("get_weather"))

    def answer(message):
        replies = answers(message)
        if replies is None and message.exec_server_message.WhichOneof("message") == "mcp_args":
            cancel = apb.ConversationAction(cancel_action=apb.CancelAction(reason="client went away"))
            return [apb.AgentClientMessage(conversation_action=cancel)]
        return replies

    seen = await runner.play(answer)
    runner.close()
    assert seen.end is None and not seen.turn_ended
    assert await runs_ended(sim, timeout=3.0)
    record = sim.agent_records[0]
    assert record.agent.cancelled == "client went away" and record.outcome == "cancelled"


async def test_without_mcp_in_the_allowed_tools_no_tool_is_called(client: Client, sim: CursorSimulator):
    sim.push(Scenario("tool_call"))
    runner = SseRunClient(client, headers=agent_headers(**{"x-cursor-agent-allowed-tools": ""}))
    await runner.open()
    await runner.append(run_request(tools=(tool("get_weather"),)))
    seen = await runner.play(handshake_answers(with_tools("get_weather")))
    runner.close()
    assert seen.text == "I have no tools to call."


def test_the_agent_reads_the_replayed_conversation():
    text = (
        "<system>\nWorking directory: /srv\n</system>\n\n"
        "<conversation>\n<user>\ncreate a file a.txt with content 'hi', then read it back\n</user>\n"
        '<assistant>\n<tool_call id="c1" name="write">\n{}\n</tool_call>\n</assistant>\n'
        '<tool_result id="c1" name="write">\nok\n</tool_result>\n</conversation>\n\n'
        "Continue."
    )
    transcript = read_transcript(text)
    assert transcript.system == "Working directory: /srv" and transcript.current == "Continue."
    assert transcript.results == [(2, "write", "ok", False)]
    from tests.fakes.agent_run import Definition

    schema = {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}}
    view = agent_view(transcript, [Definition(tool("write_", schema)), Definition(tool("read_", schema))])
    assert view.mode == "native" and view.task is not None and view.task.read_back
    assert [d.name for d in view.done] == ["write_"] and view.workdir == "/srv"


async def test_the_stamped_scenario_sends_one_send_time_per_text_delta(client: Client, sim: CursorSimulator):
    sim.push(Scenario("stamped", frames=3, pace=0))
    _, seen = await run(client, run_request())
    stamps = [int(s) for s in seen.text.split(";") if s]
    assert len(stamps) == 3 and stamps == sorted(stamps)
