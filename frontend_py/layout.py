"""The shared stage's layout: a last-writer-wins map that every peer keeps a replica of.

Each (layer, prop) pair holds the value of the op with the highest (clock, peer), clocks being
Lamport clocks, so replicas that have applied the same ops agree whatever order they came in.
Ops arrive from other peers, so each is checked in full before it can touch the state.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

STAGE = "stage"
ASPECTS = {"16:9": 16 / 9, "3:4": 3 / 4}
# A photo's size, whatever the stage's on screen; backgrounds are kept at it (never upscaled).
PHOTO_SIZES = {"16:9": (1920, 1080), "3:4": (1080, 1440)}
DEFAULT_ASPECT = "16:9"
DEFAULT_BACKGROUND = "plain"
REJOIN_WINDOW_S = 60.0
MIN_SCALE = 0.02
MAX_SCALE = 4.0
MAX_Z = 1e9
MAX_CLOCK = 2**53 - 1  # integers stay exact in JavaScript up to here

GEOMETRY = frozenset({"x", "y", "scale", "rotation", "opacity", "z"})
PROPS = {
    # "auto": placed by the booth, not by a person; such layers make room for newcomers.
    "person": GEOMETRY | {"auto"},
    "sticker": GEOMETRY | {"sticker", "removed"},
    "stage": frozenset({"background", "aspect"}),
}

_PEER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STICKER = re.compile(r"([A-Za-z0-9_-]{1,64}):([0-9]{1,9})")
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_OP_KEYS = frozenset({"layer", "prop", "value", "clock", "peer"})

Op = dict[str, Any]


@dataclass(frozen=True)
class LayerState:
    """A layer's current values; x, y (its centre) and scale (its height) are fractions of the stage."""

    id: str
    kind: str
    x: float = 0.5
    y: float = 0.5
    scale: float = 0.5
    rotation: float = 0.0
    opacity: float = 1.0
    z: float = 0.0
    sticker: str = ""
    removed: bool = False
    auto: bool = False


@dataclass(frozen=True)
class StageState:
    background: str = DEFAULT_BACKGROUND
    aspect: str = DEFAULT_ASPECT


def layer_kind(layer: object) -> str:
    """"stage", "person" (the id is a peer id) or "sticker" ("peer:counter"); ValueError otherwise."""
    if layer == STAGE:
        return "stage"
    if isinstance(layer, str) and _PEER.fullmatch(layer):
        return "person"
    if isinstance(layer, str) and _STICKER.fullmatch(layer):
        return "sticker"
    raise ValueError(f"bad layer id {layer!r:.80}")


def wrap_degrees(degrees: float) -> float:
    """The same angle in (-180, 180]."""
    wrapped = math.fmod(degrees, 360.0)
    if wrapped > 180.0:
        wrapped -= 360.0
    elif wrapped <= -180.0:
        wrapped += 360.0
    return wrapped + 0.0  # -0.0 would rank apart from 0.0 in `_rank`


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r:.80}")
    try:
        number = float(value) + 0.0
    except OverflowError:
        raise ValueError("number too big") from None
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {number!r}")
    return number


def _fraction(value: object) -> float:
    # A centre kept on the stage leaves every layer within reach of the pointer.
    return min(1.0, max(0.0, _number(value)))


def _scale(value: object) -> float:
    scale = _number(value)
    if not 0.0 < scale <= MAX_SCALE:
        raise ValueError(f"scale out of range: {scale!r}")
    return max(MIN_SCALE, scale)


def _opacity(value: object) -> float:
    opacity = _number(value)
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity out of range: {opacity!r}")
    return opacity


def _z(value: object) -> float:
    z = _number(value)
    if abs(z) > MAX_Z:
        raise ValueError(f"z out of range: {z!r}")
    return z


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"not a boolean: {value!r:.80}")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"bad name {value!r:.80}")
    return value


def _aspect(value: object) -> str:
    if not isinstance(value, str) or value not in ASPECTS:
        raise ValueError(f"bad aspect {value!r:.80}")
    return value


_RULES: dict[str, Callable[[object], object]] = {
    "x": _fraction,
    "y": _fraction,
    "scale": _scale,
    "rotation": lambda value: wrap_degrees(_number(value)),
    "opacity": _opacity,
    "z": _z,
    "sticker": _name,
    "removed": _flag,
    "auto": _flag,
    "background": _name,
    "aspect": _aspect,
}


