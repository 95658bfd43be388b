"""Tool calls over HTTP (tool-calls.md §8, §10, §12.7-12.9): shapes, keep-alives, the OpenAI SDK."""

from __future__ import annotations

import time

import orjson
import pytest

from gateway.app import create_app
from gateway.tools.grammar import conversation_nonce
from tests.conftest import fixed_pool, strict_openai
from tests.scripted import END, Reply, ScriptedTransport, end_error, reply, sent_text, text

SECRET = "a-test-nonce-secret-0123456789"
TASK = "Read a.txt and tell me what it says."
NONCE = conversation_nonce(SECRET.encode(), TASK)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
]


def call(name: str, arguments: dict[str, object]) -> str:
    body = orjson.dumps({"name": name, "arguments": arguments}).decode()
    return f"<<call:{NONCE}>>\n{body}\n<<end:{NONCE}>>"


def body(**extra: object) -> dict[str, object]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": TASK}], "tools": TOOLS, **extra}


def settings_for(make_settings, **overrides: object):
    return make_settings(tool_mode="emulate", tool_nonce_secret=SECRET, **overrides)


def data_lines(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().split("\n\n") if line.startswith("data: ")]


async def test_non_streaming_call_has_the_openai_shape(gateway, make_settings) -> None:
    client, transport = await gateway(
        reply("Let me read it.\n", call("read_file", {"path": "a.txt"})), settings=settings_for(make_settings)
    )
    response = await client.post("/v1/chat/completions", json=body())
    assert response.status == 200
    payload = await response.json()
    choice = payload["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Let me read it.\n"
    [tool_call] = message["tool_calls"]
    assert tool_call["type"] == "function" and tool_call["id"].startswith("call_")
    assert tool_call["function"] == {"name": "read_file", "arguments": '{"path":"a.txt"}'}
    assert NONCE.encode() not in orjson.dumps(payload)
    assert f"<<tools:{NONCE}>>" in sent_text(transport)  # the preamble went upstream


async def test_streamed_call_is_one_complete_delta(gateway, make_settings) -> None:
    client, _ = await gateway(
        reply(call("read_file", {"path": "a.txt"})[:9], call("read_file", {"path": "a.txt"})[9:]),
        settings=settings_for(make_settings),
    )
    response = await client.post("/v1/chat/completions", json=body(stream=True))
    events = data_lines(await response.read())
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks[1:]]
    assert deltas[0]["tool_calls"][0]["function"] == {"name": "read_file", "arguments": '{"path":"a.txt"}'}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_required_call_retry_is_hidden_behind_keepalives(gateway, make_settings) -> None:
    """§12.7: KEEPALIVE_SECONDS=1, 3.5 s of upstream silence → exactly 3 comments before data."""
    first = Reply([3.5, text("I believe it says hello."), END])
    second = reply(call("read_file", {"path": "a.txt"}))
    client, transport = await gateway(
        first, second, settings=settings_for(make_settings, keepalive_seconds=1, kilo_tool_strict=True)
    )
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=body(stream=True))
    raw = (await response.read()).decode()
    assert time.monotonic() - started >= 3.5
    head = raw[: raw.index("data: ")]
    assert head.count(": keep-alive") == 3
    assert "I believe" not in raw
    assert '"finish_reason":"tool_calls"' in raw
    assert len(transport.sent) == 2
    assert "must call at least one tool" in sent_text(transport, 1)


@pytest.mark.parametrize(("delay", "in_band"), [(0.5, False), (2.0, True)])
async def test_error_while_holding_is_real_status_before_commit(
    gateway, make_settings, delay, in_band
) -> None:
    failing = Reply([delay, end_error(8, "Rate limited")])
    client, _ = await gateway(
        failing, settings=settings_for(make_settings, keepalive_seconds=1, kilo_tool_strict=True)
    )
    response = await client.post("/v1/chat/completions", json=body(stream=True))
    if not in_band:
        assert response.status >= 400
        assert (await response.json())["error"]["code"]
        return
    assert response.status == 200
    events = data_lines(await response.read())
    assert "error" in orjson.loads(events[0]) and events[-1] == "[DONE]"
    assert not any('"finish_reason"' in e for e in events)


async def test_bad_tool_choice_is_a_400_naming_it(gateway, make_settings) -> None:
    client, transport = await gateway(settings=settings_for(make_settings))
    response = await client.post(
        "/v1/chat/completions", json=body(tool_choice={"type": "function", "function": {"name": "nope"}})
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "tool_choice_not_found" and error["param"] == "tool_choice.function.name"
    assert transport.sent == []


# ---------------------------------------------------------------- the OpenAI SDK, strict validation


@pytest.fixture
async def sdk(aiohttp_server, make_settings):
    transport = ScriptedTransport()
    app = create_app(settings_for(make_settings), transport=transport, pool=fixed_pool())
    server = await aiohttp_server(app)
    client = strict_openai(server)
    yield client, transport
    await client.close()


async def test_sdk_tool_loop(sdk) -> None:
    client, transport = sdk
    transport.replies.extend([reply(call("read_file", {"path": "a.txt"})), reply("It says hello.")])
    messages: list[dict[str, object]] = [{"role": "user", "content": TASK}]
    first = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [tool_call] = choice.message.tool_calls or []
    assert tool_call.function.name == "read_file" and orjson.loads(tool_call.function.arguments) == {
        "path": "a.txt"
    }
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": "hello"})
    second = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "It says hello."
    assert f"<<result:{NONCE}>>" in sent_text(transport, 1)  # the result went back upstream


async def test_sdk_streaming_helper_final_completion(sdk) -> None:
    client, transport = sdk
    transport.replies.append(reply("Reading. ", call("read_file", {"path": "a.txt"})))
    async with client.chat.completions.stream(
        model="gpt-4o",
        messages=[{"role": "user", "content": TASK}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Reading. "
    assert [c.function.name for c in message.tool_calls or []] == ["read_file"]
    assert final.usage is not None and final.usage.total_tokens > 0
