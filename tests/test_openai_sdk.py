"""The official OpenAI Python SDK, with strict response validation, against gateway + simulator."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import MODEL
from tests.fakes import Scenario


async def test_non_streaming(sdk):
    client, _ = sdk
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "ping"}]
    )
    assert completion.choices[0].message.content == "You said: ping"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_streaming_with_usage(sdk):
    client, _ = sdk
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = [], None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(text) == "You said: stream me"
    assert finish == "stop" and usage is not None and usage.completion_tokens > 0


async def test_models(sdk):
    client, _ = sdk
    ids = [model.id async for model in client.models.list()]
    assert MODEL in ids and MODEL + "-thinking" in ids


async def test_http_error_is_raised_as_the_right_exception(sdk):
    client, sim = sdk
    sim.push(Scenario("error", error=50, after_frames=0))
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "rate_limit_exceeded"


async def test_bad_request_names_the_parameter(sdk):
    client, _ = sdk
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.code == "model_not_found" and info.value.param == "model"


async def test_wrong_key(sdk):
    client, _ = sdk
    with pytest.raises(openai.AuthenticationError):
        await client.with_options(api_key="wrong").models.list()


async def test_in_stream_error_raises_api_error(sdk):
    client, sim = sdk
    sim.push(Scenario("error", error=50, after_frames=3))
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
