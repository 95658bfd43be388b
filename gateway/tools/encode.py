"""`ChatRequest` -> `Prompt`: the conversation one upstream attempt sends (tool-calls.md §4).

`plain_prompt` is the inert path (S1): no tools, no tool history. System text goes to the system
context unchanged and consecutive turns of one role are merged, since Cursor expects alternating
turns.
"""

from __future__ import annotations

from typing import Literal

from gateway.chat.model import ChatRequest, Prompt, PromptMessage


def plain_prompt(chat: ChatRequest) -> Prompt:
    messages: list[PromptMessage] = []
    for m in chat.messages:
        role: Literal["user", "assistant"] = "user" if m.role == "user" else "assistant"
        if messages and messages[-1].role == role:
            messages[-1] = PromptMessage(role, f"{messages[-1].text}\n\n{m.text}")
        else:
            messages.append(PromptMessage(role, m.text))
    if not messages:
        messages.append(PromptMessage("user", ""))
    return Prompt(system=chat.system, messages=tuple(messages), anchor=_anchor(chat))


def _anchor(chat: ChatRequest) -> str:
    """M2: the first user message's text, or ""."""
    return next((m.text for m in chat.messages if m.role == "user"), "")
