"""The legacy Completions body: prompts, honest refusals, and every bad field a 400 naming it."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidRequest
from gateway.schemas.completions import CompletionsBody, parse_completions_body


def parse(**fields) -> CompletionsBody:
    return parse_completions_body(orjson.dumps({"model": "m", "prompt": "Say hi", **fields}))


def test_a_string_prompt_with_openais_defaults() -> None:
    assert parse() == CompletionsBody(
        model="m", prompts=("Say hi",), stream=False, include_usage=False, stop=(), max_tokens=16, n=1
    )


def test_a_list_of_prompts_and_the_applied_parameters() -> None:
    body = parse(
        prompt=["a", "b"],
        n=2,
        best_of=2,
        echo=True,
        stream=True,
        stream_options={"include_usage": True},
        stop=["\n"],
        max_tokens=100,
        temperature=0.5,
        logit_bias={"50256": -100},
        suffix="",
        logprobs=None,
    )
    assert (body.prompts, body.n, body.echo, body.stream, body.include_usage) == (
        ("a", "b"),
        2,
        True,
        True,
        True,
    )
    assert (body.stop, body.max_tokens) == (("\n",), 100)


BAD = [
    ({"model": None}, "missing_required_parameter", "model"),
    ({"prompt": None}, "missing_required_parameter", "prompt"),
    ({"prompt": []}, "invalid_type", "prompt"),
    ({"prompt": 5}, "invalid_type", "prompt"),
    ({"prompt": ["a", 1]}, "invalid_type", "prompt"),
    ({"prompt": [1, 2, 3]}, "unsupported_parameter", "prompt"),
    ({"prompt": [[1, 2], [3]]}, "unsupported_parameter", "prompt"),
    ({"suffix": "return x"}, "unsupported_parameter", "suffix"),
    ({"suffix": 3}, "invalid_type", "suffix"),
    ({"logprobs": 0}, "unsupported_parameter", "logprobs"),
    ({"logprobs": 9}, "invalid_value", "logprobs"),
    ({"best_of": 3}, "unsupported_parameter", "best_of"),
    ({"best_of": 1, "n": 2}, "invalid_value", "best_of"),
    ({"best_of": 21}, "invalid_value", "best_of"),
    ({"echo": "yes"}, "invalid_type", "echo"),
    ({"n": 0}, "invalid_value", "n"),
    ({"n": 5, "prompt": ["a", "b"]}, "invalid_value", "prompt"),
    ({"max_tokens": 0}, "invalid_value", "max_tokens"),
    ({"temperature": 5}, "invalid_value", "temperature"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "invalid_type", "stop"),
    ({"stream_options": []}, "invalid_type", "stream_options"),
    ({"logit_bias": {"x": 1}}, "invalid_value", "logit_bias.x"),
    ({"user": 5}, "invalid_type", "user"),
]


@pytest.mark.parametrize(("change", "code", "param"), BAD, ids=[f"{p}:{c}" for _, c, p in BAD])
def test_bad_fields_are_a_400_naming_them(change, code, param) -> None:
    body = {"model": "m", "prompt": "Say hi", **change}
    body = {k: v for k, v in body.items() if v is not None or k not in ("model", "prompt")}
    with pytest.raises(InvalidRequest) as caught:
        parse_completions_body(orjson.dumps(body))
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, code, param)


def test_refusals_say_why() -> None:
    with pytest.raises(InvalidRequest) as suffix:
        parse(suffix="tail")
    assert "fill-in-the-middle" in suffix.value.message
    with pytest.raises(InvalidRequest) as tokens:
        parse(prompt=[1, 2])
    assert "Token-id prompts" in tokens.value.message


@given(
    st.one_of(st.text(max_size=5), st.lists(st.text(max_size=3), max_size=4), st.integers(-5, 5)),
    st.integers(-1, 9),
)
def test_any_prompt_and_n_parse_or_are_a_400(prompt, n) -> None:
    try:
        body = parse(prompt=prompt, n=n)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.param in ("prompt", "n")
        return
    assert len(body.prompts) * body.n <= 8 and all(isinstance(p, str) for p in body.prompts)
