"""Signaling benchmark: simulated peers in rooms of six join a real `clov serve` and exchange signals.

Run from the repository root with the project's virtual environment:

    .venv/bin/python bench/signaling.py                     # 500 rooms x 6, 5,000 msg/s, 20 s, both brokers
    .venv/bin/python bench/signaling.py --rooms 20 --rate 500 --seconds 5 --broker memory
    .venv/bin/python bench/signaling.py --loadgen-procs 2   # split the simulated peers over 2 processes
    .venv/bin/python bench/signaling.py --broker memory --peer peerjs  # then PeerJS, same load; ratios
    .venv/bin/python bench/signaling.py --broker redis-2    # two instances on one Redis
    .venv/bin/python bench/signaling.py --broker cluster-2  # two instances on a 3-node Redis Cluster

With `--peer peerjs` the same load then runs against the PeerJS server (npm `peer`, installed into
a cache folder on first use; needs node and npm), measured the same way: see bench/peerjs.py.

It starts the server itself (and, for the Redis brokers, a throwaway `redis-server` on a free port,
or three in cluster mode), then one or more load-generator processes. `redis-2` and `cluster-2`
start two `clov serve` instances on the same Redis and put half of each room on each (a room's
sockets alternate between them); every signal then goes to a peer on the other instance, so each
one crosses Redis (membership check and publish in one script, then the receiver's instance). Each load generator creates its share of the rooms over
`POST /api/rooms`, opens six sockets per room (JOIN_CONCURRENCY in flight at once) and times
connect + join -> welcome. On the go signal, every generator sends `signal` messages at its share
of `--rate` from random peers to random other peers in the same room, paced by a fixed-interval
clock, and each receiver times the relay from the send timestamp carried in `data`. A room lives
entirely in one generator, so sender and receiver read the same clock (CLOCK_MONOTONIC, which on
Linux is system-wide anyway).

Printed per broker: sockets held, join and relay latency p50/p99, messages sent and delivered per
second, messages lost, server (and redis-server) RSS when idle, with all sockets held, and at the
end (summed over instances and Redis nodes), and CPU use (per instance; Redis nodes summed). The load generators share the machine's cores with the server, so their CPU use
is shown too. Exit status 0 whatever the figures; non-zero only when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parent.parent
ROOM_SIZE = 6
TICK_S = 0.005
# Joins in flight at once: a crowd arriving, not 3,000 sockets in one instant, so join latency
# shows the server's work per join rather than the queue in front of it.
JOIN_CONCURRENCY = 20
CREATE_CONCURRENCY = 16
DRAIN_TIMEOUT_S = 5.0
SERVER_START_TIMEOUT_S = 20.0
TARGET_SOCKETS = 3000
TARGET_RATE = 5000
TARGET_P99_MS = 50.0
# Trickled ICE candidates are the bulk of real signaling traffic; this is one of typical size.
CANDIDATE = (
    "candidate:842163049 1 udp 1677729535 203.0.113.7 51234 typ srflx raddr 10.0.0.2 "
    "rport 51234 generation 0 ufrag EsAw network-id 1 network-cost 10"
)


# ---------------------------------------------------------------------------------------------
# Figures passed from the load generators to the parent.


@dataclass
class JoinReport:
    joined: int
    failures: Counter[str]
    latencies_ns: list[int]
    seconds: float


@dataclass
class RelayReport:
    sent: int
    received: int
    errors: Counter[str]
    disconnects: Counter[str]
    latencies_ns: list[int]
    send_seconds: float
    window_seconds: float
    cpu_seconds: float


# How many `clov serve` instances a run with each CLOV broker starts.
INSTANCES = {"memory": 1, "redis": 1, "redis-2": 2, "cluster-2": 2}


@dataclass
class Row:
    broker: str
    procs: int
    rooms: int
    rate: int
    sockets: int
    join_failures: Counter[str]
    join_ms: tuple[float, float]
    relay_ms: tuple[float, float]
    sent_per_s: float
    delivered_per_s: float
    lost: int
    errors: Counter[str]
    disconnects: Counter[str]
    server_rss_mb: tuple[float, float, float]
    redis_rss_mb: float | None
    server_cpu: float  # all instances together
    instance_cpu: tuple[float, ...]
    redis_cpu: float | None
    loadgen_cpu: float
    other_cpu: float
    server_log: Counter[str] = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------------
# Load generator: runs in its own process.


@dataclass
class SimPeer:
    ws: ClientConnection
    id: str
    reader: asyncio.Task[None]
    instance: int = 0  # which server it joined


class Recorder:
    """What the receiving sockets of one generator saw."""

    def __init__(self) -> None:
        self.latencies_ns: list[int] = []
        self.received = 0
        self.errors: Counter[str] = Counter()
        self.disconnects: Counter[str] = Counter()
        self.last_ns = 0
        self.closing = False

    def on_message(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        kind = message["type"]
        if kind == "signal":
            now = time.monotonic_ns()
            self.latencies_ns.append(now - message["data"]["t"])
            self.received += 1
            self.last_ns = now
        elif kind == "error":
            self.errors[f"{message['code']}: {message['message']}"] += 1


async def _read(ws: ClientConnection, recorder: Recorder) -> None:
    try:
        async for raw in ws:
            recorder.on_message(raw)
    except websockets.ConnectionClosed:
        pass
    finally:
        if not recorder.closing:
            recorder.disconnects[f"close {ws.close_code} {ws.close_reason}".strip()] += 1


async def _create_rooms(base: str, count: int) -> list[tuple[str, str]]:
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:

        async def create() -> tuple[str, str]:
            async with limit:
                response = await client.post("/api/rooms")
            response.raise_for_status()
            body = response.json()
            return body["room"], body["token"]

        return await asyncio.gather(*(create() for _ in range(count)))


async def _join(
    ws_bases: list[str], instance: int, room: str, token: str, name: str, limit: asyncio.Semaphore,
    recorder: Recorder, join_ns: list[int], failures: Counter[str],
) -> SimPeer | None:
    async with limit:
        start = time.monotonic_ns()
        try:
            ws = await connect(
                f"{ws_bases[instance]}/ws/{room}", compression=None, proxy=None, ping_interval=None,
                open_timeout=30, close_timeout=2,
            )
            await ws.send(json.dumps({"type": "join", "token": token, "name": name}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            failures[type(exc).__name__] += 1
            return None
        if welcome.get("type") != "welcome":
            failures[welcome.get("code", "unexpected reply")] += 1
            await ws.close()
            return None
        join_ns.append(time.monotonic_ns() - start)
    # Reading starts only after the welcome, as a real client's would.
    return SimPeer(ws, welcome["peer"], asyncio.create_task(_read(ws, recorder)), instance)


async def _join_all(
    http_base: str, rooms: int, recorder: Recorder
) -> tuple[list[list[SimPeer]], JoinReport]:
    """`http_base`: the servers' base URLs, space-separated. Rooms are made on the first; a room's
    sockets alternate between them."""
    http_bases = http_base.split()
    invites = await _create_rooms(http_bases[0], rooms)
    ws_bases = ["ws" + base[len("http"):] for base in http_bases]
    limit = asyncio.Semaphore(JOIN_CONCURRENCY)
    join_ns: list[int] = []
    failures: Counter[str] = Counter()
    start = time.monotonic()
    joins = [
        _join(ws_bases, i % len(ws_bases), room, token, f"peer {i}", limit, recorder, join_ns, failures)
        for room, token in invites
        for i in range(ROOM_SIZE)
    ]
    peers = await asyncio.gather(*joins)
    seconds = time.monotonic() - start
    by_room = [
        [p for p in peers[r * ROOM_SIZE:(r + 1) * ROOM_SIZE] if p is not None] for r in range(rooms)
    ]
    joined = sum(len(room) for room in by_room)
    return by_room, JoinReport(joined, failures, join_ns, seconds)


def _signal(to: str, data: dict[str, Any]) -> str:
    """A signal as the browser client writes it (signaling/protocol.py's encode: compact JSON)."""
    return json.dumps({"type": "signal", "to": to, "data": data}, ensure_ascii=False, separators=(",", ":"))


async def _relay(
    rooms: list[list[SimPeer]], rate: float, seconds: float, recorder: Recorder,
    encode: Callable[[str, dict[str, Any]], str] = _signal,
) -> RelayReport:
    senders = []
    for room in rooms:
        # With several servers, only to peers on another one: the path through the broker is measured.
        across = len({q.instance for q in room}) > 1
        for p in room:
            others = [q.id for q in room if q is not p and not (across and q.instance == p.instance)]
            if others:
                senders.append((p, others))
    rng = random.Random()
    sent = send_failures = ticks = 0
    cpu_start = time.process_time()
    start_ns = time.monotonic_ns()
    start = time.monotonic()
    # Open loop: each tick sends whatever the clock says is due, so a slow tick is caught up
    # rather than silently lowering the offered rate.
    while (elapsed := time.monotonic() - start) < seconds:
        for _ in range(int(rate * elapsed) - sent - send_failures):
            peer, others = rng.choice(senders)
            data = {"t": time.monotonic_ns(), "candidate": CANDIDATE}
            try:
                await peer.ws.send(encode(rng.choice(others), data))
            except websockets.ConnectionClosed:
                send_failures += 1
                recorder.errors["send failed: socket closed"] += 1
            else:
                sent += 1
        ticks += 1
        await asyncio.sleep(max(0.0, start + ticks * TICK_S - time.monotonic()))
    send_seconds = time.monotonic() - start
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while recorder.received < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    window = max(recorder.last_ns - start_ns, 1) / 1e9
    return RelayReport(
        sent, recorder.received, recorder.errors, recorder.disconnects,
        recorder.latencies_ns, send_seconds, window, time.process_time() - cpu_start,
    )


async def _close_all(rooms: list[list[SimPeer]], recorder: Recorder) -> None:
    recorder.closing = True
    peers = [p for room in rooms for p in room]
    if not peers:
        return
    await asyncio.wait([asyncio.create_task(p.ws.close()) for p in peers], timeout=10)
    for peer in peers:
        peer.reader.cancel()


async def _recv(pipe: Connection) -> object:
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


async def _generate(pipe: Connection, http_base: str, rooms: int, rate: float, seconds: float) -> None:
    recorder = Recorder()
    by_room, joined = await _join_all(http_base, rooms, recorder)
    pipe.send(joined)
    await _recv(pipe)  # go
    pipe.send(await _relay(by_room, rate, seconds, recorder))
    await _recv(pipe)  # close
    await _close_all(by_room, recorder)


Generate = Callable[[Connection, str, int, float, float], Awaitable[None]]


def loadgen_main(
    pipe: Connection, http_base: str, rooms: int, rate: float, seconds: float, generate: Generate = _generate
) -> None:
    """Entry point of one load-generator process: drives `rooms` rooms at `rate` messages/s;
    `generate` speaks the server's dialect (bench/peerjs.py has PeerJS's)."""
    raise_nofile()
    try:
        import uvloop
    except ImportError:  # the server uses uvloop when present; match it, but do not require it
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(generate(pipe, http_base, rooms, rate, seconds))


# ---------------------------------------------------------------------------------------------
# Parent: starts redis-server, the server and the generators, and reads their /proc figures.


def raise_nofile() -> None:
    """Lift the open-files soft limit to the hard limit; children inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc."""
    # Fields after the command name, which may itself hold spaces; utime and stime are 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used, summed over cores, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_cluster() -> Iterator[tuple[list[subprocess.Popen[bytes]], int]]:
    """A throwaway Redis Cluster: three primaries with no persistence on free ports; yields the
    processes and one node's port."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        ports = [_free_port() for _ in range(3)]
        processes = []
        for port in ports:
            args = [binary, "--port", str(port), "--cluster-port", str(_free_port()), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf", "--dir", tmp,
                    "--save", "", "--appendonly", "no"]
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(_stop, process)
            processes.append(process)
        for process, port in zip(processes, ports):
            _wait_for_redis(process, port)
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        nodes = [f"127.0.0.1:{port}" for port in ports]
        subprocess.run([cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not all("cluster_state:ok" in _redis_cli(cli, port, "CLUSTER", "INFO") for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        yield processes, ports[0]


def _redis_cli(cli: str, port: int, *command: str) -> str:
    return subprocess.run([cli, "-p", str(port), *command], check=True, capture_output=True, text=True, timeout=10).stdout


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A throwaway redis-server with no persistence on a free port."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_redis(process, port)
        yield process, port
    finally:
        _stop(process)


def _wait_for_redis(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise RuntimeError("redis-server did not answer PING")


def _server_env(redis_url: str, rate: float, rooms: int) -> dict[str, str]:
    peers = rooms * ROOM_SIZE
    # Random target choice makes per-peer rates bursty; leave the per-connection limit far above
    # the mean so the benchmark measures the relay, not the rate limiter.
    per_peer = max(50, int(20 * rate / max(peers, 1)))
    return {
        **os.environ,
        "CLOV_SECRET": secrets.token_urlsafe(32),
        "CLOV_REDIS_URL": redis_url,
        "CLOV_ROOM_CREATE_RATE": str(max(1000, rooms)),
        "CLOV_ROOM_CREATE_BURST": str(max(1000, rooms)),
        "CLOV_MESSAGE_RATE": str(per_peer),
        "CLOV_MESSAGE_BURST": str(per_peer * 4),
    }


@contextlib.contextmanager
def clov_server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`clov serve` on a free port, its stderr to `log`; yields the process and its base URL."""
    clov = Path(sys.executable).with_name("clov")
    if not clov.exists():
        raise RuntimeError(f"{clov} not found: run this with the project's virtual environment")
    port = _free_port()
    args = [str(clov), "serve", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_answer(process, f"{base}/healthz", log, "clov serve")
        yield process, base
    finally:
        _stop(process)


def wait_for_answer(process: subprocess.Popen[bytes], url: str, log: Path, name: str) -> None:
    """Return once `url` answers 200; raise with the end of `log` if `process` exits or stays silent."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url}:\n{log.read_text()[-2000:]}")


@contextlib.contextmanager
def loadgens(
    base: str, rooms: int, rate: float, seconds: float, procs: int, generate: Generate = _generate
) -> Iterator[list[Connection]]:
    """Start `procs` generators, rooms and rate split between them; yields their pipes."""
    context = multiprocessing.get_context("spawn")
    shares = [rooms // procs + (1 if i < rooms % procs else 0) for i in range(procs)]
    pipes: list[Connection] = []
    workers = []
    try:
        for share in filter(None, shares):
            parent, child = context.Pipe()
            worker = context.Process(
                target=loadgen_main, args=(child, base, share, rate * share / rooms, seconds, generate),
                daemon=True,
            )
            worker.start()
            child.close()  # so a crashed generator shows as EOF, not a hang
            pipes.append(parent)
            workers.append(worker)
        yield pipes
        for worker in workers:
            worker.join(15)  # each closes its sockets first
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()


def _gather(pipes: list[Connection], timeout: float) -> list[Any]:
    replies = []
    deadline = time.monotonic() + timeout
    for pipe in pipes:
        if not pipe.poll(max(0.0, deadline - time.monotonic())):
            raise RuntimeError("a load generator did not report in time")
        try:
            replies.append(pipe.recv())
        except EOFError:
            raise RuntimeError("a load generator died") from None
    return replies


def _percentiles_ms(samples_ns: list[int]) -> tuple[float, float]:
    if not samples_ns:
        return math.nan, math.nan
    ordered = sorted(samples_ns)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6

    return rank(0.50), rank(0.99)


def _server_log(log: Path) -> Counter[str]:
    """What the server logged beyond its start-up banner, counted by level, message and error."""
    kinds: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        if not line or line.startswith("CLOV is running"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a traceback or other raw output
            kinds[line[:120]] += 1
            continue
        error = f" ({entry['error']})" if "error" in entry else ""
        kinds[f"{entry.get('level')}: {entry.get('msg')}{error}"[:160]] += 1
    return kinds


def run_broker(broker: str, args: argparse.Namespace) -> Row:
    """One full benchmark run against fresh servers with `broker`."""
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"server-{i}.log" for i in range(INSTANCES.get(broker, 1))]
        row = _measure(broker, args, logs)
        # Read once the servers have stopped, so their shutdown is in the log too.
        row.server_log = sum((_server_log(log) for log in logs), Counter())
    return row


class CpuMeter:
    """CPU used by the servers, the Redis nodes and the whole machine since construction, in cores."""

    def __init__(self, server_pids: list[int], redis_pids: list[int]) -> None:
        self.pids = {f"server {i}": pid for i, pid in enumerate(server_pids)}
        self.pids |= {f"redis {i}": pid for i, pid in enumerate(redis_pids)}
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.start["machine"] = machine_busy_seconds()
        self.started = time.monotonic()

    def read(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used["machine"] = machine_busy_seconds()
        return {name: (used[name] - self.start[name]) / wall for name in used} | {"wall": wall}


def _measure(broker: str, args: argparse.Namespace, logs: list[Path]) -> Row:
    with contextlib.ExitStack() as stack:
        redis_pids: list[int] = []
        redis_url = ""
        if broker in ("redis", "redis-2"):
            redis, port = stack.enter_context(redis_server())
            redis_pids, redis_url = [redis.pid], f"redis://127.0.0.1:{port}/0"
        elif broker == "cluster-2":
            nodes, port = stack.enter_context(redis_cluster())
            redis_pids, redis_url = [node.pid for node in nodes], f"redis://127.0.0.1:{port}"
        generate = _generate
        if broker == "peerjs":
            import peerjs  # bench/peerjs.py, beside this script; only this run needs it (and node)

            servers = [stack.enter_context(peerjs.peerjs_server(args.rooms * ROOM_SIZE, logs[0]))]
            generate = peerjs.generate
        else:
            env = _server_env(redis_url, args.rate, args.rooms)
            env["CLOV_REDIS_CLUSTER"] = "1" if broker == "cluster-2" else "0"
            servers = [stack.enter_context(clov_server(env, log)) for log in logs]
        pids = [server.pid for server, _ in servers]
        base = " ".join(base for _, base in servers)  # _join_all spreads each room over them
        idle_rss = sum(rss_mb(pid) for pid in pids)
        print(f"[{broker}] {len(servers)} server(s) up at {base}; joining {args.rooms * ROOM_SIZE} sockets", flush=True)

        pipes = stack.enter_context(
            loadgens(base, args.rooms, args.rate, args.seconds, args.loadgen_procs, generate)
        )
        joins: list[JoinReport] = _gather(pipes, 60 + args.rooms)
        _print_joins(broker, joins)
        time.sleep(1)  # let the join burst settle before reading memory
        held_rss = sum(rss_mb(pid) for pid in pids)

        print(f"[{broker}] relaying {args.rate} msg/s for {args.seconds} s", flush=True)
        meter = CpuMeter(pids, redis_pids)
        for pipe in pipes:
            pipe.send("go")
        relays: list[RelayReport] = _gather(pipes, args.seconds + DRAIN_TIMEOUT_S + 60)
        cpu = meter.read()
        end_rss = sum(rss_mb(pid) for pid in pids)
        redis_rss = sum(rss_mb(pid) for pid in redis_pids) if redis_pids else None
        for pipe in pipes:
            pipe.send("close")
    return _row(broker, args, joins, relays, (idle_rss, held_rss, end_rss), redis_rss, cpu)


def _print_joins(broker: str, joins: list[JoinReport]) -> None:
    failures = sum((j.failures for j in joins), Counter())
    print(f"[{broker}] {sum(j.joined for j in joins)} joined in {max(j.seconds for j in joins):.1f} s"
          + (f", failures {dict(failures)}" if failures else ""), flush=True)


def _row(
    broker: str, args: argparse.Namespace, joins: list[JoinReport], relays: list[RelayReport],
    server_rss: tuple[float, float, float], redis_rss: float | None, cpu: dict[str, float],
) -> Row:
    window = max(r.window_seconds for r in relays)
    loadgen_cpu = sum(r.cpu_seconds for r in relays) / cpu["wall"]
    instance_cpu = tuple(v for name, v in cpu.items() if name.startswith("server"))
    redis_cpu = sum(v for name, v in cpu.items() if name.startswith("redis")) if "redis 0" in cpu else None
    return Row(
        broker=broker,
        procs=len(relays),
        rooms=args.rooms,
        rate=args.rate,
        sockets=sum(j.joined for j in joins),
        join_failures=sum((j.failures for j in joins), Counter()),
        join_ms=_percentiles_ms([ns for j in joins for ns in j.latencies_ns]),
        relay_ms=_percentiles_ms([ns for r in relays for ns in r.latencies_ns]),
        sent_per_s=sum(r.sent for r in relays) / max(r.send_seconds for r in relays),
        delivered_per_s=sum(r.received for r in relays) / window,
        lost=sum(r.sent - r.received for r in relays),
        errors=sum((r.errors for r in relays), Counter()),
        disconnects=sum((r.disconnects for r in relays), Counter()),
        server_rss_mb=server_rss,
        redis_rss_mb=redis_rss,
        server_cpu=sum(instance_cpu),
        instance_cpu=instance_cpu,
        redis_cpu=redis_cpu,
        loadgen_cpu=loadgen_cpu,
        # Anything else running on the machine competes for the same cores; say how much.
        other_cpu=max(0.0, cpu["machine"] - sum(instance_cpu) - (redis_cpu or 0.0) - loadgen_cpu),
    )


# ---------------------------------------------------------------------------------------------
# Report.


def verdict(row: Row) -> str:
    """Whether a run meets the target, or why not."""
    if row.rooms * ROOM_SIZE < TARGET_SOCKETS or row.rate < TARGET_RATE:
        needs = f"--rooms >= {TARGET_SOCKETS // ROOM_SIZE} --rate >= {TARGET_RATE}"
        return f"target not evaluated (needs {needs})"
    misses = []
    if row.sockets < TARGET_SOCKETS or row.disconnects:
        misses.append(f"{row.sockets} sockets joined, {row.disconnects.total()} dropped")
    # Tick batching and the drain make delivered/s read a hair under the offered rate.
    if row.delivered_per_s < 0.98 * TARGET_RATE:
        misses.append(f"delivered {row.delivered_per_s:,.0f} msg/s < {TARGET_RATE:,}")
    if not row.relay_ms[1] < TARGET_P99_MS:
        misses.append(f"relay p99 {row.relay_ms[1]:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if row.lost:
        misses.append(f"{row.lost} messages lost")
    return "target MET" if not misses else "target NOT met: " + "; ".join(misses)


def print_table(rows: list[Row]) -> None:
    """One line per broker, then the verdicts and anything the server logged."""
    header = (
        f"{'broker':<9} {'gens':>4} {'sockets':>7} {'join p50/p99 ms':>16} {'relay p50/p99 ms':>17} "
        f"{'sent/s':>7} {'deliv/s':>7} {'lost':>5} {'err':>5} {'drop':>4} "
        f"{'srv RSS idle/held/end MB':>25} {'redis MB':>8} {'CPU srv/redis/gen/other':>27}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        rss = "/".join(f"{v:.0f}" for v in r.server_rss_mb)
        redis_mb = f"{r.redis_rss_mb:.0f}" if r.redis_rss_mb is not None else "-"
        redis_cpu = f"{r.redis_cpu:.0%}" if r.redis_cpu is not None else "-"
        servers = "+".join(f"{c:.0%}" for c in r.instance_cpu)
        cpu = f"{servers}/{redis_cpu}/{r.loadgen_cpu:.0%}/{r.other_cpu:.0%}"
        print(
            f"{r.broker:<9} {r.procs:>4} {r.sockets:>7} {r.join_ms[0]:>7.1f}/{r.join_ms[1]:<8.1f} "
            f"{r.relay_ms[0]:>8.1f}/{r.relay_ms[1]:<8.1f} {r.sent_per_s:>7.0f} {r.delivered_per_s:>7.0f} "
            f"{r.lost:>5} {r.errors.total():>5} {r.disconnects.total():>4} {rss:>25} {redis_mb:>8} {cpu:>27}"
        )
    print(f"\nmachine: {os.cpu_count()} CPUs shared by server, redis-server, load generators and any "
          "other process ('other'); CPU is % of one core over the relay phase, a+b for two instances; "
          "RSS summed over instances, redis over nodes")
    print(f"lost: sent but not delivered {DRAIN_TIMEOUT_S:.0f} s after sending stopped; err: error replies "
          "and failed sends; drop: sockets closed by the server")
    for r in rows:
        print(f"{r.broker}: {verdict(r)}")
        if r.join_failures:
            print(f"  join failures: {dict(r.join_failures)}")
        for kind, count in r.disconnects.most_common(3):
            print(f"  dropped:     {count:>6} x {kind}")
        for kind, count in r.errors.most_common(3):
            print(f"  error reply: {count:>6} x {kind}")
        for kind, count in r.server_log.most_common(6):
            print(f"  server log:  {count:>6} x {kind}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=500, help="rooms of six peers (default 500)")
    parser.add_argument(
        "--rate", type=int, default=TARGET_RATE, help="signals per second, all peers together (default 5000)"
    )
    parser.add_argument("--seconds", type=float, default=20, help="how long to relay (default 20)")
    parser.add_argument(
        "--broker", choices=[*INSTANCES, "both"], default="both",
        help="both: memory then redis; redis-2, cluster-2: two instances, rooms split across them (default both)",
    )
    parser.add_argument(
        "--peer", choices=["peerjs"],
        help="then the same load against this server (PeerJS 1.0.2, from npm), and CLOV/peer ratios",
    )
    parser.add_argument("--loadgen-procs", type=int, default=1, help="load-generator processes (default 1)")
    args = parser.parse_args()
    if args.rooms < 1 or args.rate < 1 or args.seconds <= 0 or args.loadgen_procs < 1:
        parser.error("--rooms, --rate, --seconds and --loadgen-procs must be positive")
    return args


def main() -> int:
    args = parse_args()
    raise_nofile()
    # A plain `kill` should clean up like Ctrl-C does: unwind through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    brokers = ["memory", "redis"] if args.broker == "both" else [args.broker]
    rows = []
    try:
        if args.peer:
            import peerjs  # bench/peerjs.py, beside this script

            peerjs.install()  # before any run, so a failed install wastes none
            brokers.append("peerjs")
        for broker in brokers:
            rows.append(run_broker(broker, args))
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; server and redis-server stopped", file=sys.stderr)
        return 130
    print_table(rows)
    if args.peer:
        peerjs.print_ratios(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
