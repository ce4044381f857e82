"""Limits per client address behind a reverse proxy: whose X-Forwarded-For is believed, IPv6
clients keyed by /64, and sockets held open without a join."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.client import create_room

pytestmark = pytest.mark.anyio

ONE_ROOM_EACH = {"CLOV_ROOM_CREATE_BURST": "1", "CLOV_ROOM_CREATE_RATE": "0.01"}


def create_as(server, client: str) -> int:  # type: ignore[no-untyped-def]
    """Create a room through a proxy on loopback that says the request came from `client`."""
    return httpx.post(server.http + "/api/rooms", headers={"X-Forwarded-For": client}).status_code


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(start_server) -> None:  # type: ignore[no-untyped-def]
    loopback = start_server(**ONE_ROOM_EACH)  # the default trusts a proxy on this machine
    assert [create_as(loopback, "203.0.113.1"), create_as(loopback, "203.0.113.2")] == [201, 201]
    elsewhere = start_server(**ONE_ROOM_EACH, CLOV_TRUSTED_PROXIES="192.0.2.10")
    assert [create_as(elsewhere, "203.0.113.1"), create_as(elsewhere, "203.0.113.2")] == [201, 429]


async def test_ipv6_clients_are_limited_per_64(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(**ONE_ROOM_EACH)
    statuses = [create_as(server, a) for a in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1")]
    assert statuses == [201, 429, 201]


async def open_as(server, room: str, client: str) -> ClientConnection:  # type: ignore[no-untyped-def]
    return await websockets.connect(f"{server.ws}/ws/{room}", additional_headers={"X-Forwarded-For": client})


async def close_code(ws: ClientConnection, within: float = 0.3) -> int | None:
    """The server's close code, or None when the socket is still open after `within` seconds."""
    try:
        await asyncio.wait_for(ws.recv(), within)
    except websockets.ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        return None
    raise AssertionError("the server spoke before the join")


async def test_sockets_waiting_to_join_are_capped_per_address_and_in_total(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(CLOV_UNJOINED_PER_ADDRESS="2", CLOV_UNJOINED_MAX="3")
    room = create_room(server.http)
    first, second, third = [await open_as(server, room["room"], "198.51.100.1") for _ in range(3)]
    assert await close_code(first) is None and await close_code(second) is None
    assert await close_code(third) == 1013
    other = await open_as(server, room["room"], "198.51.100.2")
    assert await close_code(other) is None
    assert await close_code(await open_as(server, room["room"], "198.51.100.3")) == 1013  # 3 in all
    # A join frees its place.
    await first.send(json.dumps({"type": "join", "token": room["token"], "name": "Ana"}))
    assert json.loads(await first.recv())["type"] == "welcome"
    assert await close_code(await open_as(server, room["room"], "198.51.100.1")) is None
