"""What peers send each other: every message is checked in one place, and transfers arrive
whole and from their own sender, or not at all."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py import datachannel
from frontend_py.datachannel import (
    MAX_LIVE_OPS,
    SNAPSHOT_PART_OPS,
    BackgroundHeader,
    BackgroundRequest,
    LiveOps,
    Mute,
    Snapshot,
    image_id,
    is_image_id,
    parse,
    snapshot_parts,
)


def op(peer: str = "ann", value: object = 0.5, clock: int = 7) -> dict:  # type: ignore[type-arg]
    return {"layer": peer, "prop": "x", "value": value, "clock": clock, "peer": peer}


def test_every_kind_of_message_round_trips_through_json() -> None:
    image = image_id(b"picture")
    for message in (
        Mute(True), LiveOps((op(),)), Snapshot((op("bob"), op())), BackgroundRequest(image),
        BackgroundHeader(image, 3, 1000),
    ):
        assert parse(json.loads(json.dumps(message.message())), "ann") == message


def test_live_ops_come_only_from_the_peer_they_name() -> None:
    forged = {"type": "layout", "ops": [op("ann"), op("bob"), op("ann", value=0.7)]}
    parsed = parse(forged, "ann")
    assert isinstance(parsed, LiveOps) and [o["value"] for o in parsed.ops] == [0.5, 0.7]
    # A snapshot carries everyone's ops, as a newcomer needs them.
    assert len(parse({"type": "snapshot", "ops": [op("ann"), op("bob")]}, "ann").ops) == 2  # type: ignore[union-attr]


def test_bad_ops_are_left_out_and_oversized_messages_refused() -> None:
    parsed = parse({"type": "snapshot", "ops": [op(), op(value=float("nan")), op(clock=2**60), "op", None]}, "ann")
    assert isinstance(parsed, Snapshot) and len(parsed.ops) == 1
    assert parse({"type": "layout", "ops": [op()] * (MAX_LIVE_OPS + 1)}, "ann") is None
    assert parse({"type": "snapshot", "ops": [op()] * (SNAPSHOT_PART_OPS + 1)}, "ann") is None


def test_a_big_snapshot_goes_in_parts_that_each_fit() -> None:
    ops = [op(f"p{i}") for i in range(2 * SNAPSHOT_PART_OPS + 5)]
    parts = snapshot_parts(ops)
    assert len(parts) == 3 and [o for part in parts for o in part.ops] == ops
    assert all(parse(json.loads(json.dumps(part.message())), "x") == part for part in parts)
    assert snapshot_parts([]) == [Snapshot(())]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "mute", "muted": "yes"},
        {"type": "mute"},
        {"type": "background-request", "id": "img:xyz"},
        {"type": "background-request", "id": 5},
        {"type": "background", "id": image_id(b"x"), "transfer": -1, "bytes": 10},
        {"type": "background", "id": image_id(b"x"), "transfer": 1, "bytes": 10**9},
        {"type": "background", "id": image_id(b"x"), "transfer": 1, "bytes": True},
        {"type": "layout", "ops": "all"},
        {"type": "unknown"},
        {"no": "type"},
        ["a", "list"],
        "text",
        None,
    ],
)
def test_malformed_messages_give_nothing(message: object) -> None:
    assert parse(message, "ann") is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
TYPES = st.sampled_from(
    ["mute", "layout", "snapshot", "background-request", "background", "clock", "shutter", "still", "photo", "recording", "clip"]
)


@settings(max_examples=400, deadline=None)
@given(kind=TYPES, fields=st.dictionaries(st.sampled_from(
    ["muted", "ops", "id", "transfer", "bytes", "t0", "t1", "t2", "shot", "at", "countdown", "series", "index", "count",
     "mime", "width", "height", "stills", "on"]), JSON, max_size=8))
def test_nothing_a_peer_sends_makes_parse_raise(kind: str, fields: dict) -> None:  # type: ignore[type-arg]
    parse({"type": kind, **fields}, "ann")


def test_a_deeply_nested_message_changes_nothing_and_raises_nothing() -> None:
    deep: object = 0
    for _ in range(100_000):
        deep = [deep]
    parsed = parse({"type": "layout", "ops": deep}, "ann")
    assert parsed is None or not parsed.ops  # type: ignore[union-attr]
    assert parse({"type": "mute", "muted": deep}, "ann") is None


def test_binary_transfers_arrive_whole_in_order() -> None:
    data = os.urandom(3 * datachannel.BINARY_CHUNK_BYTES + 17)
    header = BackgroundHeader(image_id(data), 9, len(data))
    transfer = datachannel.BinaryTransfer(header)
    chunks = [datachannel.parse_binary(chunk) for chunk in datachannel.binary_chunks(9, data)]
    results = [transfer.add(index, payload) for _, index, payload in chunks]  # type: ignore[misc]
    assert results[-1] == data and results[:-1] == [None] * 3


def test_image_ids_fit_the_layout_and_are_recognised() -> None:
    image = image_id(b"hello")
    assert is_image_id(image) and len(image) <= 100
    assert not is_image_id("plain") and not is_image_id("img:" + "g" * 64)
