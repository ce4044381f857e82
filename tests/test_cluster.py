"""Several server processes on one Redis or one Redis Cluster: relay across them, capacity,
crashes, outages, slots."""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import httpx
import pytest

from signaling import redisbroker
from signaling.broker import BrokerUnavailable
from signaling.protocol import Peer as Member
from signaling.redisbroker import RedisBroker
from tests.client import Peer, create_room
from tests.conftest import RedisCluster, broker_env, wait_until

pytestmark = pytest.mark.anyio


async def occupancy(server, room: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as client:
        url, auth = f"{server.http}/api/rooms/{room['room']}", {"Authorization": f"Bearer {room['token']}"}
        return (await client.get(url, headers=auth)).json()["occupancy"]


@pytest.fixture
def pair(start_server, redis_server):  # type: ignore[no-untyped-def]
    env = {"CLOV_REDIS_URL": redis_server.url, "CLOV_MEMBER_TTL": "3"}
    return start_server(**env), start_server(**env)


@pytest.fixture(params=["redis", "cluster"])
def any_pair(request, start_server):  # type: ignore[no-untyped-def]
    """Two instances on one Redis, or on a Redis Cluster: relay and capacity hold on both."""
    env = {**broker_env(request, request.param), "CLOV_MEMBER_TTL": "3"}
    return start_server(**env), start_server(**env)


async def test_peers_on_different_processes_exchange_signals(any_pair) -> None:  # type: ignore[no-untyped-def]
    one, two = any_pair
    room = create_room(one.http)
    ana = await Peer.join(one.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(two.ws, room["room"], room["token"], "Bo")
    assert bo.welcome["peers"] == [{"id": ana.id, "name": "Ana"}]
    assert await ana.receive() == {"type": "peer-joined", "peer": {"id": bo.id, "name": "Bo"}}
    await bo.send({"type": "signal", "to": ana.id, "data": {"sdp": "offer"}})
    assert await ana.receive() == {"type": "signal", "from": bo.id, "data": {"sdp": "offer"}}
    await ana.send({"type": "signal", "to": bo.id, "data": {"sdp": "answer"}})
    assert await bo.receive() == {"type": "signal", "from": ana.id, "data": {"sdp": "answer"}}
    await bo.close()
    assert await ana.receive() == {"type": "peer-left", "peer": bo.id}


async def test_capacity_holds_across_processes(any_pair) -> None:  # type: ignore[no-untyped-def]
    one, two = any_pair
    room = create_room(one.http)
    sockets = await asyncio.gather(
        *(Peer.connect((one, two)[i % 2].ws, room["room"]) for i in range(10))
    )
    replies = await asyncio.gather(
        *(s.request({"type": "join", "token": room["token"], "name": f"n{i}"}) for i, s in enumerate(sockets))
    )
    kinds = sorted(r["type"] if r["type"] == "welcome" else r["code"] for r in replies)
    assert kinds == ["room_full"] * 4 + ["welcome"] * 6
    assert await occupancy(two, room) == 6


async def test_peers_of_a_crashed_instance_disappear(pair) -> None:  # type: ignore[no-untyped-def]
    one, two = pair
    room = create_room(one.http)
    ana = await Peer.join(one.ws, room["room"], room["token"], "Ana")
    doomed = [await Peer.join(two.ws, room["room"], room["token"], f"d{i}") for i in range(2)]
    for _ in doomed:
        await ana.receive_until("peer-joined")
    two.stop(signal.SIGKILL)
    left = {(await ana.receive_until("peer-left", timeout=15))["peer"] for _ in doomed}
    assert left == {p.id for p in doomed}
    assert await occupancy(one, room) == 1


async def test_redis_outage_and_recovery(start_server, redis_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(CLOV_REDIS_URL=redis_server.url, CLOV_MEMBER_TTL="3")
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(server.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    redis_server.stop()
    try:
        assert wait_until(lambda: httpx.get(server.http + "/healthz").status_code == 503, 10)
        # During the outage a join is turned away cleanly and the joined sockets stay open.
        late = await Peer.connect(server.ws, room["room"])
        await late.send({"type": "join", "token": room["token"], "name": "Late"})
        assert await late.closed_with(15) == 1013
        await asyncio.sleep(1)
        assert ana.connection.close_code is None and bo.connection.close_code is None
    finally:
        redis_server.start()
    assert wait_until(lambda: httpx.get(server.http + "/healthz").status_code == 200, 15)

    async def relayed() -> bool:
        await bo.send({"type": "signal", "to": ana.id, "data": {"back": True}})
        try:
            return (await ana.receive_until("signal", timeout=1))["data"] == {"back": True}
        except TimeoutError:
            return False

    deadline = time.monotonic() + 15
    while not await relayed():
        assert time.monotonic() < deadline, "relay did not recover"
    carl = await Peer.join(server.ws, room["room"], room["token"], "Carl")
    assert {p["name"] for p in carl.welcome["peers"]} == {"Ana", "Bo"}
    assert create_room(server.http)["room"]


async def test_dead_socket_is_announced(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(CLOV_PING_INTERVAL="1", CLOV_PING_TIMEOUT="1")
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    # A raw client that joins and then never answers a ping: a browser whose network vanished.
    silent = socket.create_connection(("127.0.0.1", server.port))
    silent.sendall(
        f"GET /ws/{room['room']} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 101 " in silent.recv(4096)
    payload = f'{{"type":"join","token":"{room["token"]}","name":"Ghost"}}'.encode()
    mask = b"\x00\x00\x00\x00"
    silent.sendall(bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + payload)
    ghost = (await ana.receive_until("peer-joined"))["peer"]["id"]
    started = time.monotonic()
    assert await ana.receive_until("peer-left", timeout=30) == {"type": "peer-left", "peer": ghost}
    assert time.monotonic() - started < 10
    silent.close()


async def test_rejoin_on_another_instance_takes_over_the_membership(pair) -> None:  # type: ignore[no-untyped-def]
    one, two = pair
    room = create_room(one.http)
    ana = await Peer.join(one.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(one.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    again = await Peer.connect(two.ws, room["room"])
    welcome = await again.request(bo.rejoin_message(room["token"], "Bo"))
    assert welcome["peer"] == bo.id
    # The first instance finds at its next heartbeat that the membership moved, and closes
    # the stale socket without announcing a departure.
    assert await bo.closed_with(10) == 1012
    await ana.send({"type": "signal", "to": bo.id, "data": {"n": 1}})
    assert await again.receive() == {"type": "signal", "from": ana.id, "data": {"n": 1}}
    with pytest.raises(asyncio.TimeoutError):
        await ana.receive(timeout=0.5)


async def test_membership_expiry_follows_the_redis_clock(redis_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Two instances whose clocks disagree by a minute: neither may expire the other's members.
    behind, on_time = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    try:
        await on_time.create_room("ClockRoom1", 600)
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() - 60)
        await behind.join("ClockRoom1", Member("early", "Ana"), 6, "conn-a")
        monkeypatch.setattr(time, "time", real_time)
        others, _ = await on_time.join("ClockRoom1", Member("later", "Bo"), 6, "conn-b")
        assert others == [Member("early", "Ana")]
        assert await on_time.occupancy("ClockRoom1") == 2
    finally:
        await behind.close()
        await on_time.close()


async def test_a_join_whose_departure_announcement_fails_still_holds(redis_server) -> None:  # type: ignore[no-untyped-def]
    class Unannounced(RedisBroker):
        async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
            raise BrokerUnavailable("publish failed")

    crashed, broker = RedisBroker(redis_server.url, member_ttl=0.2), Unannounced(redis_server.url)
    try:
        await broker.create_room("QuietRoom1", 600)
        await crashed.join("QuietRoom1", Member("gone", "Ana"), 6, "conn-a")
        await asyncio.sleep(0.5)  # no heartbeat: Ana's membership expires, to be announced by the next join
        assert await broker.join("QuietRoom1", Member("bo", "Bo"), 6, "conn-b") == ([], False)
        assert broker._local_rooms == {"QuietRoom1": 1}  # one subscription, given back by the leave
        assert await broker.leave("QuietRoom1", "bo", "conn-b")
        assert broker._local_rooms == {} and await broker.occupancy("QuietRoom1") == 0
    finally:
        await crashed.close()
        await broker.close()


@pytest.fixture
def cluster_pair(start_server, redis_cluster):  # type: ignore[no-untyped-def]
    env = {"CLOV_REDIS_URL": redis_cluster.url, "CLOV_REDIS_CLUSTER": "1", "CLOV_MEMBER_TTL": "3"}
    return start_server(**env), start_server(**env)


def room_keys(cluster: RedisCluster, room: str) -> dict[str, int]:
    """Each key of `room` on the cluster -> the port of the node holding it."""
    return {
        key: port
        for port, _ in cluster.ports
        for key in cluster.command(port, "KEYS", f"clov:{{{room}}}:*").split()
    }


def shard_channels(cluster: RedisCluster) -> dict[str, int]:
    """Each shard channel someone subscribes to -> the port of its node."""
    return {
        channel: port for port, _ in cluster.ports for channel in cluster.command(port, "PUBSUB", "SHARDCHANNELS").split()
    }


async def test_a_rooms_keys_share_one_slot_and_its_relay_a_shard_channel(cluster_pair, redis_cluster) -> None:  # type: ignore[no-untyped-def]
    one, two = cluster_pair
    room = create_room(one.http)
    ana = await Peer.join(one.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(two.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    keys = room_keys(redis_cluster, room["room"])
    assert {key.rpartition(":")[2] for key in keys} == {"room", "members", "names"}
    slots = {redis_cluster.command(redis_cluster.ports[0][0], "CLUSTER", "KEYSLOT", key).strip() for key in keys}
    assert len(slots) == 1 and len(set(keys.values())) == 1
    channel = f"clov:{{{room['room']}}}:relay"
    assert shard_channels(redis_cluster)[channel] == next(iter(keys.values()))
    assert all(not redis_cluster.command(port, "PUBSUB", "CHANNELS").split() for port, _ in redis_cluster.ports)
    await ana.close()
    await bo.close()
    assert wait_until(lambda: channel not in shard_channels(redis_cluster), 5)


def move_slot(cluster: RedisCluster, slot: str, source: int, target: int) -> None:
    """Reshard by hand: migrate `slot`, keys included, from the node on port `source` to `target`."""
    source_id, target_id = (cluster.command(port, "CLUSTER", "MYID").strip() for port in (source, target))
    cluster.command(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    cluster.command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    keys = cluster.command(source, "CLUSTER", "GETKEYSINSLOT", slot, "100").split()
    if keys:
        cluster.command(source, "MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "KEYS", *keys)
    for port, _ in cluster.ports:
        cluster.command(port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)


async def test_relay_follows_a_room_whose_slot_moves(cluster_pair, redis_cluster) -> None:  # type: ignore[no-untyped-def]
    one, two = cluster_pair
    room = create_room(one.http)
    ana = await Peer.join(one.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(two.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    channel = f"clov:{{{room['room']}}}:relay"
    source = shard_channels(redis_cluster)[channel]
    target = next(port for port, _ in redis_cluster.ports if port != source)
    slot = redis_cluster.command(source, "CLUSTER", "KEYSLOT", channel).strip()
    move_slot(redis_cluster, slot, source, target)

    async def relayed(sender: Peer, receiver: Peer) -> bool:
        await sender.send({"type": "signal", "to": receiver.id, "data": {"moved": True}})
        try:
            return (await receiver.receive_until("signal", timeout=1))["data"] == {"moved": True}
        except TimeoutError:
            return False

    # The node that gave the slot away drops the subscriptions; both instances follow the room.
    deadline = time.monotonic() + 15
    while not (await relayed(bo, ana) and await relayed(ana, bo)):
        assert time.monotonic() < deadline, "relay did not follow the slot"
    assert shard_channels(redis_cluster)[channel] == target
    carl = await Peer.join(one.ws, room["room"], room["token"], "Carl")
    assert {p["name"] for p in carl.welcome["peers"]} == {"Ana", "Bo"}


@pytest.mark.parametrize("cluster", [False, True], ids=["redis", "cluster"])
async def test_a_join_returns_subscribed(request: pytest.FixtureRequest, monkeypatch, cluster: bool) -> None:  # type: ignore[no-untyped-def]
    # The first join of a room on a node races the listener's connection to that node (slow
    # here, as on a loaded machine): what the room sends right after the join must still arrive.
    url = request.getfixturevalue("redis_cluster" if cluster else "redis_server").url
    connect = redisbroker._Shard.connect

    async def slow_connect(shard: redisbroker._Shard) -> None:
        await asyncio.sleep(0.3)
        await connect(shard)

    monkeypatch.setattr(redisbroker._Shard, "connect", slow_connect)
    received: list[str] = []

    async def deliver(room: str, to: str | None, exclude: str | None, text: str) -> None:
        received.append(text)

    listening, sending = RedisBroker(url, cluster=cluster), RedisBroker(url, cluster=cluster)
    try:
        await listening.start(deliver)
        await sending.create_room("FirstJoin1", 600)
        await listening.join("FirstJoin1", Member("ana", "Ana"), 6, "conn-a")
        await sending.broadcast("FirstJoin1", None, "right after")
        deadline = time.monotonic() + 2
        while not received and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert received == ["right after"]
    finally:
        await listening.close()
        await sending.close()


@pytest.fixture(params=["redis", "cluster"])
async def relay_pair(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Two brokers on one Redis or one Redis Cluster, rooms "Batch0".."Batch7" held by the first,
    each with member "t"; yields (brokers, what the first delivered, a redis-cli for the store)."""
    cluster = request.param == "cluster"
    store = request.getfixturevalue("redis_cluster" if cluster else "redis_server")
    received: list[tuple[str, str | None, str]] = []

    def redis_cli(*args: str, every_node: bool = False) -> str:
        if not cluster:
            return store.command(*args)
        # A key's command through the first node, following redirections (-c).
        ports = [port for port, _ in store.ports] if every_node else [store.ports[0][0]]
        return "".join(store.command(port, "-c", *args) for port in ports)

    async def deliver(room: str, to: str | None, exclude: str | None, text: str) -> None:
        received.append((room, to, text))

    listening, sending = RedisBroker(store.url, cluster=cluster), RedisBroker(store.url, cluster=cluster)
    try:
        await listening.start(deliver)
        for i in range(8):
            await sending.create_room(f"Batch{i}", 600)
            await listening.join(f"Batch{i}", Member("t", "T"), 6, "conn-t")
        yield (listening, sending), received, redis_cli
    finally:
        await listening.close()
        await sending.close()


async def arrived(received: list, count: int) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_signals_sent_at_once_arrive_in_the_order_sent(relay_pair) -> None:  # type: ignore[no-untyped-def]
    # Hundreds queued in one turn of the event loop leave in pipelines: each room's signals
    # must still arrive in the order they were sent, every one of them.
    (_, sending), received, _ = relay_pair
    sends = [sending.send(f"Batch{n % 8}", "t", f"{n}") for n in range(2000)]
    assert await asyncio.gather(*sends) == [True] * 2000
    await arrived(received, 2000)
    for i in range(8):
        assert [int(text) for room, _, text in received if room == f"Batch{i}"] == list(range(i, 2000, 8))


async def test_a_failing_send_fails_alone(relay_pair) -> None:  # type: ignore[no-untyped-def]
    (_, sending), received, redis_cli = relay_pair
    await sending.create_room("Broken1", 600)
    # A members key of the wrong type: the send script fails for this room only.
    redis_cli("SET", "clov:{Broken1}:members", "not a sorted set")
    sends = [sending.send(f"Batch{n % 8}", "t", f"{n}") for n in range(100)]
    results = await asyncio.gather(sending.send("Broken1", "t", "lost"), *sends, return_exceptions=True)
    assert isinstance(results[0], BrokerUnavailable) and "WRONGTYPE" in str(results[0])
    assert results[1:] == [True] * 100
    await arrived(received, 100)
    assert sorted(int(text) for _, _, text in received) == list(range(100))
    assert await sending.send("Batch0", "t", "after") and not await sending.send("Batch0", "nobody", "x")


async def test_a_node_that_lost_its_scripts_still_relays(relay_pair) -> None:  # type: ignore[no-untyped-def]
    # A restarted Redis, or a node new to a room's slot, does not know the send script: the
    # batch that meets NOSCRIPT loads it and goes through.
    (_, sending), received, redis_cli = relay_pair
    assert await sending.send("Batch0", "t", "before")
    redis_cli("SCRIPT", "FLUSH", every_node=True)
    sends = [sending.send(f"Batch{n % 8}", "t", f"{n}") for n in range(200)]
    assert await asyncio.gather(*sends) == [True] * 200
    await arrived(received, 201)
    assert sorted(int(text) for _, _, text in received[1:]) == list(range(200))


async def test_sends_beyond_the_queue_fail_while_redis_is_stuck(redis_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(redisbroker, "PUBLISH_QUEUE_LIMIT", 5)
    received: list[str] = []

    async def deliver(room: str, to: str | None, exclude: str | None, text: str) -> None:
        received.append(text)

    listening, sending = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    try:
        await listening.start(deliver)
        await sending.create_room("Stuck1", 600)
        await listening.join("Stuck1", Member("t", "T"), 6, "conn-t")
        redis_server.command("CLIENT", "PAUSE", "3000", "ALL")
        out = [asyncio.create_task(sending.send("Stuck1", "t", f"out {n}")) for n in range(5)]
        await asyncio.sleep(0.2)  # that pipeline is written, and waits for Redis
        queued = [asyncio.create_task(sending.send("Stuck1", "t", f"queued {n}")) for n in range(5)]
        await asyncio.sleep(0)
        with pytest.raises(BrokerUnavailable, match="not keeping up"):
            await sending.send("Stuck1", "t", "refused")
        assert not any(task.done() for task in out + queued)  # Redis is still paused
        assert await asyncio.gather(*out, *queued) == [True] * 10
        await arrived(received, 10)
        assert received == [f"out {n}" for n in range(5)] + [f"queued {n}" for n in range(5)]
    finally:
        await listening.close()
        await sending.close()
