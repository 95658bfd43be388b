"""The upstream router: every row of the `auto` policy, memory and re-check, the forced modes, and
the rule that a switch happens before the first event only (injected clocks, scripted upstreams)."""

from __future__ import annotations

import contextlib
import logging

import pytest

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.neutral.model import (
    ChatRequest,
    Finish,
    LiveModel,
    Message,
    ModelInfo,
    Prompt,
    TextDelta,
    ToolSpec,
)
from gateway.upstream.errors import build_error
from gateway.upstream.identity import UpstreamIdentity
from gateway.upstream.router import UpstreamRouter, no_newer_version
from gateway.upstream.version import IDE, ClientOutdated, VersionSource
from tests.conftest import IDENTITY

SESSION = UpstreamIdentity("eyJsession", IDENTITY, "session", "aaaa0001")
OTHER_SESSION = UpstreamIdentity("eyJother", IDENTITY, "session", "aaaa0002")
API_KEY = UpstreamIdentity("eyJaccess", IDENTITY, "api_key", "bbbb0001")
PROMPT = Prompt(system="", messages=())
RETIRED = build_error("retired", "Cursor answered HTTP 404: unimplemented")
OUTDATED = build_error("outdated", "Cursor error OUTDATED_CLIENT: Update Required")


def request(model: str = "claude-4.5-sonnet", *, thinking: bool = False, tools: bool = False) -> ChatRequest:
    info = ModelInfo(model, model, thinking, "cursor", None, None)
    specs = (ToolSpec("read", "", {}, ""),) if tools else ()
    return ChatRequest(info, "", (Message("user", "hi"),), stream=True, tools=specs)


