"""The shutter's rules: one countdown for simultaneous presses, and the photo's inputs."""

from __future__ import annotations

import itertools

from frontend_py import datachannel
from frontend_py.datachannel import PhotoDecision, Shutter, parse
from frontend_py.layout import Layout
from frontend_py.shutter import PRESSES_PER_MINUTE, PressLimit, decided_stills, frozen_ops, ready, wins


def press(peer: str, number: int = 1, index: int = 0, count: int = 1, series: str = "") -> Shutter:
    shot = f"{peer}:{number}"
    return Shutter(shot, 1_000_000.0 + number, 3, series or shot, index, count)


def test_simultaneous_presses_end_in_the_same_countdown_whatever_the_arrival_order() -> None:
    presses = [press("carol"), press("alice"), press("bob")]
    outcomes = set()
    for order in itertools.permutations(presses):
        current = order[0]
        for incoming in order[1:]:
            if wins(current, incoming):
                current = incoming
        outcomes.add(current.shot)
    assert outcomes == {"alice:1"}


def test_a_strip_in_progress_is_not_interrupted_and_follows_its_own_next_shot() -> None:
    first = press("zed", 4, count=4)
    second = Shutter("zed:5", first.at + 9000, 3, first.series, 1, 4)
    assert wins(first, second)
    assert not wins(second, press("alice"))
    assert not wins(second, first)


def test_the_photo_uses_the_stills_of_people_present_at_the_press() -> None:
    assert decided_stills({"a", "b", "c"}, {"a", "c", "latecomer"}) == ("a", "c")
    assert not ready({"a", "b"}, {"a"}) and ready({"a", "b"}, {"b", "a", "x"})


def test_the_frozen_layout_leaves_out_latecomers_and_removed_stickers_and_round_trips() -> None:
    layout = Layout("alice")
    layout.edit_many("alice", {"x": 0.3, "scale": 0.6})
    layout.edit_many("bob", {"x": 0.7})
    layout.edit_many("latecomer", {"x": 0.5})
    layout.edit_many("alice:1", {"sticker": "sunglasses", "x": 0.4})
    layout.edit_many("alice:2", {"sticker": "crown", "removed": True})
    layout.edit_many("stage", {"background": "ocean", "aspect": "3:4"})
    ops = frozen_ops(layout, {"alice", "bob"})
    decision = parse(PhotoDecision("alice:1", ("alice", "bob"), tuple(ops)).message(), "x")
    assert isinstance(decision, PhotoDecision)
    stage, layers = decision.layout()
    assert (stage.background, stage.aspect) == ("ocean", "3:4")
    assert [layer.id for layer in layers] == ["alice", "alice:1", "bob"] or {layer.id for layer in layers} == {"alice", "alice:1", "bob"}
    assert next(layer for layer in layers if layer.id == "alice").scale == 0.6


def test_capture_messages_are_checked_in_full() -> None:
    good = press("alice").message()
    assert parse(good, "x") == press("alice")
    for change in (
        {"countdown": 4}, {"countdown": True}, {"at": float("nan")}, {"at": -1}, {"at": 1e300},
        {"shot": "alice"}, {"shot": "x" * 70 + ":1"}, {"series": "bob:1"}, {"index": 1}, {"count": 2},
    ):
        assert parse({**good, **change}, "x") is None, change
    assert parse({"type": "still", "shot": "a:1", "transfer": 1, "bytes": datachannel.MAX_STILL_BYTES + 1,
                  "mime": "image/png", "width": 10, "height": 10}, "x") is None
    assert parse({"type": "still", "shot": "a:1", "transfer": 1, "bytes": 10, "mime": "image/svg+xml",
                  "width": 10, "height": 10}, "x") is None
    bad_op = {"layer": "alice", "prop": "x", "value": float("inf"), "clock": 1, "peer": "alice"}
    assert parse({"type": "photo", "shot": "a:1", "stills": ["a"], "ops": [bad_op]}, "x") is None
    assert parse({"type": "photo", "shot": "a:1", "stills": "a", "ops": []}, "x") is None
    assert parse({"type": "clock", "t0": "now"}, "x") is None
    assert parse({"type": "clock", "t0": 5.0, "t1": 6.0}, "x") is None
    assert parse({"type": "nope"}, "x") is None


def test_a_still_arrives_whole_in_binary_chunks_or_not_at_all() -> None:
    data = bytes(range(256)) * 1000
    header = datachannel.StillHeader("a:1", 7, len(data), "image/png", 4, 4)
    transfer = datachannel.BinaryTransfer(header)
    chunks = [datachannel.parse_binary(chunk) for chunk in datachannel.binary_chunks(7, data)]
    assert len(chunks) == header.chunks and all(chunk and chunk[0] == 7 for chunk in chunks)
    results = [transfer.add(index, payload) for _, index, payload in chunks]  # type: ignore[misc]
    assert results[-1] == data and results[:-1] == [None] * (len(chunks) - 1)
    replay = datachannel.BinaryTransfer(header)
    _, _, first = chunks[0]  # type: ignore[misc]
    replay.add(0, first)
    for index, payload in ((0, first), (5, first), (1, first + b"x")):
        try:
            replay.add(index, payload)
        except ValueError:
            continue
        raise AssertionError(f"chunk {index} accepted")
    assert datachannel.parse_binary(b"short") is None
    assert datachannel.parse_binary(b"\0" * (datachannel.BINARY_CHUNK_BYTES + 9)) is None


def test_a_peer_pressing_too_often_is_ignored_for_a_while() -> None:
    limit = PressLimit()
    assert all(limit.allow("x", t) for t in range(PRESSES_PER_MINUTE))
    assert not limit.allow("x", 30.0) and limit.allow("y", 30.0)
    assert limit.allow("x", 61.0)
