"""A pair whose connection breaks gets a fresh one on both sides (negotiation.Pairing), in
CPython against a model of the W3C signaling state machine, through every delivery order."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py import negotiation
from frontend_py.negotiation import Pairing, is_polite
from signaling.protocol import MAX_GENERATION, ProtocolError, restart_signal
from tests.modelpeerconnection import ModelPeerConnection

pytestmark = pytest.mark.anyio


class Browser:
    """The browser's side of operations under way: each waits here until the test completes
    it, in the order the test picks."""

    def __init__(self) -> None:
        self.under_way: list[asyncio.Future[None]] = []

    async def takes_a_while(self) -> None:
        done = asyncio.get_running_loop().create_future()
        self.under_way.append(done)
        await done


class ModelConnection(ModelPeerConnection):
    """A ModelPeerConnection that can break or close. A `broken` one refuses every description,
    as Chromium's does once its SCTP transport failed to start; a closed one refuses everything.
    With a `browser`, operations take a while, one after another (the operations chain), and
    one still under way when the connection closes never settles, as in Chromium."""

    def __init__(self, name: str, generation: int, broken: bool, browser: Browser | None = None) -> None:
        super().__init__(f"{name}{generation}")
        self.broken = broken
        self.closed = False
        self.browser = browser
        self.chain = asyncio.Lock()

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("InvalidStateError: the connection is closed")

    @contextlib.asynccontextmanager
    async def operation(self) -> AsyncIterator[None]:
        self._check()
        if self.browser is None:
            yield
            return
        async with self.chain:
            await self.browser.takes_a_while()
            if self.closed:
                await asyncio.get_running_loop().create_future()  # never settles
            yield

    async def set_local_description(self) -> dict[str, str]:
        async with self.operation():
            return await super().set_local_description()

    async def set_remote_description(self, description: dict[str, str]) -> None:
        async with self.operation():
            if self.broken:
                raise RuntimeError("OperationError: Failed to start SCTP transport")
            await super().set_remote_description(description)

    async def add_ice_candidate(self, candidate: dict) -> None:  # type: ignore[type-arg]
        async with self.operation():
            await super().add_ice_candidate(candidate)

    def close(self) -> None:
        self.closed = True


class Side:
    """One participant's end of the pair: its Pairing, every connection it made, and the
    browser's `negotiationneeded` event that each fresh connection fires soon after."""

    def __init__(
        self, name: str, other: str, wire: list, broken: set[int], browser: Browser | None = None, offers_first: bool = False,  # type: ignore[type-arg]
        **options: float,
    ) -> None:
        self.name = name
        self.broken = broken
        self.browser = browser
        self.connections: list[ModelConnection] = []
        self.pending_negotiation: list[ModelConnection] = []
        self.pairing = Pairing(is_polite(name, other), offers_first, self.connect, lambda data: wire.append((other, data)), **options)

    def connect(self, generation: int) -> ModelConnection:
        connection = ModelConnection(self.name, generation, generation in self.broken, self.browser)
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


def pair(
    broken_a: set[int] = frozenset(), broken_b: set[int] = frozenset(), browser: Browser | None = None, first: str = "b",
    **options: float,
) -> tuple[Side, Side, list]:  # type: ignore[type-arg]
    """`a` is the polite side; `first` offers first (the one already in the booth)."""
    wire: list = []  # type: ignore[type-arg]
    options = {"first_offer_grace": 0.0, "restart_backoff": 0.0, **options}
    return (
        Side("a", "b", wire, set(broken_a), browser, first == "a", **options),
        Side("b", "a", wire, set(broken_b), browser, first == "b", **options),
        wire,
    )


async def run(a: Side, b: Side, wire: list, pick: random.Random, lose: int = 0) -> None:  # type: ignore[type-arg]
    """Run every event until none is left: each side's signals in order, each fresh
    connection's `negotiationneeded`, the two sides interleaved at random. The first `lose`
    restart signals are lost on the way (a socket that dropped)."""
    sides = {"a": a, "b": b}
    while True:
        await settle()
        if not (wire or a.pending_negotiation or b.pending_negotiation):
            break
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


async def settle() -> None:
    """Let the tasks a pairing starts beside its signals run (a replacement, once its backoff
    has passed), as the page's event loop would between two events."""
    for _ in range(20):
        await asyncio.sleep(0)


