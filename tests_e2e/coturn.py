"""Debian's coturn (`turnserver`) on loopback, as the TURN relay of the end-to-end tests.

Configured as `CLOV_TURN_SECRET` expects (`use-auth-secret`), except where a test on one
machine must differ from production (README, "TURN relay"): loopback peers are allowed, TLS is
off, and the relay ports are a small range above Linux's ephemeral ports, so they never collide
with the browsers' own sockets.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_until

RELAY_PORTS = (61000, 61099)  # above net.ipv4.ip_local_port_range's default 32768-60999
REALM = "clov.test"
# A STUN Binding request (RFC 8489): type 0x0001, no attributes, the magic cookie, an id.
_BINDING = bytes.fromhex("0001 0000 2112a442") + os.urandom(12)


class TurnServer:
    """One `turnserver` on 127.0.0.1; `url` is its CLOV_TURN_URLS entry, `log_tail()` its log."""

    def __init__(self, directory: Path, secret: str) -> None:
        self.directory = directory
        self.secret = secret
        self.port = free_port()
        self.log_path = directory / "turnserver.log"
        self.log_start = 0  # where this run's lines begin: a restarted coturn appends to the log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self) -> TurnServer:
        binary = shutil.which("turnserver")
        if binary is None:
            pytest.fail("turnserver is not installed (coturn; the test command installs it)")
        self.log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [
                binary, "-n",  # no configuration file: every setting is here
                "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={self.port}",
                f"--min-port={RELAY_PORTS[0]}", f"--max-port={RELAY_PORTS[1]}",
                "--use-auth-secret", f"--static-auth-secret={self.secret}", f"--realm={REALM}",
                # coturn refuses to relay to loopback by default, and here every peer is on it.
                "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780",
                f"--userdb={self.directory / 'turndb'}", f"--pidfile={self.directory / 'turnserver.pid'}",
                f"--log-file={self.log_path}", "--simple-log", "--no-stdout-log", "--verbose",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self._answers, 10), f"turnserver did not start:\n{self.log_tail()}"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                pytest.fail(f"turnserver did not stop on SIGTERM:\n{self.log_tail()}")
            self.process = None

    def log(self) -> str:
        """What the running (or last) coturn logged, since it started."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def _answers(self) -> bool:
        assert self.process is not None, "turnserver was not started"
        assert self.process.poll() is None, f"turnserver exited:\n{self.log_tail()}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            try:
                sock.sendto(_BINDING, ("127.0.0.1", self.port))
                return sock.recv(512)[:2] == b"\x01\x01"  # Binding success response
            except OSError:
                return False
