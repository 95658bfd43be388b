"""POST /v1/responses against a scripted upstream: shapes, streaming discipline, errors, images, logs."""

from __future__ import annotations

import asyncio

from gateway import keys
from gateway.upstream.transport import TransportError
from tests.chat.test_images import data_url, png
from tests.conftest import MODEL
from tests.handlers.test_tools_http import NONCE, TASK, call, settings_for
from tests.scripted import END, Reply, end_error, reply, sent_request, sent_text, text, thinking
from tests.sse_reader import parse_named_sse

PATH = "/v1/responses"
ADMIN = {"Authorization": "Bearer adm"}


def body(stream=False, model="claude-3.5-sonnet", **extra):
    return {"model": model, "stream": stream, "input": "Hi", **extra}


async def test_non_streaming_answer(gateway) -> None:
    client, transport = await gateway(reply("Hello", " world"))
    response = await client.post(PATH, json=body(instructions="Be brief.", metadata={"k": "v"}))
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["object"] == "response" and answer["id"].startswith("resp_")
    assert answer["status"] == "completed" and answer["model"] == "claude-3.5-sonnet"
    [message] = answer["output"]
    assert message["type"] == "message" and message["id"].startswith("msg_")
    assert message["content"][0]["text"] == "Hello world"
    assert answer["instructions"] == "Be brief." and answer["metadata"] == {"k": "v"}
    assert answer["usage"]["output_tokens"] == 3 and answer["usage"]["estimated"] is True
    assert response.headers["X-Request-Id"]
    assert "Be brief." in sent_request(transport).explicit_context.context


async def test_streaming_answer(gateway) -> None:
    client, _ = await gateway(reply("Hel", "lo"))
    response = await client.post(PATH, json=body(stream=True))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    events, _ = parse_named_sse(await response.text())
    names = [name for name, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed" and "[DONE]" not in repr(events)
    deltas = [payload["delta"] for name, payload in events if name == "response.output_text.delta"]
    assert deltas == ["Hel", "lo"]
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))


async def test_each_upstream_frame_reaches_the_client_before_the_next_arrives(gateway) -> None:
    gate = asyncio.Event()
    client, _ = await gateway(Reply([text("first"), gate, text("second"), END]))
    response = await client.post(PATH, json=body(stream=True))
    seen = b""
    while b'"delta":"first"' not in seen:
        seen += await asyncio.wait_for(response.content.readany(), 5)
    gate.set()
    rest = (await response.read()).decode()
    assert '"delta":"second"' in rest and "response.completed" in rest


async def test_thinking_is_shown_as_reasoning_when_configured(gateway, make_settings) -> None:
    client, _ = await gateway(
        Reply([thinking("Hmm."), text("Yes."), END]),
        settings=make_settings(thinking_output="reasoning_content"),
    )
    response = await client.post(PATH, json=body(model=f"{MODEL}-thinking"))
    output = (await response.json())["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Hmm."}]


async def test_max_output_tokens_cuts_the_answer_and_marks_it_incomplete(gateway) -> None:
    client, transport = await gateway(reply("abcdefghij" * 10))
    response = await client.post(PATH, json=body(stream=True, max_output_tokens=2))
    events, _ = parse_named_sse(await response.text())
    name, final = events[-1]
    assert name == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}  # type: ignore[index]
    assert final["response"]["output"][0]["content"][0]["text"] == "abcdefgh"  # type: ignore[index]
    assert transport.closed == 1


async def test_a_bad_field_is_a_400_in_the_openai_envelope(gateway) -> None:
    client, transport = await gateway()
    response = await client.post(PATH, json=body(tools=[{"type": "web_search"}]))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "unsupported_tool_type",
        "tools[0].type",
    )
    response = await client.post(PATH, json=body(previous_response_id="resp_1"))
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("unsupported_parameter", "previous_response_id")
    assert transport.sent == []


async def test_an_upstream_error_before_the_first_byte_is_a_real_status(gateway) -> None:
    client, _ = await gateway(Reply([end_error(10, "Usage limit", "Spent")]))
    response = await client.post(PATH, json=body(stream=True))
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "insufficient_quota"


