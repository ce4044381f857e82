"""The Redis broker: any number of server processes on one Redis or on a Redis Cluster.

Every key and channel of a room carries the room id as a hash tag, so all of them hash to one
cluster slot: the Lua scripts touch one slot only, as Redis Cluster requires, and rooms spread
over the shards. Room ids are made by the server (`secrets.token_urlsafe`: letters, digits, `-`
and `_`, never a brace), so the tag is always the whole id.
- `clov:{room}:room`: exists while the room's invites are valid (TTL = invite lifetime).
- `clov:{room}:members`: sorted set of peer ids scored by membership expiry; each instance
  refreshes the scores of its own sockets, so the members of a crashed instance expire by
  themselves.
- `clov:{room}:names`: hash of peer id -> "conn\tdisplay name".
- `clov:{room}:relay`: the room's shard channel (sharded pub/sub, Redis 7).
Join, leave, heartbeat and send run as Lua scripts that declare every key they touch, so
capacity holds across instances. Expiry is measured on Redis's clock (`TIME`), so instances
whose clocks disagree never expire each other's members.

Relay goes over sharded pub/sub, on a single Redis as on a cluster: an instance subscribes
(`SSUBSCRIBE`) to `clov:{room}:relay` while it holds a socket in the room, on the node that
serves the room's slot, and the send script checks membership and publishes (`SPUBLISH`, its
channel declared among the script's keys, in the room's slot) in one step. A message reaches
only the shard that holds its room, where classic pub/sub would copy every message to every
node of a cluster. An instance holds one pub/sub connection per node that serves one of its
rooms (a `_Shard`); when a connection fails, or the node says a room's slot moved away (an
unrequested `sunsubscribe`), the shard reconnects with backoff after the broker has re-read
the cluster's slot map and moved each local room to the node that now serves it.

Sends and broadcasts go to the node serving their room through a `_Publisher`: what the
sockets hand over in one turn of the event loop, or while the previous round trip is out,
leaves as one pipeline, so under load a round trip carries hundreds of signals. A command that
fails in a pipeline fails alone: NOSCRIPT loads the script for the whole batch, and anything
else (MOVED after a slot migration...) is tried once more through the client that follows
redirections.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hiredis
import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, ConnectionPool
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError

from signaling.broker import Broker, BrokerUnavailable, Deliver, NoSuchRoom, RoomFull
from signaling.protocol import Peer, PeerLeft, encode

log = logging.getLogger("clov.redis")

MAX_CONNECTIONS = 64
# Relayed messages bound for one node wait here while the node's pipeline is out; beyond this
# many, Redis is not keeping up and a send fails as it does when Redis is down, instead of
# holding more and more of them in memory.
PUBLISH_QUEUE_LIMIT = 4096
# The most commands one pipeline carries, so one round trip's reply stays a bounded read.
PUBLISH_BATCH = 512
# How long a join waits for the relay connection of its room's node (a fresh one, or one that
# is reconnecting) before it is turned away.
SUBSCRIBE_WAIT_S = 5.0
_OPTIONS: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 2, "socket_timeout": 5}
# The relay connections speak RESP2, where a shard message is a plain reply: RESP3 (redis-py's
# default from 8.0) makes it a push message, with a debug log line formatted for each one. Their
# reads wait for the next message however long it takes.
_PUBSUB_OPTIONS: dict[str, Any] = {**_OPTIONS, "protocol": 2, "socket_timeout": None}
# What an unreachable Redis raises; the cluster client's own errors (no reachable node, an
# uncovered slot) are not RedisErrors.
_FAILURES = (RedisError, RedisClusterException, OSError)

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

_REAP = _NOW + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(expired))
end
"""

# KEYS room, members; returns {room exists, live members}.
_OCCUPANCY = _NOW + """
return {redis.call('EXISTS', KEYS[1]), redis.call('ZCOUNT', KEYS[2], now, '+inf')}
"""

