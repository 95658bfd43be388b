"""OpenAI legacy Completions request (`POST /v1/completions`): parse the body and validate it, naming
the failing field in `param`.

`parse_completions_body(raw)` is the only entry point. `prompt` is a string or a list of strings;
each string is one prompt, answered as a user turn, with `n` choices each (OpenAI's batch order:
the choices of the first prompt, then those of the second, …). What cannot be answered faithfully
is a 400 rather than a wrong answer: token-id prompts (Cursor takes text), `suffix`
(fill-in-the-middle), `logprobs` (Cursor returns no token probabilities) and `best_of` above `n`
(choosing the best needs those probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.errors import InvalidRequest
from gateway.schemas.common import (
    SAMPLING_CHECKS,
    Check,
    check_parameters,
    choices,
    integer,
    load_object,
    of_type,
    required_model,
    stop_list,
    stream_usage,
    unsupported,
)

DEFAULT_MAX_N: Final = 8  # the MAX_N setting's default
DEFAULT_MAX_TOKENS: Final = 16  # OpenAI's documented default for this endpoint
MAX_BEST_OF: Final = 20


@dataclass(frozen=True, slots=True)
class CompletionsBody:
    model: str
    prompts: tuple[str, ...]
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]
    max_tokens: int
    n: int  # choices per prompt
    echo: bool = False


_PARAMETER_CHECKS: Final[dict[str, Check]] = {
    **SAMPLING_CHECKS,
    # Any positive integer: a value above the model's output limit is lowered to it.
    "max_tokens": integer(1, 2**64),
    "echo": of_type(bool, "a boolean"),
    "best_of": integer(1, MAX_BEST_OF),
    "logprobs": integer(0, 5),
    "suffix": of_type(str, "a string"),
}


def parse_completions_body(raw: bytes, *, max_n: int = DEFAULT_MAX_N) -> CompletionsBody:
    """Parse and validate a `/v1/completions` body; prompts times `n` may be at most `max_n` (MAX_N)."""
    data = load_object(raw)
    model = required_model(data)
    prompts = _prompts(data.get("prompt"))
    check_parameters(data, _PARAMETER_CHECKS)
    if data.get("suffix"):
        raise unsupported(
            "'suffix' (fill-in-the-middle) is not supported: Cursor's chat models would answer it as a "
            "conversation, not fill the gap. Send only 'prompt'.",
            "suffix",
        )
    if data.get("logprobs") is not None:
        raise unsupported(
            "logprobs are not available: Cursor does not return token probabilities.", "logprobs"
        )
    n = choices(data.get("n"), max_n)
    best_of = data.get("best_of")
    if isinstance(best_of, int) and best_of < n:
        raise InvalidRequest(
            f"'best_of' ({best_of}) must be at least 'n' ({n}).", param="best_of", code="invalid_value"
        )
    if isinstance(best_of, int) and best_of > n:
        raise unsupported(
            "'best_of' above 'n' is not supported: choosing the best candidates needs token probabilities, "
            "which Cursor does not return.",
            "best_of",
        )
    if len(prompts) * n > max_n:
        raise InvalidRequest(
            f"{len(prompts)} prompts with n={n} make {len(prompts) * n} choices; at most {max_n} are allowed "
            "(MAX_N), each being its own upstream request.",
            param="prompt",
            code="invalid_value",
        )
    stream = data.get("stream") is True
    max_tokens = data.get("max_tokens")
    return CompletionsBody(
        model=model,
        prompts=prompts,
        stream=stream,
        include_usage=stream_usage(data, stream),
        stop=stop_list(data.get("stop")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else DEFAULT_MAX_TOKENS,
        n=n,
        echo=data.get("echo") is True,
    )


def _prompts(value: object) -> tuple[str, ...]:
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
        )
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'prompt' must be a string or a non-empty array of strings.", param="prompt", code="invalid_type"
        )
    if all(isinstance(item, str) for item in value):
        return tuple(value)
    if all(isinstance(item, int) and not isinstance(item, bool) for item in value) or all(
        isinstance(item, list) for item in value
    ):
        raise unsupported(
            "Token-id prompts are not supported: Cursor takes text, and this gateway has no tokenizer to "
            "decode them. Send the prompt as a string.",
            "prompt",
        )
    raise InvalidRequest(
        "'prompt' must be a string or an array of strings.", param="prompt", code="invalid_type"
    )
