"""Native tool-call frames -> raw calls (tool-calls.md N4, N5). Pure.

With `is_streaming`, every `ClientSideToolV2Call` frame carries the **cumulative** `raw_args` of its
`tool_call_id`; the call completes on a frame with `is_last_message`, or on a single frame that is
not streaming. The arguments are the completing frame's `raw_args`, or the longest snapshot seen
when that is empty. Snapshots are never concatenated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from gateway.neutral.toolcalls import MCP_TOOL, NativeToolFrame, RawCall

NAME_PREFIXES: Final = ("mcp_custom_", "mcp__custom__")
MAX_OPEN_CALLS: Final = 64


class NonMcpTool(Exception):
    """The upstream asked for one of Cursor's own tools, not a client tool (S3b)."""


class NativeCallAssembler:
    def __init__(self, catalog: Iterable[str], *, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._catalog = frozenset(catalog)
        self._max = max_bytes
        self._longest: dict[str, str] = {}

    def feed(self, frame: NativeToolFrame) -> RawCall | None:
        """The completed call, or None while it is still streaming."""
        if frame.tool != MCP_TOOL:
            raise NonMcpTool(f"tool {frame.tool} ({frame.name or 'unnamed'})")
        key = frame.tool_call_id
        longest = self._longest.get(key, "")
        if len(frame.raw_args) > len(longest) and len(frame.raw_args) <= self._max:
            longest = frame.raw_args
        if frame.is_streaming and not frame.is_last_message:
            if key in self._longest or len(self._longest) < MAX_OPEN_CALLS:
                self._longest[key] = longest
            return None
        self._longest.pop(key, None)
        arguments = frame.raw_args or longest
        flags = frozenset({"too_large"}) if len(arguments) > self._max else frozenset()
        return RawCall(
            body="" if flags else arguments,
            flags=flags,
            written=arguments if not flags else "",
            name=self.name(frame),
            native=True,
        )

    def name(self, frame: NativeToolFrame) -> str:
        """N5: `name`, else the MCP tool name; a known `mcp_custom_` prefix is removed."""
        name = frame.name or frame.mcp_name or ""
        for prefix in NAME_PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :] in self._catalog:
                return name[len(prefix) :]
        return name
