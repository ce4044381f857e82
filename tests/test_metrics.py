"""`/metrics` on CLOV_METRICS_PORT: a real server, real sockets, a real scrape and the official parser."""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from signaling.metrics import RELAY_BUCKETS, LocalCounter, LocalHistogram, Metrics
from tests.client import Peer, create_room
from tests.conftest import free_port

pytestmark = pytest.mark.anyio


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_count_sockets_joins_relays_and_refusals(start_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(CLOV_METRICS_PORT=str(port))
    room = create_room(server.http)
    before = scrape(port)
    assert value(before, "clov_open_sockets") == 0
    assert value(before, "clov_rooms_created_total") == 1
    assert value(before, "clov_messages_relayed_total") == 0

    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    ben = await Peer.join(server.ws, room["room"], room["token"], "Ben")
    for i in range(3):
        await ana.send({"type": "signal", "to": ben.id, "data": {"n": i}})
        assert (await ben.receive_until("signal"))["data"] == {"n": i}
    await ben.send({"type": "signal", "to": ana.id, "data": {"n": 9}})
    await ana.receive_until("signal")

    intruder = await Peer.connect(server.ws, room["room"])
    await intruder.send({"type": "join", "token": "not-a-token", "name": "Eve"})
    assert await intruder.closed_with() == 4401

    during = scrape(port)
    assert value(during, "clov_open_sockets") == 2
    assert value(during, "clov_rooms") == 1
    assert value(during, "clov_joins_total", outcome="ok") == 2
    assert value(during, "clov_joins_total", outcome="invalid_token") == 1
    assert value(during, "clov_joins_total", outcome="room_full") == 0
    assert value(during, "clov_messages_relayed_total") == 4
    assert value(during, "clov_refusals_total", code="4401") == 1
    assert value(during, "clov_refusals_total", code="4409") == 0
    assert value(during, "clov_broker_errors_total") == 0
    assert value(during, "clov_relay_latency_seconds_count") == 4
    assert 0 < value(during, "clov_relay_latency_seconds_sum") < 4
    assert value(during, "clov_relay_latency_seconds_bucket", le="+Inf") == 4

    await ana.close()
    await ben.close()
    await ben.closed_with()
    samples = scrape(port)
    for _ in range(50):
        if value(samples, "clov_open_sockets") == 0:
            break
        await asyncio.sleep(0.05)
        samples = scrape(port)
    assert value(samples, "clov_open_sockets") == 0
    assert value(samples, "clov_rooms") == 0


async def test_a_full_room_is_counted(start_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(CLOV_METRICS_PORT=str(port))
    room = create_room(server.http)
    peers = [await Peer.join(server.ws, room["room"], room["token"], f"P{i}") for i in range(room["capacity"])]
    late = await Peer.connect(server.ws, room["room"])
    await late.send({"type": "join", "token": room["token"], "name": "Late"})
    assert await late.closed_with() == 4409
    samples = scrape(port)
    assert value(samples, "clov_joins_total", outcome="ok") == room["capacity"]
    assert value(samples, "clov_joins_total", outcome="room_full") == 1
    assert value(samples, "clov_refusals_total", code="4409") == 1
    for peer in peers:
        await peer.close()


def test_generation_latency_is_a_histogram_by_provider_and_outcome(start_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(CLOV_METRICS_PORT=str(port))
    room = create_room(server.http)
    response = httpx.post(
        f"{server.http}/api/rooms/{room['room']}/backgrounds",
        headers={"Authorization": f"Bearer {room['token']}"},
        json={"prompt": "a beach at dusk", "aspect": "16:9", "n": 1},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    samples = scrape(port)
    assert value(samples, "clov_background_generation_seconds_count", provider="pattern", outcome="ok") == 1


def test_without_the_option_nothing_serves_metrics(start_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server()
    assert httpx.get(server.http + "/metrics").status_code == 404
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert "metrics served" not in server.logs()


def test_each_app_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.messages_relayed.inc()
    assert one.registry.get_sample_value("clov_messages_relayed_total") == 1
    assert two.registry.get_sample_value("clov_messages_relayed_total") == 0


@pytest.mark.parametrize("exposition", ["prometheus", "openmetrics"])
def test_the_relays_own_counter_and_histogram_show_what_prometheus_clients_would(exposition: str) -> None:
    # They replace a Counter and a Histogram on the relay's path: a scrape must not see the difference.
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    counter = Counter("clov_messages_relayed", "Signals relayed", registry=theirs)
    histogram = Histogram("clov_relay_latency_seconds", "Relay", buckets=RELAY_BUCKETS, registry=theirs)
    local_counter = LocalCounter("clov_messages_relayed", "Signals relayed", ours)
    local_histogram = LocalHistogram("clov_relay_latency_seconds", "Relay", RELAY_BUCKETS, ours)
    # On a bound, between bounds, below the first, above the last.
    for seconds in (0.0, 0.00005, 0.0001, 0.0003, 0.001, 0.0049, 0.05, 0.2, 1.0, 1.5, 30.0):
        counter.inc()
        local_counter.inc()
        histogram.observe(seconds)
        local_histogram.observe(seconds)
    generate = openmetrics.generate_latest if exposition == "openmetrics" else generate_latest

    def text(registry: CollectorRegistry) -> str:  # creation times differ by microseconds
        return re.sub(r"(_created(?:\{[^}]*\})?) \S+", r"\1 T", generate(registry).decode())

    assert text(ours) == text(theirs)
    assert "clov_relay_latency_seconds_bucket{le=\"0.0005\"} 4.0" in text(ours)
