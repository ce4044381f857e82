"""The signaling socket: join, relay, presence, and reconnection that keeps the call alive.

Peer connections do not need the signaling server once they are up, so when the socket drops
only this object notices: it reconnects with backoff and rejoins under the same peer id
(`resume`), and the mesh goes on with the connections it has.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import js

from frontend_py.dom import nullable, on, spawn
from frontend_py.layout import REJOIN_WINDOW_S
from frontend_py.reconnect import Backoff, should_reconnect
from frontend_py.urls import here
from signaling import protocol
from signaling.protocol import Error, Join, ProtocolError, ServerMessage, Signal, Welcome

ANSWER_TIMEOUT_S = 20.0  # a server that neither answers a join nor closes counts as unreachable


class JoinRefused(Exception):
    """The server refused the join; `code` is a contract error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SignalingClient:
    """One participant's socket to `/ws/{room}`.

    `on_message(message)` receives every server message after a join, each `Welcome`
    included (also after a rejoin); `on_state(state, detail)` hears "joined",
    "reconnecting" and "failed" (detail: error code).
    """

    def __init__(
        self,
        room: str,
        token: str,
        name: str,
        on_message: Callable[[ServerMessage], None],
        on_state: Callable[[str, str], None],
    ) -> None:
        self.room = room
        self.token = token
        self.name = name
        self.on_message = on_message
        self.on_state = on_state
        self.peer_id: str | None = None
        self.resume: str | None = None
        self.backoff = Backoff()
        self.socket: Any = None
        self.closed = False

    @property
    def url(self) -> str:
        return here().socket(self.room)

    async def join(self) -> Welcome:
        """Join once; raises `JoinRefused`. Afterwards the socket reconnects by itself.

        Someone who left this booth from this tab less than REJOIN_WINDOW_S ago (a reload,
        Leave and the link again) comes back under the same peer id, so the others' stages
        put them back where they were."""
        remembered = self._remembered()
        if remembered is not None:
            self.peer_id, self.resume = remembered
        try:
            welcome = await self._connect()
        except JoinRefused as refused:
            if remembered is None or refused.code != protocol.INVALID_TOKEN:
                raise
            self.peer_id = self.resume = None
            welcome = await self._connect()
        self._remember(left_at=None)
        on(js.window, "pagehide", lambda _: self._remember(left_at=js.Date.now()))
        self.on_state("joined", "")
        return welcome

    @property
    def _storage_key(self) -> str:
        return f"clov.rejoin.{self.room}"

    def _remembered(self) -> tuple[str, str] | None:
        try:
            saved = json.loads(nullable(js.sessionStorage.getItem(self._storage_key)) or "null")
            peer, resume, left_at = saved["peer"], saved["resume"], saved["left_at"]
        except (ValueError, TypeError, KeyError):
            return None
        recent = isinstance(left_at, (int, float)) and 0 <= js.Date.now() - left_at < REJOIN_WINDOW_S * 1000
        return (peer, resume) if recent and isinstance(peer, str) and isinstance(resume, str) else None

    def _remember(self, left_at: float | None) -> None:
        saved = {"peer": self.peer_id, "resume": self.resume, "left_at": left_at}
        js.sessionStorage.setItem(self._storage_key, json.dumps(saved))

    def send_signal(self, to: str, data: dict[str, Any]) -> bool:
        if self.socket is None or self.socket.readyState != js.WebSocket.OPEN:
            # Offline for a moment: a lost offer or candidate is redone by the ICE restart
            # that follows if the connection does not come up.
            js.console.warn(f"signaling offline: signal to {to} not sent")
            return False
        self.socket.send(protocol.encode(Signal(to=to, data=data)))
        return True

    def close(self) -> None:
        self._remember(left_at=js.Date.now())
        self.closed = True
        if self.socket is not None:
            self.socket.close(1000)

    async def _connect(self) -> Welcome:
        loop = asyncio.get_event_loop()
        first: asyncio.Future[ServerMessage] = loop.create_future()
        socket = js.WebSocket.new(self.url)
        self.socket = socket

        def opened(_: Any) -> None:
            join = Join(token=self.token, name=self.name, peer=self.peer_id, resume=self.resume)
            socket.send(protocol.encode(join))

        def received(event: Any) -> None:
            try:
                message = protocol.parse_server_message(event.data)
            except ProtocolError as exc:
                js.console.error(f"ignored a malformed server message: {exc.message}")
                return
            if socket is not self.socket:
                return
            if first.done():
                self.on_message(message)
                return
            # The welcome is applied right here, in arrival order: messages right behind it
            # (a peer joining, an offer) must not be handled before it.
            if isinstance(message, Welcome):
                self.peer_id, self.resume = message.peer, message.resume
                self.backoff.reset()
                self.on_message(message)
            first.set_result(message)

        def closed(event: Any) -> None:
            if not first.done():
                first.set_exception(JoinRefused(_close_reason(event.code)))
            elif socket is self.socket and not self.closed:
                spawn(self._reconnect(event.code))

        on(socket, "open", opened)
        on(socket, "message", received)
        on(socket, "close", closed)
        try:
            message = await asyncio.wait_for(first, ANSWER_TIMEOUT_S)
        except TimeoutError:
            self.socket = None  # its close must not start a reconnect of its own
            socket.close(1000)
            raise JoinRefused("unavailable") from None
        if isinstance(message, Error):
            raise JoinRefused(message.code)
        if not isinstance(message, Welcome):
            raise JoinRefused(protocol.BAD_MESSAGE)
        return message

    async def _reconnect(self, close_code: int) -> None:
        if not should_reconnect(close_code):
            self.on_state("failed", _close_reason(close_code))
            return
        self.on_state("reconnecting", "")
        while not self.closed:
            await asyncio.sleep(self.backoff.next_delay())
            try:
                await self._connect()
            except JoinRefused as refused:
                if refused.code in ("unavailable", "rate_limited"):
                    continue
                self.on_state("failed", refused.code)
                return
            self.on_state("joined", "")
            return


def _close_reason(close_code: int) -> str:
    """The error code for a close without an error message (no server, or a refusal)."""
    for code, number in protocol.CLOSE_CODES.items():
        if number == close_code:
            return code
    return "unavailable"
