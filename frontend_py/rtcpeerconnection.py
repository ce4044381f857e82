"""One RTCPeerConnection to one other participant, negotiated the "perfect" way.

Media: our camera and microphone tracks go out, theirs come in as one MediaStream.
Data: one negotiated data channel (id 0, created identically on both sides, so it needs no
negotiation of its own) carries JSON messages and binary chunks (datachannel.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException

from frontend_py.dom import js_object, nullable, on, spawn
from frontend_py.negotiation import Pairing, is_polite
from signaling.protocol import ProtocolError, parse_json

DATA_CHANNEL_ID = 0
# Bigger messages are dropped unread: ours stay far below (datachannel.py), and Chromium
# refuses to send more than its 256 KiB SCTP limit anyway; another browser might not.
MAX_MESSAGE_BYTES = 256 * 1024
# A connection not up by then has lost a signal (a socket drop, a server restart): the side
# that offers first offers again. Loopback connects in well under a second.
RENEGOTIATE_AFTER_S = 8.0
# Still not up (connected, with its data channel open) this many rounds later (offers sent
# again, ICE restarted): the pair replaces its connection by a fresh one (negotiation.Pairing).
RESTART_AFTER_ROUNDS = 4


class ConnectionClosed(Exception):
    pass


class ConnectionRefused(Exception):
    """What a connection whose transport is broken answers every description with."""


class _Adapter:
    """The browser's RTCPeerConnection seen through negotiation.ConnectionLike. A `broken`
    one refuses every description, as Chromium's does once its SCTP transport failed to start
    (a test's diagnostics switch, see PeerLink)."""

    def __init__(self, pc: Any, channel: Any, broken: bool = False) -> None:
        self.pc = pc
        self.channel = channel
        self.broken = broken

    @property
    def signaling_state(self) -> str:
        return str(self.pc.signalingState)

    @property
    def has_remote_description(self) -> bool:
        return nullable(self.pc.remoteDescription) is not None

    async def set_local_description(self) -> dict[str, str]:
        await self.pc.setLocalDescription()
        local = nullable(self.pc.localDescription)
        if local is None:
            raise ConnectionClosed("the connection closed while negotiating")
        return {"type": local.type, "sdp": local.sdp}

    async def set_remote_description(self, description: dict[str, str]) -> None:
        if self.broken:
            raise ConnectionRefused("Failed to start SCTP transport (diagnostics: broken-connections)")
        await self.pc.setRemoteDescription(js_object(description))

    async def add_ice_candidate(self, candidate: dict[str, Any]) -> None:
        await self.pc.addIceCandidate(js_object(candidate))

    def close(self) -> None:
        self.channel.close()
        self.pc.close()


class PeerLink:
    """The connection to `peer_id`, made with `configuration` (an RTCConfiguration,
    iceconfig.py); `offers_first` unless this side has just joined and `peer_id` was in the
    booth already (negotiation.py). Callbacks: on_track(stream), on_data(dict, or bytes for a
    binary message), on_state(str). A connection that breaks is replaced by a fresh one on both sides
    (negotiation.Pairing): the callbacks then see a new stream and a data channel that opens
    again. Two diagnostics switches let a test bend it: the first `broken_connections`
    connections refuse every description, and every signal waits `signal_delay_s` before it
    is applied (a page too busy to read its socket, so that offers cross)."""

    def __init__(
        self,
        own_id: str,
        peer_id: str,
        offers_first: bool,
        configuration: dict[str, Any],
        local_stream: Any,
        send_signal: Callable[[str, dict[str, Any]], bool],
        on_track: Callable[[Any], None],
        on_data: Callable[[dict[str, Any] | bytes], None],
        on_state: Callable[[str], None],
        broken_connections: int = 0,
        signal_delay_s: float = 0.0,
    ) -> None:
        self.peer_id = peer_id
        self.configuration = configuration
        self.local_stream = local_stream
        self.on_track = on_track
        self.on_data = on_data
        self.on_state = on_state
        self.broken_connections = broken_connections
        self.signal_delay_s = signal_delay_s
        self.pc: Any = None
        self.channel: Any = None
        self.remote_stream: Any = None
        self.pairing = Pairing(is_polite(own_id, peer_id), offers_first, self._connect, lambda data: send_signal(peer_id, data))
        # Signals are applied strictly in arrival order: a candidate must not overtake its offer.
        self._worker = spawn(self._apply_signals())
        self._parameters_lock = asyncio.Lock()
        self._watchdog = spawn(self._renegotiate_when_stuck())

    def _connect(self, generation: int) -> _Adapter:
        """Connection `generation` of the pair: a fresh RTCPeerConnection, its data channel
        and our tracks, the current one from now on."""
        pc = js.RTCPeerConnection.new(js_object(self.configuration))
        channel = pc.createDataChannel(
            "clov", js_object({"negotiated": True, "id": DATA_CHANNEL_ID, "ordered": True})
        )
        channel.binaryType = "arraybuffer"
        replacing = self.pc is not None
        self.pc, self.channel, self.remote_stream = pc, channel, None
        if replacing:
            # The replaced connection's last state would stand until this one's first change.
            self.on_state(self.state)

        # Whatever a replaced connection still reports concerns nobody any more.
        def current(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
            return lambda event: handler(event) if pc is self.pc else None

        on(pc, "negotiationneeded", current(self._on_negotiation_needed))
        on(pc, "icecandidate", current(self._on_ice_candidate))
        on(pc, "track", current(self._on_track))
        on(pc, "connectionstatechange", current(self._on_connection_state))
        on(channel, "message", current(self._on_channel_message))
        on(channel, "open", current(self._on_channel_open))
        # The same sections in the same order on both sides, whoever has a camera or a
        # microphone: audio, video, then data. Chromium breaks a connection for good when an
        # offer it rolls back (glare) placed the data section elsewhere than the offer it
        # takes instead ("Failed to start SCTP transport", or a data channel that never opens).
        for kind in ("audio", "video"):
            tracks = [] if self.local_stream is None else list(
                self.local_stream.getAudioTracks() if kind == "audio" else self.local_stream.getVideoTracks()
            )
            for track in tracks:
                pc.addTrack(track, self.local_stream)
            if not tracks:
                pc.addTransceiver(kind, js_object({"direction": "recvonly"}))
        return _Adapter(pc, channel, broken=generation < self.broken_connections)

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    def set_configuration(self, configuration: dict[str, Any]) -> None:
        """New ICE servers and policy, used from the next ICE gathering (a restart) on, and
        by any connection that replaces this one."""
        self.configuration = configuration
        if self.pc.signalingState == "closed":
            return
        try:
            self.pc.setConfiguration(js_object(configuration))
        except JsException as exc:
            # The connection keeps its servers; only a later restart through TURN may fail.
            js.console.warn(f"new ICE servers for {self.peer_id} not applied: {exc}")

    def send(self, message: dict[str, Any]) -> bool:
        if self.channel.readyState != "open":
            return False
        self.channel.send(json.dumps(message))
        return True

    def send_bytes(self, data: Any) -> bool:
        """A binary message (a Uint8Array)."""
        if self.channel.readyState != "open":
            return False
        self.channel.send(data)
        return True

    async def replace_track(self, kind: str, track: Any) -> bool:
        """Send `track` from now on where our `kind` ("audio"/"video") track went, on the same
        sender: no renegotiation, the peer's stream just carries the new one. False when this
        connection sends no such track, or could not take it (closed)."""
        for sender in self.pc.getSenders():
            current = nullable(sender.track)
            if current is None or current.kind != kind:
                continue
            try:
                await sender.replaceTrack(track)
            except JsException as exc:
                js.console.warn(f"{kind} track to {self.peer_id} not replaced: {exc}")
                return False
            return True
        return False

    async def limit_video(self, encoding: dict[str, float]) -> None:
        """Apply `bandwidth.video_encoding` to the outgoing video."""
        # getParameters/setParameters is a transaction: one at a time per connection.
        async with self._parameters_lock:
            await self._set_video_parameters(encoding)

    async def _set_video_parameters(self, encoding: dict[str, float]) -> None:
        for sender in self.pc.getSenders():
            track = nullable(sender.track)
            if track is None or track.kind != "video":
                continue
            parameters = sender.getParameters()
            if not parameters.encodings.length:
                continue
            for key, value in encoding.items():
                setattr(parameters.encodings[0], key, value)
            # A photo booth wants sharp people (and a sharp alpha edge) more than smooth
            # motion: under load, drop frames rather than resolution.
            parameters.degradationPreference = "maintain-resolution"
            await sender.setParameters(parameters)

    def receive_signal(self, data: dict[str, Any]) -> None:
        if not self.pairing.deliver(data, time.monotonic()):
            js.console.warn(f"too many signals from {self.peer_id} waiting: dropped, the connection starts afresh")
            self.restart()

    async def _apply_signals(self) -> None:
        while True:
            arrived, data = await self.pairing.next_signal()
            if self.signal_delay_s:
                await asyncio.sleep(arrived + self.signal_delay_s - time.monotonic())
            try:
                await self.pairing.receive(data)
            except ProtocolError as exc:
                js.console.warn(f"signal from {self.peer_id} dropped: {exc.message}")
            except Exception as exc:  # noqa: BLE001 (one signal a peer got wrong must not end this link's signals)
                # A candidate racing a renegotiation is expected to miss; a description is not
                # (the pair replaces its connection for it, see negotiation.Pairing).
                report = js.console.error if "description" in data else js.console.warn
                report(f"signal from {self.peer_id} not applied: {exc}")

    def restart(self) -> None:
        """Replace the connection by a fresh one on both sides (a rejoin found it failed)."""
        self.pairing.schedule_restart(self.pairing.generation)

    def close(self) -> None:
        self._worker.cancel()
        self._watchdog.cancel()
        self.pairing.close()

    async def _renegotiate_when_stuck(self) -> None:
        waited, watched = 0, self.pc
        while not self.pairing.closed:
            await asyncio.sleep(RENEGOTIATE_AFTER_S)
            if watched is not self.pc:
                # The peer replaced the connection meanwhile (or started over, at the same
                # number): the fresh one gets its own rounds, rather than being replaced again
                # before it had a chance to come up.
                waited, watched = 0, self.pc
            if self.pc.connectionState == "connected" and self.channel.readyState == "open":
                waited = 0
                continue
            waited += 1
            if waited >= RESTART_AFTER_ROUNDS:
                # Offers sent again and ICE restarts did not bring it up: start afresh.
                await self.pairing.restart(self.pairing.generation)
                waited, watched = 0, self.pc
                continue
            # The side that offers first acts first; the other too if nothing came of it, so
            # a pair never waits on each other for ever.
            if not self.pairing.offers_first and waited < 2:
                continue
            if self.pc.signalingState == "have-local-offer":
                local = self.pc.localDescription
                self.pairing.negotiator.send({"description": {"type": local.type, "sdp": local.sdp}})
            elif self.pc.signalingState == "stable" and nullable(self.pc.remoteDescription) is None:
                # Never negotiated (an offer lost, or never asked for): offer now.
                spawn(self._on_negotiation_needed(None))
            elif self.pc.signalingState == "stable":
                self.pc.restartIce()

    async def _on_negotiation_needed(self, _: Any) -> None:
        try:
            await self.pairing.negotiation_needed()
        except ConnectionClosed:
            pass  # closed by a departure while the offer was being made: nothing to send

    def _on_ice_candidate(self, event: Any) -> None:
        candidate = nullable(event.candidate)
        if candidate is not None and candidate.candidate:
            self.pairing.negotiator.send({"candidate": candidate.toJSON().to_py()})

    def _on_track(self, event: Any) -> None:
        stream = event.streams[0] if event.streams.length else None
        if stream is None:
            stream = self.remote_stream or js.MediaStream.new()
            stream.addTrack(event.track)
        self.remote_stream = stream
        self.on_track(stream)

    def _on_channel_open(self, _: Any) -> None:
        # Media and data both flow only now: a connection can be "connected" with a data
        # channel that never opens.
        self.pairing.connected()
        self.on_state("channel-open")

    def _on_connection_state(self, _: Any) -> None:
        if self.pc.connectionState == "failed":
            self.pc.restartIce()
        self.on_state(self.state)

    def _on_channel_message(self, event: Any) -> None:
        if not isinstance(event.data, str):
            if int(event.data.byteLength) <= MAX_MESSAGE_BYTES:
                self.on_data(js.Uint8Array.new(event.data).to_bytes())
            return
        if len(event.data) > MAX_MESSAGE_BYTES:
            return
        try:
            message = parse_json(event.data)
        except ProtocolError:
            return
        if isinstance(message, dict):
            self.on_data(message)
