"""The run decoder: events out, and an answer for every question the server asks (agent-v1 §5-§7)."""

from __future__ import annotations

import contextlib
import json

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.catalog import resolve
from gateway.neutral.model import ChatRequest, Message, TextDelta, ThinkingDelta, ToolChoice, ToolSpec
from gateway.neutral.toolcalls import MCP_TOOL, NativeToolFrame
from gateway.tools.encode import native_prompt, plain_prompt
from gateway.upstream.agent import decode
from gateway.upstream.agent.decode import (
    MAX_BLOB_BYTES,
    MAX_BLOBS,
    QUERY_ANSWERS,
    REFUSAL,
    REFUSALS,
    RESULT_FIELDS,
    RunDecoder,
    UndecodableFrame,
    to_python,
)
from gateway.upstream.agent.request import PROVIDER, RunPlan, ToolNames, build_run
from gateway.upstream.pb import agent_v1_pb2 as pb


def plan_for(*tools: ToolSpec) -> RunPlan:
    request = ChatRequest(
        model=resolve("gpt-4o"), system="", messages=(Message("user", "hi"),), stream=True, tools=tools
    )
    prompt = native_prompt(request, ToolChoice()) if tools else plain_prompt(request)
    return build_run(request, prompt, run_id="r", conversation_id="c", message_id="m")


def empty_plan() -> RunPlan:
    return RunPlan(pb.AgentClientMessage(), pb.RequestContext(), (), ToolNames({}, {}), "")


def feed(decoder: RunDecoder, message: pb.AgentServerMessage) -> decode.Decoded:
    return decoder.feed(message.SerializeToString())


def exec_message(**fields: object) -> pb.AgentServerMessage:
    return pb.AgentServerMessage(exec_server_message=pb.ExecServerMessage(**fields))  # type: ignore[arg-type]


def wire(messages: list[pb.AgentClientMessage]) -> list[bytes]:
    return [m.SerializeToString() for m in messages]


SPEC = ToolSpec("read_file", "", {"type": "object"}, '{"type":"object"}')
PLAN = plan_for(SPEC)


# ---------------------------------------------------------------- known byte patterns (agent-v1 §12)


def test_an_empty_request_context_answer_has_the_known_bytes():
    for request_id, expected in ((0, "1206520 40a020a00"), (5, "12080805520 40a020a00")):
        out = feed(
            RunDecoder(empty_plan()),
            exec_message(id=request_id, request_context_args=pb.RequestContextArgs()),
        )
        assert wire(out.replies) == [bytes.fromhex(expected.replace(" ", ""))]


def test_kv_answers_have_the_known_bytes():
    decoder = RunDecoder(empty_plan())
    set_ack = feed(
        decoder,
        pb.AgentServerMessage(
            kv_server_message=pb.KvServerMessage(
                id=3, set_blob_args=pb.SetBlobArgs(blob_id=b"k", blob_data=b"v")
            )
        ),
    )
    miss = feed(
        decoder,
        pb.AgentServerMessage(
            kv_server_message=pb.KvServerMessage(id=4, get_blob_args=pb.GetBlobArgs(blob_id=b"nope"))
        ),
    )
    assert wire(set_ack.replies) == [bytes.fromhex("1a0408031a00")]
    assert wire(miss.replies) == [bytes.fromhex("1a0408041200")]


def test_a_refusal_is_followed_by_the_known_stream_close():
    out = feed(RunDecoder(empty_plan()), exec_message(id=7, read_args=pb.PathArgs(path="a")))
    assert out.replies[-1].SerializeToString() == bytes.fromhex("2a040a020807")


# ---------------------------------------------------------------- exec requests


