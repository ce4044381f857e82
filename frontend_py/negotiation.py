"""WebRTC's "perfect negotiation" pattern, free of any browser object.

Both sides of a connection may start an offer at the same moment (glare). Perfect negotiation
makes one side polite: it rolls back its own offer and answers the other's; the impolite side
ignores the colliding offer. Which side is polite is decided by comparing peer ids, so the two
sides always agree without talking about it.

Glare is the exception: one side offers first (`offers_first`) and the other gives it a moment.
The one already in the booth offers to someone who just joined: the newcomer's page is building
its room then, so its offer took longer to make and the whole join was slower (bench/join.py,
Join -> first remote frame, medians of 6 runs: 0.75 to 0.9 s, against 1.06 to 1.14 s when the
newcomer offered).

`Negotiator` drives anything shaped like `PeerConnectionLike`: in the browser an adapter over
a real `RTCPeerConnection` (rtcpeerconnection.py), in the CPython tests a model of the W3C
signaling state machine, driven through glare in every message order.

A connection can also break for good: Chromium sometimes refuses every description a pair
applies after a glare ("Failed to start SCTP transport"), and a friend would never appear.
`Pairing` then replaces it by a fresh connection on both sides (a numbered generation, see
there), a few times at most, further apart each time. The wait before a replacement runs
beside the pair's signals, never in their way: a fresh offer the peer sends meanwhile is
answered at once.

Chromium never settles a promise of an RTCPeerConnection that was closed while it ran (the
spec's "abort these steps"). `Pairing` abandons what it was applying to a connection the
moment it replaces that connection: awaiting it would stall every later signal of the pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from signaling.protocol import (
    BAD_MESSAGE,
    GENERATION,
    MAX_GENERATION,
    ProtocolError,
    is_restart,
    restart_signal,
    signal_generation,
)

# Both sides want to offer the moment they learn of each other. The side that does not offer
# first gives the other's first offer this long to arrive before offering itself: Chromium loses
# ICE gathering, for good, on a connection whose offer is rolled back while it gathers.
FIRST_OFFER_GRACE_S = 2.0
# A broken connection is replaced at once the first time, then after 2, 6, 14... seconds (the
# cause may be load that takes a while to pass), and at most this many times in a row: a peer
# that breaks every connection (a hostile one) costs a handful of connections, not a stream.
RESTART_BACKOFF_S = 2.0
MAX_RESTARTS = 5
# A peer's connection is ahead of ours by its restarts that never reached us, a handful at most
# (MAX_RESTARTS in a row, and both sides meet again whenever a connection comes up). A signal
# further ahead is a hostile peer's jump towards MAX_GENERATION, which would leave the pair no
# number to restart to: it is refused. A side that lost the pair and starts over (a reloaded page)
# is further behind than that after a long session, so it says so first (`FRESH_START`).
MAX_GENERATION_LEAD = MAX_RESTARTS + 1
# No side ever restarts to the first connection's number, so a restart to it can mean something
# else: it is a pairing's first signal, telling the peer that this side has started over with
# nothing of the pair (its connection, its count) and that the peer should do the same.
FRESH_START = 0
# Signals waiting to be applied: a negotiation is an offer, an answer and a few dozen
# candidates. More than this means the page stalled or the peer floods it.
MAX_WAITING_SIGNALS = 256


def is_polite(own_id: str, other_id: str) -> bool:
    """Exactly one side of a pair is polite: the one with the smaller id."""
    return own_id < other_id


class PeerConnectionLike(Protocol):
    @property
    def signaling_state(self) -> str: ...

    @property
    def has_remote_description(self) -> bool: ...

    async def set_local_description(self) -> dict[str, str]:
        """Create and apply the fitting offer or answer (implicit rollback included); return it."""

    async def set_remote_description(self, description: dict[str, str]) -> None: ...

    async def add_ice_candidate(self, candidate: dict[str, Any]) -> None: ...


class Negotiator:
    """Perfect-negotiation state for one connection; `send(data)` relays a signal to the peer."""

    def __init__(
        self,
        polite: bool,
        offers_first: bool,
        pc: PeerConnectionLike,
        send: Callable[[dict[str, Any]], Any],
        first_offer_grace: float = FIRST_OFFER_GRACE_S,
    ) -> None:
        self.polite = polite
        self.offers_first = offers_first
        self.first_offer_grace = first_offer_grace
        self.pc = pc
        self.send = send
        self.making_offer = False
        self.ignore_offer = False
        self.setting_remote_answer_pending = False

    async def negotiation_needed(self) -> None:
        if not self.offers_first and not self.pc.has_remote_description:
            await asyncio.sleep(self.first_offer_grace)
            if self.pc.has_remote_description or self.pc.signaling_state != "stable":
                # The other side's offer came and covers ours; if anything is left, the
                # browser asks again once the connection is stable.
                return
        self.making_offer = True
        try:
            description = await self.pc.set_local_description()
            self.send({"description": description})
        finally:
            self.making_offer = False

    async def receive(self, data: dict[str, Any]) -> None:
        """Apply one signal from the peer: a description or an ICE candidate."""
        description = data.get("description")
        if isinstance(description, dict):
            await self._receive_description(description)
        elif isinstance(data.get("candidate"), dict):
            try:
                await self.pc.add_ice_candidate(data["candidate"])
            except Exception:
                # A candidate for an offer we ignored is expected to fail.
                if not self.ignore_offer:
                    raise

    async def _receive_description(self, description: dict[str, str]) -> None:
        kind = description.get("type")
        ready_for_offer = not self.making_offer and (
            self.pc.signaling_state == "stable" or self.setting_remote_answer_pending
        )
        collision = kind == "offer" and not ready_for_offer
        self.ignore_offer = not self.polite and collision
        if self.ignore_offer:
            return
        self.setting_remote_answer_pending = kind == "answer"
        try:
            await self.pc.set_remote_description(description)
        finally:
            self.setting_remote_answer_pending = False
        if kind == "offer":
            self.send({"description": await self.pc.set_local_description()})


class ConnectionLike(PeerConnectionLike, Protocol):
    def close(self) -> None:
        """Close it for good: nothing it was doing may reach the pair any more."""


class Pairing:
    """The connections between two participants, one after another: a `Negotiator` over the
    current one, and a fresh one on both sides when it breaks. `connect(generation)` makes
    connection number `generation`, `send(data)` relays a signal to the peer.

    Connections are numbered (their generation) and every signal carries its connection's
    number. A signal of a later connection tells this side that the peer has replaced theirs:
    this side replaces its own at once to that number and applies the signal. A signal of an
    earlier one is dropped (and an offer or a restart from it answered with our restart, so a
    peer that missed ours catches up). Both sides may replace their connection at the same
    moment (glare): they count to the same number and meet there. A replacement asked for a
    connection that was already replaced is a no-op, so asking twice is harmless.

    A replacement this side asks for waits its backoff in a task of its own, one per pair at
    most, while signals go on being applied: a peer's restart arriving meanwhile replaces the
    connection at once and makes the waiting one pointless, so it is cancelled, as it is when
    the connection comes up or the pair is closed.

    A pairing's first signal is a restart to `FRESH_START`. The peer may still hold a connection
    made with this side's previous self (a page reloaded under the same peer id, no departure
    seen in between), at any number: it replaces that connection by a fresh first one, so both
    count from 0 again, however far ahead it was. Should their numbers still end up too far
    apart (the peer's restart crossed that first signal, and it restarted on from there), the
    side left behind starts over in the same way, and says so.

    Signals wait in an inbox (`deliver`, `next_signal`) to be applied one at a time, in order.
    """

    def __init__(
        self,
        polite: bool,
        offers_first: bool,
        connect: Callable[[int], ConnectionLike],
        send: Callable[[dict[str, Any]], Any],
        first_offer_grace: float = FIRST_OFFER_GRACE_S,
        restart_backoff: float = RESTART_BACKOFF_S,
        max_restarts: int = MAX_RESTARTS,
        max_waiting_signals: int = MAX_WAITING_SIGNALS,
    ) -> None:
        self.polite = polite
        self.offers_first = offers_first
        self.connect = connect
        self.send = send
        self.first_offer_grace = first_offer_grace
        self.restart_backoff = restart_backoff
        self.max_restarts = max_restarts
        self.generation = FRESH_START
        self.restarts = 0  # since the pair was last connected
        self.closed = False
        self._pending_restart: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue(max_waiting_signals)
        # Resolved when the current connection is closed; made on first use (no loop needed before).
        self._replaced: asyncio.Future[None] | None = None
        self.send(restart_signal(FRESH_START))
        self.negotiator = self._negotiator()

    @property
    def pc(self) -> ConnectionLike:
        return self.negotiator.pc  # type: ignore[return-value]

    def connected(self) -> None:
        """The current connection is up (media and data): a later break may be restarted from
        scratch again, as many times, and a replacement still waiting is not needed."""
        self.restarts = 0
        self._cancel_pending_restart()

    def close(self) -> None:
        self.closed = True
        self._cancel_pending_restart()
        self._close_current()

    def deliver(self, data: dict[str, Any], arrived: float = 0.0) -> bool:
        """Queue a peer's signal (which arrived at time `arrived`) for `next_signal`. False when
        too many are waiting already: then every waiting one is dropped, and the caller restarts
        the pair (`restart`), since what was dropped may have been the offer it needed."""
        try:
            self._inbox.put_nowait((arrived, data))
        except asyncio.QueueFull:
            while not self._inbox.empty():
                self._inbox.get_nowait()
            return False
        return True

    async def next_signal(self) -> tuple[float, dict[str, Any]]:
        """The oldest waiting signal, and when it arrived."""
        return await self._inbox.get()

    async def negotiation_needed(self) -> None:
        negotiator, generation = self.negotiator, self.generation
        try:
            await self._on_current(negotiator.negotiation_needed())
        except Exception:
            if negotiator is self.negotiator:
                self.schedule_restart(generation)
            raise

    async def receive(self, data: dict[str, Any]) -> None:
        """Apply one signal from the peer (raises `ProtocolError` for a malformed number or one
        too far ahead, and what applying it raised; a broken connection's replacement is then
        under way, see `schedule_restart`)."""
        generation = signal_generation(data)
        if self.closed:
            return
        if is_restart(data) and generation == FRESH_START:
            self._follow_fresh_start()
            return
        if generation < self.generation:
            if is_restart(data) or "description" in data:
                self.send(restart_signal(self.generation))
            return
        if generation > self.generation + MAX_GENERATION_LEAD:
            if not self._pristine():
                # Too far behind to follow, and the peer cannot come down by itself (their
                # numbers crossed a fresh start): both start over from the first number.
                self.restarts = 0
                self.send(restart_signal(FRESH_START))
                self._replace(FRESH_START)
            raise ProtocolError(BAD_MESSAGE, f"signal's {GENERATION!r} jumps too far ahead")
        if generation > self.generation:
            self._replace(generation)
        if is_restart(data):
            return
        negotiator = self.negotiator
        try:
            await self._on_current(negotiator.receive(data))
        except Exception:
            description = data.get("description")
            # An answer that finds no offer waiting repeats one already applied (an offer
            # sent again while the answer was on its way): the connection is fine.
            repeated_answer = isinstance(description, dict) and description.get("type") == "answer" and (
                self.pc.signaling_state == "stable"
            )
            if description is not None and not repeated_answer and negotiator is self.negotiator:
                self.schedule_restart(generation)
            raise

    def schedule_restart(self, broken_generation: int) -> asyncio.Task[None] | None:
        """Have connection `broken_generation` replaced by a fresh one on both sides once the
        backoff has passed, by a task beside the pair's signals: that task (the one already
        waiting, if any), or None when the connection is no longer the current one, when the
        pair is closed, or when it has had its share of restarts."""
        if broken_generation != self.generation or self.closed:
            return None
        if self._pending_restart is not None:
            return self._pending_restart
        if self.restarts >= self.max_restarts or self.generation >= MAX_GENERATION:
            return None
        self._pending_restart = asyncio.ensure_future(self._restart_after_backoff())
        return self._pending_restart

    async def restart(self, broken_generation: int) -> bool:
        """`schedule_restart`, then wait for it: True when it replaced the connection, False
        when it was refused or made pointless meanwhile (cancelled). Cancelling the caller
        leaves the replacement under way."""
        pending = self.schedule_restart(broken_generation)
        if pending is None:
            return False
        await asyncio.wait((pending,))
        return not pending.cancelled()

    async def _restart_after_backoff(self) -> None:
        await asyncio.sleep(self.restart_backoff * (2**self.restarts - 1))
        self._pending_restart = None
        self.restarts += 1
        # Announced before the fresh connection exists, so it reaches the peer before any
        # offer or candidate of it.
        self.send(restart_signal(self.generation + 1))
        self._replace(self.generation + 1)

    def _follow_fresh_start(self) -> None:
        """The peer has started over: whatever connection this side holds was made with its
        previous self (a fresh start precedes all the peer sends after it, so nothing of that
        has been applied here yet). A pristine one is kept, so a repeated fresh start costs
        nothing."""
        if self._pristine():
            return
        self.restarts = 0
        # The peer is the newcomer now, joining a booth where this side was.
        self.offers_first = True
        self._replace(FRESH_START)

    def _pristine(self) -> bool:
        """Whether the current connection is a first one that has applied nothing from the peer."""
        return self.generation == FRESH_START and not self.pc.has_remote_description

    async def _on_current(self, operation: Coroutine[Any, Any, None]) -> None:
        """Run `operation` on the current connection, abandoned (cancelled, without error) if
        that connection is closed first: its browser promises would never settle."""
        if self._replaced is None:
            self._replaced = asyncio.get_running_loop().create_future()
        replaced = self._replaced
        task = asyncio.ensure_future(operation)
        try:
            await asyncio.wait((task, replaced), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            task.result()

    def _cancel_pending_restart(self) -> None:
        if self._pending_restart is not None:
            self._pending_restart.cancel()
            self._pending_restart = None

    def _close_current(self) -> None:
        self.pc.close()
        if self._replaced is not None:
            self._replaced.set_result(None)
            self._replaced = None

    def _replace(self, generation: int) -> None:
        # Whatever replacement was waiting concerned the connection closed here.
        self._cancel_pending_restart()
        self._close_current()
        self.generation = generation
        self.negotiator = self._negotiator()

    def _negotiator(self) -> Negotiator:
        generation = self.generation

        def send(data: dict[str, Any]) -> Any:
            return self.send({**data, GENERATION: generation})

        return Negotiator(self.polite, self.offers_first, self.connect(generation), send, self.first_offer_grace)
