"""The Redis broker: any number of server processes on one Redis.

Keys (all prefixed `clov:`):
- `room:{room}`: exists while the room's invites are valid (TTL = invite lifetime).
- `members:{room}`: sorted set of peer ids scored by membership expiry; each instance refreshes
  the scores of its own sockets, so the members of a crashed instance expire by themselves.
- `names:{room}`: hash of peer id -> display name.
Join, leave, heartbeat and send run as Lua scripts, so capacity holds across instances. Expiry
is measured on Redis's clock (`TIME`), so instances whose clocks disagree never expire each
other's members; scripts that write after `TIME` need Redis 5 or later.
Relay goes over the pub/sub channel `relay:{room}`, to which an instance subscribes while it
holds a socket in the room.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import redis.asyncio as redis
from redis.exceptions import RedisError

from signaling.broker import Broker, BrokerUnavailable, Deliver, NoSuchRoom, RoomFull
from signaling.protocol import Peer, PeerLeft, encode

log = logging.getLogger("clov.redis")

MAX_CONNECTIONS = 64

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

_SEND = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return redis.call('PUBLISH', KEYS[2], ARGV[2])
end
return -1
"""


def _key(kind: str, room: str) -> str:
    return f"clov:{kind}:{room}"


class RedisBroker(Broker):
    """Membership and relay through Redis; see the module docstring for the key layout."""

    def __init__(self, url: str, member_ttl: float = 30.0) -> None:
        self.member_ttl = member_ttl
        # A blocking pool: under a burst, commands wait for a free connection instead of
        # failing at once (redis-py's default pool raises "Too many connections").
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=5,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._occupancy = self._redis.register_script(_OCCUPANCY)
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._heartbeat = self._redis.register_script(_HEARTBEAT)
        self._send = self._redis.register_script(_SEND)
        # The instance channel keeps the pub/sub connection open while no room is subscribed.
        self._instance_channel = "clov:instance:" + secrets.token_hex(8)
        self._local_rooms: dict[str, int] = {}
        self._pubsub: redis.client.PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver) -> None:
        await super().start(deliver)
        self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()

    async def ping(self) -> None:
        try:
            await asyncio.wait_for(self._redis.ping(), 2)
        except (TimeoutError, RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def create_room(self, room: str, ttl: int) -> None:
        await self._call(self._redis.set(_key("room", room), 1, ex=ttl))

    async def occupancy(self, room: str) -> int | None:
        keys = [_key("room", room), _key("members", room)]
        exists, count = await self._call(self._occupancy(keys=keys))
        return count if exists or count else None

    async def join(self, room: str, peer: Peer, capacity: int, conn: str) -> tuple[list[Peer], bool]:
        keys = [_key("members", room), _key("names", room), _key("room", room)]
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
            keys = [_key("members", room), _key("names", room)]
            return bool(await self._call(self._leave(keys=keys, args=[peer, conn])))
        finally:
            await self._unsubscribe(room)

    async def send(self, room: str, to: str, text: str) -> bool:
        keys = [_key("members", room), _key("relay", room)]
        return await self._call(self._send(keys=keys, args=[to, f"{to}\n\n{text}"])) >= 0

    async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
        await self._call(self._redis.publish(_key("relay", room), f"\n{exclude or ''}\n{text}"))

    async def heartbeat(self, local: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
        lost: list[tuple[str, str]] = []
        for room, peers in local.items():
            keys = [_key("members", room), _key("names", room)]
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

    async def _call(self, awaitable):  # type: ignore[no-untyped-def]
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def _subscribe(self, room: str) -> None:
        count = self._local_rooms.get(room, 0)
        self._local_rooms[room] = count + 1
        if count == 0 and self._pubsub is not None:
            await self._call(self._pubsub.subscribe(_key("relay", room)))

    async def _unsubscribe(self, room: str) -> None:
        count = self._local_rooms.get(room, 0) - 1
        if count > 0:
            self._local_rooms[room] = count
            return
        self._local_rooms.pop(room, None)
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(_key("relay", room))
            except (RedisError, OSError):
                pass  # the listener resubscribes from _local_rooms after a reconnect

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                if self._pubsub is None:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    channels = [_key("relay", room) for room in self._local_rooms]
                    await pubsub.subscribe(self._instance_channel, *channels)
                    self._pubsub = pubsub
                    log.info("relay subscribed", extra={"rooms": len(channels)})
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
                if message is not None and message["type"] == "message":
                    await self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("relay connection lost", extra={"error": str(exc)})
                if self._pubsub is not None:
                    pubsub, self._pubsub = self._pubsub, None
                    await asyncio.gather(pubsub.aclose(), return_exceptions=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("relay dispatch failed")

    async def _dispatch(self, channel: str, data: str) -> None:
        room = channel[len("clov:relay:"):]
        to, exclude, text = data.split("\n", 2)
        await self._deliver(room, to or None, exclude or None, text)
