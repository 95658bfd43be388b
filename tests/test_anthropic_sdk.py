"""The official Anthropic Python SDK, with strict response validation, against gateway + simulator."""

from __future__ import annotations

import anthropic
import pytest

from gateway.app import create_app
from tests.conftest import API_KEY, MODEL, fixed_pool
from tests.fakes import CursorSimulator, Scenario, SimConfig, make_jwt
from tests.fakes import create_app as create_sim_app

TASK = "create a file notes.txt with content 'tea at five', then read it back"
TOOLS = [
    {
        "name": "write_file",
        "description": "Write a file.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": "read_file",
        "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
]


@pytest.fixture
async def client(aiohttp_server, make_settings, request):
    """An AsyncAnthropic client (strict validation) on a real gateway socket, and the simulator.

    Parametrize indirectly with settings overrides, e.g. `{"tool_mode": "emulate"}`."""
    overrides = getattr(request, "param", {})
    sim = CursorSimulator(SimConfig(seed=0, default_scenario=overrides.pop("scenario", "echo")))
    upstream = await aiohttp_server(create_sim_app(sim))
    settings = make_settings(
        cursor_base_url=str(upstream.make_url("")).rstrip("/"), upstream_http_version="1.1", **overrides
    )
    gateway = await aiohttp_server(create_app(settings, pool=fixed_pool(make_jwt())))
    sdk = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("")), api_key=API_KEY, max_retries=0, _strict_response_validation=True
    )
    yield sdk, sim
    await sdk.close()


async def test_non_streaming(client):
    sdk, _ = client
    message = await sdk.messages.create(
        model=MODEL, max_tokens=256, system="Be nice.", messages=[{"role": "user", "content": "ping"}]
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "You said: ping"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0


async def test_streaming_text(client):
    sdk, _ = client
    async with sdk.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == "You said: stream me"
    assert message.content[0].text == "You said: stream me" and message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


async def test_stop_sequence_and_max_tokens(client):
    sdk, _ = client
    stopped = await sdk.messages.create(
        model=MODEL, max_tokens=256, stop_sequences=["two"], messages=[{"role": "user", "content": "one two"}]
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "two"
    cut = await sdk.messages.create(
        model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "a b c d"}]
    )
    assert cut.stop_reason == "max_tokens" and cut.content[0].text == "You said"


async def test_thinking_streams_as_thinking_blocks_that_go_back_as_history(client):
    sdk, sim = client
    sim.push(Scenario("thinking"))
    request = {
        "model": MODEL,
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "think first"}],
    }
    async with sdk.messages.stream(**request) as stream:
        kinds = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds and "text" in kinds
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking.startswith("The user wrote")
    assert thinking.signature and text.type == "text"
    history = [
        *request["messages"],
        {"role": "assistant", "content": message.content},
        {"role": "user", "content": "and now?"},
    ]
    again = await sdk.messages.create(**{**request, "messages": history})
    assert again.content[-1].text == "You said: and now?"
    [record] = sim.chat_records[-1:]
    assert "The user wrote" not in str(record.chat)  # thinking sent back is not replayed upstream


async def test_hidden_thinking_without_the_thinking_parameter(client):
    sdk, sim = client
    sim.push(Scenario("thinking"))
    message = await sdk.messages.create(
        model=MODEL + "-thinking", max_tokens=256, messages=[{"role": "user", "content": "quietly"}]
    )
    assert [block.type for block in message.content] == ["text"]


def run_tools(files: dict[str, str], content) -> list[dict[str, object]]:
    """Execute the message's tool_use blocks against an in-memory file system."""
    results: list[dict[str, object]] = []
    for block in content:
        if block.type != "tool_use":
            continue
        if block.name == "write_file":
            files[block.input["path"]] = block.input["content"]
            output = "written"
        else:
            output = files.get(block.input["path"], "no such file")
        results.append({"type": "tool_result", "tool_use_id": block.id, "content": output})
    return results


@pytest.mark.parametrize(
    "client",
    [{"scenario": "agent", "tool_mode": "native"}, {"scenario": "agent", "tool_mode": "emulate"}],
    indirect=True,
    ids=["native", "emulate"],
)
async def test_a_tool_loop_completes_the_file_task(client):
    """The client runs the tools the model asks for until the model answers in text."""
    sdk, _ = client
    files: dict[str, str] = {}
    messages: list[dict[str, object]] = [{"role": "user", "content": TASK}]
    used: list[str] = []
    for _ in range(4):
        async with sdk.messages.stream(
            model=MODEL, max_tokens=1024, tools=TOOLS, messages=messages
        ) as stream:
            message = await stream.get_final_message()
        if message.stop_reason != "tool_use":
            break
        used += [block.name for block in message.content if block.type == "tool_use"]
        messages += [
            {"role": "assistant", "content": message.content},
            {"role": "user", "content": run_tools(files, message.content)},
        ]
    assert used == ["write_file", "read_file"]
    assert files == {"notes.txt": "tea at five"}
    assert message.stop_reason == "end_turn" and "tea at five" in message.content[-1].text


async def test_a_named_tool_choice_with_a_non_streaming_tool_use(client):
    sdk, sim = client
    sim.push(Scenario("tool_call", args='{"path": "a.txt"}'))  # calls the first tool by name: read_file
    message = await sdk.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "read_file", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "read a.txt"}],
    )
    [use] = message.content
    assert use.type == "tool_use" and use.name == "read_file" and use.input == {"path": "a.txt"}
    assert message.stop_reason == "tool_use"


async def test_count_tokens_and_models(client):
    sdk, _ = client
    counted = await sdk.messages.count_tokens(
        model=MODEL, system="s" * 40, messages=[{"role": "user", "content": "x" * 40}], tools=TOOLS
    )
    assert counted.input_tokens > 20
    models = [model async for model in sdk.models.list(limit=5)]  # pages with after_id
    assert MODEL in [m.id for m in models] and all(m.type == "model" for m in models)
    assert len(models) > 5


async def test_errors_raise_the_sdks_exceptions(client):
    sdk, sim = client
    with pytest.raises(anthropic.NotFoundError) as not_found:
        await sdk.messages.create(
            model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert not_found.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        await sdk.messages.create(
            model=MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}],
        )
    assert "messages[0].content[0].source" in bad.value.message
    with pytest.raises(anthropic.AuthenticationError):
        await sdk.with_options(api_key="wrong").messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    sim.push(Scenario("error", error=50, after_frames=0))
    with pytest.raises(anthropic.RateLimitError):
        await sdk.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])


async def test_an_error_inside_a_stream_is_raised(client):
    sdk, sim = client
    sim.push(Scenario("error", error=50, after_frames=3))
    with pytest.raises(anthropic.APIStatusError) as info:
        async with sdk.messages.stream(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            async for _ in stream:
                pass
    assert "rate_limit_error" in str(info.value)
