"""The public contract (docs/protocol.md) over real HTTP and WebSockets, on every broker."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import httpx
import pytest

from signaling.invites import Invites
from tests.client import Peer, create_room
from tests.conftest import SECRET, broker_env

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis", "cluster"])
def server(request: pytest.FixtureRequest, start_server):  # type: ignore[no-untyped-def]
    """Here on a Redis Cluster too: a room's scripts and relay must work within one slot."""
    return start_server(**broker_env(request, request.param))


async def test_create_room(server) -> None:
    body = create_room(server.http)
    assert set(body) == {"room", "token", "expires_at", "capacity"}
    assert body["capacity"] == 6
    assert abs(body["expires_at"] - (time.time() + 86400)) < 60


async def test_room_lookup_counts_occupancy(server) -> None:
    room = create_room(server.http)
    auth = {"Authorization": f"Bearer {room['token']}"}
    url = f"{server.http}/api/rooms/{room['room']}"
    assert httpx.get(url, headers=auth).json() == {"room": room["room"], "capacity": 6, "occupancy": 0}
    peers = [await Peer.join(server.ws, room["room"], room["token"]) for _ in range(2)]
    assert httpx.get(url, headers=auth).json()["occupancy"] == 2
    await peers[0].close()
    await peers[1].receive_until("peer-left")
    assert httpx.get(url, headers=auth).json()["occupancy"] == 1


async def test_room_lookup_refuses_bad_tokens(server) -> None:
    room = create_room(server.http)
    other = create_room(server.http)
    url = f"{server.http}/api/rooms/{room['room']}"
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {room['token']}x"},
        {"Authorization": f"Bearer {other['token']}"},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "invalid_token"