class Scripted:
    """An upstream that answers each call from a queue: a list of events, or events then an error."""

    def __init__(self, name: str, order: list[str] | None = None) -> None:
        self.name = name
        self.order = [] if order is None else order  # the RPCs called, in order, shared by both
        self.calls: list[UpstreamIdentity] = []
        self.answers: list[list[object]] = []
        self.closed = 0

    def then(self, *items: object) -> Scripted:
        self.answers.append(list(items))
        return self

    async def chat(self, chat, prompt, who, timing=None):
        self.calls.append(who)
        self.order.append(self.name)
        items = self.answers.pop(0) if self.answers else [TextDelta(f"from {self.name}"), Finish("stop")]
        try:
            for item in items:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed += 1

    async def available_models(self, who):
        self.calls.append(who)
        items = self.answers.pop(0) if self.answers else []
        if items and isinstance(items[0], BaseException):
            raise items[0]
        return [LiveModel(self.name, self.name, None, None, False)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def router(mode="auto", *, recheck=600.0, outdated_final=None, metrics=None):
    noted: list[str] = []
    chat, agent, clock = Scripted("chat", noted), Scripted("agent", noted), Clock()
    options = {} if outdated_final is None else {"outdated_final": outdated_final}
    r = UpstreamRouter(
        chat,
        agent,
        mode=mode,
        recheck=recheck,
        metrics=metrics,
        clock=clock,
        wall=clock,
        **options,
    )
    return r, chat, agent, clock, noted


async def collect(r: UpstreamRouter, who=SESSION, chat=None) -> list[object]:
    return [event async for event in r.chat(chat or request(), PROMPT, who)]


# ---------------------------------------------------------------- the auto policy, row by row


async def test_a_session_token_goes_to_chatservice_first():
    r, chat, agent, _, noted = router()
    assert await collect(r) == [TextDelta("from chat"), Finish("stop")]
    assert (len(chat.calls), len(agent.calls), noted) == (1, 0, ["chat"])
    assert r.describe(SESSION.token_id, "session")["rpc"] == "chat"


async def test_an_api_key_goes_to_agentservice_only():
    r, chat, agent, _, noted = router()
    agent.then(RETIRED)  # even a refusal from AgentService never sends a key to ChatService
    with pytest.raises(UpstreamError):
        await collect(r, API_KEY, request("composer-2", tools=True))
    assert (len(chat.calls), len(agent.calls), noted) == (0, 1, ["agent"])
    described = r.describe(API_KEY.token_id, "api_key")
    assert described["rpc"] == "agent" and "API key" in described["reason"]


@pytest.mark.parametrize("error", [RETIRED, OUTDATED])
async def test_a_refusal_before_the_first_event_is_redone_on_agentservice_with_the_same_token(error):
    metrics = Metrics()
    r, chat, agent, _, noted = router(metrics=metrics)
    chat.then(error)
    assert await collect(r) == [TextDelta("from agent"), Finish("stop")]  # nothing of the refusal
    assert chat.calls == [SESSION] and agent.calls == [SESSION] and noted == ["chat", "agent"]
    assert chat.closed == 1  # the refused call was closed before the redo
    text = metrics.render().decode()
    assert f'cursor2api_upstream_switches_total{{reason="{error.error_class}"}} 1.0' in text
    assert 'cursor2api_upstream_calls_total{outcome="switched",rpc="chat"} 1.0' in text
    assert 'cursor2api_upstream_calls_total{outcome="answered",rpc="agent"} 1.0' in text


async def test_after_a_switch_the_token_stays_on_agentservice_until_the_recheck():
    r, chat, agent, clock, _ = router(recheck=600)
    chat.then(RETIRED)
    await collect(r)
    described = r.describe(SESSION.token_id, "session")
    assert described["rpc"] == "agent" and "retired" in described["reason"]
    assert described["recheck_at"] == clock.now + 600
    clock.now += 599
    await collect(r)
    assert (len(chat.calls), len(agent.calls)) == (1, 2)  # straight to AgentService
    # Another session token is not affected: the choice is per token.
    await collect(r, OTHER_SESSION)
    assert chat.calls[-1] == OTHER_SESSION
    # The re-check: ChatService is tried again, and when it answers the token is back on it.
    clock.now += 1
    assert await collect(r) == [TextDelta("from chat"), Finish("stop")]
    assert r.describe(SESSION.token_id, "session")["rpc"] == "chat"
    await collect(r)
    assert chat.calls[-1] == SESSION and len(agent.calls) == 2


async def test_a_recheck_that_is_refused_again_renews_the_stay_on_agentservice():
    r, chat, agent, clock, _ = router(recheck=600)
    chat.then(RETIRED).then(RETIRED)
    await collect(r)
    clock.now += 600
    assert await collect(r) == [TextDelta("from agent"), Finish("stop")]
    assert r.describe(SESSION.token_id, "session")["recheck_at"] == clock.now + 600
    await collect(r)
    assert (len(chat.calls), len(agent.calls)) == (2, 3)


@pytest.mark.parametrize(
    "family",
    [request("composer-2"), request("claude-4.5-sonnet-thinking", thinking=True), request(tools=True)],
)
async def test_every_family_goes_straight_to_agentservice_while_the_token_is_on_it(family):
    r, chat, agent, clock, _ = router(recheck=600)
    chat.then(RETIRED)
    await collect(r)  # the token moves to AgentService
    assert await collect(r, chat=family) == [TextDelta("from agent"), Finish("stop")]
    assert (len(chat.calls), len(agent.calls)) == (1, 2)  # no second refused ChatService call
    clock.now += 600  # the re-check tries ChatService first, for this family too
    chat.then(TextDelta("composer answer"), Finish("stop"))
    assert await collect(r, chat=family) == [TextDelta("composer answer"), Finish("stop")]
    assert r.describe(SESSION.token_id, "session")["rpc"] == "chat"


@pytest.mark.parametrize(
    "error",
    [
        build_error("auth", "Cursor error NOT_LOGGED_IN"),
        build_error("rate", "Cursor error RATE_LIMITED"),
        build_error("upstream", "Cursor answered HTTP 503"),
        build_error("model", "Cursor error BAD_MODEL_NAME"),
    ],
)
async def test_other_refusals_are_not_switched_but_go_to_the_chat_service(error):
    r, chat, agent, _, _ = router()
    chat.then(error)
    with pytest.raises(UpstreamError) as caught:
        await collect(r)
    assert caught.value is error and agent.calls == []
    assert r.describe(SESSION.token_id, "session")["rpc"] == "chat"


async def test_an_outdated_refusal_passes_up_while_a_newer_version_can_be_tried():
    asked = []

    async def final(error):
        asked.append(error)
        return len(asked) > 1  # the first refusal: a newer version is known; the second: none left

    r, chat, agent, _, _ = router(outdated_final=final)
    chat.then(OUTDATED).then(OUTDATED)
    with pytest.raises(UpstreamError) as caught:  # the chat service retries with the newer version
        await collect(r)
    assert caught.value is OUTDATED and agent.calls == []
    assert await collect(r) == [TextDelta("from agent"), Finish("stop")]  # still refused: switched
    assert asked == [OUTDATED, OUTDATED]


# ---------------------------------------------------------------- never both RPCs in one answer


async def test_an_error_after_the_first_event_is_never_redone_on_the_other_rpc():
    metrics = Metrics()
    r, chat, agent, _, _ = router(metrics=metrics)
    chat.then(TextDelta("partial"), RETIRED)
    seen = []
    with pytest.raises(UpstreamError) as caught:
        async for event in r.chat(request(), PROMPT, SESSION):
            seen.append(event)
    assert caught.value is RETIRED and seen == [TextDelta("partial")] and agent.calls == []
    assert 'cursor2api_upstream_calls_total{outcome="answered",rpc="chat"} 1.0' in metrics.render().decode()


async def test_closing_the_answer_closes_the_upstream_call_and_nothing_is_redone():
    r, chat, agent, _, _ = router()
    chat.then(TextDelta("a"), TextDelta("b"), Finish("stop"))
    stream = r.chat(request(), PROMPT, SESSION)
    async with contextlib.aclosing(stream):
        assert await anext(stream) == TextDelta("a")
    assert chat.closed == 1 and agent.calls == []


async def test_a_refusal_of_the_last_rpc_in_the_route_is_raised():
    r, chat, agent, _, _ = router()
    chat.then(RETIRED)
    agent.then(RETIRED)
    with pytest.raises(UpstreamError):
        await collect(r)
    assert (len(chat.calls), len(agent.calls)) == (1, 1)


# ---------------------------------------------------------------- forced modes and the model list


@pytest.mark.parametrize("mode", ["chat", "agent"])
async def test_a_forced_rpc_takes_every_call_and_never_switches(mode):
    r, chat, agent, _, noted = router(mode)
    forced, other = (chat, agent) if mode == "chat" else (agent, chat)
    forced.then(RETIRED)
    with pytest.raises(UpstreamError):
        await collect(r, API_KEY if mode == "chat" else SESSION)
    assert len(forced.calls) == 1 and other.calls == [] and noted == [mode]
    used = API_KEY if mode == "chat" else SESSION
    assert r.describe(used.token_id, used.kind) == {
        "rpc": mode,
        "reason": f"UPSTREAM_RPC={mode}",
        "since": 1000.0,
        "recheck_at": None,
    }
    assert r.describe(OTHER_SESSION.token_id, "session")["rpc"] == mode  # not used yet: the same


async def test_the_model_list_follows_the_same_route():
    r, chat, _agent, _, _ = router()
    assert [m.name for m in await r.available_models(API_KEY)] == ["agent"]
    assert [m.name for m in await r.available_models(SESSION)] == ["chat"]
    chat.then(RETIRED)
    assert [m.name for m in await r.available_models(OTHER_SESSION)] == ["agent"]
    assert r.describe(OTHER_SESSION.token_id, "session")["rpc"] == "agent"


async def test_each_change_of_a_tokens_choice_is_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="gateway.upstream.router")
    r, chat, _, clock, _ = router(recheck=600)
    chat.then(RETIRED)
    for _ in range(3):
        await collect(r)
    clock.now += 600
    for _ in range(3):
        await collect(r)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "token aaaa0001: upstream RPC AgentService (ChatService is gone (retired)) for 600 s, then "
        "ChatService is tried again",
        "token aaaa0001: upstream RPC ChatService (ChatService answers)",
    ]


