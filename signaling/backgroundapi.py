"""The HTTP API for AI backgrounds: pictures for a prompt, and prompt ideas.

`POST /api/rooms/{room}/backgrounds` and `POST /api/rooms/{room}/prompt-suggestions`, each with
the room's invite token as a bearer token (checked as the signaling join checks it). Bodies are
small JSON objects, validated here; the work is `ImageService`'s. Each endpoint has its own
limits: per room and per client address (token buckets, 429 with Retry-After) and a number of
requests in flight on this instance (503 busy with Retry-After). The shapes are documented in
docs/protocol.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from signaling.config import Settings
from signaling.imageproviders import (
    LANGUAGES,
    MAX_PICTURES,
    MAX_PROMPT_LENGTH,
    PHOTO_SIZES,
    STYLES,
    ImageService,
    ProviderAuthError,
    Refused,
    clean_text,
)
from signaling.invites import InvalidInvite, Invites
from signaling.metrics import Metrics
from signaling.ratelimit import KeyedLimiter, client_key

log = logging.getLogger("clov.backgrounds")

NO_STORE = {"Cache-Control": "no-store"}
MAX_BODY_BYTES = 8 * 1024
MAX_HINT_LENGTH = 40
BUSY_RETRY_AFTER = {"backgrounds": 10, "suggestions": 2}

# Error codes: the browser shows its own English or Korean text for each.
BAD_REQUEST = "bad_request"
BAD_PROMPT = "bad_prompt"
MODERATION = "moderation"
PROVIDER_AUTH = "provider_auth"
BUSY = "busy"
RATE_LIMITED = "rate_limited"
UNAUTHORIZED = "unauthorized"


class Problem(Exception):
    """A request this API refuses: its status, error code, message and headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": self.code, "message": self.message}
        return JSONResponse(body, self.status, headers={**NO_STORE, **self.headers})


class InFlight:
    """Counts requests running on this instance, up to `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def full(self) -> bool:
        return self.count >= self.limit


@dataclass
class Limits:
    """One endpoint's limits: per room, per client address (per minute, as bursts), in flight."""

    name: str
    per_room: KeyedLimiter
    per_address: KeyedLimiter
    in_flight: InFlight

    @classmethod
    def per_minute(cls, name: str, per_room: float, per_address: float, in_flight: int) -> Limits:
        def limiter(per_minute: float) -> KeyedLimiter:
            return KeyedLimiter(per_minute / 60, max(1, int(per_minute)))

        return cls(name, limiter(per_room), limiter(per_address), InFlight(in_flight))

    def admit(self, room: str, address: str) -> None:
        """Take a place for one request, or raise the `Problem` that refuses it. Call `done()`
        after it. Nothing awaits between the checks and the count, so no two requests race."""
        if self.in_flight.full():
            retry = BUSY_RETRY_AFTER[self.name]
            raise Problem(
                503, BUSY, f"the server is busy with other {self.name}; try again in a few seconds",
                {"Retry-After": str(retry)},
            )
        checks = ((self.per_room, room, "this room"), (self.per_address, address, "your address"))
        for limiter, key, whose in checks:
            if not limiter.ready(key):
                raise Problem(
                    429, RATE_LIMITED, f"too many {self.name} asked for from {whose}; try again shortly",
                    {"Retry-After": str(limiter.retry_after())},
                )
        for limiter, key, _ in checks:
            limiter.allow(key)
        self.in_flight.count += 1

    def done(self) -> None:
        self.in_flight.count -= 1


