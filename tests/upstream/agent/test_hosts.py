"""The agent host: GetServerConfig's AgentUrlConfig, checked and cached per token (agent-v1 §1.3)."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.agent import hosts
from gateway.upstream.agent.hosts import (
    FAILURE_TTL,
    SERVER_CONFIG_PATH,
    AgentHost,
    AgentHosts,
    acceptable,
    parse_server_config,
)
from gateway.upstream.checksum import Identity
from gateway.upstream.identity import UpstreamIdentity
from gateway.upstream.pb import aiserver_agent_pb2 as pb
from tests.scripted import Reply, ScriptedTransport

API = "https://api2.cursor.sh"
WHO = UpstreamIdentity("eyJ.one.x", Identity("0" * 64, "1" * 64))
OTHER = UpstreamIdentity("eyJ.two.x", Identity("0" * 64, "1" * 64))


def answer(agent: str = "", agentn: str = "", http2: int = 0) -> bytes:
    return pb.GetServerConfigResponse(
        config_version="v",
        http2_config=http2,
        agent_url_config=pb.AgentUrlConfig(agent_url=agent, agentn_url=agentn),
    ).SerializeToString()


def test_the_privacy_host_is_preferred_then_the_other():
    assert parse_server_config(
        answer("https://agent.api5.cursor.sh/", "https://agentn.us.api5.cursor.sh"), API
    ) == AgentHost("https://agent.api5.cursor.sh")
    assert (
        parse_server_config(answer("", "https://agentn.us.api5.cursor.sh"), API).base_url
        == "https://agentn.us.api5.cursor.sh"
    )
    assert parse_server_config(answer(), API) == AgentHost(API)


@pytest.mark.parametrize(
    ("value", "bidi"),
    [
        (pb.HTTP2_CONFIG_UNSPECIFIED, None),
        (pb.HTTP2_CONFIG_FORCE_ALL_DISABLED, False),
        (pb.HTTP2_CONFIG_FORCE_BIDI_DISABLED, False),
        (pb.HTTP2_CONFIG_FORCE_ALL_ENABLED, True),
        (pb.HTTP2_CONFIG_FORCE_BIDI_ENABLED, True),
    ],
)
def test_cursors_say_on_the_bidirectional_run(value, bidi):
    assert parse_server_config(answer(http2=value), API).bidi is bidi


def test_a_host_elsewhere_is_never_used():
    assert parse_server_config(
        answer("https://evil.example.com", "http://agentn.cursor.sh"), API
    ) == AgentHost(API)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://agentn.global.api5.cursor.sh", True),
        ("https://api2.cursor.sh", True),
        ("https://cursor.sh.evil.com", False),
        ("https://evilcursor.sh", False),
        ("http://agent.cursor.sh", False),
        ("https://user:pw@agent.cursor.sh", False),
        ("https://agent.cursor.sh/path", False),
        ("https://agent.cursor.sh:99999", False),
        ("not a url", False),
    ],
)
def test_which_hosts_may_receive_the_token(url, ok):
    assert acceptable(url, API) is ok


def test_an_ip_base_accepts_only_itself_on_any_port():
    assert acceptable("http://127.0.0.1:4000", "http://127.0.0.1:3100")
    assert not acceptable("http://127.0.0.2:3100", "http://127.0.0.1:3100")


@given(st.from_regex(r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?/?", fullmatch=True))
def test_an_accepted_host_is_the_bases_scheme_and_domain(url):
    if acceptable(url, API):
        assert url.startswith("https://")
        host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        assert host == "api2.cursor.sh" or host.endswith(".cursor.sh")


# ---------------------------------------------------------------- the cache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache(*replies: Reply, clock: Clock | None = None) -> tuple[AgentHosts, ScriptedTransport]:
    transport = ScriptedTransport(*replies)
    directory = AgentHosts(
        transport, API, lambda who: {"authorization": f"Bearer {who.jwt}"}, ttl=100, clock=clock or Clock()
    )
    return directory, transport


async def test_the_host_is_asked_once_per_token_and_remembered():
    clock = Clock()
    directory, transport = cache(
        Reply([answer("https://agent.cursor.sh")]),
        Reply([answer("https://b.cursor.sh")]),
        Reply([answer("https://c.cursor.sh")]),
        clock=clock,
    )
    assert (await directory.host(WHO)).base_url == "https://agent.cursor.sh"
    assert (await directory.host(WHO)).base_url == "https://agent.cursor.sh"
    assert (await directory.host(OTHER)).base_url == "https://b.cursor.sh"
    assert len(transport.sent) == 2
    assert transport.sent[0].url == API + SERVER_CONFIG_PATH
    assert transport.sent[0].headers == {"authorization": f"Bearer {WHO.jwt}"}
    assert pb.GetServerConfigRequest.FromString(transport.sent[0].body) == pb.GetServerConfigRequest()
    clock.now = 101
    assert (await directory.host(WHO)).base_url == "https://c.cursor.sh"


async def test_a_gzipped_answer_is_read():
    directory, _ = cache(Reply([gzip.compress(answer("https://agent.cursor.sh"))]))
    assert (await directory.host(WHO)).base_url == "https://agent.cursor.sh"


@pytest.mark.parametrize(
    "reply", [Reply([b"{}"], status=404), Reply([b"\x0a\x7f"]), Reply([b"x" * (hosts.BODY_LIMIT + 1)])]
)
async def test_a_failed_lookup_falls_back_to_the_api_host_and_is_retried_soon(reply):
    clock = Clock()
    directory, transport = cache(reply, Reply([answer("https://agent.cursor.sh")]), clock=clock)
    assert await directory.host(WHO) == AgentHost(API)
    clock.now = FAILURE_TTL - 1
    assert await directory.host(WHO) == AgentHost(API)
    clock.now = FAILURE_TTL + 1
    assert (await directory.host(WHO)).base_url == "https://agent.cursor.sh"
    assert len(transport.sent) == 2


async def test_an_unreachable_api_host_falls_back_too():
    directory, _ = cache()  # no reply: the transport fails
    assert await directory.host(WHO) == AgentHost(API)


async def test_concurrent_lookups_of_one_token_share_one_call():
    gate = asyncio.Event()
    directory, transport = cache(Reply([gate, answer("https://agent.cursor.sh")]))
    first = asyncio.create_task(directory.host(WHO))
    second = asyncio.create_task(directory.host(WHO))
    await asyncio.sleep(0.01)
    first.cancel()  # a caller that goes away does not cancel the shared lookup
    gate.set()
    assert (await second).base_url == "https://agent.cursor.sh"
    assert len(transport.sent) == 1


async def test_the_cache_forgets_the_least_recently_used_token(monkeypatch):
    monkeypatch.setattr(hosts, "MAX_TOKENS", 1)
    directory, transport = cache(*(Reply([answer("https://agent.cursor.sh")]) for _ in range(3)))
    await directory.host(WHO)
    await directory.host(OTHER)
    await directory.host(WHO)
    assert len(transport.sent) == 3
