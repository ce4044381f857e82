"""Invite tokens: signed with the server secret, bound to one room, expiring."""

from __future__ import annotations

import hashlib
import time

from itsdangerous import BadData, Signer, URLSafeSerializer


class InvalidInvite(Exception):
    """The token is tampered with, expired, or made for another room."""


class Invites:
    """Issues and checks invite tokens; the payload is `[room, expires_at]`."""

    def __init__(self, secret: str, ttl: int) -> None:
        self.ttl = ttl
        self._serializer = URLSafeSerializer(
            secret, salt="clov-invite", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._resume = Signer(secret, salt="clov-resume", digest_method=hashlib.sha256)

    def issue(self, room: str, now: float | None = None) -> tuple[str, int]:
        """Return a token for `room` and the Unix time it expires."""
        expires_at = int(time.time() if now is None else now) + self.ttl
        return self._serializer.dumps([room, expires_at]), expires_at

    def verify(self, token: str, room: str, now: float | None = None) -> int:
        """Return the token's expiry time, or raise `InvalidInvite`."""
        try:
            payload = self._serializer.loads(token)
        except BadData as exc:
            raise InvalidInvite("the invite link is not valid") from exc
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], int)):
            raise InvalidInvite("the invite link is not valid")
        token_room, expires_at = payload
        if token_room != room:
            raise InvalidInvite("the invite link is for another room")
        if expires_at <= (time.time() if now is None else now):
            raise InvalidInvite("the invite link has expired")
        return expires_at

    def resume_key(self, room: str, peer: str) -> str:
        """Proof, handed to a peer in its welcome, that lets it rejoin `room` as `peer`."""
        return self._resume.get_signature(f"{room}:{peer}").decode()

    def check_resume(self, room: str, peer: str, key: str) -> bool:
        return self._resume.verify_signature(f"{room}:{peer}", key)