async def run_concurrently(
    a: Side, b: Side, wire: list, pick: random.Random, lose: str = "", watchdog_rounds: int = 6, last_watchdog: Side | None = None,  # type: ignore[type-arg]
) -> None:
    """Like `run`, with what runs side by side in the page running side by side here: each side
    applies its signals in a worker of its own (PeerLink's), a `negotiationneeded` handler runs
    beside it, browser operations complete in an order picked at random, and each side's watchdog
    restarts a pair that is not connected at any moment (`watchdog_rounds` times at most), as a
    page under load may see it. `lose`: "first-offer" loses the first offer on its way,
    "negotiation" the first connections' `negotiationneeded` (nobody ever offers on them).
    `last_watchdog`: that side's watchdog fires once more should the pair be stuck at the end."""
    browser = a.browser
    assert browser is not None
    errors: list[BaseException] = []

    async def apply_signals(side: Side) -> None:
        while True:
            _, data = await side.pairing.next_signal()
            try:
                await side.pairing.receive(data)
            except (RuntimeError, ProtocolError):
                pass  # what the page logs
            except Exception as exc:  # noqa: BLE001 (a broken model or pairing fails the test below)
                errors.append(exc)

    workers = [asyncio.ensure_future(apply_signals(side)) for side in (a, b)]
    handlers: list[asyncio.Future[object]] = []
    if lose == "negotiation":
        for side in (a, b):
            side.pending_negotiation.clear()
    offer_to_lose = lose == "first-offer"
    rounds_left = {side.name: watchdog_rounds for side in (a, b)}
    try:
        while True:
            await settle()
            events: list[tuple[str, object]] = [("signal", to) for to in sorted({to for to, _ in wire})]
            events += [("negotiate", side) for side in (a, b) if side.pending_negotiation]
            events += [("complete", done) for done in browser.under_way if not done.done()]
            if not is_connected(a, b) and (not events or pick.random() < 0.2):
                events += [("watchdog", side) for side in (a, b) if rounds_left[side.name]]
            if not events and last_watchdog is not None and not is_connected(a, b):
                rounds_left[last_watchdog.name] += 1
                events, last_watchdog = [("watchdog", last_watchdog)], None
            if not events:
                break
            assert waiting_restarts(a.pairing) <= 1 and waiting_restarts(b.pairing) <= 1
            kind, what = pick.choice(events)
            if kind == "signal":
                _, data = wire.pop(next(i for i, (to, _) in enumerate(wire) if to == what))
                description = data.get("description")
                if offer_to_lose and isinstance(description, dict) and description["type"] == "offer":
                    offer_to_lose = False
                    continue
                assert {"a": a, "b": b}[what].pairing.deliver(data)  # type: ignore[index]
            elif kind == "negotiate":
                handlers.append(asyncio.ensure_future(what.negotiation_needed()))  # type: ignore[attr-defined]
            elif kind == "complete":
                what.set_result(None)  # type: ignore[attr-defined]
            else:
                rounds_left[what.name] -= 1  # type: ignore[attr-defined]
                pairing = what.pairing  # type: ignore[attr-defined]
                handlers.append(asyncio.ensure_future(pairing.restart(pairing.generation)))
    finally:
        for task in workers + handlers:
            task.cancel()
    assert errors == []
    assert not any(task.done() and not task.cancelled() and task.exception() for task in handlers)


def waiting_restarts(pairing: Pairing) -> int:
    """The replacements of `pairing`'s connection waiting their backoff, each a task of its own."""
    return sum(
        1 for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__ == "Pairing._restart_after_backoff"  # type: ignore[union-attr]
        and task.get_coro().cr_frame.f_locals["self"] is pairing  # type: ignore[union-attr]
    )


async def end(a: Side, b: Side) -> None:
    """Both sides leave: nothing either pairing started may go on running."""
    for side in (a, b):
        side.pairing.close()
    await settle()
    assert waiting_restarts(a.pairing) == waiting_restarts(b.pairing) == 0


def is_connected(a: Side, b: Side) -> bool:
    pc_a, pc_b = a.pairing.pc, b.pairing.pc
    return (
        a.pairing.generation == b.pairing.generation
        and pc_a.signaling_state == pc_b.signaling_state == "stable"
        and pc_a.local is not None and pc_b.remote == pc_a.local and pc_a.remote == pc_b.local  # type: ignore[attr-defined]
    )


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


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["", "first-offer", "negotiation"]), st.sampled_from(["a", "b"]))
async def test_a_pair_connects_whatever_the_browser_finishes_first_and_whenever_the_watchdog_restarts(
    seed: int, lose: str, first: str,
) -> None:
    # Chromium never settles an operation of a connection closed while it ran: a restart that
    # closed the connection a signal was being applied to stalled every later signal of the
    # pair, and the friend stayed "new" for good (the six-friends test, under load).
    a, b, wire = pair(browser=Browser(), first=first)
    await run_concurrently(a, b, wire, random.Random(seed), lose)
    assert_connected(a, b)


