"""GET /v1/models and GET /v1/models/{id} (the SDKs' `models.list` and `models.retrieve`)."""

from __future__ import annotations

import openai
import pytest


async def test_each_listed_model_can_be_retrieved(gateway):
    client, _ = await gateway()
    listed = (await (await client.get("/v1/models")).json())["data"]
    assert listed
    for entry in listed[:5] + listed[-5:]:
        for path in (f"/v1/models/{entry['id']}", f"/v1/models/{entry['id']}/"):
            response = await client.get(path)
            assert response.status == 200, path
            assert await response.json() == entry


@pytest.mark.parametrize("model_id", ["no-such-model", "gpt-4o-thinking-thinking", "x" * 300])
async def test_an_unknown_model_is_a_404_in_the_openai_shape(gateway, model_id):
    client, _ = await gateway()
    response = await client.get(f"/v1/models/{model_id}")
    assert response.status == 404
    error = (await response.json())["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "model_not_found",
        "model",
    )
    assert response.headers["x-should-retry"] == "false"


async def test_the_openai_sdk_retrieves_a_model_and_raises_not_found(sdk):
    client, _ = sdk
    listed = await client.models.list()
    model = await client.models.retrieve(listed.data[0].id)
    assert model.id == listed.data[0].id and model.object == "model"
    with pytest.raises(openai.NotFoundError) as info:
        await client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"
