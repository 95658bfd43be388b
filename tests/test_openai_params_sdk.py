"""OpenAI parameters through the official Python SDK with strict response validation."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import MODEL
from tests.fakes import Scenario


async def test_n3_non_streaming(sdk):
    client, sim = sdk
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "three times"}], n=3
    )
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert {choice.message.content for choice in completion.choices} == {"You said: three times"}
    assert all(choice.finish_reason == "stop" for choice in completion.choices)
    assert completion.usage is not None and len(sim.chat_records) == 3


async def test_n3_streaming_with_usage(sdk):
    client, sim = sdk
    sim.push(
        Scenario("text", text="first answer", chunk=2, pace=0.01),
        Scenario("text", text="second", chunk=1),
        Scenario("text", text="third one here", chunk=3),
    )
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "x"}],
        n=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: dict[int, str] = {}
    finish: dict[int, str] = {}
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert sorted(texts.values()) == ["first answer", "second", "third one here"]
    assert finish == {0: "stop", 1: "stop", 2: "stop"}
    assert usage is not None and usage.completion_tokens > 0


async def test_n3_stream_helper_final_completion(sdk):
    client, _ = sdk
    async with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "helper"}], n=3
    ) as stream:
        final = await stream.get_final_completion()
    assert [c.index for c in final.choices] == [0, 1, 2]
    assert {c.message.content for c in final.choices} == {"You said: helper"}


async def test_stop_and_max_tokens(sdk):
    client, sim = sdk
    sim.push(Scenario("text", text="keep this|drop this", chunk=3))
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], stop=["|"]
    )
    assert completion.choices[0].message.content == "keep this"
    assert completion.choices[0].finish_reason == "stop"
    sim.push(Scenario("text", text="0123456789abcdef", chunk=3))
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], max_completion_tokens=2
    )
    assert completion.choices[0].message.content == "01234567"
    assert completion.choices[0].finish_reason == "length"


async def test_json_schema_answer_after_a_retry(sdk):
    client, sim = sdk
    sim.push(Scenario("text", text='Here: {"n": 1}'), Scenario("text", text='{"n": 4}'))
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "count"}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "count",
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            },
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {"n": 4}


async def test_logprobs_is_a_bad_request(sdk):
    client, _ = sdk
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], logprobs=True
        )
    assert info.value.param == "logprobs"
