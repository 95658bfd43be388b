"""The simulator core without sockets: header and body validation, scenario choice, records."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.upstream.pb import cursor_pb2 as pb
from tests.fakes import CHAT_PATH, CursorSimulator, Scenario, SimConfig, make_jwt
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request
from tests.fakes.sim import SimRecord
from tests.fakes.steps import Respond, StartStream, Step, Write
from tests.fakes.wire import encode_frame, frame_header

NOW = 1_700_000_000.0


def make_sim(**kwargs: object) -> CursorSimulator:
    return CursorSimulator(SimConfig(now=lambda: NOW, **kwargs))  # type: ignore[arg-type]


def chat(
    sim: CursorSimulator,
    text: str = "Hello",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    http_version: str = "1.1",
    **request_kwargs: object,
) -> tuple[SimRecord, list[Step]]:
    if body is None:
        body = frame_request(build_request(text, **request_kwargs))  # type: ignore[arg-type]
    record, plan = sim.handle(
        "POST", CHAT_PATH, headers or chat_headers(now=NOW), body, http_version=http_version
    )
    assert record is not None
    return record, plan


def stream_error(plan: list[Step]) -> tuple[str, int | None]:
    """(Connect code, ErrorDetails value) of a rejected stream."""
    assert isinstance(plan[0], StartStream)
    decoded = decode_stream(b"".join(s.data for s in plan if isinstance(s, Write)))
    assert decoded.end is not None and "error" in decoded.end
    error = decoded.end["error"]
    details = error.get("details", [])
    if not details:
        return error["code"], None
    value = details[0]["value"]
    return error["code"], pb.ErrorDetails.FromString(base64.b64decode(value + "=" * (-len(value) % 4))).error


def test_valid_request_is_recorded() -> None:
    sim = make_sim()
    record, plan = chat(sim, "Hi there")
    assert record.rejection is None and record.warnings == []
    assert record.frame_flags == 0 and record.http_version == "1.1"
    assert record.chat is not None and record.chat.conversation[-1].text == "Hi there"
    assert record.checksum is not None and record.checksum.k == 1_700_000
    assert record.sub == "auth0|user_01JABCDEFGHJKMNPQRSTVWXYZ0"
    assert (record.scenario, record.scenario_source) == (Scenario("echo"), "default")
    assert (
        decode_stream(b"".join(s.data for s in plan if isinstance(s, Write))).text == "\n\nYou said: Hi there"
    )
    assert sim.records == [record]
    assert json.dumps(record.to_json())


def test_gzipped_request_frame() -> None:
    sim = make_sim()
    record, _ = chat(sim, "x" * 3000)
    assert record.frame_flags == 1 and record.rejection is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"authorization": None}, ("unauthenticated", 2)),
        ({"authorization": "Bearer "}, ("unauthenticated", 2)),
        ({"authorization": "Bearer not-a-jwt"}, ("unauthenticated", 1)),
        ({"authorization": f"Bearer {make_jwt(type='api')}"}, ("unauthenticated", 1)),
        ({"authorization": f"Bearer {make_jwt(exp=int(NOW) - 1)}"}, ("unauthenticated", 12)),
        ({"authorization": f"Bearer user_01ABC%3A%3A{make_jwt()}"}, ("unauthenticated", 3)),
        ({"x-cursor-client-version": "0.42.5"}, ("resource_exhausted", 28)),
        ({"x-cursor-client-version": None}, ("resource_exhausted", 28)),
        ({"x-cursor-checksum": "junk"}, ("invalid_argument", 36)),
    ],
)
def test_header_rejections_as_end_stream_errors(
    change: dict[str, str | None], expected: tuple[str, int]
) -> None:
    headers = chat_headers(now=NOW)
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    record, plan = chat(make_sim(), headers=headers)
    assert stream_error(plan) == expected
    assert record.rejection is not None


def test_web_type_token_is_accepted() -> None:
    _, plan = chat(
        make_sim(), headers={**chat_headers(now=NOW), "authorization": f"Bearer {make_jwt(type='web')}"}
    )
    assert decode_stream(b"".join(s.data for s in plan if isinstance(s, Write))).end == {}


def test_update_required_trailer_is_the_live_one() -> None:
    """jcode #399: error 28 titled "Update Required", with the payment analytics record."""
    sim = make_sim(min_client_version="3.21.0")
    record, plan = chat(sim)
    assert stream_error(plan) == ("resource_exhausted", 28) and record.rejection == "client_outdated"
    [detail] = decode_stream(b"".join(s.data for s in plan if isinstance(s, Write))).end["error"]["details"]
    assert detail["debug"]["error"] == "ERROR_GPT_4_VISION_PREVIEW_RATE_LIMIT"
    assert detail["debug"]["details"]["title"] == "Update Required"
    assert detail["debug"]["details"]["analyticsMetadata"] == {"actionRequired": "payment"}
    raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
    message = pb.ErrorDetails.FromString(raw)
    assert message.details.title == "Update Required" and "no longer supported" in message.details.detail
    assert b"\x52\x09\x0a\x07payment" in raw  # CustomErrorDetails field 10 {1: "payment"}, unmodeled
    assert (
        chat(sim, headers={**chat_headers(now=NOW), "x-cursor-client-version": "3.21.0"})[0].rejection is None
    )


