"""RTCPeerConnection as perfect negotiation sees it, for the negotiation tests in CPython."""

from __future__ import annotations

import itertools


class ModelPeerConnection:
    """The W3C signaling state machine, with implicit rollback, as perfect negotiation needs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.signaling_state = "stable"
        self.local: dict[str, str] | None = None
        self.remote: dict[str, str] | None = None
        self.offers = itertools.count()
        self.candidates: list[dict] = []  # type: ignore[type-arg]

    @property
    def has_remote_description(self) -> bool:
        return self.remote is not None

    async def set_local_description(self) -> dict[str, str]:
        if self.signaling_state in ("stable", "have-local-offer"):
            self.local = {"type": "offer", "sdp": f"{self.name}-offer-{next(self.offers)}"}
            self.signaling_state = "have-local-offer"
        elif self.signaling_state == "have-remote-offer":
            assert self.remote is not None
            self.local = {"type": "answer", "sdp": f"answer-to-{self.remote['sdp']}"}
            self.signaling_state = "stable"
        return dict(self.local)

    async def set_remote_description(self, description: dict[str, str]) -> None:
        if description["type"] == "offer":
            if self.signaling_state == "have-local-offer":
                self.signaling_state = "stable"  # implicit rollback
            assert self.signaling_state == "stable", "offer in a wrong state"
            self.remote = description
            self.signaling_state = "have-remote-offer"
        else:
            if self.signaling_state != "have-local-offer":
                raise RuntimeError("InvalidStateError: answer without an offer")
            assert description["sdp"] == f"answer-to-{self.local['sdp']}"  # type: ignore[index]
            self.remote = description
            self.signaling_state = "stable"

    async def add_ice_candidate(self, candidate: dict) -> None:  # type: ignore[type-arg]
        if self.remote is None:
            raise RuntimeError("InvalidStateError: no remote description")
        self.candidates.append(candidate)