# ---------------------------------------------------------------- "still outdated" with the real version source


class Feed:
    def __init__(self, *versions: str) -> None:
        self.versions = list(versions)
        self.reads = 0

    async def latest(self, current):
        self.reads += 1
        return self.versions.pop(0) if self.versions else None


async def test_an_outdated_refusal_is_final_only_when_the_source_has_nothing_newer():
    clock = Clock()
    feed = Feed("3.21.4")
    source = VersionSource(IDE, "auto", feed=feed, clock=clock, wall=clock)
    built_in = source.current.version
    # Refused as the built-in version: the feed offers a newer one, so the chat service retries.
    assert not await no_newer_version(ClientOutdated("Update Required", refused=built_in, source=source))
    assert source.current.version == "3.21.4" and feed.reads == 1
    # Refused as the newest version: the source has nothing newer (its feed is not read again
    # within its rate limit), so the refusal is final and the router switches.
    assert await no_newer_version(ClientOutdated("Update Required", refused="3.21.4", source=source))
    assert feed.reads == 1


async def test_a_fixed_version_or_an_outdated_error_without_a_source_is_final_at_once():
    fixed = VersionSource(IDE, "3.20.14", feed=Feed("3.99.0"))
    assert await no_newer_version(ClientOutdated("Update Required", refused="3.20.14", source=fixed))
    assert await no_newer_version(OUTDATED)