@pytest.mark.parametrize(
    ("variant", "expected"),
    [("outdated_client", ("failed_precondition", 30)), ("deprecated", ("failed_precondition", 40))],
)
def test_other_outdated_trailers(variant: str, expected: tuple[str, int]) -> None:
    sim = make_sim(outdated_variant=variant, min_client_version="3.0.0")
    assert stream_error(chat(sim)[1]) == expected


def test_update_required_as_a_plain_http_400() -> None:
    """9router PR #525: a text body before any frame, on the chat RPC and on unary calls alike."""
    sim = make_sim(outdated_variant="http_400", min_client_version="3.0.0")
    _, plan = chat(sim)
    assert isinstance(plan[0], Respond) and plan[0].status == 400
    assert plan[0].body == b"Update Required for Composer 2"
    _, unary = sim.handle(
        "POST",
        "/aiserver.v1.AiService/AvailableModels",
        chat_headers(now=NOW, streaming=False),
        b"",
        http_version="1.1",
    )
    assert isinstance(unary[0], Respond) and (unary[0].status, unary[0].body) == (400, plan[0].body)


def test_a_compressed_request_frame_needs_its_declared_encoding() -> None:
    sim = make_sim()
    headers = chat_headers(now=NOW)
    del headers["connect-content-encoding"]
    assert chat(sim, "plain", headers=headers)[0].rejection is None  # a plain frame needs none
    record, plan = chat(sim, "x" * 3000, headers=headers)
    assert record.frame_flags == 1 and record.rejection == "compressed_without_encoding"
    assert stream_error(plan) == ("invalid_argument", None)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"content-type": "application/proto"}, 415),
        ({"content-type": "application/json"}, 415),
        ({"connect-protocol-version": None}, 400),
        ({"connect-accept-encoding": None}, 400),
        ({"connect-content-encoding": "br"}, 400),
    ],
)
def test_http_level_rejections(change: dict[str, str | None], status: int) -> None:
    headers = chat_headers(now=NOW)
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    _, plan = chat(make_sim(), headers=headers)
    assert isinstance(plan[0], Respond) and plan[0].status == status


def test_checks_can_be_switched_off() -> None:
    sim = make_sim(
        check_auth=False, check_checksum=False, check_client_version=False, check_content_type=False
    )
    headers = {"content-type": "text/plain", "connect-protocol-version": "1"}
    headers |= {"connect-accept-encoding": "gzip", "connect-content-encoding": "gzip"}
    record, plan = chat(sim, headers=headers)
    assert record.rejection is None and isinstance(plan[0], StartStream)
    assert record.warnings  # identity headers still reported


def test_checksum_freshness() -> None:
    sim = make_sim(check_checksum_fresh=True)
    assert chat(sim)[0].rejection is None
    stale = chat_headers(now=NOW - 5000)
    assert stream_error(chat(sim, headers=stale)[1]) == ("invalid_argument", 36)


def test_identity_header_warnings_and_strict_mode() -> None:
    headers = chat_headers(now=NOW) | {
        "x-client-key": "XYZ",
        "x-cursor-timezone": "Mars/Base",
        "cookie": "a=b",
    }
    record, _ = chat(make_sim(), headers=headers)
    assert len(record.warnings) == 3 and record.rejection is None
    assert stream_error(chat(make_sim(strict_headers=True), headers=headers)[1]) == ("invalid_argument", 36)


