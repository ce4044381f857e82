"""Which web pages may use this server: its own, and those CLOV_ALLOWED_ORIGINS lists.

A client written by `clov build` runs on another origin (a static host) and reaches the HTTP API
through CORS, for the listed origins only. WebSockets have no CORS: a browser opens a socket to
any server from any page and only tells the server the page's `Origin`, so the socket is refused
here unless that origin is the server's own or listed, or any site could run booths on this server
through its visitors' browsers. Programs other than browsers (the tests' clients, benchmarks)
send no `Origin` and pass: the check stops pages, not programs, which could send any header.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from signaling.metrics import Metrics

log = logging.getLogger("clov.origins")

CLOSE_POLICY_VIOLATION = 1008  # before the handshake completes, uvicorn answers it with HTTP 403
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str, what: str = "origin") -> str:
    """`scheme://host[:port]` as browsers send it in `Origin`: lower case, no default port.
    Raises ValueError, naming `what`, for anything else (a path, a query, another scheme)."""
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in DEFAULT_PORTS or not parts.hostname or port == -1 or parts.path
        or parts.query or parts.fragment or parts.username is not None or "*" in url
    ):
        raise ValueError(f"{what} {text.strip()!r} is not an origin like https://booth.example.org "
                         "(http or https, a host, an optional port, nothing after)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, DEFAULT_PORTS[parts.scheme]) else "")


def is_own(origin: str, host: str) -> bool:
    """Whether a page at `origin` came from this server, reached as `host` (the Host header).
    Hosts and ports are compared, not schemes: TLS may end at a proxy in front of us."""
    page, reached = urlsplit(origin), urlsplit("//" + host)
    try:
        default = DEFAULT_PORTS.get(page.scheme, 0)
        return bool(page.hostname) and (page.hostname, page.port or default) == (
            reached.hostname, reached.port or default
        )
    except ValueError:  # a port that is not a number
        return False


def cors(allowed: tuple[str, ...]) -> list[Middleware]:
    """CORS for the HTTP API, for the listed origins only (none: no CORS headers at all)."""
    if not allowed:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(allowed),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],  # the invite; JSON bodies
            expose_headers=["Retry-After"],  # read by the booth when it is asked to wait
            max_age=600,
        )
    ]


class SocketOrigins:
    """ASGI middleware refusing WebSocket upgrades from pages of origins not allowed."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...], metrics: Metrics) -> None:
        self.app = app
        self.allowed = frozenset(allowed)
        self.metrics = metrics

    def allows(self, origin: str | None, host: str) -> bool:
        if origin is None or is_own(origin, host):
            return True
        try:
            return parse_origin(origin) in self.allowed
        except ValueError:  # "null" (a sandboxed frame, a file), or garbage
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if not self.allows(origin, headers.get("host", "")):
                log.warning("socket refused: page from an origin not allowed (CLOV_ALLOWED_ORIGINS)",
                            extra={"origin": (origin or "")[:200], "path": scope.get("path", "")[:200]})
                self.metrics.refused(CLOSE_POLICY_VIOLATION)
                await send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
                return
        await self.app(scope, receive, send)
