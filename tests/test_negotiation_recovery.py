"""A pair whose connection breaks gets a fresh one on both sides (negotiation.Pairing), in
CPython against a model of the W3C signaling state machine, through every delivery order."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py import negotiation
from frontend_py.negotiation import Pairing, is_polite
from signaling.protocol import MAX_GENERATION, ProtocolError, restart_signal
from tests.modelpeerconnection import ModelPeerConnection

pytestmark = pytest.mark.anyio


class ModelConnection(ModelPeerConnection):
    """A ModelPeerConnection that can break or close. A `broken` one refuses every description,
    as Chromium's does once its SCTP transport failed to start; a closed one refuses everything."""

    def __init__(self, name: str, generation: int, broken: bool) -> None:
        super().__init__(f"{name}{generation}")
        self.broken = broken
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("InvalidStateError: the connection is closed")

    async def set_local_description(self) -> dict[str, str]:
        self._check()
        return await super().set_local_description()

    async def set_remote_description(self, description: dict[str, str]) -> None:
        self._check()
        if self.broken:
            raise RuntimeError("OperationError: Failed to start SCTP transport")
        await super().set_remote_description(description)

    async def add_ice_candidate(self, candidate: dict) -> None:  # type: ignore[type-arg]
        self._check()
        await super().add_ice_candidate(candidate)

    def close(self) -> None:
        self.closed = True


class Side:
    """One participant's end of the pair: its Pairing, every connection it made, and the
    browser's `negotiationneeded` event that each fresh connection fires soon after."""

    def __init__(self, name: str, other: str, wire: list, broken: set[int], **options: float) -> None:  # type: ignore[type-arg]
        self.name = name
        self.broken = broken
        self.connections: list[ModelConnection] = []
        self.pending_negotiation: list[ModelConnection] = []
        self.pairing = Pairing(is_polite(name, other), self.connect, lambda data: wire.append((other, data)), **options)

    def connect(self, generation: int) -> ModelConnection:
        connection = ModelConnection(self.name, generation, generation in self.broken)
        self.connections.append(connection)
        self.pending_negotiation.append(connection)
        return connection

    async def negotiation_needed(self) -> None:
        connection = self.pending_negotiation.pop(0)
        if connection.closed:
            return  # the browser fires nothing on a closed connection
        try:
            await self.pairing.negotiation_needed()
        except RuntimeError:
            pass  # what the page logs; the pairing has acted on it

    async def receive(self, data: dict) -> None:  # type: ignore[type-arg]
        try:
            await self.pairing.receive(data)
        except RuntimeError:
            pass  # what the page logs; the pairing has acted on it


def pair(broken_a: set[int] = frozenset(), broken_b: set[int] = frozenset(), **options: float) -> tuple[Side, Side, list]:  # type: ignore[type-arg]
    wire: list = []  # type: ignore[type-arg]
    options = {"first_offer_grace": 0.0, "restart_backoff": 0.0, **options}
    return Side("a", "b", wire, set(broken_a), **options), Side("b", "a", wire, set(broken_b), **options), wire


async def run(a: Side, b: Side, wire: list, pick: random.Random, lose: int = 0) -> None:  # type: ignore[type-arg]
    """Run every event until none is left: each side's signals in order, each fresh
    connection's `negotiationneeded`, the two sides interleaved at random. The first `lose`
    restart signals are lost on the way (a socket that dropped)."""
    sides = {"a": a, "b": b}
    while wire or a.pending_negotiation or b.pending_negotiation:
        events = [("signal", to) for to in sorted({to for to, _ in wire})]
        events += [("negotiate", side.name) for side in (a, b) if side.pending_negotiation]
        kind, name = pick.choice(events)
        if kind == "negotiate":
            await sides[name].negotiation_needed()
            continue
        index = next(i for i, (to, _) in enumerate(wire) if to == name)
        _, data = wire.pop(index)
        if lose and data.get("restart") is True:
            lose -= 1
            continue
        await sides[name].receive(data)


