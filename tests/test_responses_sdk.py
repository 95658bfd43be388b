"""The official OpenAI Python SDK's Responses API, with strict response validation, against the gateway
and the simulator (in agent mode, so a tool loop can run a small file task)."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from gateway.app import create_app
from tests.conftest import MODEL, fixed_pool, strict_openai
from tests.e2e.checks import CONTENT, TASK
from tests.fakes import CursorSimulator, Scenario, SimConfig, make_jwt
from tests.fakes import create_app as create_sim_app

TOOLS = [
    {
        "type": "function",
        "name": "write_file",
        "description": "Write a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


@pytest.fixture
async def responses_sdk(aiohttp_server, make_settings):
    """`await start(**settings)`: an AsyncOpenAI client (strict validation) and the simulator."""
    clients = []

    async def start(**overrides: object):
        sim = CursorSimulator(SimConfig(seed=0, default_scenario="agent"))
        upstream = await aiohttp_server(create_sim_app(sim))
        settings = make_settings(
            cursor_base_url=str(upstream.make_url("")).rstrip("/"), upstream_http_version="1.1", **overrides
        )
        gateway = await aiohttp_server(create_app(settings, pool=fixed_pool(make_jwt())))
        client = strict_openai(gateway)
        clients.append(client)
        return client, sim

    yield start
    for client in clients:
        await client.close()


def run_tool(files: dict[str, str], name: str, arguments: str) -> str:
    args = json.loads(arguments)
    if name == "write_file":
        files[args["path"]] = args["content"]
        return "written"
    return files.get(args["path"], "no such file")


async def test_create(responses_sdk) -> None:
    client, _ = await responses_sdk()
    response = await client.responses.create(model=MODEL, input="ping", instructions="Be nice.")
    assert response.output_text == "You said: ping" and response.status == "completed"
    assert response.instructions == "Be nice." and response.model == MODEL
    assert response.usage is not None and response.usage.total_tokens > 0


async def test_stream_helper(responses_sdk) -> None:
    client, _ = await responses_sdk(thinking_output="reasoning_content")
    async with client.responses.stream(model=f"{MODEL}-thinking", input="stream me") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "You said: stream me"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert "response.reasoning_summary_text.delta" in kinds and kinds[-1] == "response.completed"


@pytest.mark.parametrize("tool_mode", ["native", "emulate"])
@pytest.mark.parametrize("streaming", [False, True], ids=["create", "stream"])
async def test_tool_loop_completes_the_file_task(responses_sdk, tool_mode, streaming) -> None:
    client, sim = await responses_sdk(tool_mode=tool_mode)
    files: dict[str, str] = {}
    history: list[object] = [{"role": "user", "content": TASK}]
    for _ in range(5):
        if streaming:
            async with client.responses.stream(model=MODEL, input=history, tools=TOOLS) as stream:  # type: ignore[arg-type]
                response = await stream.get_final_response()
        else:
            response = await client.responses.create(model=MODEL, input=history, tools=TOOLS)  # type: ignore[arg-type]
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            break
        history += [item.model_dump(exclude_none=True) for item in response.output]
        for call in calls:
            output = run_tool(files, call.name, call.arguments)
            history.append({"type": "function_call_output", "call_id": call.call_id, "output": output})
    assert files == {"hello.txt": CONTENT}
    assert CONTENT in response.output_text
    assert [r.rejection for r in sim.chat_records] == [None] * len(sim.chat_records)


async def test_structured_output_with_parse(responses_sdk) -> None:
    class Answer(BaseModel):
        city: str

    client, sim = await responses_sdk()
    sim.push(Scenario("text", text='{"city": "Paris"}'))
    response = await client.responses.parse(model=MODEL, input="Where?", text_format=Answer)
    assert response.output_parsed == Answer(city="Paris")


async def test_max_output_tokens_is_incomplete(responses_sdk) -> None:
    client, _ = await responses_sdk()
    response = await client.responses.create(model=MODEL, input="x" * 400, max_output_tokens=16)
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert len(response.output_text) == 64


async def test_errors_are_raised_as_the_sdks_exceptions(responses_sdk) -> None:
    client, sim = await responses_sdk()
    with pytest.raises(openai.BadRequestError) as bad:
        await client.responses.create(model=MODEL, input="x", tools=[{"type": "web_search"}])
    assert bad.value.code == "unsupported_tool_type" and bad.value.param == "tools[0].type"
    with pytest.raises(openai.BadRequestError) as stored:
        await client.responses.create(model=MODEL, input="x", previous_response_id="resp_1")
    assert stored.value.param == "previous_response_id"
    sim.push(Scenario("error", error=50, after_frames=0))
    with pytest.raises(openai.RateLimitError):
        await client.responses.create(model=MODEL, input="x")


async def test_an_error_mid_stream_ends_with_response_failed(responses_sdk) -> None:
    client, sim = await responses_sdk()
    sim.push(Scenario("error", error=50, after_frames=3))
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    events = [event async for event in stream]
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.error is not None
    assert failed.response.error.code == "rate_limit_exceeded"


async def test_every_tool_kind_is_repeated_in_a_valid_response(responses_sdk) -> None:
    """Custom (free-form) and namespace tools pass the SDK's validation when the response repeats them."""
    client, _ = await responses_sdk()
    tools = [
        *TOOLS,
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch"'},
        },
        {"type": "namespace", "name": "agents", "description": "Sub-agents.", "tools": [TOOLS[1]]},
    ]
    response = await client.responses.create(model=MODEL, input="ping", tools=tools)  # type: ignore[arg-type]
    assert [tool.type for tool in response.tools] == ["function", "function", "custom", "namespace"]
    assert response.status == "completed" and response.output_text.startswith("I can do one of these")
