"""ICE servers for the welcome message, with TURN REST credentials for coturn.

coturn's `use-auth-secret` accepts username `expiry:user` and password
base64(HMAC-SHA1(secret, username)); from `expiry` on, coturn allocates no relay with them (one
allocated before lives on). Every welcome carries fresh ones, and the client gives them to its
connections on a rejoin (frontend_py/iceconfig.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from signaling.config import Settings


def turn_credentials(secret: str, user: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """Return (username, password) valid for `ttl` seconds."""
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, peer: str) -> list[dict[str, Any]]:
    """The RTCIceServer list one peer gets, in the shape `RTCPeerConnection` takes."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls:
        turn: dict[str, Any] = {"urls": list(settings.turn_urls)}
        if settings.turn_secret:
            turn["username"], turn["credential"] = turn_credentials(
                settings.turn_secret, peer, settings.turn_ttl
            )
        servers.append(turn)
    return servers
