"""Configuration: one table of options, each an environment variable with a documented default.

`clov serve --help` is generated from the same table, so the two never disagree.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from signaling.clientbuild import CLIENT_ROOT
from signaling.origins import parse_origin
from signaling.protocol import ICE_TRANSPORT_POLICIES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _proxies(text: str) -> tuple[str, ...]:
    proxies = _list(text)
    for proxy in proxies:
        if proxy != "*":
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted proxy {proxy!r} is not an address or a network") from exc
    return proxies


def _base_url(text: str) -> str:
    url = text.strip().rstrip("/")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"provider URL {url!r} is not an http(s) URL like https://api.openai.com")
    return url


def _path_prefix(text: str) -> str:
    prefix = text.strip().strip("/")
    return "/" + prefix if prefix else ""


def _origins(text: str) -> tuple[str, ...]:
    return tuple(parse_origin(item, "allowed origin") for item in _list(text))


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{text!r} is not a TCP port (0-65535)")
    return value


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0:
            raise ValueError(f"{text!r} is not a positive number")
        return value

    return parse


def _ice_transport_policy(text: str) -> str:
    policy = text.strip().lower()
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ValueError(f"ICE transport policy {text!r} is not one of: {', '.join(ICE_TRANSPORT_POLICIES)}")
    return policy


# Invites signed on one instance must open on every other: a random secret each would not.
MIN_SHARED_SECRET_BYTES = 32


@dataclass(frozen=True)
class Option:
    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return "CLOV_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", "127.0.0.1", "address to listen on"),
    Option("port", "8000", "TCP port to listen on", int),
    Option(
        "trusted_proxies",
        "127.0.0.1,::1",
        "reverse proxies whose X-Forwarded-For is believed "
        "(comma-separated addresses or networks; '*': any; empty: none)",
        _proxies,
    ),
    Option("redis_url", "", "Redis 7+ URL (redis://host:port/db); empty: in-memory broker, one process"),
    Option(
        "redis_cluster",
        "false",
        "CLOV_REDIS_URL names one node of a Redis Cluster (7+): rooms and their relay spread over its shards",
        _bool,
    ),
    Option(
        "secret",
        "",
        "signs invite tokens; empty: random per start (invites die with the process); "
        f"with Redis: {MIN_SHARED_SECRET_BYTES}+ bytes, the same on every instance",
    ),
    Option("invite_ttl", "86400", "seconds an invite link (and its room) stays valid", int),
    Option("tls_cert", "", "PEM certificate file for HTTPS/WSS"),
    Option("tls_key", "", "PEM private key file for HTTPS/WSS"),
    Option("dev_cert", "false", "serve HTTPS with a self-signed certificate for localhost, made on demand", _bool),
    Option("stun_urls", "", "comma-separated STUN URLs given to clients (stun:host:port)", _list),
    Option("turn_urls", "", "comma-separated TURN URLs given to clients (turn:host:port?transport=udp)", _list),
    Option("turn_secret", "", "coturn use-auth-secret shared secret; with it, each peer gets ephemeral credentials"),
    # Every participant's browser holds the credentials, and anyone with the link is a
    # participant: they work as a free relay for whoever copies them until they expire. Hours
    # cover a booth session, a rejoin brings fresh ones, and coturn checks them only when a
    # relay is allocated, so a call that outlasts them goes on.
    Option(
        "turn_ttl",
        "14400",
        "seconds ephemeral TURN credentials stay valid (renewed on every rejoin, and for members "
        "still in a booth at half that)",
        _positive(int),
    ),
    Option(
        "ice_transport_policy",
        "all",
        "'all': peers connect directly when they can; 'relay': only through TURN (needs "
        "--turn-urls), so no participant learns another's IP address",
        _ice_transport_policy,
    ),
    Option("message_rate", "50", "signaling messages per second allowed per connection (sustained)", float),
    Option("message_burst", "200", "signaling messages a connection may send in one burst", int),
    Option("room_create_rate", "0.5", "rooms per second one client address may create (sustained)", float),
    Option("room_create_burst", "20", "rooms one client address may create in one burst", int),
    Option("unjoined_per_address", "64", "sockets one client address may hold open before they join", int),
    Option("unjoined_max", "4096", "sockets the server holds open before they join, all addresses together", int),
    Option("ping_interval", "10", "seconds between WebSocket pings; a socket silent for interval+timeout is dead", float),
    Option("ping_timeout", "10", "seconds to wait for a pong before a socket counts as dead", float),
    Option("member_ttl", "30", "seconds a Redis membership lives without a heartbeat (crashed instances)", float),
    Option(
        "provider_url",
        "",
        "base URL of an OpenAI-compatible picture service (https://api.openai.com, http://127.0.0.1:8080); "
        "empty: no provider, backgrounds come from the offline pattern painter",
        _base_url,
    ),
    Option("provider_prefix", "", "path between the base URL and /v1/... (e.g. /api behind a proxy)", _path_prefix),
    Option("provider_key", "", "API key sent to the provider as a bearer token; never logged nor shown"),
    Option("image_model", "gpt-image-1", "the provider's model for /v1/images/generations"),
    Option("chat_model", "gpt-4o-mini", "the provider's model for /v1/chat/completions (prompt ideas)"),
    Option(
        "provider_timeout",
        "120",
        "seconds one provider request may take in all; past it, the pattern painter answers instead",
        _positive(float),
    ),
    Option("backgrounds_per_room", "6", "background generations a room may ask for per minute", _positive(float)),
    Option(
        "backgrounds_per_address",
        "10",
        "background generations one client address may ask for per minute",
        _positive(float),
    ),
    Option("backgrounds_in_flight", "2", "background generations at once per instance; more: 503", _positive(int)),
    Option("suggestions_per_room", "20", "prompt-idea requests a room may make per minute", _positive(float)),
    Option(
        "suggestions_per_address", "30", "prompt-idea requests one client address may make per minute",
        _positive(float),
    ),
    Option("suggestions_in_flight", "4", "prompt-idea requests at once per instance; more: 503", _positive(int)),
    Option(
        "picture_workers", "2", "worker processes that paint, decode and encode pictures", _positive(int)
    ),
    Option(
        "static_root",
        str(CLIENT_ROOT),
        "folder holding index.html, frontend_py/, assets/ and models/, checked at start; "
        "empty: serve no client (the API and signaling only, for a client hosted elsewhere)",
    ),
    Option(
        "allowed_origins",
        "",
        "origins of pages hosted elsewhere (clov build) that may use the API (CORS) and open "
        "signaling sockets: comma-separated scheme://host[:port]; the server's own pages need "
        "none, and browser sockets from other origins are refused",
        _origins,
    ),
    Option("log_level", "info", "log level: debug, info, warning, error"),
    Option(
        "metrics_port",
        "0",
        "TCP port for Prometheus metrics (GET /metrics, plain HTTP, on --host); 0: off",
        _port,
    ),
)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    trusted_proxies: tuple[str, ...]
    redis_url: str
    redis_cluster: bool
    secret: str
    invite_ttl: int
    tls_cert: str
    tls_key: str
    dev_cert: bool
    stun_urls: tuple[str, ...]
    turn_urls: tuple[str, ...]
    turn_secret: str
    turn_ttl: int
    ice_transport_policy: str
    message_rate: float
    message_burst: int
    room_create_rate: float
    room_create_burst: int
    unjoined_per_address: int
    unjoined_max: int
    ping_interval: float
    ping_timeout: float
    member_ttl: float
    provider_url: str
    provider_prefix: str
    provider_key: str = field(repr=False)
    image_model: str
    chat_model: str
    provider_timeout: float
    backgrounds_per_room: float
    backgrounds_per_address: float
    backgrounds_in_flight: int
    suggestions_per_room: float
    suggestions_per_address: float
    suggestions_in_flight: int
    picture_workers: int
    static_root: str
    allowed_origins: tuple[str, ...]
    log_level: str
    metrics_port: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `environ` (default `os.environ`), then `overrides` given as parsed values."""
        environ = os.environ if environ is None else environ
        values = {opt.name: opt.parse(environ.get(opt.env, opt.default)) for opt in OPTIONS}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.ice_transport_policy == "relay" and not self.turn_urls:
            raise ValueError(
                "CLOV_ICE_TRANSPORT_POLICY=relay (--ice-transport-policy) needs a TURN server in "
                "CLOV_TURN_URLS (--turn-urls): without one, no two browsers could connect"
            )
        if self.redis_cluster and not self.redis_url:
            raise ValueError("--redis-cluster needs --redis-url: the address of one node of the cluster")
        if self.redis_url and len(self.secret.encode()) < MIN_SHARED_SECRET_BYTES:
            raise ValueError(
                f"with CLOV_REDIS_URL, set CLOV_SECRET (--secret) to at least {MIN_SHARED_SECRET_BYTES} "
                "bytes, the same on every instance: each would otherwise sign invites with its own "
                "random secret, and a link made on one would not open on another "
                "(openssl rand -hex 32 makes one)"
            )

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert) or self.dev_cert


assert [f.name for f in fields(Settings)] == [opt.name for opt in OPTIONS]
