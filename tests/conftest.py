"""Fixtures that start real things: Debian's redis-server and `clov serve` processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-not-for-production-use"  # 32+ bytes, as Redis needs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class RedisServer:
    """A redis-server on a free port; `stop()` and `start()` keep its data (append-only file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (the test command installs it)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self._answers), "redis-server did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)

    def command(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class RedisCluster:
    """A Redis Cluster of three primaries (no replicas) on loopback, each a redis-server on free ports."""

    SIZE = 3

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Each node listens on two ports: clients, and the cluster bus between nodes.
        self.ports = [(free_port(), free_port()) for _ in range(self.SIZE)]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """Any one node: the client learns the others from it."""
        return f"redis://127.0.0.1:{self.ports[0][0]}"

    def start(self) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            pytest.fail("redis-server is not installed (the test command installs it)")
        for port, bus in self.ports:
            self.processes.append(subprocess.Popen(
                [binary, "--port", str(port), "--cluster-port", str(bus), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                 "--dir", str(self.directory), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ))
        for port, _ in self.ports:
            assert wait_until(lambda port=port: self._answers(port)), "redis-server did not start"
        nodes = [f"127.0.0.1:{port}" for port, _ in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, timeout=30,
        )
        assert wait_until(self._ready, 20), "the cluster did not reach cluster_state:ok"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)
        self.processes = []

    def command(self, port: int, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(port), *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def _ready(self) -> bool:
        return all("cluster_state:ok" in self.command(port, "CLUSTER", "INFO") for port, _ in self.ports)

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class Server:
    """One `clov serve` process; its stderr (JSON logs) is kept in `log_path`."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.env = {"CLOV_SECRET": SECRET, "CLOV_LOG_LEVEL": "debug", **env}
        self.log_path = tmp / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        scheme = "https" if self.env.get("CLOV_DEV_CERT") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, **self.env, "CLOV_PORT": str(self.port)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "signaling.cli", "serve"], env=env, cwd=ROOT, stderr=log,
                stdout=subprocess.DEVNULL,
            )
        assert wait_until(self._listening, 20), f"server did not start:\n{self.log_path.read_text()}"
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(15)
            self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.logs()
        try:
            return httpx.get(self.http + "/healthz", timeout=1, verify=False).status_code in (200, 503)
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Factory: `start_server(**env)` starts a server; all are stopped after the test."""
    servers: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(tmp_path, **env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)


def broker_env(request: pytest.FixtureRequest, broker: str) -> dict[str, str]:
    """The environment that puts `clov serve` on `broker`: memory, redis (one Redis) or cluster."""
    if broker == "redis":
        return {"CLOV_REDIS_URL": request.getfixturevalue("redis_server").url}
    if broker == "cluster":
        return {"CLOV_REDIS_URL": request.getfixturevalue("redis_cluster").url, "CLOV_REDIS_CLUSTER": "1"}
    return {}


@pytest.fixture(params=["memory", "redis"])
def server(request: pytest.FixtureRequest, start_server) -> Server:  # type: ignore[no-untyped-def]
    """A server on each broker: the contract must hold on both."""
    return start_server(**broker_env(request, request.param))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