async def test_room_lookup_unknown_room_is_404(server) -> None:
    token, _ = Invites(SECRET, 3600).issue("NeverCreated1")
    response = httpx.get(f"{server.http}/api/rooms/NeverCreated1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.json()["error"] == "no_room"


async def test_healthz(server) -> None:
    response = httpx.get(server.http + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_join_welcome_presence_and_relay(server) -> None:
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    assert ana.welcome == {
        "type": "welcome", "peer": ana.id, "peers": [], "ice_servers": [], "resume": ana.welcome["resume"],
        "ice_transport_policy": "all",
    }
    assert len(ana.welcome["resume"]) > 20

    bo = await Peer.join(server.ws, room["room"], room["token"], "  보라 ")
    assert bo.welcome["peers"] == [{"id": ana.id, "name": "Ana"}]
    assert await ana.receive() == {"type": "peer-joined", "peer": {"id": bo.id, "name": "보라"}}

    await bo.send({"type": "signal", "to": ana.id, "data": {"sdp": "offer", "n": [1, 2]}})
    assert await ana.receive() == {"type": "signal", "from": bo.id, "data": {"sdp": "offer", "n": [1, 2]}}

    await ana.send({"type": "signal", "to": bo.id, "data": {"candidate": "c"}})
    assert await bo.receive() == {"type": "signal", "from": ana.id, "data": {"candidate": "c"}}

    await bo.close()
    assert await ana.receive() == {"type": "peer-left", "peer": bo.id}
    await ana.close()


async def test_from_is_stamped_by_the_server(server) -> None:
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"])
    bo = await Peer.join(server.ws, room["room"], room["token"])
    await ana.receive_until("peer-joined")
    await bo.send({"type": "signal", "to": ana.id, "from": ana.id, "data": {}})
    assert (await ana.receive())["from"] == bo.id


async def test_welcome_comes_first_for_a_busy_room(server) -> None:
    room = create_room(server.http)
    peers = [await Peer.join(server.ws, room["room"], room["token"]) for _ in range(3)]

    async def chatter() -> None:
        for i in range(200):
            await peers[0].send({"type": "signal", "to": peers[1].id, "data": {"i": i}})
            await asyncio.sleep(0)

    task = asyncio.create_task(chatter())
    for _ in range(3):
        late = await Peer.connect(server.ws, room["room"])
        first = await late.request({"type": "join", "token": room["token"], "name": "late"})
        assert first["type"] == "welcome"
        await late.close()
    await task


async def test_seventh_join_is_room_full(server) -> None:
    room = create_room(server.http)
    peers = [await Peer.join(server.ws, room["room"], room["token"], f"p{i}") for i in range(6)]
    seventh = await Peer.connect(server.ws, room["room"])
    reply = await seventh.request({"type": "join", "token": room["token"], "name": "seven"})
    assert reply["type"] == "error" and reply["code"] == "room_full"
    assert await seventh.closed_with() == 4409
    await peers[0].close()
    await peers[1].receive_until("peer-left")
    again = await Peer.join(server.ws, room["room"], room["token"], "seven")
    assert len(again.welcome["peers"]) == 5


async def test_ten_simultaneous_joins_admit_exactly_six(server) -> None:
    room = create_room(server.http)
    sockets = await asyncio.gather(*(Peer.connect(server.ws, room["room"]) for _ in range(10)))
    replies = await asyncio.gather(
        *(s.request({"type": "join", "token": room["token"], "name": f"n{i}"}) for i, s in enumerate(sockets))
    )
    kinds = sorted(r["type"] if r["type"] == "welcome" else r["code"] for r in replies)
    assert kinds == ["room_full"] * 4 + ["welcome"] * 6


async def test_ice_servers_and_turn_credentials(start_server) -> None:
    server = start_server(
        CLOV_STUN_URLS="stun:stun.example.org:3478",
        CLOV_TURN_URLS="turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
        CLOV_TURN_SECRET="coturn-secret",
        CLOV_TURN_TTL="600",
        CLOV_ICE_TRANSPORT_POLICY="relay",
    )
    room = create_room(server.http)
    peer = await Peer.join(server.ws, room["room"], room["token"])
    assert peer.welcome["ice_transport_policy"] == "relay"
    stun, turn = peer.welcome["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.org:3478"]}
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
    expiry, user = turn["username"].split(":")
    assert user == peer.id and abs(int(expiry) - (time.time() + 600)) < 30
    expected = base64.b64encode(hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest())
    assert turn["credential"] == expected.decode()


async def test_a_member_of_a_long_booth_gets_fresh_turn_credentials(start_server) -> None:
    # Credentials of 4 s and a heartbeat every second: renewed after 2 s, then again and again.
    server = start_server(
        CLOV_TURN_URLS="turn:turn.example.org:3478", CLOV_TURN_SECRET="coturn-secret",
        CLOV_TURN_TTL="4", CLOV_MEMBER_TTL="3",
    )
    room = create_room(server.http)
    peer = await Peer.join(server.ws, room["room"], room["token"])
    first = int(peer.welcome["ice_servers"][0]["username"].split(":")[0])
    renewed = await peer.receive_until("ice-servers", timeout=6)
    (turn,) = renewed["ice_servers"]
    expiry, user = turn["username"].split(":")
    assert user == peer.id and int(expiry) > first
    expected = base64.b64encode(hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest())
    assert turn["credential"] == expected.decode()
    assert (await peer.receive_until("ice-servers", timeout=6))["type"] == "ice-servers"


async def test_rejoin_keeps_the_peer_id_without_presence_noise(server) -> None:
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(server.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    # Bo's network drops; the server has not noticed yet when Bo comes back.
    again = await Peer.connect(server.ws, room["room"])
    welcome = await again.request(bo.rejoin_message(room["token"], "Bo"))
    assert welcome["type"] == "welcome" and welcome["peer"] == bo.id
    assert welcome["peers"] == [{"id": ana.id, "name": "Ana"}]
    assert await bo.closed_with() == 1012
    await ana.send({"type": "signal", "to": bo.id, "data": {"still": "here"}})
    assert await again.receive() == {"type": "signal", "from": ana.id, "data": {"still": "here"}}
    with pytest.raises(asyncio.TimeoutError):
        await ana.receive(timeout=0.5)  # neither peer-left nor peer-joined for Bo


async def test_rejoin_needs_no_free_seat(server) -> None:
    room = create_room(server.http)
    peers = [await Peer.join(server.ws, room["room"], room["token"], f"p{i}") for i in range(6)]
    last = peers[-1]
    again = await Peer.connect(server.ws, room["room"])
    welcome = await again.request(last.rejoin_message(room["token"], "p5"))
    assert welcome["type"] == "welcome" and len(welcome["peers"]) == 5


async def test_rejoin_with_a_forged_proof_is_refused(server) -> None:
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    thief = await Peer.connect(server.ws, room["room"])
    reply = await thief.request(
        {"type": "join", "token": room["token"], "name": "Ana", "peer": ana.id, "resume": "forged"}
    )
    assert reply["code"] == "invalid_token"
    assert await thief.closed_with() == 4401
    assert ana.connection.close_code is None
