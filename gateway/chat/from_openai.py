"""OpenAI request -> `ChatRequest` (cursor-protocol.md §8.1-8.2).

System and developer messages, wherever they appear, become the system context (joined by a
blank line), followed by `SYSTEM_PROMPT_INJECT`. Consecutive turns of one role are merged, since
Cursor expects alternating turns. Pure.
"""

from __future__ import annotations

from gateway.chat.model import ChatRequest, Message, ModelInfo, Role
from gateway.errors import ContextTooLong
from gateway.schemas.openai import ChatBody


def to_chat_request(body: ChatBody, model: ModelInfo, *, inject: str, max_input_length: int) -> ChatRequest:
    system_parts = [m.text for m in body.messages if m.role in ("system", "developer") and m.text]
    if inject.strip():
        system_parts.append(inject)
    turns: list[Message] = []
    for m in body.messages:
        if m.role in ("system", "developer"):
            continue
        role: Role = "user" if m.role == "user" else "assistant"
        if turns and turns[-1].role == role:
            turns[-1] = Message(role, f"{turns[-1].text}\n\n{m.text}")
        else:
            turns.append(Message(role, m.text))
    system = "\n\n".join(system_parts)
    size = len(system) + sum(len(t.text) for t in turns)
    if size > max_input_length:
        raise ContextTooLong(
            f"The conversation has {size} characters, over this gateway's limit of {max_input_length} "
            "(MAX_INPUT_LENGTH). Shorten the history.",
            param="messages",
        )
    return ChatRequest(
        model=model,
        system=system,
        messages=tuple(turns),
        stream=body.stream,
        include_usage=body.include_usage,
        stop=body.stop,
    )
