"""The shared stage's layout: a last-writer-wins map that every peer keeps a replica of.

Each (layer, prop) pair holds the value of the op with the highest (clock, peer), so replicas
that have applied the same ops agree whatever order they came in. Clocks are hybrid logical
clocks (physical milliseconds times CLOCK_TICKS_PER_MS, plus a counter), as CockroachDB and
others use: they order causally like Lamport clocks, and they stay near real time, so an op
more than MAX_AHEAD_MS ahead of this peer's clock is refused. With a plain Lamport clock one
op with a huge clock would win its property for ever and push every later clock to the top
of the range. Ops arrive from other peers, so each is checked in full before it can touch
the state, and refusing one never raises. The state stays bounded: removed layers keep only
their removal (a tombstone, and at most MAX_TOMBSTONES), and at most MAX_LAYERS live layers.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STAGE = "stage"
ASPECTS = {"16:9": 16 / 9, "3:4": 3 / 4}
# A photo's size, whatever the stage's on screen; backgrounds are kept at it (never upscaled).
PHOTO_SIZES = {"16:9": (1920, 1080), "3:4": (1080, 1440)}
DEFAULT_ASPECT = "16:9"
DEFAULT_BACKGROUND = "plain"
REJOIN_WINDOW_S = 60.0
MIN_SCALE = 0.02
MAX_SCALE = 4.0
MAX_Z = 1e6  # z is clamped to +-MAX_Z; restacking renumbers before it gets there
MAX_CLOCK = 2**53 - 1  # integers stay exact in JavaScript up to here
CLOCK_TICKS_PER_MS = 1024  # room for 1024 edits a millisecond; now * 1024 < MAX_CLOCK until 2248
MAX_AHEAD_MS = 10_000.0
MAX_LAYERS = 300  # people and stickers shown at once
MAX_TOMBSTONES = 1000

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
        raise TypeError(f"not a number: {value!r:.80}")
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
    return min(MAX_Z, max(-MAX_Z, _number(value)))


def _true(value: object) -> bool:
    if value is not True:
        raise ValueError("a layer is removed for good: removed is only ever true")
    return True


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not a boolean: {value!r:.80}")
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
    "removed": _true,
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


def _removed(props: dict[str, Op]) -> bool:
    return "removed" in props


def _rank(op: Op) -> tuple[int, str, str]:
    # The value breaks ties too, so a peer that reuses a clock still cannot split the replicas.
    return op["clock"], op["peer"], json.dumps(op["value"])


def wall_ms() -> float:
    return time.time() * 1000.0


class Layout:
    """One peer's replica of the stage layout. `now_ms` is this peer's clock (epoch ms)."""

    def __init__(self, own_peer: str, now_ms: Callable[[], float] | None = None) -> None:
        if not _PEER.fullmatch(own_peer):
            raise ValueError(f"bad peer id {own_peer!r:.80}")
        self.own_peer, self.now_ms = own_peer, now_ms or wall_ms
        self.clock = 0
        self.refused = 0  # ops refused: malformed, too far ahead, or past the bounds
        self._layers: dict[str, dict[str, Op]] = {}
        self._present: set[str] | None = None  # None until `present` is first called: show everyone
        self._absent_since: dict[str, float] = {}

    def edit(self, layer: str, prop: str, value: object) -> Op:
        """Change one value here; returns the op to send to every other peer."""
        return self.edit_many(layer, {prop: value})[0]

    @classmethod
    def frozen(cls, own_peer: str, ops: Iterable[object]) -> Layout:
        """A layout made of ops as a peer had them (a photo's), whatever its clock."""
        layout = cls(own_peer, now_ms=lambda: MAX_CLOCK / CLOCK_TICKS_PER_MS)
        for op in ops:
            layout.apply(op)
        return layout

    def _physical(self, ahead_ms: float = 0.0) -> int:
        return int((self.now_ms() + ahead_ms) * CLOCK_TICKS_PER_MS)

    def edit_many(self, layer: str, values: Mapping[str, object]) -> list[Op]:
        """Change several values of one layer as one event; if any is invalid, nothing changes."""
        clock = min(MAX_CLOCK, max(self.clock + 1, self._physical()))
        ops = [
            validate({"layer": layer, "prop": prop, "value": value, "clock": clock, "peer": self.own_peer})
            for prop, value in values.items()
        ]
        self.clock = clock
        for op in ops:
            self._store(op)
        return [dict(op) for op in ops]

    def apply(self, op: object) -> bool:
        """Take an op from another peer; True if it changed a value. A malformed op, one more
        than MAX_AHEAD_MS ahead of our clock, or one past the bounds changes nothing."""
        try:
            checked = validate(op)
        except (ValueError, TypeError):
            self.refused += 1
            return False
        if checked["clock"] > self._physical(MAX_AHEAD_MS) or not self._room_for(checked["layer"], checked["prop"]):
            self.refused += 1
            return False
        self.clock = max(self.clock, checked["clock"])
        return self._store(checked)

    def _room_for(self, layer: str, prop: str) -> bool:
        if layer in self._layers or prop == "removed":  # tombstones have their own bound
            return True
        live = sum(1 for props in self._layers.values() if not _removed(props))
        return live < MAX_LAYERS

    def _store(self, op: Op) -> bool:
        props = self._layers.setdefault(op["layer"], {})
        if _removed(props) and op["prop"] != "removed":
            return False  # a removed layer keeps its tombstone only
        old = props.get(op["prop"])
        if old is not None and _rank(old) >= _rank(op):
            return False
        if op["prop"] == "removed":  # final: whatever else comes, in any order, the layer is gone
            self._layers[op["layer"]] = {"removed": op}
            self._bury()
            return old is None
        props[op["prop"]] = op
        return old is None or old["value"] != op["value"]

    def _bury(self) -> None:
        """Forget the oldest tombstones past MAX_TOMBSTONES."""
        tombs = [(props["removed"]["clock"], layer) for layer, props in self._layers.items() if _removed(props)]
        for _, layer in sorted(tombs)[: max(0, len(tombs) - MAX_TOMBSTONES)]:
            del self._layers[layer]

    def top_z(self) -> float:
        return max((layer.z for layer in self.layers()), default=0.0)

    def restacked(self, layer_id: str, up: bool) -> dict[str, float]:
        """The z values that put `layer_id` above (or below) every other layer: one value
        normally; near the bounds, every layer renumbered in its present order."""
        others = [layer for layer in self.layers() if layer.id != layer_id]
        if not others:
            return {}
        z = max(layer.z for layer in others) + 1 if up else min(layer.z for layer in others) - 1
        if abs(z) < MAX_Z:
            return {layer_id: z}
        order = [layer.id for layer in others]
        order = [*order, layer_id] if up else [layer_id, *order]
        return {layer: float(index + 1) for index, layer in enumerate(order)}

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
