"""The RTCConfiguration of every peer connection, from the welcome, and how a rejoin renews it.

The welcome carries the ICE servers, with TURN credentials that expire (`CLOV_TURN_TTL`), and
the transport policy (`CLOV_ICE_TRANSPORT_POLICY`). Every rejoin brings fresh credentials: the
connections kept across it take them at once (`setConfiguration`), so the ICE restart that
brings a connection back after a drop (rtcpeerconnection.py) gathers relay candidates with
credentials that coturn still accepts. coturn checks them only when it allocates a relay, so a
connection that stays up needs nothing more. In a long booth the server sends fresh credentials
(`ice-servers`) when the old ones have lived half their time, and they are handed on the same way.

Browser-free, like negotiation.py: CPython tests drive it with a model of the connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from signaling.protocol import IceServers, Welcome


def with_servers(configuration: dict[str, Any], servers: IceServers) -> dict[str, Any]:
    """The configuration with the ICE servers (fresh credentials) of an `ice-servers` message."""
    return {**configuration, "iceServers": servers.ice_servers}


def rtc_configuration(welcome: Welcome) -> dict[str, Any]:
    """The `RTCConfiguration` every `RTCPeerConnection` gets, from the latest welcome."""
    return {"iceServers": welcome.ice_servers, "iceTransportPolicy": welcome.ice_transport_policy}


class ConfigurableConnection(Protocol):
    def set_configuration(self, configuration: dict[str, Any]) -> None:
        """`RTCPeerConnection.setConfiguration`: used from the next ICE gathering on."""


def renew(connections: Iterable[ConfigurableConnection], configuration: dict[str, Any]) -> None:
    """Give every connection kept across a rejoin the welcome's configuration, before anything
    else of that welcome is handled (and so before any ICE restart that follows it)."""
    for connection in connections:
        connection.set_configuration(configuration)
