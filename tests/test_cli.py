"""`clov serve`: its help, TLS with a development certificate, and its logs."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import tomllib

import httpx
import pytest
import uvicorn
import websockets

from signaling.config import OPTIONS
from tests.client import Peer, create_room
from tests.conftest import ROOT

pytestmark = pytest.mark.anyio


def test_help_documents_every_option_with_its_variable_and_default() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--help"], capture_output=True, text=True, cwd=ROOT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=False,
    )
    assert result.returncode == 0
    for opt in OPTIONS:
        assert opt.flag in result.stdout and opt.env in result.stdout
        if opt.name != "static_root":
            assert f"default {opt.default!r}" in result.stdout


def test_bad_option_value_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--port", "eighty"], capture_output=True, text=True,
        cwd=ROOT, check=False,
    )
    assert result.returncode == 2
    assert "invalid option" in result.stderr


@pytest.mark.parametrize(
    "env, words",
    [
        ({"CLOV_ICE_TRANSPORT_POLICY": "relay"}, "needs a TURN server"),
        ({"CLOV_ICE_TRANSPORT_POLICY": "turn-only", "CLOV_TURN_URLS": "turn:x"}, "not one of: all, relay"),
        ({"CLOV_TURN_TTL": "0"}, "not a positive number"),
    ],
    ids=["relay-without-turn", "unknown-policy", "no-ttl"],
)
def test_ice_options_that_cannot_work_are_refused(env: dict[str, str], words: str) -> None:
    command = [sys.executable, "-m", "signaling.cli", "serve", "--port", "0"]
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, timeout=15,
    )
    assert result.returncode == 2
    assert words in result.stderr


async def test_dev_cert_serves_https_and_wss(start_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.staticroot import make_static_root

    server = start_server(CLOV_DEV_CERT="1", CLOV_STATIC_ROOT=str(make_static_root(tmp_path)))
    https = f"https://127.0.0.1:{server.port}"
    cert = tmp_path / ".clov" / "dev-cert.pem"
    context = ssl.create_default_context(cafile=str(cert))
    response = httpx.post(https + "/api/rooms", verify=context)
    assert response.status_code == 201
    assert response.headers["strict-transport-security"].startswith("max-age=")
    room = response.json()
    async with websockets.connect(f"wss://localhost:{server.port}/ws/{room['room']}", ssl=context) as ws:
        await ws.send(json.dumps({"type": "join", "token": room["token"], "name": "Ana"}))
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_logs_are_json_and_never_contain_a_token(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"])
    httpx.get(f"{server.http}/api/rooms/{room['room']}", headers={"Authorization": f"Bearer {room['token']}"})
    bad = await Peer.connect(server.ws, room["room"])
    await bad.send(json.dumps({"type": "join", "token": room["token"] + "x", "name": "Eve"}))
    await bad.closed_with()
    await ana.close()
    server.stop()
    lines = [line for line in server.logs().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert any(r.get("msg") == "peer joined" and r.get("room") == room["room"] for r in records)
    assert any(r.get("msg") == "refused" and r.get("code") == "invalid_token" for r in records)
    signature = room["token"].split(".")[-1]
    assert signature not in server.logs()


@pytest.mark.parametrize("secret", ["", "x" * 31], ids=["none", "31-bytes"])
def test_redis_without_a_shared_secret_does_not_start(secret: str) -> None:
    # Each instance would sign invites with its own random secret: links from one would not open on another.
    env = {"PATH": "/usr/bin:/bin", "CLOV_REDIS_URL": "redis://127.0.0.1:1/0", "CLOV_SECRET": secret}
    command = [sys.executable, "-m", "signaling.cli", "serve", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=15, check=False)
    assert result.returncode == 2
    assert "CLOV_SECRET" in result.stderr and "32 bytes" in result.stderr


# What `clov serve` relies on, and the uvicorn release that brought it.
UVICORN_NEEDS = {
    "ws='websockets-sansio'": "0.35.0",
    "ws_ping_interval/ws_ping_timeout on websockets-sansio (dead sockets are found)": "0.44.0",
    "write flow control on websockets-sansio (a slow reader fills its outbox, not our memory)": "0.52.1",
    "forwarded_allow_ips as networks (CLOV_TRUSTED_PROXIES)": "0.31.0",
    "the websockets-sansio protocol as signaling/wsprotocol.py extends it": "0.54.0",
}


def test_the_uvicorn_floor_covers_what_serve_uses() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [requirement] = [r for r in pyproject["project"]["dependencies"] if r.startswith("uvicorn")]
    floor = requirement.partition(">=")[2].partition(",")[0]

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    for feature, since in UVICORN_NEEDS.items():
        assert version(floor) >= version(since), f"{feature} needs uvicorn>={since}"
    assert version(uvicorn.__version__) >= version(floor)