async def test_too_many_waiting_signals_are_dropped_and_the_pair_restarts() -> None:
    a, b, wire = pair(browser=Browser(), max_waiting_signals=4)
    candidates = [{"candidate": {"candidate": f"a0-host-{n}"}, "generation": 0} for n in range(5)]
    assert [b.pairing.deliver(candidate) for candidate in candidates] == [True] * 4 + [False]
    assert await b.pairing.restart(0)
    # After each side's first signal, which says it starts fresh.
    assert wire == [("b", restart_signal(0)), ("a", restart_signal(0)), ("a", restart_signal(1))]
    await run_concurrently(a, b, wire, random.Random(0), watchdog_rounds=0)
    assert_connected(a, b)
    assert b.pairing.generation == 1
    assert all(candidate["candidate"]["candidate"] not in str(b.pairing.pc.candidates) for candidate in candidates)  # type: ignore[attr-defined]


async def test_a_signal_jumping_far_ahead_is_refused_and_the_pair_can_still_restart() -> None:
    # A hostile peer sending the maximum generation would leave the pair no number to restart to.
    a, b, wire = pair()
    await run(a, b, wire, random.Random(0))
    wire.clear()
    for generation in (MAX_GENERATION, negotiation.MAX_GENERATION_LEAD + 1):
        with pytest.raises(ProtocolError):
            await b.pairing.receive(restart_signal(generation))
    # Never followed up: b, unable to follow, starts over from 0 once and says so (an honest
    # peer that far ahead comes down to meet it), and stays there.
    assert b.pairing.generation == 0 and len(b.connections) == 2
    assert wire == [("a", restart_signal(0))]
    await run(a, b, wire, random.Random(1))
    assert_connected(a, b)
    assert await a.pairing.restart(a.pairing.generation)
    await run(a, b, wire, random.Random(2))
    assert_connected(a, b)
    # A peer that restarted as often as it may while its restarts never reached us is followed.
    ahead = a.pairing.generation + negotiation.MAX_GENERATION_LEAD
    await b.pairing.receive(restart_signal(ahead))
    await a.pairing.receive(restart_signal(ahead))
    await run(a, b, wire, random.Random(3))
    assert_connected(a, b)
    assert a.pairing.generation == ahead


# Longer than any test runs: a replacement waiting this long waits for good here.
FOR_GOOD = 3600.0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["a", "b"]), st.integers(1, 3))
async def test_a_peers_restart_during_our_backoff_is_followed_at_once(seed: int, slow: str, watchdog_rounds: int) -> None:
    # The slow side's first two connections refuse every description: its second replacement
    # waits its backoff (2 s in the page, for good here). The backoff used to run inside the
    # pair's signal worker, so the restart and offer of the peer's watchdog waited behind it,
    # and the friend with them. Each side's watchdog fires at random moments, and the peer's
    # once more if the pair is still stuck when nothing else is left to happen.
    a, b, wire = pair({0, 1} if slow == "a" else set(), {0, 1} if slow == "b" else set(), Browser())
    slow_side, other = (a, b) if slow == "a" else (b, a)
    slow_side.pairing.restart_backoff = FOR_GOOD
    await run_concurrently(a, b, wire, random.Random(seed), watchdog_rounds=watchdog_rounds, last_watchdog=other)
    assert_connected(a, b)
    await end(a, b)


async def test_a_replacement_waits_its_backoff_beside_the_pairs_signals() -> None:
    a, b, wire = pair({0, 1}, set(), Browser())
    a.pairing.restart_backoff = FOR_GOOD
    await run_concurrently(a, b, wire, random.Random(0), watchdog_rounds=0)
    # Connection 0 was replaced at once, connection 1 only after a backoff that never ends here.
    assert a.pairing.generation == b.pairing.generation == 1
    assert waiting_restarts(a.pairing) == 1
    # Asking again (the watchdog, a rejoin that found the link failed) joins the one waiting.
    assert a.pairing.schedule_restart(1) is a.pairing.schedule_restart(1) is not None
    assert waiting_restarts(a.pairing) == 1
    assert await b.pairing.restart(1)
    await run_concurrently(a, b, wire, random.Random(1), watchdog_rounds=0)
    assert_connected(a, b)
    # b's restart made a's pointless: a followed it and never restarted again itself.
    assert a.pairing.generation == 2 and len(a.connections) == 3
    assert waiting_restarts(a.pairing) == 0
    await end(a, b)