async def test_an_error_mid_stream_is_an_error_event_and_response_failed(gateway) -> None:
    client, _ = await gateway(Reply([text("Hel"), TransportError("reset")]))
    response = await client.post(PATH, json=body(stream=True))
    assert response.status == 200
    events, _ = parse_named_sse(await response.text())
    (error_name, error), (failed_name, failed) = events[-2:]
    assert (error_name, failed_name) == ("error", "response.failed")
    assert error["code"] == "upstream_disconnected"  # type: ignore[index]
    assert failed["response"]["status"] == "failed"  # type: ignore[index]
    assert failed["response"]["error"]["code"] == "server_error"  # type: ignore[index]


async def test_images_go_through_the_vision_policy(gateway, make_settings) -> None:
    image = png(4, 3)
    content = [
        {"type": "input_text", "text": "What is it?"},
        {"type": "input_image", "image_url": data_url(image, "image/png")},
    ]
    client, transport = await gateway(reply("A dot."))
    response = await client.post(PATH, json=body(input=[{"role": "user", "content": content}]))
    assert response.status == 200, await response.text()
    [human] = sent_request(transport).conversation
    assert [(i.data, i.dimension.width, i.dimension.height) for i in human.images] == [(image, 4, 3)]

    content[1] = {"type": "input_image", "image_url": "https://example.com/cat.png"}
    response = await client.post(PATH, json=body(input=[{"role": "user", "content": content}]))
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("unsupported_image_url", "input[0].content[1].image_url")

    content[1] = {"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8="}
    response = await client.post(PATH, json=body(input=[{"role": "user", "content": content}]))
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("invalid_image", "input[0].content[1].image_url")

    none_client, _ = await gateway(settings=make_settings(vision_ability="none"))
    response = await none_client.post(PATH, json=body(input=[{"role": "user", "content": content}]))
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("unsupported_content", "input[0].content[1]")


async def test_a_tool_call_and_its_output_round_trip(gateway, make_settings) -> None:
    tool = {
        "type": "function",
        "name": "read_file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
    client, transport = await gateway(
        reply(call("read_file", {"path": "a.txt"})),
        reply("It says hi."),
        settings=settings_for(make_settings),
    )
    first = await (await client.post(PATH, json=body(tools=[tool], input=TASK))).json()
    [item] = first["output"]
    assert item["type"] == "function_call" and item["name"] == "read_file"
    history = [
        {"role": "user", "content": TASK},
        item,
        {"type": "function_call_output", "call_id": item["call_id"], "output": "hi"},
    ]
    second = await (await client.post(PATH, json=body(tools=[tool], input=history))).json()
    assert second["output"][0]["content"][0]["text"] == "It says hi."
    assert f"<<result:{NONCE}>>" in sent_text(transport, 1)


async def test_each_request_leaves_a_log_row_and_a_metric(gateway, make_settings) -> None:
    client, _ = await gateway(reply("Hello"), settings=make_settings(auth_token="adm"))
    assert (await client.post(PATH, json=body())).status == 200
    assert (await client.post(PATH, json=body(input=[]))).status == 400
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    logs = await (await client.post("/logs", json={}, headers=ADMIN)).json()
    bad, good = logs["logs"]
    assert (good["endpoint"], good["status"], good["model"]) == ("responses", "success", "claude-3.5-sonnet")
    assert good["usage"]["completion_tokens"] > 0
    assert bad["http_status"] == 400 and bad["error"].startswith("empty_messages")
    metrics = await (await client.get("/metrics")).text()
    assert 'cursor2api_requests_total{endpoint="responses",status="200"} 1.0' in metrics


async def test_output_items_can_be_referred_to_unless_store_is_false(gateway) -> None:
    client, transport = await gateway(reply("First."), reply("Second."), reply("Third."))
    first = await (await client.post(PATH, json=body())).json()
    [message] = first["output"]
    history = [
        {"role": "user", "content": "Hi"},
        {"type": "item_reference", "id": message["id"]},
        {"role": "user", "content": "More"},
    ]
    response = await client.post(PATH, json=body(input=history, store=False))
    assert response.status == 200, await response.text()
    assert "First." in sent_text(transport, 1)
    second = (await response.json())["output"][0]
    history = [{"role": "user", "content": "Hi"}, {"type": "item_reference", "id": second["id"]}]
    response = await client.post(PATH, json=body(input=history))
    error = (await response.json())["error"]
    assert (response.status, error["code"], error["param"]) == (400, "item_not_found", "input[1].id")