def test_require_http2() -> None:
    sim = make_sim(require_http2=True)
    _, plan = chat(sim)
    assert isinstance(plan[0], Respond) and plan[0].status == 505
    _, plan = chat(sim, http_version="2")
    assert isinstance(plan[0], StartStream)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\x00\x00", ("invalid_argument", None)),
        (frame_header(0, 5 * 1024 * 1024), ("resource_exhausted", None)),
        (frame_header(0x04, 0), ("invalid_argument", None)),
        (encode_frame(b"\x0a\xff"), ("invalid_argument", None)),
    ],
)
def test_bad_request_envelopes(body: bytes, expected: tuple[str, None]) -> None:
    assert stream_error(chat(make_sim(), body=body)[1]) == expected


def test_body_structure_checks() -> None:
    sim = make_sim()
    assert stream_error(chat(sim, model="gpt-9")[1]) == ("invalid_argument", 5)
    assert stream_error(chat(sim, model="claude-3.5-sonnet")[1]) == ("invalid_argument", 5)  # DISABLED
    assert chat(sim, model="claude-4.1-opus")[0].rejection is None  # a server_model_name

    def mutated(mutate: object) -> bytes:
        message = build_request("x", history=[(pb.MESSAGE_TYPE_HUMAN, "a"), (pb.MESSAGE_TYPE_AI, "b")])
        mutate(message.stream_unified_chat_request)  # type: ignore[operator]
        return frame_request(message)

    cases = [
        lambda r: r.ClearField("conversation"),
        lambda r: r.full_conversation_headers_only.pop(),
        lambda r: setattr(r.full_conversation_headers_only[0], "bubble_id", "other"),
        lambda r: r.conversation[1].ClearField("server_bubble_id"),
        lambda r: setattr(r.conversation[0], "server_bubble_id", "x"),
        lambda r: r.model_details.ClearField("azure_state"),
        lambda r: r.supported_tools.append(19),
        lambda r: r.mcp_tools.add(name="t", parameters="{", server_name="custom"),
    ]
    for mutate in cases:
        assert stream_error(chat(sim, body=mutated(mutate))[1]) == ("invalid_argument", 36)


def test_scenario_precedence() -> None:
    sim = make_sim()
    token = make_jwt(sub="auth0|user_pool_a")
    headers = chat_headers(token, now=NOW)
    sim.set_token_behaviour("user_pool_a", Scenario("error", error=8))
    sim.push(Scenario("empty"))
    first = chat(sim, "[[sim:rate_limit]]", headers=headers)[0]
    second = chat(sim, "[[sim:rate_limit]]", headers=headers)[0]
    third = chat(sim, "[[sim:text text=hi]]")[0]
    fourth = chat(sim, "plain")[0]
    fifth = chat(sim, "plain", thinking=True)[0]
    sixth = chat(sim, "plain", model="claude-4.5-sonnet-thinking")[0]
    sources = [(r.scenario_source, r.scenario) for r in (first, second, third, fourth, fifth, sixth)]
    assert sources == [
        ("queue", Scenario("empty")),
        ("token", Scenario("error", error=8)),
        ("directive", Scenario("text", text="hi")),
        ("default", Scenario("echo")),
        ("thinking", Scenario("thinking")),
        ("thinking", Scenario("thinking")),
    ]


def test_token_table_sequence_then_repeat_and_keys() -> None:
    sim = make_sim()
    sub = "google-oauth2|user_seq"
    sim.set_token_behaviour(sub, Scenario("error", error=50), Scenario("echo"))
    headers = chat_headers(make_jwt(sub=sub), now=NOW)
    names = [chat(sim, headers=headers)[0].scenario for _ in range(3)]
    assert names == [Scenario("error", error=50), Scenario("echo"), Scenario("echo")]
    sim.set_token_behaviour(sub)
    assert chat(sim, headers=headers)[0].scenario_source == "default"


def test_rejected_request_does_not_consume_the_queue() -> None:
    sim = make_sim()
    sim.push(Scenario("empty"))
    chat(sim, headers={**chat_headers(now=NOW), "x-cursor-checksum": "bad"})
    assert chat(sim)[0].scenario == Scenario("empty")


def test_unknown_path_and_method() -> None:
    sim = make_sim()
    record, plan = sim.handle("POST", "/aiserver.v1.Nope/Nope", {}, b"", http_version="1.1")
    assert record is None and isinstance(plan[0], Respond) and plan[0].status == 404
    assert json.loads(plan[0].body)["code"] == "unimplemented"
    _, plan = sim.handle("GET", CHAT_PATH, {}, b"", http_version="1.1")
    assert isinstance(plan[0], Respond) and plan[0].status == 404


def test_reset() -> None:
    sim = make_sim()
    sim.push(Scenario("empty"))
    chat(sim)
    sim.reset()
    assert sim.records == [] and chat(sim)[0].scenario_source == "default"