@pytest.mark.parametrize("meanwhile", ["connection-up", "pair-ends"])
async def test_a_waiting_replacement_is_dropped_when_the_connection_comes_up_or_the_pair_ends(meanwhile: str) -> None:
    a, b, wire = pair({0}, set(), Browser())
    a.pairing.restart_backoff = FOR_GOOD
    await run_concurrently(a, b, wire, random.Random(0), watchdog_rounds=0)
    assert_connected(a, b)
    assert a.pairing.generation == 1  # replaced at once, the first time
    waiting = a.pairing.schedule_restart(1)  # the next one waits its backoff
    await settle()
    assert waiting is not None and waiting_restarts(a.pairing) == 1
    if meanwhile == "connection-up":
        a.pairing.connected()  # its data channel opened
        await settle()
        assert waiting.cancelled()
        assert a.pairing.schedule_restart(1) is not None  # from scratch again: at once
        await run_concurrently(a, b, wire, random.Random(1), watchdog_rounds=0)
        assert_connected(a, b)
        assert a.pairing.generation == 2
    await end(a, b)
    assert waiting.cancelled()
    assert wire == [] and len(a.connections) == a.pairing.generation + 1


async def reach_generation(a: Side, b: Side, wire: list, generation: int, pick: random.Random) -> None:  # type: ignore[type-arg]
    """A long booth: the pair's connection broke and was replaced until its number is
    `generation`, coming up again every time."""
    await run(a, b, wire, pick)
    while a.pairing.generation < generation:
        side = pick.choice((a, b))
        assert await side.pairing.restart(side.pairing.generation)
        await run(a, b, wire, pick)
        assert_connected(a, b)
        a.pairing.connected()
        b.pairing.connected()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32), st.integers(0, 40), st.sampled_from(["a", "b"]), st.booleans(),
    st.sampled_from(["", "first-offer", "negotiation"]), st.sampled_from(["a", "b"]),
)
async def test_a_side_that_starts_over_is_met_whatever_number_the_other_kept(
    seed: int, generation: int, fresh: str, last_words: bool, lose: str, first: str,
) -> None:
    # One side reloads its page and joins again under its peer id before the server noticed
    # its old socket was gone: the other side sees no departure and keeps its connection, at
    # whatever number a long booth took it to. Beyond MAX_GENERATION_LEAD the pair refused
    # each other's signals for good. The new page is the newcomer: it waits for an offer.
    pick = random.Random(seed)
    a, b, wire = pair(first=first)
    await reach_generation(a, b, wire, generation, pick)
    browser = Browser()
    a.browser = b.browser = browser
    if last_words:
        # The old page replaced its connection just before it went: that restart is still on
        # its way when the new page's first signal follows it.
        gone = a if fresh == "a" else b
        assert await gone.pairing.restart(gone.pairing.generation)
    if fresh == "a":
        a = Side("a", "b", wire, set(), browser, first_offer_grace=0.0, restart_backoff=0.0)
    else:
        b = Side("b", "a", wire, set(), browser, first_offer_grace=0.0, restart_backoff=0.0)
    await run_concurrently(a, b, wire, pick, lose)
    assert_connected(a, b)
    await end(a, b)


async def test_a_fresh_start_pushes_no_number_up_and_replaces_a_connection_only_once() -> None:
    a, b, wire = pair()
    # Each side's first signal says it starts fresh: nothing to replace on a first meeting.
    assert wire == [("b", restart_signal(0)), ("a", restart_signal(0))]
    await run(a, b, wire, random.Random(0))
    assert_connected(a, b)
    assert len(a.connections) == len(b.connections) == 1
    # Told so again (a peer started over, or a hostile one says it did) with a negotiated
    # connection: it is replaced by a fresh first one, and the count of restarts starts over.
    b.pairing.restarts = negotiation.MAX_RESTARTS
    for _ in range(3):
        await b.receive(restart_signal(0))
    assert b.pairing.generation == 0 and len(b.connections) == 2 and b.pairing.restarts == 0
    # Only downwards: the limit on jumps ahead still holds after it.
    with pytest.raises(ProtocolError):
        await b.pairing.receive(restart_signal(negotiation.MAX_GENERATION_LEAD + 1))
    assert b.pairing.generation == 0 and len(b.connections) == 2
    await end(a, b)


async def test_a_pair_whose_numbers_ended_too_far_apart_starts_over_together() -> None:
    a, b, wire = pair(browser=Browser())
    await run_concurrently(a, b, wire, random.Random(0), watchdog_rounds=0)
    assert_connected(a, b)
    # a's restarts, one connection up after another, never reached b (a socket that dropped).
    for _ in range(negotiation.MAX_GENERATION_LEAD + 1):
        a.pairing.connected()
        assert await a.pairing.restart(a.pairing.generation)
    wire.clear()
    await run_concurrently(a, b, wire, random.Random(1), watchdog_rounds=0)
    assert_connected(a, b)
    assert a.pairing.generation == b.pairing.generation == 0
    await end(a, b)
