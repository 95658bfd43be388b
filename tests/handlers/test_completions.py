"""POST /v1/completions: HTTP behaviour against a scripted upstream, and the OpenAI SDK's
`completions.create` against the simulator."""

from __future__ import annotations

import asyncio

import openai
import pytest

from gateway import keys
from tests.conftest import MODEL
from tests.scripted import Reply, end_error, reply, sent_text
from tests.sse_reader import parse_sse

PATH = "/v1/completions"


def body(**extra):
    return {"model": "claude-3.5-sonnet", "prompt": "Say hi", "max_tokens": 50, **extra}


async def test_non_streaming_text_completion(gateway) -> None:
    client, transport = await gateway(reply("Hi", " there"))
    response = await client.post(PATH, json=body())
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["object"] == "text_completion" and answer["id"].startswith("cmpl-")
    assert answer["choices"] == [{"text": "Hi there", "index": 0, "logprobs": None, "finish_reason": "stop"}]
    assert answer["usage"]["completion_tokens"] == 2
    assert "Say hi" in sent_text(transport)


async def test_max_tokens_defaults_to_16_as_openai_documents(gateway) -> None:
    client, _ = await gateway(reply("x" * 200))
    response = await client.post(PATH, json={"model": "claude-3.5-sonnet", "prompt": "Go"})
    [choice] = (await response.json())["choices"]
    assert (len(choice["text"]), choice["finish_reason"]) == (64, "length")


async def test_streaming_with_usage_then_done(gateway) -> None:
    client, _ = await gateway(reply("Hel", "lo"))
    response = await client.post(PATH, json=body(stream=True, stream_options={"include_usage": True}))
    chunks, _ = parse_sse(await response.text())
    assert chunks[-1] == "[DONE]"
    texts = [c["choices"][0]["text"] for c in chunks[:-2]]  # type: ignore[index]
    assert texts == ["Hel", "lo", ""] and chunks[-3]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert chunks[-2]["usage"]["total_tokens"] > 0  # type: ignore[index]


async def test_suffix_and_token_prompts_are_refused_before_any_upstream_call(gateway) -> None:
    client, transport = await gateway()
    for extra, param in (
        ({"suffix": "end"}, "suffix"),
        ({"prompt": [[1, 2]]}, "prompt"),
        ({"best_of": 2}, "best_of"),
    ):
        response = await client.post(PATH, json=body(**extra))
        assert response.status == 400
        error = (await response.json())["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "unsupported_parameter",
            param,
        )
    assert transport.sent == []


async def test_an_upstream_error_is_a_real_status_and_a_log_row(gateway, make_settings) -> None:
    client, _ = await gateway(
        Reply([end_error(10, "Usage limit", "Spent")]), settings=make_settings(auth_token="adm")
    )
    assert (await client.post(PATH, json=body())).status == 429
    await asyncio.to_thread(client.app[keys.REQUEST_LOG].flush)
    logs = await (await client.post("/logs", json={}, headers={"Authorization": "Bearer adm"})).json()
    [row] = logs["logs"]
    assert (row["endpoint"], row["http_status"]) == ("completions", 429)


async def test_sdk_non_streaming_with_prompts_n_and_echo(sdk) -> None:
    client, _ = sdk
    completion = await client.completions.create(
        model=MODEL, prompt=["ping", "pong"], n=2, echo=True, max_tokens=50
    )
    assert [(c.index, c.text) for c in completion.choices] == [
        (0, "pingYou said: ping"),
        (1, "pingYou said: ping"),
        (2, "pongYou said: pong"),
        (3, "pongYou said: pong"),
    ]
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_sdk_streaming(sdk) -> None:
    client, _ = sdk
    # OpenAI streams `finish_reason: null` until a choice ends, while the SDK's `Completion` model
    # declares it non-null; strict validation would refuse OpenAI's own stream, so it is off here.
    async with openai.AsyncOpenAI(base_url=client.base_url, api_key=client.api_key, max_retries=0) as lenient:
        stream = await lenient.completions.create(
            model=MODEL,
            prompt="stream me",
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=50,
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "You said: stream me"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_sdk_refusal_is_a_bad_request(sdk) -> None:
    client, _ = sdk
    with pytest.raises(openai.BadRequestError) as caught:
        await client.completions.create(model=MODEL, prompt="def f(", suffix="return x")
    assert caught.value.param == "suffix"
