"""The agent service's headers: Cursor's CLI or SDK identity, no desktop machine ids (agent-v1 §3)."""

from __future__ import annotations

from gateway.upstream.checksum import Identity
from gateway.upstream.identity import AgentHeaderOptions, UpstreamIdentity, build_agent_headers

WHO = UpstreamIdentity("eyJ.a.b", Identity("0123456789abcdef" * 4, "fedcba9876543210" * 4))


def test_a_run_over_http2_presents_the_cli():
    headers = build_agent_headers(
        WHO, AgentHeaderOptions("cli-2026.08.11-e8db854"), request_id="r-1", allowed_tools=""
    )
    assert headers == {
        "authorization": "Bearer eyJ.a.b",
        "content-type": "application/connect+proto",
        "connect-protocol-version": "1",
        "connect-accept-encoding": "gzip",
        "user-agent": "connect-es/1.6.1",
        "x-cursor-client-type": "cli",
        "x-cursor-client-version": "cli-2026.08.11-e8db854",
        "x-ghost-mode": "true",
        "x-request-id": "r-1",
        "x-original-request-id": "r-1",
        "x-cursor-agent-allowed-tools": "",
    }


def test_an_append_of_the_http1_carrier_is_unary_and_marked_streaming():
    headers = build_agent_headers(
        WHO, AgentHeaderOptions("sdk-1.0.32"), request_id="r-2", unary=True, http1=True
    )
    assert headers["content-type"] == "application/proto"
    assert headers["accept-encoding"] == "gzip" and "connect-accept-encoding" not in headers
    assert headers["x-cursor-client-type"] == "sdk" and headers["x-cursor-client-version"] == "sdk-1.0.32"
    assert headers["x-cursor-streaming"] == "true"
    assert "x-cursor-agent-allowed-tools" not in headers
    assert not {"x-cursor-checksum", "x-client-key", "x-session-id", "x-cursor-timezone"} & set(headers)
