"""Prometheus metrics: one registry per app (no process globals), rendered by GET /metrics.

What is counted: requests by endpoint and status, errors by code, open client connections and
the ones the gateway closed (by reason), request duration, time to first token, the gateway's own
overhead (time spent before the upstream call plus after its first event until the client got
it), live streams, the token pool's size and its tokens by health state, failovers to another
token, upstream calls by RPC and switches between RPCs, API-key exchanges, request-log rows
dropped, and the Cursor client version announced (with where it came from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.upstream.version import VersionSource

# Seconds; from 100 µs (gateway overhead) to 2 minutes (long answers).
BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cursor2api_requests", "HTTP requests answered.", ("endpoint", "status"), registry=self.registry
        )
        self.errors = Counter(
            "cursor2api_errors", "Errors reported to clients, by code.", ("code",), registry=self.registry
        )
        self.duration = Histogram(
            "cursor2api_request_seconds",
            "Time from request to the end of the answer.",
            ("endpoint",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "cursor2api_ttft_seconds",
            "Time from request to the first answer byte of a chat completion.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.overhead = Histogram(
            "cursor2api_overhead_seconds",
            "Time the gateway itself added to a chat completion (before the upstream call, and from "
            "the first upstream event to the client).",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.active_streams = Gauge(
            "cursor2api_active_streams", "Streaming answers in progress.", registry=self.registry
        )
        self.tokens = Gauge("cursor2api_tokens", "Cursor tokens in the pool.", registry=self.registry)
        self.client_connections = Gauge(
            "cursor2api_client_connections", "Client connections open.", registry=self.registry
        )
        self.connections_dropped = Counter(
            "cursor2api_connections_dropped",
            "Client connections closed by the gateway: over_limit (beyond MAX_CONNECTIONS and the "
            "reserve), header_timeout (CLIENT_HEADER_TIMEOUT), reserve_busy (a reserve connection asked "
            "for more than /health).",
            ("reason",),
            registry=self.registry,
        )
        self.failovers = Counter(
            "cursor2api_token_failovers",
            "Attempts that moved to another token, by the error class of the failed one.",
            ("error_class",),
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "cursor2api_upstream_calls",
            "Calls to each upstream RPC (chat: ChatService, agent: AgentService) by outcome: answered "
            "(an event was relayed), switched (redone on the other RPC before the first event), failed.",
            ("rpc", "outcome"),
            registry=self.registry,
        )
        self.upstream_switches = Counter(
            "cursor2api_upstream_switches",
            "Calls redone on AgentService because ChatService refused them, by the refusal's class "
            "(retired, outdated).",
            ("reason",),
            registry=self.registry,
        )
        self.key_exchanges = Counter(
            "cursor2api_key_exchanges",
            "Exchanges of user API keys for access tokens, by outcome (ok, rejected, failed).",
            ("outcome",),
            registry=self.registry,
        )
        self.reqlog_dropped = Gauge(
            "cursor2api_request_log_dropped",
            "Request-log rows dropped because the queue was full.",
            registry=self.registry,
        )
        # tool calls (tool-calls.md §11)
        self.tool_calls = Counter(
            "tool_calls",
            "Tool calls by source (native, emulated) and outcome (emitted, repaired, coerced, dropped).",
            ("source", "outcome"),
            registry=self.registry,
        )
        self.tool_invalid = Counter(
            "tool_invalid", "Invalid tool calls by reason.", ("reason",), registry=self.registry
        )
        self.tool_retries = Counter(
            "tool_retries",
            "Hidden corrective attempts by reason (invalid, miss).",
            ("reason",),
            registry=self.registry,
        )
        self.tool_truncated = Counter(
            "tool_truncated", "Turns whose last tool call was cut off and dropped.", registry=self.registry
        )
        self.tool_mode_fallback = Counter(
            "tool_mode_fallback", "Native tool attempts redone in emulation.", registry=self.registry
        )

    def track_token_states(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Export `cursor2api_token_state{state=...}`, read from the pool at every scrape."""
        self.registry.register(_StateCollector(counts))

    def track_client_versions(self, sources: Callable[[], Iterable[VersionSource]]) -> None:
        """Export `cursor2api_client_version_info{product, version, source} 1`, read at every scrape."""
        self.registry.register(_VersionCollector(sources))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cursor2api_token_state", "Cursor tokens by health state.", labels=["state"]
        )
        for state, count in self._counts().items():
            family.add_metric([state], count)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class _VersionCollector(Collector):
    def __init__(self, sources: Callable[[], Iterable[VersionSource]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cursor2api_client_version_info",
            "The Cursor client version announced upstream (always 1): product, version, and source "
            "(feed, saved, built-in or fixed).",
            labels=["product", "version", "source"],
        )
        for source in self._sources():
            current = source.current
            family.add_metric([source.product.name, current.version, current.source], 1)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