def test_the_request_context_question_gets_the_plans_context_with_the_exec_id():
    plan = plan_for(SPEC)
    out = feed(
        RunDecoder(plan), exec_message(id=2, exec_id="ex-9", request_context_args=pb.RequestContextArgs())
    )
    [reply] = out.replies
    answer = reply.exec_client_message
    assert (answer.id, answer.exec_id) == (2, "ex-9")
    assert answer.request_context_result.success.request_context == plan.request_context
    assert out.events == [] and not out.turn_ended


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_each_of_cursors_tools_gets_its_typed_refusal(kind):
    request = pb.ExecServerMessage(id=11, exec_id="ex")
    getattr(request, kind).SetInParent()
    field = request.DESCRIPTOR.fields_by_name[kind]
    args = getattr(request, kind)
    for name, value in (
        ("path", "/etc/passwd"),
        ("command", "rm -rf /"),
        ("url", "http://x"),
        ("uri", "mcp://r"),
    ):
        if name in field.message_type.fields_by_name:
            setattr(args, name, value)
    out = feed(RunDecoder(plan_for(SPEC)), pb.AgentServerMessage(exec_server_message=request))
    assert out.events == []
    reply, close = out.replies
    answer = reply.exec_client_message
    assert (answer.id, answer.exec_id) == (11, "ex")
    result_case = answer.WhichOneof("message")
    assert result_case == RESULT_FIELDS[kind]
    assert answer.DESCRIPTOR.fields_by_name[result_case].number == field.number  # same number both ways
    result = getattr(answer, result_case)
    if kind.endswith("allowlist_precheck_args"):
        assert result.allowlisted is False
    else:
        variant = getattr(result, result.WhichOneof(result.DESCRIPTOR.oneofs[0].name))
        texts = [getattr(variant, f.name) for f in variant.DESCRIPTOR.fields if f.type == f.TYPE_STRING]
        assert REFUSAL in texts
        for echoed in ("/etc/passwd", "rm -rf /", "http://x", "mcp://r"):
            if echoed in [getattr(args, f.name) for f in args.DESCRIPTOR.fields if f.type == f.TYPE_STRING]:
                assert echoed in texts
    assert close.exec_client_control_message.stream_close.id == 11


def test_every_exec_kind_of_the_schema_has_an_answer():
    handled = set(REFUSALS) | {
        "request_context_args",
        "mcp_args",
        "mcp_state_exec_args",
        "mcp_allowlist_precheck_args",
    }
    assert {f.name for f in pb.ExecServerMessage.DESCRIPTOR.oneofs_by_name["message"].fields} == handled
    assert set(RESULT_FIELDS) == handled


def test_an_exec_kind_this_schema_does_not_know_gets_throw_and_close():
    unknown = pb.ExecServerMessage(id=9).SerializeToString() + b"\xea\x02\x00"  # field 45 (pi_read_args)
    out = RunDecoder(plan_for()).feed(
        pb.AgentServerMessage(
            exec_server_message=pb.ExecServerMessage.FromString(unknown)
        ).SerializeToString()
    )
    throw, close = out.replies
    assert throw.exec_client_control_message.throw.id == 9 and throw.exec_client_control_message.throw.error
    assert close.exec_client_control_message.stream_close.id == 9


def test_mcp_state_lists_the_client_tools_server():
    plan = plan_for(SPEC)
    out = feed(RunDecoder(plan), exec_message(id=4, mcp_state_exec_args=pb.McpStateExecArgs()))
    assert list(out.replies[0].exec_client_message.mcp_state_exec_result.success.servers) == list(
        plan.servers
    )
    empty = feed(RunDecoder(plan_for()), exec_message(id=4, mcp_state_exec_args=pb.McpStateExecArgs()))
    result = empty.replies[0].exec_client_message.mcp_state_exec_result
    assert result.HasField("success") and list(result.success.servers) == []


@pytest.mark.parametrize(
    ("provider", "tools", "allowed"),
    [(PROVIDER, True, True), ("other", True, False), (PROVIDER, False, False)],
)
def test_the_mcp_precheck_allows_only_the_client_tools(provider, tools, allowed):
    plan = plan_for(SPEC) if tools else plan_for()
    request = exec_message(
        id=1,
        mcp_allowlist_precheck_args=pb.McpAllowlistPrecheckArgs(
            provider_identifier=provider, tool_name="read_file_"
        ),
    )
    out = feed(RunDecoder(plan), request)
    assert out.replies[0].exec_client_message.mcp_allowlist_precheck_result.allowlisted is allowed


