"""Invite tokens and TURN REST credentials (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from signaling.invites import InvalidInvite, Invites
from signaling.turn import turn_credentials


def test_token_round_trip_and_expiry() -> None:
    invites = Invites("s", ttl=100)
    token, expires_at = invites.issue("room1", now=1000)
    assert expires_at == 1100
    assert invites.verify(token, "room1", now=1099) == 1100
    with pytest.raises(InvalidInvite, match="expired"):
        invites.verify(token, "room1", now=1100)


def test_token_bound_to_room_and_secret() -> None:
    token, _ = Invites("s", 100).issue("room1")
    with pytest.raises(InvalidInvite, match="another room"):
        Invites("s", 100).verify(token, "room2")
    with pytest.raises(InvalidInvite):
        Invites("other", 100).verify(token, "room1")


def test_token_is_url_safe() -> None:
    token, _ = Invites("s", 100).issue("r_-1")
    assert all(c.isalnum() or c in "-_." for c in token)


def test_turn_rest_credentials_match_coturn_scheme() -> None:
    username, password = turn_credentials("secret", "peer1", ttl=3600, now=1_700_000_000)
    assert username == "1700003600:peer1"
    expected = base64.b64encode(hmac.new(b"secret", b"1700003600:peer1", hashlib.sha1).digest()).decode()
    assert password == expected

