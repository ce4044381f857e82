"""Pages from other origins: CORS for the HTTP API and the Origin check on signaling sockets
(CLOV_ALLOWED_ORIGINS), over real HTTP and WebSockets."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from signaling.origins import is_own, parse_origin
from tests.client import create_room
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.anyio

STATIC_HOST = "https://booth.example.org"
ELSEWHERE = "https://elsewhere.example"


@pytest.fixture
def listing(start_server):  # type: ignore[no-untyped-def]
    """A server that lists the static host (and another origin), with its metrics."""
    return start_server(CLOV_ALLOWED_ORIGINS=f"{STATIC_HOST}/, http://127.0.0.1:9", CLOV_METRICS_PORT=str(free_port()))


async def joins(server, origin: str | None) -> bool:  # type: ignore[no-untyped-def]
    """Whether a socket sent with this Origin (None: none) is welcomed; False when refused."""
    room = create_room(server.http)
    try:
        async with websockets.connect(f"{server.ws}/ws/{room['room']}", origin=origin) as ws:
            await ws.send(json.dumps({"type": "join", "token": room["token"], "name": "Ana"}))
            return json.loads(await ws.recv())["type"] == "welcome"
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


async def test_sockets_from_listed_origins_own_pages_and_programs_join(listing) -> None:  # type: ignore[no-untyped-def]
    assert await joins(listing, STATIC_HOST)
    assert await joins(listing, None)  # no browser page: a program
    assert await joins(listing, f"http://127.0.0.1:{listing.port}")  # the server's own page


async def test_sockets_from_other_pages_are_refused_before_the_handshake(listing) -> None:  # type: ignore[no-untyped-def]
    origins = (ELSEWHERE, "null", "https://booth.example.org.evil.example", "http://127.0.0.1:10")
    for origin in origins:
        assert not await joins(listing, origin), origin
    records = [json.loads(line) for line in listing.logs().splitlines() if line.startswith("{")]
    refused = [r for r in records if r.get("msg", "").startswith("socket refused")]
    assert {r["origin"] for r in refused} == set(origins)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{listing.env['CLOV_METRICS_PORT']}/metrics")).text
    assert f'clov_refusals_total{{code="1008"}} {len(origins)}.0' in metrics


async def test_without_the_option_only_own_pages_and_programs_join(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    assert await joins(server, f"http://127.0.0.1:{server.port}")
    assert await joins(server, None)
    assert not await joins(server, STATIC_HOST)


def preflight(server, origin: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.options(f"{server.http}/api/rooms/SomeRoom1234/backgrounds", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_cors_answers_the_listed_origins_only(listing) -> None:  # type: ignore[no-untyped-def]
    server = listing
    allowed = preflight(server, STATIC_HOST)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == STATIC_HOST
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")}
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = preflight(server, ELSEWHERE)
    assert refused.status_code >= 400 and "access-control-allow-origin" not in refused.headers

    room = create_room(server.http)
    info = httpx.get(f"{server.http}/api/rooms/{room['room']}", headers={
        "Origin": STATIC_HOST, "Authorization": f"Bearer {room['token']}"})
    assert info.status_code == 200 and info.headers["access-control-allow-origin"] == STATIC_HOST
    assert "retry-after" in info.headers["access-control-expose-headers"].lower()
    other = httpx.post(f"{server.http}/api/rooms", headers={"Origin": ELSEWHERE})
    assert "access-control-allow-origin" not in other.headers


def test_without_the_option_no_cors_at_all(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    assert "access-control-allow-origin" not in preflight(server, STATIC_HOST).headers


def test_origins_are_normalised_and_checked() -> None:
    assert parse_origin("HTTPS://Booth.Example.org:443/") == "https://booth.example.org"
    assert parse_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in ("booth.example.org", "ftp://booth.example.org", "https://booth.example.org/app",
                "https://booth.example.org?x=1", "https://*.example.org", "https://booth.example.org:99999"):
        with pytest.raises(ValueError, match="not an origin like"):
            parse_origin(bad)
    # Own pages: the host (and port) reached; either scheme, since TLS may end at a proxy.
    assert is_own("https://booth.example.org", "booth.example.org")
    assert is_own("https://booth.example.org", "booth.example.org:443")
    assert is_own("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not is_own("http://127.0.0.1:8001", "127.0.0.1:8000")
    assert not is_own("https://booth.example.org.evil.example", "booth.example.org")


def test_a_bad_allowed_origin_stops_the_server_with_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--allowed-origins", "https://booth.example.org/app"],
        capture_output=True, text=True, cwd=ROOT, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert "invalid option" in result.stderr and "https://booth.example.org/app" in result.stderr