def test_a_client_tool_call_becomes_a_complete_native_frame_with_the_client_name():
    args = pb.McpArgs(
        name=f"{PROVIDER}-read_file_",
        tool_name="read_file_",
        tool_call_id="toolu_1\r\nfc_2",
        provider_identifier=PROVIDER,
    )
    json_format.ParseDict("a.txt", args.args["path"])
    json_format.ParseDict(3, args.args["limit"])
    json_format.ParseDict({"deep": [1.5, True, None]}, args.args["opts"])
    out = feed(RunDecoder(plan_for(SPEC)), exec_message(id=3, exec_id="ex", mcp_args=args))
    assert out.replies == []
    [frame] = out.events
    assert isinstance(frame, NativeToolFrame)
    assert frame.tool == MCP_TOOL and frame.name == "read_file" and frame.mcp_name is None
    assert frame.tool_call_id == "toolu_1--fc_2"
    assert not frame.is_streaming and frame.is_last_message
    assert json.loads(frame.raw_args) == {"path": "a.txt", "limit": 3, "opts": {"deep": [1.5, True, None]}}
    assert '"limit":3' in frame.raw_args


def test_a_call_without_an_id_is_keyed_by_its_exec():
    out = feed(RunDecoder(plan_for(SPEC)), exec_message(id=3, mcp_args=pb.McpArgs(tool_name="read_file_")))
    assert out.events[0].tool_call_id == "exec-3"


# ---------------------------------------------------------------- interaction queries


@pytest.mark.parametrize("kind", sorted(QUERY_ANSWERS))
def test_each_interaction_query_gets_its_answer_in_the_matching_case(kind):
    query = pb.InteractionQuery(id=6)
    getattr(query, kind).SetInParent()
    out = feed(RunDecoder(empty_plan()), pb.AgentServerMessage(interaction_query=query))
    [reply] = out.replies
    response = reply.interaction_response
    assert response.id == 6
    case = response.WhichOneof("result")
    assert case is not None
    assert response.DESCRIPTOR.fields_by_name[case].number == query.DESCRIPTOR.fields_by_name[kind].number
    if kind != "setup_vm_environment_args":
        assert REFUSAL.encode() in getattr(response, case).SerializeToString()


def test_every_query_kind_of_the_schema_is_answered():
    assert {f.name for f in pb.InteractionQuery.DESCRIPTOR.oneofs_by_name["query"].fields} == set(
        QUERY_ANSWERS
    )


def test_a_query_of_an_unknown_kind_is_answered_with_its_id():
    raw = pb.InteractionQuery(id=8).SerializeToString() + b"\xaa\x01\x00"  # field 21
    out = RunDecoder(empty_plan()).feed(
        pb.AgentServerMessage(interaction_query=pb.InteractionQuery.FromString(raw)).SerializeToString()
    )
    assert out.replies[0].interaction_response.id == 8


# ---------------------------------------------------------------- updates


def update(**fields: object) -> pb.AgentServerMessage:
    return pb.AgentServerMessage(interaction_update=pb.InteractionUpdate(**fields))  # type: ignore[arg-type]


def test_text_thinking_and_the_end_of_the_turn():
    decoder = RunDecoder(empty_plan())
    assert feed(decoder, update(thinking_delta=pb.ThinkingDeltaUpdate(text="hmm"))).events == [
        ThinkingDelta("hmm")
    ]
    assert feed(decoder, update(text_delta=pb.TextDeltaUpdate(text="Hi"))).events == [TextDelta("Hi")]
    assert (
        feed(decoder, update(text_delta=pb.TextDeltaUpdate(text="notice", is_server_notice=True))).events
        == []
    )
    assert feed(decoder, update(text_delta=pb.TextDeltaUpdate())).events == []
    for quiet in (
        update(heartbeat=pb.HeartbeatUpdate()),
        update(token_delta=pb.TokenDeltaUpdate(tokens=3)),
        update(step_started=pb.StepStartedUpdate(step_id=1)),
    ):
        out = feed(decoder, quiet)
        assert (out.events, out.replies, out.turn_ended) == ([], [], False)
    assert not decoder.ended
    end = feed(decoder, update(turn_ended=pb.TurnEndedUpdate(input_tokens=10, output_tokens=2)))
    assert end.turn_ended and decoder.ended and end.events == []


