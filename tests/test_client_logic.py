"""The browser client's pure logic, in CPython: negotiation, reconnect policy, UI text."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py.bandwidth import MAX_SENT_PIXELS, UPLINK_BUDGET_BPS, sent_size, video_encoding
from frontend_py.i18n import STRINGS, Translator, error_key, pick_language
from frontend_py.iceconfig import renew, rtc_configuration, with_servers
from frontend_py.negotiation import Negotiator, is_polite
from frontend_py.reconnect import Backoff, should_reconnect
from signaling import protocol
from tests.modelpeerconnection import ModelPeerConnection

pytestmark = pytest.mark.anyio


def pair(grace: float = 0.0, first: str = "b") -> tuple[Negotiator, Negotiator, list[tuple[str, dict]]]:  # type: ignore[type-arg]
    """`a` is the polite side; `first` offers first (the one already in the booth)."""
    wire: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    a = Negotiator(is_polite("a", "b"), first == "a", ModelPeerConnection("a"), lambda d: wire.append(("b", d)), grace)
    b = Negotiator(is_polite("b", "a"), first == "b", ModelPeerConnection("b"), lambda d: wire.append(("a", d)), grace)
    return a, b, wire


async def deliver(a: Negotiator, b: Negotiator, wire: list, pick: random.Random) -> None:  # type: ignore[type-arg]
    """Deliver queued signals, each side in order, interleaving the two sides at random."""
    while wire:
        heads = {to: i for i, (to, _) in reversed(list(enumerate(wire)))}
        to = pick.choice(sorted(heads))
        _, data = wire.pop(heads[to])
        await (a if to == "a" else b).receive(data)


def test_exactly_one_side_is_polite() -> None:
    assert is_polite("a", "b") != is_polite("b", "a")


async def test_one_sided_offer_connects() -> None:
    a, b, wire = pair()
    await a.negotiation_needed()
    await deliver(a, b, wire, random.Random(0))
    assert a.pc.signaling_state == b.pc.signaling_state == "stable"
    assert b.pc.remote == a.pc.local and a.pc.remote == b.pc.local


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.booleans())
async def test_glare_converges_in_any_delivery_order(seed: int, with_candidates: bool) -> None:
    a, b, wire = pair()
    # Both sides start an offer before either hears from the other.
    await a.negotiation_needed()
    await b.negotiation_needed()
    if with_candidates:
        a.send({"candidate": {"candidate": "a-host"}})
        b.send({"candidate": {"candidate": "b-host"}})
    await deliver(a, b, wire, random.Random(seed))
    assert a.pc.signaling_state == b.pc.signaling_state == "stable"
    assert b.pc.remote == a.pc.local and a.pc.remote == b.pc.local
    # The impolite side's offer is the one that won.
    impolite = a if not a.polite else b
    assert impolite.pc.local["type"] == "offer"


@pytest.mark.parametrize("first", ["a", "b"])
async def test_the_other_side_waits_for_the_first_offer_instead_of_colliding(first: str) -> None:
    # Whichever side is polite: the one in the booth offers to the newcomer, who waits.
    a, b, wire = pair(grace=0.2, first=first)
    offering, waiting_side = (a, b) if first == "a" else (b, a)
    waiting = asyncio.ensure_future(waiting_side.negotiation_needed())
    await asyncio.sleep(0)  # the waiting side hears "negotiation needed" first and waits
    await offering.negotiation_needed()
    await deliver(a, b, wire, random.Random(1))
    await waiting
    assert wire == []  # the waiting side never offered
    assert waiting_side.pc.local["type"] == "answer" and offering.pc.local["type"] == "offer"
    assert a.pc.signaling_state == b.pc.signaling_state == "stable"


@pytest.mark.parametrize("first", ["a", "b"])
async def test_the_waiting_side_offers_when_no_offer_comes(first: str) -> None:
    a, b, wire = pair(grace=0.05, first=first)
    waiting_side = b if first == "a" else a
    await waiting_side.negotiation_needed()
    assert wire and wire[0][1]["description"]["type"] == "offer"


class ModelConnection:
    """An RTCPeerConnection as far as its configuration goes: an ICE restart allocates TURN
    relays with the configuration it holds at that moment."""

    def __init__(self, configuration: dict) -> None:  # type: ignore[type-arg]
        self.configuration = configuration
        self.allocations: list[str] = []

    def set_configuration(self, configuration: dict) -> None:  # type: ignore[type-arg]
        self.configuration = configuration

    def restart_ice(self) -> None:
        servers = self.configuration["iceServers"]
        self.allocations += [server["username"] for server in servers if "username" in server]


def welcome_with_turn(expiry: int, policy: str = "relay") -> protocol.Welcome:
    turn = {"urls": ["turn:turn.example.org:3478"], "username": f"{expiry}:p1", "credential": "c"}
    welcome = protocol.Welcome(peer="p1", peers=[], ice_servers=[turn], ice_transport_policy=policy)
    raw = protocol.encode(welcome)
    message = protocol.parse_server_message(raw)
    assert isinstance(message, protocol.Welcome)
    return message


def test_a_rejoin_renews_the_turn_credentials_before_the_next_ice_restart() -> None:
    first = rtc_configuration(welcome_with_turn(1000))
    assert first["iceTransportPolicy"] == "relay" and first["iceServers"][0]["username"] == "1000:p1"
    kept = [ModelConnection(first), ModelConnection(first)]
    # The rejoin's welcome is handled (mesh.py) before anything that follows it, a restart too.
    renew(kept, rtc_configuration(welcome_with_turn(2000)))
    for connection in kept:
        connection.restart_ice()
        assert connection.allocations == ["2000:p1"]


def test_fresh_credentials_of_a_long_booth_keep_the_policy_and_reach_every_connection() -> None:
    first = rtc_configuration(welcome_with_turn(1000))
    kept = [ModelConnection(first)]
    turn = {"urls": ["turn:turn.example.org:3478"], "username": "3000:p1", "credential": "c"}
    message = protocol.parse_server_message(protocol.encode(protocol.IceServers(ice_servers=[turn])))
    assert isinstance(message, protocol.IceServers)
    fresh = with_servers(first, message)
    assert fresh["iceTransportPolicy"] == "relay" and fresh["iceServers"] == [turn]
    renew(kept, fresh)
    kept[0].restart_ice()
    assert kept[0].allocations == ["3000:p1"]


@pytest.mark.parametrize("raw", ['{"type": "ice-servers"}', '{"type": "ice-servers", "ice_servers": [1]}'])
def test_malformed_fresh_credentials_are_refused(raw: str) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_server_message(raw)


def test_final_close_codes_do_not_reconnect() -> None:
    for code in ("invalid_token", "no_room", "room_full", "bad_message"):
        assert not should_reconnect(protocol.CLOSE_CODES[code])
    for code in (1000, 1001, 1006, 1012, 1013, 4429, None):
        assert should_reconnect(code)


def test_backoff_grows_caps_jitters_and_resets() -> None:
    backoff = Backoff(rand=lambda: 0.5)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
    low, high = Backoff(rand=lambda: 0.0), Backoff(rand=lambda: 1.0)
    assert low.next_delay() == pytest.approx(0.4) and high.next_delay() == pytest.approx(0.6)


def test_every_text_exists_in_every_language() -> None:
    keys = set(STRINGS["en"])
    for language, strings in STRINGS.items():
        assert set(strings) == keys, language
        assert all(value.strip() for value in strings.values()), language


def test_every_contract_error_has_a_message() -> None:
    for code in protocol.CLOSE_CODES:
        assert error_key(code) == f"error.{code}"
    assert error_key("something-new") == "error.bad_message"
    assert Translator("ko")("join.occupancy", n=2, cap=6) == "6명 중 2명 입장"


@pytest.mark.parametrize(
    "saved, preferred, expected",
    [("ko", ["en-US"], "ko"), ("", ["ko-KR", "en"], "ko"), (None, ["fr-FR", "en-GB"], "en"), ("xx", [], "en")],
)
def test_language_choice(saved, preferred, expected) -> None:  # type: ignore[no-untyped-def]
    assert pick_language(saved, preferred) == expected


def test_video_encoding_shrinks_as_the_mesh_grows() -> None:
    two, six = video_encoding(2), video_encoding(6)
    assert two == {"maxBitrate": 1_200_000, "scaleResolutionDownBy": 1.0, "maxFramerate": 30.0}
    assert six["scaleResolutionDownBy"] == 2.0 and six["maxFramerate"] == 15.0
    assert six["maxBitrate"] * 5 <= UPLINK_BUDGET_BPS


@pytest.mark.parametrize("camera", [(640, 480), (320, 240), (192, 144), (1280, 720), (1920, 1080), (1280, 960), (720, 1280)])
def test_the_sent_video_keeps_the_cameras_shape_within_a_vga_budget(camera: tuple[int, int]) -> None:
    width, height = sent_size(*camera)
    assert width * height <= MAX_SENT_PIXELS and width % 2 == 0
    assert abs(width / height - camera[0] / camera[1]) < 0.01
    if camera[0] * camera[1] <= MAX_SENT_PIXELS:
        assert (width, height) == camera
    else:
        assert height % 16 == 0 and width * height > 0.85 * MAX_SENT_PIXELS