def assert_connected(a: Side, b: Side) -> None:
    """Both sides on the same connection, negotiated with each other, nothing else open."""
    assert a.pairing.generation == b.pairing.generation
    pc_a, pc_b = a.pairing.pc, b.pairing.pc
    assert not pc_a.broken and not pc_b.broken  # type: ignore[attr-defined]
    assert pc_a.signaling_state == pc_b.signaling_state == "stable"
    assert pc_a.local is not None and pc_b.remote == pc_a.local and pc_a.remote == pc_b.local  # type: ignore[attr-defined]
    for side in (a, b):
        assert [c.closed for c in side.connections] == [True] * (len(side.connections) - 1) + [False]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["a", "b", "both"]))
async def test_a_broken_first_connection_is_replaced_on_both_sides(seed: int, broken: str) -> None:
    # Broken from the start, the way Chromium's pair stayed "new" in the six-friends test:
    # every description applied to it fails.
    a, b, wire = pair({0} if broken in ("a", "both") else set(), {0} if broken in ("b", "both") else set())
    await run(a, b, wire, random.Random(seed))
    assert_connected(a, b)
    # Each side replaced the broken one once at most, whoever noticed first.
    assert a.pairing.generation == 1
    assert len(a.connections) == len(b.connections) == 2


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 3))
async def test_a_lost_restart_signal_is_made_up_by_the_next_signal(seed: int, lost: int) -> None:
    a, b, wire = pair({0}, set())
    await run(a, b, wire, random.Random(seed), lose=lost)
    assert_connected(a, b)


async def test_a_restart_announced_twice_replaces_the_connection_once() -> None:
    a, b, wire = pair()
    await run(a, b, wire, random.Random(0))
    for _ in range(2):
        await b.receive(restart_signal(1))
    assert len(b.connections) == 2 and b.pairing.generation == 1
    await run(a, b, wire, random.Random(1))
    assert_connected(a, b)


async def test_signals_of_a_replaced_connection_are_dropped_and_answered_with_the_restart() -> None:
    a, b, wire = pair()
    await run(a, b, wire, random.Random(0))
    stale_offer = {"description": {"type": "offer", "sdp": "a0-offer-9"}, "generation": 0}
    await b.receive(restart_signal(1))
    wire.clear()
    await b.receive(stale_offer)
    await b.receive({"candidate": {"candidate": "a0-host"}, "generation": 0})
    assert b.pairing.pc.remote is None  # type: ignore[attr-defined]
    assert wire == [("a", restart_signal(1))]
    await run(a, b, wire, random.Random(2))
    assert_connected(a, b)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32))
async def test_a_pair_that_breaks_every_connection_stops_after_a_few_restarts_further_apart(seed: int) -> None:
    waits: list[float] = []
    sleep = asyncio.sleep

    async def counted_sleep(seconds: float) -> None:
        if seconds:
            waits.append(seconds)
        await sleep(0)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(negotiation.asyncio, "sleep", counted_sleep)
        a, b, wire = pair(set(range(100)), set(), restart_backoff=2.0)
        await run(a, b, wire, random.Random(seed))
    assert a.pairing.generation == b.pairing.generation == negotiation.MAX_RESTARTS
    assert waits == [2.0 * (2**n - 1) for n in range(1, negotiation.MAX_RESTARTS)]
    assert not await a.pairing.restart(a.pairing.generation)


async def test_a_connection_that_came_up_may_be_restarted_again() -> None:
    a, b, wire = pair(set(range(100)), set(), max_restarts=1)
    await run(a, b, wire, random.Random(0))
    assert a.pairing.generation == 1 and not await a.pairing.restart(1)
    a.pairing.connected()
    assert await a.pairing.restart(1)
    assert a.pairing.generation == 2


async def test_a_closed_pair_restarts_nothing() -> None:
    a, b, wire = pair({0}, set())
    a.pairing.close()
    await run(a, b, wire, random.Random(0))
    assert len(a.connections) == 1 and a.connections[0].closed


@pytest.mark.parametrize("generation", [-1, MAX_GENERATION + 1, 1.0, True, "1", None, [1]])
async def test_a_malformed_generation_is_refused_before_anything_is_applied(generation: object) -> None:
    _, b, _ = pair()
    with pytest.raises(ProtocolError):
        await b.pairing.receive({"restart": True, "generation": generation})
    assert len(b.connections) == 1 and b.pairing.generation == 0