class BackgroundAPI:
    def __init__(
        self, settings: Settings, invites: Invites, images: ImageService, metrics: Metrics | None = None
    ) -> None:
        self.invites = invites
        self.images = images
        self.metrics = metrics if metrics is not None else Metrics()
        # The provider label: "openai" (an OpenAI-compatible service) or "pattern" (the painter).
        self.provider_label = "openai" if images.provider is not None else "pattern"
        self.generations = Limits.per_minute(
            "backgrounds",
            settings.backgrounds_per_room,
            settings.backgrounds_per_address,
            settings.backgrounds_in_flight,
        )
        self.suggestions_limits = Limits.per_minute(
            "suggestions",
            settings.suggestions_per_room,
            settings.suggestions_per_address,
            settings.suggestions_in_flight,
        )

    async def backgrounds(self, request: Request) -> Response:
        """`POST /api/rooms/{room}/backgrounds` -> 200 with the provider's (or the painter's) pictures."""
        try:
            room = self._authorize(request)
            body = await _read_json(request)
            prompt = clean_text(body.get("prompt"), MAX_PROMPT_LENGTH)
            if prompt is None:
                raise Problem(
                    400, BAD_PROMPT,
                    f"the prompt must be 1-{MAX_PROMPT_LENGTH} characters, without control characters",
                )
            style = body.get("style")
            if style is not None and style not in STYLES:
                raise Problem(400, BAD_REQUEST, f"style must be one of {', '.join(STYLES)}")
            aspect = body.get("aspect")
            if aspect not in PHOTO_SIZES:
                raise Problem(400, BAD_REQUEST, f"aspect must be one of {', '.join(PHOTO_SIZES)}")
            n = body.get("n", 1)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_PICTURES:
                raise Problem(400, BAD_REQUEST, f"n must be a whole number from 1 to {MAX_PICTURES}")
            self.generations.admit(room, _address(request))
        except Problem as problem:
            return problem.response()
        started, outcome = time.perf_counter(), "error"
        try:
            result = await self.images.backgrounds(prompt, style, aspect, min(n, self.images.max_pictures))
            outcome = "fallback" if result.fallback else "ok"
        except Refused:
            outcome = "refused"
            return Problem(
                422, MODERATION, "the picture service would not draw this prompt; try a different prompt"
            ).response()
        except ProviderAuthError:
            outcome = "auth_error"
            return Problem(
                502, PROVIDER_AUTH,
                "the picture service is not set up correctly on this server; ask whoever runs it",
            ).response()
        finally:
            self.generations.done()
            self.metrics.generation(self.provider_label, outcome).observe(time.perf_counter() - started)
        log.info(
            "backgrounds made",
            extra={"room": room, "provider": result.provider, "ai": result.ai, "fallback": result.fallback,
                   "pictures": len(result.pictures), "aspect": aspect},
        )
        # A few megabytes of base64 in JSON: encoded in a worker thread, like the pictures.
        body = await anyio.to_thread.run_sync(_render, result.to_json)
        return Response(body, media_type="application/json", headers=NO_STORE)

    async def suggestions(self, request: Request) -> JSONResponse:
        """`POST /api/rooms/{room}/prompt-suggestions` -> 200 with prompt ideas."""
        try:
            room = self._authorize(request)
            body = await _read_json(request)
            language = body.get("language")
            if language not in LANGUAGES:
                raise Problem(400, BAD_REQUEST, f"language must be one of {', '.join(LANGUAGES)}")
            hint = body.get("hint", "")
            if hint is None or (isinstance(hint, str) and not hint.strip()):
                hint = ""
            else:
                hint = clean_text(hint, MAX_HINT_LENGTH)
                if hint is None:
                    raise Problem(
                        400, BAD_REQUEST,
                        f"hint must be at most {MAX_HINT_LENGTH} characters, without control characters",
                    )
            self.suggestions_limits.admit(room, _address(request))
        except Problem as problem:
            return problem.response()
        try:
            ideas = await self.images.ideas(language, hint, room)
        finally:
            self.suggestions_limits.done()
        return JSONResponse(ideas.to_json(), headers=NO_STORE)

    def _authorize(self, request: Request) -> str:
        """The room, once the request's bearer token is this room's invite; `Problem` 401 otherwise."""
        room = request.path_params["room"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, UNAUTHORIZED, "an invite token is required")
        try:
            self.invites.verify(token.strip(), room)
        except InvalidInvite as exc:
            raise Problem(401, UNAUTHORIZED, str(exc)) from exc
        return room


def _render(make: Callable[[], dict[str, Any]]) -> bytes:
    return json.dumps(make(), ensure_ascii=False, separators=(",", ":")).encode()


def _address(request: Request) -> str:
    return client_key(request.client.host if request.client else "unknown")


async def _read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, read no further than MAX_BODY_BYTES (413 past it)."""
    too_large = Problem(413, BAD_REQUEST, f"the request body is over {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise Problem(400, BAD_REQUEST, "the request body did not arrive") from exc
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError included
        raise Problem(400, BAD_REQUEST, "the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise Problem(400, BAD_REQUEST, "the body must be a JSON object")
    return body
