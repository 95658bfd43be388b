"""A small SSE reader for tests: splits a body into events and comments."""

from __future__ import annotations

import json


def parse_sse(body: str) -> tuple[list[object], list[str]]:
    """(data payloads in order, comment lines); `[DONE]` is kept as the string."""
    events: list[object] = []
    comments: list[str] = []
    for block in body.split("\n\n"):
        if not block:
            continue
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
            else:
                raise AssertionError(f"not an SSE line: {line!r}")
    return events, comments


def parse_named_sse(body: str) -> tuple[list[tuple[str | None, object]], list[str]]:
    """(`(event name or None, data payload)` in order, comment lines), for streams with `event:` names."""
    events: list[tuple[str | None, object]] = []
    comments: list[str] = []
    for block in body.split("\n\n"):
        if not block:
            continue
        name: str | None = None
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("event: "):
                assert name is None, f"two event names in one block: {block!r}"
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                events.append((name, data if data == "[DONE]" else json.loads(data)))
            else:
                raise AssertionError(f"not an SSE line: {line!r}")
    return events, comments


async def answer_text(response) -> str:
    """The content of an OpenAI chat answer: a completion's message, or a stream's deltas joined
    (the stream must end with `[DONE]` and carry no error)."""
    if response.content_type == "application/json":
        return (await response.json())["choices"][0]["message"]["content"]
    events, _ = parse_sse(await response.text())
    assert events[-1] == "[DONE]" and not any("error" in event for event in events[:-1])
    return "".join(
        event["choices"][0]["delta"].get("content") or "" for event in events[:-1] if event["choices"]
    )