def test_checkpoints_aborts_and_empty_messages_need_nothing():
    decoder = RunDecoder(empty_plan())
    for message in (
        pb.AgentServerMessage(conversation_checkpoint_update=pb.ConversationStateStructure(turns=[b"x"])),
        pb.AgentServerMessage(
            exec_server_control_message=pb.ExecServerControlMessage(abort=pb.ExecServerAbort(id=1))
        ),
        pb.AgentServerMessage(),
    ):
        out = feed(decoder, message)
        assert (out.events, out.replies, out.turn_ended) == ([], [], False)


def test_a_payload_that_is_not_a_server_message_is_undecodable():
    with pytest.raises(UndecodableFrame):
        RunDecoder(empty_plan()).feed(b"\x0a\x7f\x01")


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_fail_cleanly(data):
    with contextlib.suppress(UndecodableFrame):  # anything else escaping fails the test
        RunDecoder(PLAN).feed(data)


# ---------------------------------------------------------------- the blob store


def kv(decoder: RunDecoder, **fields: object) -> pb.KvClientMessage:
    return (
        feed(decoder, pb.AgentServerMessage(kv_server_message=pb.KvServerMessage(id=1, **fields)))
        .replies[0]
        .kv_client_message
    )  # type: ignore[arg-type]


def test_a_stored_blob_is_returned_and_a_replaced_one_counts_once():
    decoder = RunDecoder(empty_plan())
    assert not kv(
        decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"a", blob_data=b"12345")
    ).set_blob_result.HasField("error")
    assert kv(decoder, get_blob_args=pb.GetBlobArgs(blob_id=b"a")).get_blob_result.blob_data == b"12345"
    kv(decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"a", blob_data=b"12"))
    assert decoder.blob_bytes == 2
    miss = kv(decoder, get_blob_args=pb.GetBlobArgs(blob_id=b"b")).get_blob_result
    assert not miss.HasField("blob_data") and not miss.HasField("error")


def test_the_blob_store_refuses_past_its_count(monkeypatch):
    monkeypatch.setattr(decode, "MAX_BLOBS", 2)
    decoder = RunDecoder(empty_plan())
    for key in (b"1", b"2"):
        assert not kv(
            decoder, set_blob_args=pb.SetBlobArgs(blob_id=key, blob_data=b"x")
        ).set_blob_result.HasField("error")
    refused = kv(decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"3", blob_data=b"x")).set_blob_result
    assert refused.error.message
    assert not kv(
        decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"2", blob_data=b"y")
    ).set_blob_result.HasField("error")
    assert not kv(decoder, get_blob_args=pb.GetBlobArgs(blob_id=b"3")).get_blob_result.HasField("blob_data")


def test_the_blob_store_refuses_past_its_bytes():
    decoder = RunDecoder(empty_plan())
    big = b"x" * (MAX_BLOB_BYTES // 2)
    assert not kv(
        decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"1", blob_data=big)
    ).set_blob_result.HasField("error")
    assert not kv(
        decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"2", blob_data=big)
    ).set_blob_result.HasField("error")
    assert kv(
        decoder, set_blob_args=pb.SetBlobArgs(blob_id=b"3", blob_data=b"x")
    ).set_blob_result.error.message
    assert decoder.blob_bytes == MAX_BLOB_BYTES
    assert MAX_BLOBS >= 256


# ---------------------------------------------------------------- Value -> JSON

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_values_come_back_as_the_json_they_were(value):
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    assert to_python(message) == value


def test_non_finite_numbers_become_null():
    assert to_python(struct_pb2.Value(number_value=float("inf"))) is None
    assert to_python(struct_pb2.Value(number_value=float("nan"))) is None
    assert to_python(struct_pb2.Value(number_value=2.0**60)) == 2.0**60
