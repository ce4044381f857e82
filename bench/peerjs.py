"""The PeerJS server under bench/signaling.py's load, for `bench/signaling.py --peer peerjs`.

PeerJS (npm `peer`) is the signaling server people pick for browser WebRTC. It is bench-only: it is
installed into a cache folder (CACHE), never into the project's node_modules, and started with its
own CLI on a free loopback port. The simulated peers speak its dialect, as the installed
dist/index.cjs has it: a socket opens on `/peerjs?key=peerjs&id=ID&token=TOKEN` and is in once
the server answers `{"type": "OPEN"}`; `{"type": "CANDIDATE", "dst": ID, "payload": ...}` reaches
ID re-encoded with `src` added; a client that sends no `{"type": "HEARTBEAT"}` for `alive_timeout`
(60 s by the CLI's default) is dropped. Everything else (rooms of six, who sends to whom, the
pacing, the payload, the timing and the /proc figures) is bench/signaling.py's own, so both
servers carry the same load and are measured the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.signaling import (
    JOIN_CONCURRENCY,
    ROOM_SIZE,
    JoinReport,
    Recorder,
    Row,
    SimPeer,
    _close_all,
    _free_port,
    _read,
    _recv,
    _relay,
    _stop,
    wait_for_answer,
)

VERSION = "1.0.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clov-bench" / "peerjs"
NPM_PREFIX = CACHE / "npm"
PACKAGE = NPM_PREFIX / "node_modules" / "peer"
KEY = "peerjs"  # the server's default key
# CLOV's server pings every socket every 10 s (CLOV_PING_INTERVAL); a heartbeat as often keeps
# the keep-alive work of both servers the same, well inside PeerJS's 60 s alive_timeout.
HEARTBEAT_S = 10.0
HEARTBEAT = json.dumps({"type": "HEARTBEAT"})


def install() -> None:
    """Install `peer` at VERSION into CACHE, unless it is there."""
    manifest = PACKAGE / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8"))["version"] == VERSION:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("--peer peerjs needs npm (and node) to install and run the PeerJS server")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    print(f"installing peer@{VERSION} from npm into {NPM_PREFIX}", flush=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(NPM_PREFIX), "--save-exact", "--no-audit", "--no-fund",
         f"peer@{VERSION}"],
        stdout=subprocess.DEVNULL, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm install peer@{VERSION} failed with {done.returncode}")


@contextlib.contextmanager
def peerjs_server(sockets: int, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The PeerJS CLI on a free port, holding `sockets` clients, its stderr to `log`; yields the
    process (node itself, so /proc reads the server) and its base URL."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("--peer peerjs needs node to run the PeerJS server")
    port = _free_port()
    args = [
        node, str(PACKAGE / "dist" / "bin" / "peerjs.js"), "--host", "127.0.0.1", "--port", str(port),
        "--path", "/", "--key", KEY, "--concurrent_limit", str(sockets),
    ]
    # Its stdout has a line per connect and disconnect and nothing else; errors go to stderr.
    with log.open("wb") as stderr:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_answer(process, f"{base}/", log, "the PeerJS server")  # its API root names the server
        yield process, base
    finally:
        _stop(process)


# ---------------------------------------------------------------------------------------------
# Load generator side: runs in bench/signaling.py's load-generator processes.


class PeerJSRecorder(Recorder):
    """What the receiving sockets of one generator saw, in PeerJS's messages."""

    def on_message(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        kind = message["type"]
        if kind == "CANDIDATE":
            now = time.monotonic_ns()
            self.latencies_ns.append(now - message["payload"]["t"])
            self.received += 1
            self.last_ns = now
        else:  # ERROR, or LEAVE / EXPIRE for a message the server could not deliver
            self.errors[f"{kind}: {message.get('payload') or message.get('src')}"[:120]] += 1


def candidate(to: str, data: dict[str, Any]) -> str:
    """A trickled ICE candidate as a PeerJS client sends it, carrying the same data as CLOV's."""
    return json.dumps({"type": "CANDIDATE", "dst": to, "payload": data}, separators=(",", ":"))  # JSON.stringify's


async def _heartbeat(ws: ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await ws.send(HEARTBEAT)


async def _read_beating(ws: ClientConnection, recorder: Recorder) -> None:
    """Read like bench/signaling.py's peers do, and send the heartbeats meanwhile."""
    beat = asyncio.create_task(_heartbeat(ws))
    try:
        await _read(ws, recorder)
    finally:
        beat.cancel()


async def _join(
    ws_base: str, peer_id: str, limit: asyncio.Semaphore, recorder: Recorder, join_ns: list[int],
    failures: Counter[str],
) -> SimPeer | None:
    async with limit:
        start = time.monotonic_ns()
        try:
            # PeerJS clients make up their token; any string will do.
            ws = await connect(
                f"{ws_base}/peerjs?key={KEY}&id={peer_id}&token={uuid.uuid4().hex[:10]}",
                compression=None, proxy=None, ping_interval=None, open_timeout=30, close_timeout=2,
            )
            opened = json.loads(await asyncio.wait_for(ws.recv(), 30))
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            failures[type(exc).__name__] += 1
            return None
        if opened.get("type") != "OPEN":
            failures[f"{opened.get('type')}: {opened.get('payload')}"] += 1
            await ws.close()
            return None
        join_ns.append(time.monotonic_ns() - start)
    return SimPeer(ws, peer_id, asyncio.create_task(_read_beating(ws, recorder)))


async def _join_all(ws_base: str, rooms: int, recorder: Recorder) -> tuple[list[list[SimPeer]], JoinReport]:
    limit = asyncio.Semaphore(JOIN_CONCURRENCY)
    join_ns: list[int] = []
    failures: Counter[str] = Counter()
    # PeerJS has no rooms: a room is six peers that only signal each other. Ids are UUIDs, as
    # the server's GET /peerjs/id hands a client, so they never collide across generators.
    ids = [str(uuid.uuid4()) for _ in range(rooms * ROOM_SIZE)]
    start = time.monotonic()
    peers = await asyncio.gather(*(_join(ws_base, i, limit, recorder, join_ns, failures) for i in ids))
    seconds = time.monotonic() - start
    by_room = [
        [p for p in peers[r * ROOM_SIZE:(r + 1) * ROOM_SIZE] if p is not None] for r in range(rooms)
    ]
    return by_room, JoinReport(sum(len(room) for room in by_room), failures, join_ns, seconds)


async def generate(pipe: Connection, http_base: str, rooms: int, rate: float, seconds: float) -> None:
    """bench/signaling.py's load-generator run, with PeerJS's join, messages and heartbeats."""
    recorder = PeerJSRecorder()
    by_room, joined = await _join_all("ws" + http_base[len("http"):], rooms, recorder)
    pipe.send(joined)
    await _recv(pipe)  # go
    pipe.send(await _relay(by_room, rate, seconds, recorder, encode=candidate))
    await _recv(pipe)  # close
    await _close_all(by_room, recorder)


# ---------------------------------------------------------------------------------------------
# Report.


def print_ratios(rows: list[Row]) -> None:
    """CLOV's figures over PeerJS's, for each CLOV row: under 1 is better for CLOV in latency and
    CPU, over 1 in delivered rate."""
    peer = next(r for r in rows if r.broker == "peerjs")
    print("\nCLOV/PeerJS, same load, one after the other (CPU per message: server CPU over delivered/s):")
    for clov in (r for r in rows if r is not peer):
        p99 = (clov.relay_ms[1], peer.relay_ms[1])
        cpu = (_ms_per_message(clov), _ms_per_message(peer))
        rate = (clov.delivered_per_s, peer.delivered_per_s)
        print(
            f"  {clov.broker:<7} relay p99 {p99[0]:.1f}/{p99[1]:.1f} ms = {_ratio(*p99)}; "
            f"server CPU per message {cpu[0]:.4f}/{cpu[1]:.4f} ms = {_ratio(*cpu)}; "
            f"delivered {rate[0]:,.0f}/{rate[1]:,.0f} msg/s = {_ratio(*rate)}"
        )


def _ratio(clov: float, peer: float) -> str:
    return f"{clov / peer:.2f}x" if peer > 0 else "-"


def _ms_per_message(row: Row) -> float:
    return row.server_cpu / row.delivered_per_s * 1e3 if row.delivered_per_s > 0 else math.nan