# KEYS members, names, room; ARGV capacity, peer, "conn\tname", member ttl, key ttl.
# Returns {status, expired, others, their entries}; status 0 joined, 1 resumed, -1 no room, -2 full.
_JOIN = _REAP + """
local resumed = redis.call('ZSCORE', KEYS[1], ARGV[2]) and 1 or 0
local count = redis.call('ZCARD', KEYS[1])
if count == 0 and redis.call('EXISTS', KEYS[3]) == 0 then return {-1, expired} end
if resumed == 0 and count >= tonumber(ARGV[1]) then return {-2, expired} end
redis.call('ZREM', KEYS[1], ARGV[2])
local others = redis.call('ZRANGE', KEYS[1], 0, -1)
local entries = {}
if #others > 0 then entries = redis.call('HMGET', KEYS[2], unpack(others)) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {resumed, expired, others, entries}
"""

# Only the connection that holds the membership may end it: a peer that rejoined elsewhere
# keeps its place when its old socket finally closes.
_LEAVE = """
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry or string.sub(entry, 1, #ARGV[2] + 1) ~= ARGV[2] .. '\t' then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

# KEYS members, names; ARGV member ttl, key ttl, then peer, conn pairs.
_HEARTBEAT = _REAP + """
local missing = {}
for i = 3, #ARGV, 2 do
  local entry = redis.call('HGET', KEYS[2], ARGV[i])
  if entry and string.sub(entry, 1, #ARGV[i + 1] + 1) == ARGV[i + 1] .. '\t' then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  else
    table.insert(missing, ARGV[i])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {expired, missing}
"""

# KEYS members, relay channel; ARGV peer, message. Returns the receivers, or -1 for no such member.
_SEND = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return redis.call('SPUBLISH', KEYS[2], ARGV[2])
end
return -1
"""

_PREFIX, _RELAY = "clov:{", "}:relay"


def _key(room: str, kind: str) -> str:
    return f"{_PREFIX}{room}}}:{kind}"


def _channel(room: str) -> str:
    return _PREFIX + room + _RELAY


class _Shard:
    """One pub/sub connection, to the node serving some of this instance's rooms, and its listener."""

    def __init__(self, name: str, client: redis.Redis) -> None:
        self.name = name
        self.client = client
        self.rooms: set[str] = set()
        self.pubsub: PubSub | None = None
        # SUNSUBSCRIBEs sent and not yet confirmed, per room: any other confirmation means the
        # node dropped the subscription itself (the room's slot moved).
        self.leaving: Counter[str] = Counter()
        self.listener: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # connected, every room in `rooms` subscribed
        self.settled = asyncio.Event()  # the last connection attempt ended, in `ready` or `failure`
        self.failure: str | None = None  # why the connection failed; None while connecting or connected

    async def subscribe(self, room: str) -> None:
        self.rooms.add(room)
        if self.pubsub is not None:
            await self.pubsub.ssubscribe(_channel(room))
        else:
            await self.wait_ready()

    async def wait_ready(self) -> None:
        """Return once a connection attempt under way has subscribed every room: what the other
        members send right after a join would be lost before that. While the listener backs off
        after a failure, a join goes ahead (its script fails if Redis is down; if not, the room
        is subscribed at the next attempt), as before the failure."""
        if self.listener is not None and self.failure is None and not self.ready.is_set():
            await asyncio.wait_for(self.settled.wait(), SUBSCRIBE_WAIT_S)

    async def unsubscribe(self, room: str) -> None:
        self.rooms.discard(room)
        if self.pubsub is not None:
            self.leaving[room] += 1
            try:
                await self.pubsub.sunsubscribe(_channel(room))
            except _FAILURES:
                pass  # the listener finds the connection broken and reconnects without the room

    async def connect(self) -> None:
        self.failure = None
        self.settled.clear()
        pubsub = self.client.pubsub()
        # Connected with no subscription, a pub/sub connection still reads, so a node serving
        # none of this instance's rooms needs no placeholder channel.
        await pubsub.connect()
        # Rooms joined or left from here on subscribe and unsubscribe on the new connection.
        self.pubsub = pubsub
        self.leaving.clear()
        for room in list(self.rooms):
            if room in self.rooms:  # not left meanwhile
                # One SSUBSCRIBE per room: a cluster node refuses channels of several slots at once.
                await pubsub.ssubscribe(_channel(room))
        self.ready.set()
        self.settled.set()
        log.info("relay subscribed", extra={"node": self.name, "rooms": len(self.rooms)})

    async def disconnect(self, failure: str) -> None:
        self.ready.clear()
        self.failure = failure
        self.settled.set()
        if self.pubsub is not None:
            pubsub, self.pubsub = self.pubsub, None
            await asyncio.gather(pubsub.aclose(), return_exceptions=True)


class _Publisher:
    """The relay's commands for one node (send scripts, broadcasts), written as pipelines.

    One pipeline is out at a time and carries everything queued since the previous one left,
    up to PUBLISH_BATCH: under load a round trip delivers hundreds of signals instead of one,
    and the node runs the commands in the order they were queued, so one sender's signals
    arrive in order. Each command gets its own reply or error; only a lost connection fails a
    whole pipeline.
    """

    def __init__(self, node: ConnectionPool | ClusterNode, limit: asyncio.Semaphore, script: str) -> None:
        self.script = script  # the one script the queued EVALSHAs run
        # The connections the broker's other commands to the node use: already open when a
        # room's first message goes out right after its first join.
        self.node = node
        self.limit = limit  # the broker's commands in flight, which this pipeline counts among
        self.queue: deque[tuple[tuple[Any, ...], asyncio.Future[Any]]] = deque()
        self.flusher: asyncio.Task[None] | None = None

    def submit(self, command: tuple[Any, ...]) -> asyncio.Future[Any]:
        if len(self.queue) >= PUBLISH_QUEUE_LIMIT:
            raise BrokerUnavailable(f"Redis is not keeping up: {len(self.queue)} messages wait for it")
        future = asyncio.get_running_loop().create_future()
        self.queue.append((command, future))
        if self.flusher is None:
            # Started, not run: the other sockets ready in this turn of the event loop queue
            # their signals before the first pipeline leaves.
            self.flusher = asyncio.create_task(self._flush())
        return future

    async def close(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            await asyncio.gather(self.flusher, return_exceptions=True)
        while self.queue:
            _, future = self.queue.popleft()
            if not future.done():
                future.set_exception(BrokerUnavailable("the broker closed"))

    async def _flush(self) -> None:
        try:
            while self.queue:
                count = min(len(self.queue), PUBLISH_BATCH)
                batch = [item for item in (self.queue.popleft() for _ in range(count)) if not item[1].done()]
                if batch:
                    await self._execute(batch)
        finally:
            self.flusher = None

    async def _execute(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        commands = [command for command, _ in batch]
        try:
            async with self.limit:
                connection = await self._connection()
                try:
                    results = await _pipeline(connection, commands)
                    missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
                    if missing:
                        # A node that has not run the script (new, restarted, or just handed a
                        # room's slot) learns it once for the whole batch.
                        load = ("SCRIPT", "LOAD", self.script)
                        again = await _pipeline(connection, [load, *(commands[i] for i in missing)])
                        for i, result in zip(missing, again[1:]):
                            results[i] = result
                except BaseException:
                    # Replies left unread would be read as the next batch's.
                    await connection.disconnect()
                    raise
                finally:
                    await self._release(connection)
        except _FAILURES as exc:
            results = [BrokerUnavailable(str(exc)) for _ in batch]
        except BaseException:
            for _, future in batch:
                if not future.done():
                    future.set_exception(BrokerUnavailable("the broker closed"))
            raise
        for (_, future), result in zip(batch, results):
            if future.done():  # its sender went away meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _connection(self) -> Connection:
        if isinstance(self.node, ClusterNode):
            return self.node.acquire_connection()
        return await self.node.get_connection()

    async def _release(self, connection: Connection) -> None:
        if isinstance(self.node, ClusterNode):
            self.node.release(connection)
        else:
            await self.node.release(connection)


class _SlotMoved(RedisError):
    """A node dropped a shard subscription of a room this instance still holds."""


class RedisBroker(Broker):
    """Membership and relay through Redis; see the module docstring for the key layout."""

    def __init__(self, url: str, member_ttl: float = 30.0, cluster: bool = False) -> None:
        self.member_ttl = member_ttl
        self._url = url
        self._cluster: RedisCluster | None = None
        if cluster:
            self._cluster = RedisCluster.from_url(url, max_connections=MAX_CONNECTIONS, **_OPTIONS)
            self._redis: redis.Redis | RedisCluster = self._cluster
        else:
            self._redis = redis.Redis.from_url(url, max_connections=MAX_CONNECTIONS, **_OPTIONS)
        # Commands wait here for a free connection under a burst instead of failing at once
        # (both clients' pools raise "Too many connections"; a cluster's, per node).
        self._in_flight = asyncio.Semaphore(MAX_CONNECTIONS)
        self._occupancy = self._redis.register_script(_OCCUPANCY)
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._heartbeat = self._redis.register_script(_HEARTBEAT)
        self._send = self._redis.register_script(_SEND)
        self._local_rooms: dict[str, int] = {}
        self._room_shard: dict[str, _Shard] = {}
        self._shards: dict[str, _Shard] = {}
        self._publishers: dict[str, _Publisher] = {}
        self._started = False

    async def start(self, deliver: Deliver) -> None:
        await super().start(deliver)
        self._started = True
        if self._cluster is None:
            # The one shard connects at once, so a relay that cannot reach Redis shows in the log
            # before the first join (a cluster's shards start with the rooms they serve).
            self._shard_named("", self._url)
        for shard in self._shards.values():
            if shard.listener is None:
                shard.listener = asyncio.create_task(self._listen(shard))

    async def close(self) -> None:
        listeners = {shard.listener for shard in self._shards.values() if shard.listener is not None}
        # redis-py can swallow a cancellation that lands while a connection is being set up (the
        # listener then reads on), so cancel again until every listener has ended.
        while listeners:
            for listener in listeners:
                listener.cancel()
            _, listeners = await asyncio.wait(listeners, timeout=0.2)
        for shard in self._shards.values():
            await shard.disconnect("closed")
            await shard.client.aclose()
        for publisher in self._publishers.values():
            await publisher.close()
        await self._redis.aclose()

    async def ping(self) -> None:
        try:
            await asyncio.wait_for(self._call(self._redis.ping()), 2)
        except TimeoutError as exc:
            raise BrokerUnavailable("Redis did not answer within 2 s") from exc

    async def create_room(self, room: str, ttl: int) -> None:
        await self._call(self._redis.set(_key(room, "room"), 1, ex=ttl))

    async def occupancy(self, room: str) -> int | None:
        keys = [_key(room, "room"), _key(room, "members")]
        exists, count = await self._call(self._occupancy(keys=keys))
        return count if exists or count else None

    async def join(self, room: str, peer: Peer, capacity: int, conn: str) -> tuple[list[Peer], bool]:
        keys = [_key(room, "members"), _key(room, "names"), _key(room, "room")]
        args = [capacity, peer.id, f"{conn}\t{peer.name}", self.member_ttl, self._key_ttl]
        try:
            await self._subscribe(room)
            result = await self._call(self._join(keys=keys, args=args))
        except BaseException:
            # A membership the script may have recorded before the failure is refreshed by no
            # one, so it expires within member_ttl.
            await self._unsubscribe(room)
            raise
        status, expired = result[0], result[1]
        await self._announce_left(room, expired)
        if status < 0:
            await self._unsubscribe(room)
            raise NoSuchRoom(room) if status == -1 else RoomFull(room)
        ids, entries = result[2], result[3]
        others = [Peer(id=i, name=e.partition("\t")[2]) for i, e in zip(ids, entries) if e]
        return others, status == 1

    async def leave(self, room: str, peer: str, conn: str) -> bool:
        try:
            keys = [_key(room, "members"), _key(room, "names")]
            return bool(await self._call(self._leave(keys=keys, args=[peer, conn])))
        finally:
            await self._unsubscribe(room)

    async def send(self, room: str, to: str, text: str) -> bool:
        members, channel = _key(room, "members"), _channel(room)
        message = f"{to}\n\n{text}"
        try:
            receivers = await self._publish(channel, ("EVALSHA", self._send.sha, 2, members, channel, to, message))
        except ResponseError:
            # NOSCRIPT from a node that has not run the script yet, MOVED from one that gave the
            # room's slot away, or a failure of this message's own: once more, alone, through the
            # client that loads scripts and follows redirections.
            receivers = await self._call(self._send(keys=[members, channel], args=[to, message]))
        return receivers >= 0

    async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
        channel = _channel(room)
        message = f"\n{exclude or ''}\n{text}"
        try:
            await self._publish(channel, ("SPUBLISH", channel, message))
        except ResponseError:
            await self._call(self._redis.spublish(channel, message))

    async def heartbeat(self, local: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
        lost: list[tuple[str, str]] = []
        for room, peers in local.items():
            keys = [_key(room, "members"), _key(room, "names")]
            pairs = [item for peer_conn in peers.items() for item in peer_conn]
            args = [self.member_ttl, self._key_ttl, *pairs]
            expired, missing = await self._call(self._heartbeat(keys=keys, args=args))
            await self._announce_left(room, expired)
            lost.extend((room, peer) for peer in missing)
        return lost

    @property
    def _key_ttl(self) -> int:
        return int(self.member_ttl * 2) + 1

    async def _announce_left(self, room: str, peers: list[str]) -> None:
        """Tell the room about members the store dropped; they are gone whether this arrives or not."""
        for peer in peers:
            log.info("membership expired", extra={"room": room, "peer": peer})
            try:
                await self.broadcast(room, peer, encode(PeerLeft(peer=peer)))
            except BrokerUnavailable as exc:
                log.warning("departure not announced", extra={"room": room, "peer": peer, "error": str(exc)})

    async def _call(self, awaitable: Coroutine[Any, Any, Any]) -> Any:
        """Run one command on the command connections."""
        async with self._in_flight:
            return await _answered(awaitable)

    async def _publish(self, channel: str, command: tuple[Any, ...]) -> Any:
        """Run `command` (about `channel`'s room) in the next pipeline to the node serving the room."""
        if self._cluster is None:
            publisher = self._publishers.get("")
            if publisher is None:
                publisher = self._publishers[""] = _Publisher(self._redis.connection_pool, self._in_flight, _SEND)
        else:
            # The client's slot map, which a redirected command brings up to date.
            await _answered(self._cluster.initialize())
            try:
                node = self._cluster.get_node_from_key(channel)
            except _FAILURES as exc:  # a slot no node serves
                raise BrokerUnavailable(str(exc)) from exc
            publisher = self._publishers.get(node.name)
            if publisher is None:
                publisher = self._publishers[node.name] = _Publisher(node, self._in_flight, _SEND)
            publisher.node = node
        return await publisher.submit(command)

    # Relay subscriptions: each local room is subscribed on the shard of the node serving it.

    async def _subscribe(self, room: str) -> None:
        count = self._local_rooms.get(room, 0)
        self._local_rooms[room] = count + 1
        if count == 0:
            shard = await _answered(self._owner(room))
            self._room_shard[room] = shard
            await _answered(shard.subscribe(room))
        elif room in self._room_shard:  # another join of the room may still be waiting for it
            await _answered(self._room_shard[room].wait_ready())

    async def _unsubscribe(self, room: str) -> None:
        count = self._local_rooms.get(room, 0) - 1
        if count > 0:
            self._local_rooms[room] = count
            return
        self._local_rooms.pop(room, None)
        shard = self._room_shard.pop(room, None)
        if shard is not None:
            await shard.unsubscribe(room)

    async def _owner(self, room: str) -> _Shard:
        """The shard of the node that serves `room`'s slot (on a single Redis, the only one)."""
        if self._cluster is None:
            return self._shard_named("", self._url)
        await self._cluster.initialize()  # reads the slot map once, at the first command
        node = self._cluster.get_node_from_key(_channel(room))
        return self._shard_named(node.name, _node_url(self._url, node.host, node.port))

    def _shard_named(self, name: str, url: str) -> _Shard:
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = _Shard(name, redis.Redis.from_url(url, **_PUBSUB_OPTIONS))
            if self._started:
                shard.listener = asyncio.create_task(self._listen(shard))
        return shard

    async def _reroute(self) -> None:
        """Re-read the cluster's slot map and move each local room to the shard now serving it."""
        assert self._cluster is not None
        await self._cluster.nodes_manager.initialize()
        for room in list(self._room_shard):
            owner = await self._owner(room)
            shard = self._room_shard.get(room)
            if shard is not None and owner is not shard:  # still local, and moved
                log.info("room moved", extra={"room": room, "node": owner.name})
                self._room_shard[room] = owner
                shard.rooms.discard(room)
                await owner.subscribe(room)

    async def _listen(self, shard: _Shard) -> None:
        backoff = 0.1
        while True:
            try:
                if shard.pubsub is None:
                    await shard.connect()
                reply = await shard.pubsub.connection.read_response()  # type: ignore[union-attr]
                backoff = 0.1
                if reply[0] == "smessage":
                    # The relay's own messages skip redis-py's pub/sub dispatch, which costs
                    # more than the rest of their way to the socket.
                    to, exclude, text = reply[2].split("\n", 2)
                    await self._deliver(reply[1][len(_PREFIX):-len(_RELAY)], to or None, exclude or None, text)
                else:
                    message = await shard.pubsub.handle_message(reply)
                    if message is not None:
                        await self._on_sunsubscribe(shard, message)
            except asyncio.CancelledError:
                raise
            except _FAILURES as exc:
                log.warning("relay connection lost", extra={"node": shard.name, "error": str(exc)})
                await shard.disconnect(str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if self._cluster is not None:
                    # A failover or a resharding shows as a lost connection, a MOVED reply to
                    # SSUBSCRIBE or a dropped subscription: follow the new slot map.
                    await asyncio.gather(self._reroute(), return_exceptions=True)
            except Exception:
                log.exception("relay dispatch failed")

    async def _on_sunsubscribe(self, shard: _Shard, message: dict[str, Any]) -> None:
        if message["type"] == "sunsubscribe":
            room = message["channel"][len(_PREFIX):-len(_RELAY)]
            if shard.leaving[room] > 0:
                shard.leaving[room] -= 1
                if not shard.leaving[room]:
                    del shard.leaving[room]
            elif room in shard.rooms:
                raise _SlotMoved(f"the node dropped the subscription of room {room}")


async def _pipeline(connection: Connection, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Each command's reply or error, from one write: packed by hiredis, as redis-py's own
    packing and pipeline bookkeeping would cost more CPU than the round trips saved."""
    await connection.send_packed_command(b"".join([hiredis.pack_command(c) for c in commands]), check_health=False)
    results: list[Any] = []
    for _ in commands:
        try:
            results.append(await connection.read_response())
        except ResponseError as exc:
            results.append(exc)
    return results


async def _answered(awaitable: Coroutine[Any, Any, Any]) -> Any:
    """The result of a Redis call; `BrokerUnavailable` when Redis does not answer."""
    try:
        return await awaitable
    except _FAILURES as exc:
        raise BrokerUnavailable(str(exc)) from exc


def _node_url(url: str, host: str, port: int) -> str:
    """`url` (its scheme, credentials and options) pointed at one node of the cluster."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{address}" if credentials else address))