def validate(op: object) -> Op:
    """A copy of the op with its value normalised; ValueError if anything in it is malformed."""
    if not isinstance(op, dict) or op.keys() != _OP_KEYS:
        raise ValueError(f"an op has exactly the keys {sorted(_OP_KEYS)}")
    layer, prop, clock, peer = op["layer"], op["prop"], op["clock"], op["peer"]
    if not isinstance(prop, str) or prop not in PROPS[layer_kind(layer)]:
        raise ValueError(f"bad prop {prop!r:.80} for layer {layer!r}")
    if isinstance(clock, bool) or not isinstance(clock, int) or not 0 < clock <= MAX_CLOCK:
        raise ValueError(f"bad clock {clock!r:.80}")
    if not isinstance(peer, str) or not _PEER.fullmatch(peer):
        raise ValueError(f"bad peer {peer!r:.80}")
    return {"layer": layer, "prop": prop, "value": _RULES[prop](op["value"]), "clock": clock, "peer": peer}


def _rank(op: Op) -> tuple[int, str, str]:
    # The value breaks ties too, so a peer that reuses a clock still cannot split the replicas.
    return op["clock"], op["peer"], json.dumps(op["value"])


class Layout:
    """One peer's replica of the stage layout."""

    def __init__(self, own_peer: str) -> None:
        if not _PEER.fullmatch(own_peer):
            raise ValueError(f"bad peer id {own_peer!r:.80}")
        self.own_peer = own_peer
        self.clock = 0
        self._layers: dict[str, dict[str, Op]] = {}
        self._present: set[str] | None = None  # None until `present` is first called: show everyone
        self._absent_since: dict[str, float] = {}

    def edit(self, layer: str, prop: str, value: object) -> Op:
        """Change one value here; returns the op to send to every other peer."""
        return self.edit_many(layer, {prop: value})[0]

    def edit_many(self, layer: str, values: Mapping[str, object]) -> list[Op]:
        """Change several values of one layer as one event; if any is invalid, nothing changes."""
        clock = self.clock + 1
        ops = [
            validate({"layer": layer, "prop": prop, "value": value, "clock": clock, "peer": self.own_peer})
            for prop, value in values.items()
        ]
        self.clock = clock
        for op in ops:
            self._store(op)
        return [dict(op) for op in ops]

    def apply(self, op: object) -> bool:
        """Take an op from another peer; True if it changed a value. Raises ValueError if malformed."""
        checked = validate(op)
        self.clock = max(self.clock, checked["clock"])
        return self._store(checked)

    def _store(self, op: Op) -> bool:
        props = self._layers.setdefault(op["layer"], {})
        old = props.get(op["prop"])
        if old is not None and _rank(old) >= _rank(op):
            return False
        props[op["prop"]] = op
        return old is None or old["value"] != op["value"]

    def snapshot(self) -> list[Op]:
        """Every winning op, for a peer that joins late to apply."""
        return [dict(op) for layer in sorted(self._layers) for _, op in sorted(self._layers[layer].items())]

    def layer(self, layer_id: str) -> LayerState | None:
        """The layer's values, shown now or not; None if nothing is known of it."""
        props = self._layers.get(layer_id)
        if not props or layer_id == STAGE:
            return None
        return LayerState(layer_id, layer_kind(layer_id), **{prop: op["value"] for prop, op in props.items()})

    def layers(self) -> list[LayerState]:
        """The layers to draw, bottom to top: no removed stickers, no people who are away."""
        shown = [self.layer(layer_id) for layer_id in self._layers if self._shown(layer_id)]
        return sorted((state for state in shown if state and not state.removed), key=lambda s: (s.z, s.id))

    def _shown(self, layer_id: str) -> bool:
        kind = layer_kind(layer_id)
        if kind == "person":
            return self._present is None or layer_id in self._present
        return kind == "sticker"

    def stage(self) -> StageState:
        """The stage-wide values, defaults filled in."""
        return StageState(**{prop: op["value"] for prop, op in self._layers.get(STAGE, {}).items()})

    def present(self, peer_ids: Iterable[str], now: float) -> None:
        """Say who is in the room at `now` (seconds, any monotonic origin).

        A person away for REJOIN_WINDOW_S or more is forgotten here, so that a later rejoin
        starts from a fresh default place; call this on every join and leave, and every few
        seconds between, so the forgetting happens on time.
        """
        self._present = set(peer_ids) | {self.own_peer}
        for peer in self._present:
            self._absent_since.pop(peer, None)
        away = [i for i in self._layers if layer_kind(i) == "person" and i not in self._present]
        for peer in away:
            if now - self._absent_since.setdefault(peer, now) >= REJOIN_WINDOW_S:
                del self._layers[peer]
                del self._absent_since[peer]

    def new_sticker_id(self) -> str:
        """A sticker layer id that no sticker of this peer has used yet; edit it to create the sticker."""
        used = [int(m[2]) for i in self._layers if (m := _STICKER.fullmatch(i)) and m[1] == self.own_peer]
        return f"{self.own_peer}:{max(used, default=0) + 1}"
