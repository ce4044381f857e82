"""Prometheus metrics: what this instance counts, and the small server that shows them.

Each app has its own `CollectorRegistry` (never the process-wide default), so several apps in one
process (tests) do not clash. Labelled children are bound once here. What the relay counts for
every message (`clov_messages_relayed`, `clov_relay_latency_seconds`) is kept in plain numbers by
`LocalCounter` and `LocalHistogram` and turned into samples only when scraped: prometheus_client's
`inc()` and `observe()` take a lock each time, a cost the relay paid per message (about 5% of its
CPU) for threads it does not have. They show exactly what a `Counter` and a `Histogram` show.

With `CLOV_METRICS_PORT` (0: off, the default) the app's lifespan starts a second, plain-HTTP
uvicorn server on that port, on the same host as the app, answering `GET /metrics` with
`prometheus_client`'s ASGI app. A separate listener rather than a route on the main port: the
public port (often behind a proxy, with TLS) never shows metrics, and the scrape port can be
firewalled on its own. It runs on the app's event loop, so the numbers need no locking between
threads beyond prometheus_client's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from signaling import protocol

log = logging.getLogger("clov.metrics")

# How a join ended: "ok", or why it did not.
JOIN_OUTCOMES = (
    "ok",
    "resumed",  # a rejoin that reclaimed its seat
    *protocol.CLOSE_CODES,  # invalid_token, no_room, room_full, bad_message, rate_limited
    "too_many_unjoined",
    "broker_unavailable",
    "gone",  # closed or timed out before joining
)
REFUSAL_CODES = (*protocol.CLOSE_CODES.values(), 1013)
# Relay latency in process: tens of microseconds when idle, milliseconds under load.
RELAY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Picture generation: the painter takes a fraction of a second, a provider tens of seconds.
GENERATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
GENERATION_OUTCOMES = ("ok", "fallback", "refused", "auth_error", "error")


class Metrics:
    """The app's metrics, in its own registry."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.open_sockets = Gauge(
            "clov_open_sockets", "Signaling sockets open on this instance (joined or not)", registry=registry
        )
        self.rooms = Gauge(
            "clov_rooms", "Rooms with at least one socket joined on this instance", registry=registry
        )
        self.rooms_created = Counter("clov_rooms_created", "Rooms created through this instance", registry=registry)
        joins = Counter("clov_joins", "Join attempts on the signaling socket, by outcome", ["outcome"],
                        registry=registry)
        self.joins = {outcome: joins.labels(outcome) for outcome in JOIN_OUTCOMES}
        self.messages_relayed = LocalCounter(
            "clov_messages_relayed", "Signals relayed from one peer to another", registry
        )
        self._refusals = Counter(
            "clov_refusals", "Sockets the server closed to refuse them, by WebSocket close code", ["code"],
            registry=registry,
        )
        self.refusals = {code: self._refusals.labels(str(code)) for code in REFUSAL_CODES}
        self.broker_errors = Counter(
            "clov_broker_errors", "Broker (Redis) operations that failed", registry=registry
        )
        self.relay_latency = LocalHistogram(
            "clov_relay_latency_seconds",
            "From receiving a signal to handing it to the receiving socket's send (same instance), "
            "or to the broker (another instance)",
            RELAY_BUCKETS,
            registry,
        )
        self._generation = Histogram(
            "clov_background_generation_seconds",
            "Time to make AI backgrounds, by provider and outcome",
            ["provider", "outcome"],
            buckets=GENERATION_BUCKETS,
            registry=registry,
        )

    def refused(self, code: int) -> None:
        child = self.refusals.get(code)
        if child is None:
            child = self.refusals[code] = self._refusals.labels(str(code))
        child.inc()

    def generation(self, provider: str, outcome: str) -> Histogram:
        return self._generation.labels(provider, outcome)

    def watch_rooms(self, count: Callable[[], int]) -> None:
        """Read the rooms gauge from `count()` at each scrape."""
        self.rooms.set_function(count)


def _created_series() -> bool:
    """prometheus_client's own switch for the `_created` samples, read the same way."""
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


class LocalCounter:
    """A counter without labels for the event loop's thread only: `inc()` adds to an int."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.value = 0
        self.created = time.time()
        registry.register(self)

    def inc(self) -> None:
        self.value += 1

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[Metric]:
        family = CounterMetricFamily(self.name, self.documentation)
        family.add_metric([], self.value, created=self.created if _created_series() else None)
        return [family]


class LocalHistogram:
    """A histogram without labels for the event loop's thread only: `observe()` adds to a bucket's
    count and to the sum; the cumulative buckets are made at each scrape."""

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0
        self.created = time.time()
        registry.register(self)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation)
        cumulative, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        family.add_metric([], buckets, self.sum)
        if _created_series():
            family.samples.append(Sample(f"{self.name}_created", {}, self.created))
        return [family]


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the main server (it is stopped with it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, reuse_port=False)


@contextlib.asynccontextmanager
async def serving(metrics: Metrics, host: str, port: int) -> AsyncIterator[None]:
    """Serve `GET /metrics` on host:port while the block runs; port 0: nothing."""
    if not port:
        yield
        return
    try:
        sock = _bind(host, port)
    except OSError as exc:
        raise RuntimeError(f"cannot listen for metrics on {host}:{port}: {exc}") from exc
    config = uvicorn.Config(
        make_asgi_app(metrics.registry),
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        http="h11",
        ws="none",
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("metrics served", extra={"url": f"http://{host}:{port}/metrics"})
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        sock.close()
