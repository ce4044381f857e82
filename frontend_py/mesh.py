"""The mesh: one PeerLink per other participant, driven by signaling messages.

It owns the participant list the room screen shows (names, streams, mute and speaking
state) and reconciles it after a rejoin: links that still work are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from frontend_py import datachannel, iceconfig, media
from frontend_py.bandwidth import video_encoding
from frontend_py.diagnostics import diagnostic_number
from frontend_py.dom import spawn
from frontend_py.rtcpeerconnection import PeerLink
from signaling.protocol import IceServers, PeerJoined, PeerLeft, ServerMessage, Signal, Welcome


@dataclass
class Participant:
    id: str
    name: str
    stream: Any = None
    muted: bool = False
    speaking: bool = False
    state: str = "new"


class Mesh:
    """`on_change(participant_id, participant_or_None)` tells the UI what changed;
    `on_message(participant_id, message)` passes on data-channel messages other than mute,
    checked (datachannel.parse: malformed ones go no further; a binary one as bytes), and `on_channel_open(participant_id)` says when a peer can be sent
    messages."""

    def __init__(
        self,
        local_stream: Any,
        send_signal: Callable[[str, dict[str, Any]], bool],
        on_change: Callable[[str, Participant | None], None],
        on_message: Callable[[str, datachannel.Message | bytes], None] = lambda _peer, _message: None,
        on_channel_open: Callable[[str], None] = lambda _peer: None,
    ) -> None:
        self.local_stream = local_stream
        self.send_signal = send_signal
        self.on_change = on_change
        self.on_message = on_message
        self.on_channel_open = on_channel_open
        self.own_id = ""
        self.configuration: dict[str, Any] = {}  # RTCConfiguration, from the latest welcome
        self.participants: dict[str, Participant] = {}
        self.links: dict[str, PeerLink] = {}
        self.muted = False
        self.bitrate_cap = 0.0  # diagnostics only: a narrower uplink than the booth's budget
        # Diagnostics only: each pair's first connections break, as Chromium's sometimes do,
        # and signals are applied late, as by a page too busy to read them.
        self.broken_connections = int(diagnostic_number("broken-connections"))
        self.signal_delay_s = diagnostic_number("signal-delay-ms") / 1000

    def handle(self, message: ServerMessage) -> None:
        if isinstance(message, Welcome):
            self.own_id = message.peer
            self.configuration = iceconfig.rtc_configuration(message)
            present = {peer.id for peer in message.peers}
            for gone in [pid for pid in self.participants if pid not in present]:
                self._remove(gone)
            # A rejoin's fresh TURN credentials, for the links kept across it (iceconfig.py).
            iceconfig.renew(self.links.values(), self.configuration)
            for peer in message.peers:
                self._add(peer.id, peer.name, offers_first=False)
        elif isinstance(message, IceServers):
            self.configuration = iceconfig.with_servers(self.configuration, message)
            iceconfig.renew(self.links.values(), self.configuration)
        elif isinstance(message, PeerJoined):
            self._add(message.peer.id, message.peer.name)
        elif isinstance(message, PeerLeft):
            self._remove(message.peer)
        elif isinstance(message, Signal) and message.sender:
            if message.sender not in self.links:
                self._add(message.sender, "…")
            self.links[message.sender].receive_signal(message.data)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        for track in self.local_stream.getAudioTracks() if self.local_stream else []:
            track.enabled = not muted
        self.broadcast(datachannel.Mute(muted).message())

    async def replace_audio(self, track: Any) -> None:
        """Send `track` as our voice from now on (another microphone): muted if we are, in
        `local_stream` in place of the old voice (links made later take it from there), and on
        every link's audio sender, with no renegotiation. The old track is then stopped."""
        track.enabled = not self.muted
        old = media.swap_track(self.local_stream, track) if self.local_stream is not None else []
        await asyncio.gather(*(link.replace_track("audio", track) for link in list(self.links.values())))
        for previous in old:
            previous.stop()

    def broadcast(self, message: dict[str, Any]) -> None:
        for link in self.links.values():
            link.send(message)

    def send(self, participant_id: str, message: dict[str, Any]) -> bool:
        link = self.links.get(participant_id)
        return link is not None and link.send(message)

    def send_bytes(self, participant_id: str, data: Any) -> bool:
        link = self.links.get(participant_id)
        return link is not None and link.send_bytes(data)

    def buffered(self, participant_id: str) -> int:
        """Bytes queued on the data channel to a participant (for pacing big transfers)."""
        link = self.links.get(participant_id)
        return int(link.channel.bufferedAmount) if link is not None else 0

    def set_speaking(self, participant_id: str, speaking: bool) -> None:
        participant = self.participants.get(participant_id)
        if participant is not None and participant.speaking != speaking:
            participant.speaking = speaking
            self.on_change(participant_id, participant)

    def close(self) -> None:
        for participant_id in list(self.participants):
            self._remove(participant_id)

    def _add(self, participant_id: str, name: str, offers_first: bool = True) -> None:
        """`offers_first`: false for those in the booth before us, who offer to a newcomer."""
        participant = self.participants.get(participant_id)
        if participant is not None:
            if name != "…":
                participant.name = name
                self.on_change(participant_id, participant)
            link = self.links.get(participant_id)
            if link is not None:
                if link.state == "failed":
                    link.restart()
                return
        else:
            participant = self.participants[participant_id] = Participant(participant_id, name)
        self.links[participant_id] = self._link(participant, offers_first)
        self.on_change(participant_id, participant)

    def _link(self, participant: Participant, offers_first: bool) -> PeerLink:
        def on_track(stream: Any) -> None:
            participant.stream = stream
            self.on_change(participant.id, participant)

        def on_data(raw: dict[str, Any] | bytes) -> None:
            message = raw if isinstance(raw, bytes) else datachannel.parse(raw, participant.id)
            if isinstance(message, datachannel.Mute):
                participant.muted = message.muted
                self.on_change(participant.id, participant)
            elif message is not None:
                self.on_message(participant.id, message)

        def on_state(state: str) -> None:
            if state == "channel-open":
                self.links[participant.id].send(datachannel.Mute(self.muted).message())
                self.on_channel_open(participant.id)
                return
            participant.state = state
            if state == "connected":
                self._adapt_video()
            self.on_change(participant.id, participant)

        return PeerLink(
            self.own_id, participant.id, offers_first, self.configuration, self.local_stream,
            self.send_signal, on_track, on_data, on_state, self.broken_connections, self.signal_delay_s,
        )

    def _adapt_video(self) -> None:
        encoding = video_encoding(len(self.participants) + 1)
        if self.bitrate_cap:
            encoding["maxBitrate"] = min(encoding["maxBitrate"], self.bitrate_cap)
        for link in self.links.values():
            if link.state == "connected":
                spawn(link.limit_video(encoding))

    def _remove(self, participant_id: str) -> None:
        link = self.links.pop(participant_id, None)
        if link is not None:
            link.close()
            self._adapt_video()
        if self.participants.pop(participant_id, None) is not None:
            self.on_change(participant_id, None)
