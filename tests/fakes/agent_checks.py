"""The agent service's checks, as Cursor applies them (agent-v1 §3, §4, §10.2), and what a run says.

Owns: the header checks of `Run`, `RunSSE` and `BidiAppend` (content type, Connect version,
the bearer JWT, a CLI or SDK client type with a version of that family), the structural check of
the run request (an empty checkpoint present, a user message in agent mode, a known model, no
`custom_system_prompt`, no excluded workspace, well-formed MCP tool definitions and images), and
the reading of the conversation the gateway replays as text: its `<system>` and `<conversation>`
blocks and the message after them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf.json_format import MessageToDict

from gateway.upstream.pb import agent_v1_pb2 as apb
from tests.fakes import catalog
from tests.fakes.config import SimConfig
from tests.fakes.identity import parse_jwt
from tests.fakes.validate import UUID4_RE, HeaderReport, Rejection, bearer, check_auth, known_models
from tests.fakes.wire import WireError, top_level_fields

CLIENT_TYPES: Final = frozenset({"cli", "sdk"})
CUSTOM_SYSTEM_PROMPT: Final = 8  # AgentRunRequest field the service refuses for these clients
SYSTEM_RE: Final = re.compile(r"\A<system>\n(.*?)\n</system>(?:\n\n|\Z)", re.DOTALL)
CONVERSATION_RE: Final = re.compile(r"\A<conversation>\n(.*?)\n</conversation>(?:\n\n|\Z)", re.DOTALL)
BLOCK_RE: Final = re.compile(
    r"<(user|assistant)>\n(.*?)\n</\1>"
    r'|<tool_result id="([^"]*)" name="([^"]*)"( is_error="true")?>\n(.*?)\n</tool_result>',
    re.DOTALL,
)


def _error(reason: str, code: str, error: int | None = None, detail: str | None = None) -> Rejection:
    title, default_detail = catalog.default_texts(error) if error is not None else ("Error", "")
    return Rejection(reason, error=error, code=code, title=title, detail=detail or default_detail)


def _http(reason: str, status: int, code: str, message: str) -> Rejection:
    body = json.dumps({"code": code, "message": message}).encode()
    return Rejection(reason, status=status, body=body, content_type="application/json")


def check_agent_headers(headers: Mapping[str, str], config: SimConfig, *, unary: bool) -> HeaderReport:
    """Every header check of one agent-service call, in the order the service applies them."""
    report = HeaderReport()
    wanted = "application/proto" if unary else "application/connect+proto"
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if config.check_content_type and content_type != wanted:
        report.rejection = Rejection("content_type", status=415, body=b"Unsupported Media Type")
        return report
    if config.check_connect_headers and headers.get("connect-protocol-version") != "1":
        report.rejection = _http(
            "connect_protocol_version", 400, "invalid_argument", "missing connect-protocol-version"
        )
        return report
    report.token = bearer(headers)
    report.claims = parse_jwt(report.token) if report.token else None
    if config.check_auth:
        report.rejection = check_auth(report, config.now())
        if report.rejection is not None:
            return report
    client_type = headers.get("x-cursor-client-type", "")
    version = headers.get("x-cursor-client-version", "")
    if config.check_client_version and (
        client_type not in CLIENT_TYPES or not version.startswith(client_type + "-")
    ):
        # A desktop identity (or none) on the agent service (agent-v1 §3.2).
        report.rejection = _error(
            "agent_client_identity", "permission_denied", 4, f"{client_type!r} {version!r}"
        )
        return report
    if not UUID4_RE.match(headers.get("x-request-id", "")):
        report.warnings.append("x-request-id is not a UUID v4")
    if headers.get("x-original-request-id") != headers.get("x-request-id"):
        report.warnings.append("x-original-request-id differs from x-request-id")
    if headers.get("x-ghost-mode") not in ("true", "false"):
        report.warnings.append("x-ghost-mode is not true or false")
    if not headers.get("user-agent", "").startswith("connect-es/"):
        report.warnings.append("user-agent is not connect-es/*")
    if config.strict_headers and report.warnings:
        report.rejection = _error("identity_headers", "invalid_argument", 36, report.warnings[0])
    return report


# ---------------------------------------------------------------- the run request


def _bad(detail: str) -> Rejection:
    return _error("bad_run_request", "invalid_argument", 36, detail)


def _schema_ok(definition: apb.McpToolDefinition) -> bool:
    if definition.input_schema.WhichOneof("kind") == "struct_value":
        return True
    try:
        return isinstance(json.loads(definition.input_schema_json), dict)
    except ValueError:
        return False


def check_run_request(raw: bytes, run: apb.AgentRunRequest, config: SimConfig) -> Rejection | None:
    """The structure the service relies on; `raw` is the serialized run request."""
    try:
        fields = top_level_fields(raw)
    except WireError as exc:
        return _bad(str(exc))
    if CUSTOM_SYSTEM_PROMPT in fields:
        return _error("custom_system_prompt", "invalid_argument", None, "unknown option '--system-prompt'")
    if 1 not in fields:
        return _bad("conversation_state is required (empty for a new conversation)")
    if run.exclude_workspace_context:
        return _error("exclude_workspace_context", "permission_denied", 4)
    if run.action.WhichOneof("action") != "user_message_action":
        return _bad("a run starts with a user message action")
    message = run.action.user_message_action.user_message
    if not message.text and not message.selected_context.selected_images:
        return _bad("the user message is empty")
    if message.mode not in (apb.AGENT_MODE_AGENT, apb.AGENT_MODE_ASK):
        return _bad(f"unsupported agent mode {message.mode}")
    for index, image in enumerate(message.selected_context.selected_images):
        if (
            image.WhichOneof("data_or_blob_id") != "data"
            or not image.data
            or not image.mime_type.startswith("image/")
        ):
            return _bad(f"selected image {index} has no data or no image mime type")
    model = run.requested_model.model_id or run.model_details.model_id
    if config.check_model and model not in known_models(config):
        return _error("bad_model_name", "invalid_argument", 5)
    for definition in run.mcp_tools.mcp_tools:
        if not (definition.name and definition.provider_identifier and definition.tool_name):
            return _bad(f"MCP tool {definition.name!r} lacks a name, provider or tool name")
        if not _schema_ok(definition):
            return _bad(f"MCP tool {definition.name!r} has no input schema Value")
    return None


# ---------------------------------------------------------------- what the conversation says


@dataclass(slots=True)
class Transcript:
    """The user message read as the gateway writes it: system text, earlier turns, current text."""

    system: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)  # (user | assistant, text)
    results: list[tuple[int, str, str, bool]] = field(default_factory=list)  # (after turn, name, text, error)
    current: str = ""

    @property
    def user_texts(self) -> list[str]:
        return [text for role, text in self.turns if role == "user"] + [self.current]


def read_transcript(text: str) -> Transcript:
    transcript = Transcript()
    rest = text
    system = SYSTEM_RE.match(rest)
    if system is not None:
        transcript.system = system.group(1)
        rest = rest[system.end() :]
    conversation = CONVERSATION_RE.match(rest)
    if conversation is not None:
        for block in BLOCK_RE.finditer(conversation.group(1)):
            if block.group(1):
                transcript.turns.append((block.group(1), block.group(2)))
            else:
                name = block.group(4)
                transcript.results.append((len(transcript.turns), name, block.group(6), bool(block.group(5))))
        rest = rest[conversation.end() :]
    transcript.current = rest
    return transcript


def schema_of(definition: apb.McpToolDefinition) -> dict[str, Any]:
    if definition.input_schema.WhichOneof("kind") == "struct_value":
        value = MessageToDict(definition.input_schema)
        return value if isinstance(value, dict) else {}
    try:
        value = json.loads(definition.input_schema_json)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
