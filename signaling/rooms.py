"""The HTTP API: create a room, look one up, and the health check."""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse

from signaling import protocol
from signaling.broker import Broker, BrokerUnavailable
from signaling.invites import InvalidInvite, Invites
from signaling.metrics import Metrics
from signaling.ratelimit import KeyedLimiter, client_key

log = logging.getLogger("clov.rooms")

NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status, headers={**NO_STORE, **(headers or {})})


class RoomsAPI:
    def __init__(
        self, broker: Broker, invites: Invites, limiter: KeyedLimiter, metrics: Metrics | None = None
    ) -> None:
        self.broker = broker
        self.invites = invites
        self.limiter = limiter
        self.metrics = metrics if metrics is not None else Metrics()

    async def create(self, request: Request) -> JSONResponse:
        """`POST /api/rooms` -> 201 with the room id and its invite token."""
        address = client_key(request.client.host if request.client else "unknown")
        if not self.limiter.allow(address):
            retry = str(self.limiter.retry_after())
            return _error(429, "rate_limited", "too many rooms created; try again shortly", {"Retry-After": retry})
        room = secrets.token_urlsafe(9)
        try:
            await self.broker.create_room(room, self.invites.ttl)
        except BrokerUnavailable:
            self.metrics.broker_errors.inc()
            return _error(503, "unavailable", "the service is briefly unavailable; try again")
        self.metrics.rooms_created.inc()
        token, expires_at = self.invites.issue(room)
        log.info("room created", extra={"room": room})
        body = {"room": room, "token": token, "expires_at": expires_at, "capacity": protocol.CAPACITY}
        return JSONResponse(body, 201, headers=NO_STORE)

    async def show(self, request: Request) -> JSONResponse:
        """`GET /api/rooms/{room}` with the invite as a bearer token."""
        room = request.path_params["room"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, protocol.INVALID_TOKEN, "an invite token is required")
        try:
            self.invites.verify(token.strip(), room)
        except InvalidInvite as exc:
            return _error(401, protocol.INVALID_TOKEN, str(exc))
        try:
            occupancy = await self.broker.occupancy(room)
        except BrokerUnavailable:
            self.metrics.broker_errors.inc()
            return _error(503, "unavailable", "the service is briefly unavailable; try again")
        if occupancy is None:
            return _error(404, protocol.NO_ROOM, "this room does not exist any more")
        return JSONResponse(
            {"room": room, "capacity": protocol.CAPACITY, "occupancy": occupancy}, headers=NO_STORE
        )

    async def health(self, request: Request) -> JSONResponse:
        """`GET /healthz`: 200 when the broker answers, 503 otherwise."""
        try:
            await self.broker.ping()
        except BrokerUnavailable:
            self.metrics.broker_errors.inc()
            return JSONResponse({"status": "unavailable"}, 503, headers=NO_STORE)
        return JSONResponse({"status": "ok"}, headers=NO_STORE)
