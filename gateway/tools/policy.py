"""Turn policy (tool-calls.md §7.2, §7.3): the effective choice and how an attempt ended. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.neutral.model import ChatRequest, ToolChoice
from gateway.neutral.toolcalls import InvalidCall, ValidCall

Outcome = Literal["ok", "truncated", "invalid", "miss"]


def effective_choice(chat: ChatRequest, *, kilo_strict: bool) -> ToolChoice:
    """T1, T2: absent means auto; KILO_TOOL_STRICT turns auto into required when tools exist."""
    if not chat.tools:
        return ToolChoice("none")
    if kilo_strict and chat.tool_choice.mode == "auto":
        return ToolChoice("required")
    return chat.tool_choice


def tool_required(choice: ToolChoice) -> bool:
    """T3."""
    return choice.mode in ("required", "named")


@dataclass(slots=True)
class AttemptRecord:
    """What one attempt produced, in order of arrival; what was delivered is tracked by the caller."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    valid: list[ValidCall] = field(default_factory=list)
    invalid: list[InvalidCall] = field(default_factory=list)
    # The attempt's visible text and call blocks as written, for a corrective retry (T7).
    written: list[str] = field(default_factory=list)
    truncated: bool = False
    cut: bool = False  # ended by the policy (T5), not by the upstream
    text_chars: int = 0
    thinking_chars: int = 0

    def outcome(self, required: bool) -> Outcome:
        """§7.3."""
        if self.valid:
            return "ok"
        if self.truncated and not self.cut:
            return "truncated"
        if self.invalid:
            return "invalid"
        if required:
            return "miss"
        return "ok"
