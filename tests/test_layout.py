"""The shared stage's pure logic: the replicated layout, default placement and transform maths."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py import layout as layout_module
from frontend_py.layout import (
    ASPECTS,
    MAX_CLOCK,
    MAX_SCALE,
    MIN_SCALE,
    PROPS,
    REJOIN_WINDOW_S,
    LayerState,
    Layout,
    StageState,
    layer_kind,
    validate,
    wrap_degrees,
)
from frontend_py.placement import MAX_PERSON_SCALE, default_place, row_places
from frontend_py.transform import (
    clip_matrix,
    contains,
    corners,
    handle_at,
    handles,
    hit_test,
    inverse,
    map_point,
    matrix,
    moved,
    nudged,
    resized,
    rotated,
    size,
)

PEERS = ["ann", "bob", "cy"]


@pytest.fixture(autouse=True)
def stopped_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clocks at the epoch: a hybrid logical clock then counts like a Lamport clock."""
    monkeypatch.setattr(layout_module, "wall_ms", lambda: 0.0)
LAYERS = ["ann", "bob", "cy", "ann:1", "bob:1", "stage"]


def op(layer: str = "ann", prop: str = "x", value: object = 0.25, clock: int = 1, peer: str = "bob") -> dict:
    return {"layer": layer, "prop": prop, "value": value, "clock": clock, "peer": peer}


def values(prop: str) -> st.SearchStrategy[object]:
    return {
        "x": st.floats(-0.5, 1.5),
        "y": st.floats(-0.5, 1.5),
        "scale": st.floats(0.001, MAX_SCALE),
        "rotation": st.floats(-720, 720),
        "opacity": st.floats(0, 1),
        "z": st.integers(-2, 2) | st.floats(-5, 5),  # small integers make ties, so the id must order them
        "sticker": st.sampled_from(["heart", "star"]),
        "removed": st.just(True),  # a layer is removed for good
        "auto": st.booleans(),
        "background": st.sampled_from(["plain", "beach", "sha256-0f3a"]),
        "aspect": st.sampled_from(sorted(ASPECTS)),
    }[prop]


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str, object]:
    layer = draw(st.sampled_from(LAYERS))
    prop = draw(st.sampled_from(sorted(PROPS[layer_kind(layer)])))
    return layer, prop, draw(values(prop))


# Layout: last writer wins.


def test_edit_changes_the_local_state_and_returns_the_op_to_send() -> None:
    layout = Layout("ann")
    sent = layout.edit("ann", "x", 0.25)
    assert sent == op(clock=1, peer="ann")
    assert layout.layer("ann") == LayerState("ann", "person", x=0.25)
    assert json.loads(json.dumps(sent)) == sent


def test_edits_and_applies_advance_the_lamport_clock() -> None:
    layout = Layout("ann")
    assert layout.edit("ann", "x", 0.1)["clock"] == 1
    layout.apply(op(clock=41))
    assert layout.clock == 41
    assert layout.edit("ann", "y", 0.1)["clock"] == 42
    layout.apply(op(clock=5))
    assert layout.edit("ann", "y", 0.2)["clock"] == 43


def test_the_higher_clock_wins_whatever_the_order() -> None:
    older, newer = op(value=0.1, clock=3, peer="cy"), op(value=0.9, clock=4, peer="bob")
    for first, second in [(older, newer), (newer, older)]:
        layout = Layout("ann")
        layout.apply(first)
        layout.apply(second)
        assert layout.layer("ann").x == 0.9


def test_the_peer_id_breaks_a_clock_tie() -> None:
    for order in itertools.permutations([op(value=0.1, peer="bob"), op(value=0.9, peer="cy")]):
        layout = Layout("ann")
        for each in order:
            layout.apply(each)
        assert layout.layer("ann").x == 0.9


def test_a_reused_clock_cannot_split_replicas() -> None:
    first, second = op(value=0.1), op(value=0.9)
    one, two = Layout("ann"), Layout("cy")
    for each in (first, second):
        one.apply(each)
    for each in (second, first):
        two.apply(each)
    assert one.snapshot() == two.snapshot()


def test_apply_says_whether_a_value_changed() -> None:
    layout = Layout("ann")
    assert layout.apply(op(value=0.3, clock=2)) is True
    assert layout.apply(op(value=0.3, clock=2)) is False  # a duplicate
    assert layout.apply(op(value=0.8, clock=1)) is False  # older
    assert layout.apply(op(value=0.3, clock=3)) is False  # newer, same value
    assert layout.apply(op(value=0.4, clock=4)) is True


def test_defaults_fill_in_what_no_one_has_set() -> None:
    layout = Layout("ann")
    assert layout.layer("ann") is None
    layout.edit("ann:1", "sticker", "heart")
    assert layout.layer("ann:1") == LayerState(
        "ann:1", "sticker", x=0.5, y=0.5, scale=0.5, rotation=0.0, opacity=1.0, z=0.0, sticker="heart"
    )
    assert layout.stage() == StageState()


def test_layers_run_bottom_to_top_by_z_then_id_without_removed_stickers() -> None:
    layout = Layout("ann")
    layout.edit("cy", "z", 1)
    layout.edit("bob", "z", 1)
    layout.edit("ann", "z", 2)
    layout.edit("ann:1", "z", -1)
    layout.edit("ann:2", "z", 5)
    layout.edit("ann:2", "removed", True)
    assert [state.id for state in layout.layers()] == ["ann:1", "bob", "cy", "ann"]


def test_the_stage_holds_background_and_aspect_and_is_not_a_layer() -> None:
    layout = Layout("ann")
    layout.edit("stage", "background", "sha256-0f3a")
    layout.edit("stage", "aspect", "3:4")
    assert layout.stage() == StageState(background="sha256-0f3a", aspect="3:4")
    assert layout.layer("stage") is None
    assert layout.layers() == []


@pytest.mark.parametrize(
    "prop, value, stored",
    [
        ("x", 1.5, 1.0),
        ("y", -0.25, 0.0),
        ("x", 1, 1.0),
        ("scale", 0.001, MIN_SCALE),
        ("rotation", 190, -170.0),
        ("rotation", -180, 180.0),
        ("rotation", 540, 180.0),
        ("rotation", -360, 0.0),
        ("z", -0.0, 0.0),
    ],
)
def test_values_are_clamped_or_normalised(prop: str, value: float, stored: float) -> None:
    layout = Layout("ann")
    sent = layout.edit("ann", prop, value)
    assert sent["value"] == stored and type(sent["value"]) is float
    assert math.copysign(1, sent["value"]) == math.copysign(1, stored)
    assert getattr(layout.layer("ann"), prop) == stored


@given(st.floats(-1e9, 1e9))
def test_wrap_degrees_keeps_the_angle_in_range(degrees: float) -> None:
    wrapped = wrap_degrees(degrees)
    assert -180 < wrapped <= 180
    assert wrap_degrees(wrapped) == wrapped
    assert math.isclose(math.cos(math.radians(wrapped)), math.cos(math.radians(degrees)), abs_tol=1e-6)
    assert math.isclose(math.sin(math.radians(wrapped)), math.sin(math.radians(degrees)), abs_tol=1e-6)


MALFORMED = [
    "not a dict",
    [],
    {},
    {**op(), "extra": 1},
    {key: value for key, value in op().items() if key != "peer"},
    op(layer=""),
    op(layer="a" * 65),
    op(layer="ann:"),
    op(layer="ann:1234567890"),
    op(layer="ann:١"),
    op(layer="an n"),
    op(layer=7),
    op(layer=None),
    op(layer=["ann"]),
    op(prop="colour"),
    op(prop=["x"]),
    op(prop="sticker", value="heart"),
    op(prop="removed", value=True),
    op(prop="background", value="plain"),
    op(layer="ann:1", prop="aspect", value="3:4"),
    op(layer="stage", prop="x", value=0.5),
    op(value=float("nan")),
    op(value=float("inf")),
    op(value=10**400),
    op(value="0.5"),
    op(value=True),
    op(value=None),
    op(prop="opacity", value=1.01),
    op(prop="opacity", value=-0.01),
    op(prop="scale", value=0),
    op(prop="scale", value=-1),
    op(prop="scale", value=MAX_SCALE * 2),
    op(prop="scale", value=1e300),
    op(prop="rotation", value=float("-inf")),
    op(layer="ann:1", prop="removed", value=1),
    op(layer="ann:1", prop="removed", value=False),
    op(layer="ann:1", prop="sticker", value=""),
    op(layer="ann:1", prop="sticker", value="../etc/passwd"),
    op(layer="ann:1", prop="sticker", value="x" * 101),
    op(layer="ann:1", prop="sticker", value=["heart"]),
    op(layer="stage", prop="aspect", value="4:3"),
    op(layer="stage", prop="aspect", value=["16:9"]),
    op(layer="stage", prop="background", value="<script>"),
    op(clock=0),
    op(clock=-1),
    op(clock=1.0),
    op(clock=True),
    op(clock="1"),
    op(clock=MAX_CLOCK + 1),
    op(clock=MAX_CLOCK),  # far ahead of every clock
    op(peer=""),
    op(peer="b" * 65),
    op(peer=3),
    op(peer="bob\n"),
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_ops_are_refused_and_change_nothing(bad: object) -> None:
    layout = Layout("ann")
    layout.edit("ann", "x", 0.75)
    before, clock = layout.snapshot(), layout.clock
    assert layout.apply(bad) is False
    assert layout.snapshot() == before and layout.clock == clock and layout.refused == 1


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
HOSTILE_OPS = JUNK | st.fixed_dictionaries(
    {
        "layer": st.sampled_from(LAYERS) | JUNK,
        "prop": st.sampled_from(sorted(PROPS["sticker"] | PROPS["stage"])) | JUNK,
        "value": JUNK,
        "clock": st.integers(-2, MAX_CLOCK + 2) | JUNK,
        "peer": st.sampled_from(PEERS) | JUNK,
    }
)


@settings(max_examples=300)
@given(HOSTILE_OPS)
def test_any_op_is_either_refused_or_leaves_a_valid_state(hostile: object) -> None:
    layout = Layout("ann")
    layout.edit("ann", "x", 0.75)
    before, clock = layout.snapshot(), layout.clock
    if layout.apply(hostile) is False and layout.refused:
        assert layout.snapshot() == before and layout.clock == clock
    assert all(validate(each) == each for each in layout.snapshot())
    layout.layers()
    layout.edit("ann", "y", 0.5)  # local edits still work whatever came in


def test_local_edits_are_checked_too_and_edit_many_is_all_or_nothing() -> None:
    layout = Layout("ann")
    with pytest.raises(ValueError):
        layout.edit("ann", "opacity", 2)
    with pytest.raises(ValueError):
        layout.edit_many("ann", {"x": 0.2, "scale": float("nan")})
    assert layout.snapshot() == [] and layout.clock == 0
    sent = layout.edit_many("ann", {"x": 0.2, "y": 0.3})
    assert [each["clock"] for each in sent] == [1, 1]
    assert layout.layer("ann") == LayerState("ann", "person", x=0.2, y=0.3)


def test_own_peer_must_be_a_peer_id() -> None:
    with pytest.raises(ValueError):
        Layout("ann:1")


def test_new_sticker_ids_follow_this_peers_own_stickers() -> None:
    layout = Layout("ann")
    assert layout.new_sticker_id() == "ann:1"
    layout.edit("ann:1", "sticker", "heart")
    layout.apply(op(layer="bob:7", prop="sticker", value="star"))
    layout.apply(op(layer="ann:4", prop="sticker", value="star", clock=9))
    assert layout.new_sticker_id() == "ann:5"


# Layout: convergence.


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_replicas_converge_whatever_the_delivery_order_and_a_late_joiner_agrees(data: st.DataObject) -> None:
    replicas = {peer: Layout(peer) for peer in PEERS}
    inbox: dict[str, list[dict]] = {peer: [] for peer in PEERS}
    steps = data.draw(st.lists(st.tuples(st.sampled_from(PEERS), edits(), st.booleans()), max_size=40))
    for author, (layer, prop, value), deliver_some in steps:
        sent = replicas[author].edit(layer, prop, value)
        for peer in PEERS:
            if peer != author:
                inbox[peer].append(sent)
        if deliver_some:
            # Delivered ops stay in the inbox, so they arrive again at the end: duplicates.
            peer = data.draw(st.sampled_from(PEERS))
            some = data.draw(st.lists(st.sampled_from(inbox[peer]), max_size=5)) if inbox[peer] else []
            for each in some:
                replicas[peer].apply(each)
    for peer in PEERS:
        for each in data.draw(st.permutations(inbox[peer])):
            replicas[peer].apply(each)

    snapshot = replicas["ann"].snapshot()
    for replica in replicas.values():
        assert replica.snapshot() == snapshot
        assert replica.layers() == replicas["ann"].layers()
        assert replica.stage() == replicas["ann"].stage()
    late = Layout("dee")
    for each in data.draw(st.permutations(snapshot)):
        late.apply(json.loads(json.dumps(each)))
    assert late.snapshot() == snapshot
    assert late.layers() == replicas["ann"].layers()
    assert late.clock >= max((each["clock"] for each in snapshot), default=0)


# Layout: presence.


def placed(own: str = "ann") -> Layout:
    layout = Layout(own)
    for i, peer in enumerate(PEERS):
        layout.edit_many(peer, {"x": 0.2 + 0.3 * i, "z": i})
    layout.edit_many("bob:1", {"sticker": "star", "z": -1})
    return layout


def test_everyone_is_shown_until_presence_is_known() -> None:
    assert [state.id for state in placed().layers()] == ["bob:1", "ann", "bob", "cy"]


def test_an_absent_person_is_hidden_but_their_stickers_stay() -> None:
    layout = placed()
    layout.present({"ann", "cy"}, now=100.0)
    assert [state.id for state in layout.layers()] == ["bob:1", "ann", "cy"]
    assert layout.layer("bob") is not None


def test_the_own_peer_is_always_present() -> None:
    layout = placed()
    layout.present(set(), now=0.0)
    assert [state.id for state in layout.layers()] == ["bob:1", "ann"]


def test_a_person_back_within_the_window_returns_to_their_place() -> None:
    layout = placed()
    bob = layout.layer("bob")
    layout.present({"cy"}, now=100.0)
    layout.present({"cy"}, now=100.0 + REJOIN_WINDOW_S - 1)
    layout.present({"cy", "bob"}, now=100.0 + REJOIN_WINDOW_S - 0.5)
    assert layout.layer("bob") == bob and bob in layout.layers()
    # Coming back restarts the window.
    layout.present({"cy"}, now=100.0 + REJOIN_WINDOW_S + 1)
    layout.present({"cy"}, now=100.0 + 2 * REJOIN_WINDOW_S)
    assert layout.layer("bob") == bob


def test_a_person_away_for_the_whole_window_is_forgotten() -> None:
    layout = placed()
    layout.present({"cy"}, now=100.0)
    layout.present({"cy"}, now=100.0 + REJOIN_WINDOW_S)
    assert layout.layer("bob") is None
    assert "bob" not in {each["layer"] for each in layout.snapshot()}
    layout.present({"cy", "bob"}, now=100.0 + REJOIN_WINDOW_S + 5)
    assert layout.layer("bob") is None and layout.layer("bob:1") is not None


def test_a_snapshot_carries_an_absent_persons_place_to_a_late_joiner() -> None:
    layout = placed()
    layout.present({"cy"}, now=0.0)
    late = Layout("dee")
    for each in layout.snapshot():
        late.apply(each)
    assert late.layer("bob") == layout.layer("bob")


# Placement.


def box(state: LayerState, content_aspect: float, stage_aspect: float) -> tuple[float, float, float, float]:
    xs, ys = zip(*corners(state, content_aspect, stage_aspect, 1.0))
    return min(xs), min(ys), max(xs), max(ys)


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def test_the_first_person_stands_in_the_middle_capped_in_height() -> None:
    place = default_place([], 3 / 4, ASPECTS["16:9"])
    assert place == {"x": 0.5, "y": pytest.approx(0.53), "scale": MAX_PERSON_SCALE, "rotation": 0.0,
                     "opacity": 1.0, "z": 1.0}


def test_a_wide_person_is_sized_to_fit_the_stage_width() -> None:
    place = default_place([], 16 / 9, ASPECTS["3:4"])
    assert place["scale"] * 16 / 9 == pytest.approx(0.75 * 0.96)


def test_the_next_person_takes_the_first_free_slot_of_the_row() -> None:
    first = default_place([], 1.0, ASPECTS["16:9"])
    layout = Layout("ann")
    layout.edit_many("ann", {**first, "x": 0.75})
    second = default_place(layout.layers(), 1.0, ASPECTS["16:9"])
    assert second["x"] == 0.25 and second["y"] == pytest.approx(1 - 0.02 - second["scale"] / 2)
    assert second["scale"] < first["scale"] and second["z"] == first["z"] + 1


def test_a_rotated_layer_is_kept_clear_by_its_bounding_box() -> None:
    diamond = LayerState("ann:1", "sticker", x=0.25, y=0.7, scale=0.5, rotation=45)
    place = default_place([diamond], 1.0, ASPECTS["16:9"])
    newcomer = LayerState("bob", "person", **place)
    assert overlap(box(newcomer, 1.0, 16 / 9), box(diamond, 1.0, 16 / 9)) == 0.0


def test_on_a_full_stage_the_row_slot_that_overlaps_least_is_taken() -> None:
    backdrop = LayerState("ann:1", "sticker", scale=1.0)
    person = LayerState("bob", "person", x=0.25, y=0.6, scale=0.8)
    place = default_place([backdrop, person], 1.0, ASPECTS["16:9"], {"ann:1": 16 / 9})
    assert place["x"] == 0.75 and place["scale"] == pytest.approx(16 / 9 * (1 - 3 * 0.02) / 2)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(ASPECTS)), st.lists(st.floats(0.5, 2.0), min_size=1, max_size=6))
def test_up_to_six_people_joining_one_by_one_never_overlap(aspect: str, content_aspects: list[float]) -> None:
    stage_aspect = ASPECTS[aspect]
    layout = Layout("p0")
    aspects: dict[str, float] = {}
    for i, content_aspect in enumerate(content_aspects):
        layout.edit_many(f"p{i}", default_place(layout.layers(), content_aspect, stage_aspect, aspects))
        aspects[f"p{i}"] = content_aspect
    boxes = [box(state, aspects[state.id], stage_aspect) for state in layout.layers()]
    assert len(boxes) == len(content_aspects)
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= stage_aspect and 0 <= top < bottom <= 1
    for a, b in itertools.combinations(boxes, 2):
        assert overlap(a, b) < 1e-9


# Transform.

W, H = 200.0, 100.0
SQUARE = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5)


def test_size_and_corners_of_an_upright_layer() -> None:
    assert size(SQUARE, 4 / 3, H) == (pytest.approx(200 / 3), 50.0)
    assert corners(SQUARE, 1.0, W, H) == [(75, 25), (125, 25), (125, 75), (75, 75)]


def test_rotation_turns_clockwise_on_screen() -> None:
    turned = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, rotation=90)
    top_left = corners(turned, 1.0, W, H)[0]
    assert top_left == (pytest.approx(125), pytest.approx(25))


layer_states = st.builds(
    LayerState,
    id=st.just("ann"),
    kind=st.just("person"),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
    scale=st.floats(MIN_SCALE, MAX_SCALE),
    rotation=st.floats(-180, 180),
)


@given(layer_states, st.floats(0.2, 5), st.tuples(st.floats(-2, 2), st.floats(-2, 2)))
def test_inverse_undoes_the_matrix(state: LayerState, aspect: float, point: tuple[float, float]) -> None:
    m = matrix(state, aspect, W, H)
    there = map_point(m, point)
    back = map_point(inverse(m), there)
    assert back == (pytest.approx(point[0], abs=1e-9), pytest.approx(point[1], abs=1e-9))
    forth = map_point(m, map_point(inverse(m), there))
    assert forth == (pytest.approx(there[0], abs=1e-6), pytest.approx(there[1], abs=1e-6))


def test_a_singular_matrix_has_no_inverse() -> None:
    with pytest.raises(ValueError):
        inverse((1.0, 2.0, 2.0, 4.0, 0.0, 0.0))


def test_contains_follows_the_rotation() -> None:
    diamond = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, rotation=45)
    assert contains(diamond, (130, 50), 1.0, W, H)  # past the upright square's side, inside its tip
    assert not contains(SQUARE, (130, 50), 1.0, W, H)
    assert contains(SQUARE, (124, 26), 1.0, W, H)
    assert not contains(diamond, (124, 26), 1.0, W, H)  # the upright square's corner


def test_hit_test_finds_the_topmost_layer_under_the_point() -> None:
    below = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, z=0)
    above = LayerState("bob:1", "sticker", x=0.6, y=0.5, scale=0.5, rotation=45, z=1)
    layers = [below, above]
    aspects = {"ann": 1.0, "bob:1": 1.0}
    assert hit_test(layers, (120, 50), aspects, W, H) == "bob:1"
    assert hit_test(layers, (78, 28), aspects, W, H) == "ann"
    assert hit_test(layers, (10, 10), aspects, W, H) is None
    assert hit_test([], (100, 50), aspects, W, H) is None


def test_handles_sit_at_the_corners_and_above_the_top_edge() -> None:
    points = handles(SQUARE, 1.0, W, H, offset_px=30)
    assert points == {"nw": (75, 25), "ne": (125, 25), "se": (125, 75), "sw": (75, 75), "rotate": (100, -5)}
    turned = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, rotation=90)
    assert handles(turned, 1.0, W, H, offset_px=30)["rotate"] == (pytest.approx(155), pytest.approx(50))


def test_handle_at_picks_the_handle_within_the_radius() -> None:
    assert handle_at(SQUARE, (123, 73), 1.0, W, H, radius_px=5) == "se"
    assert handle_at(SQUARE, (100, 18 - 32), 1.0, W, H, radius_px=8) == "rotate"
    assert handle_at(SQUARE, (100, 50), 1.0, W, H, radius_px=8) is None
    turned = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, rotation=90)
    assert handle_at(turned, (125 + 32, 50), 1.0, W, H) == "rotate"


def test_moved_and_nudged_keep_the_centre_on_the_stage() -> None:
    assert moved(SQUARE, 20, -10, W, H) == {"x": 0.6, "y": 0.4}
    assert moved(SQUARE, 500, 500, W, H) == {"x": 1.0, "y": 1.0}
    assert nudged(SQUARE, "ArrowLeft", W, H) == {"x": 0.495, "y": 0.5}
    assert nudged(SQUARE, "ArrowDown", W, H, step_px=10) == {"x": 0.5, "y": 0.6}
    assert nudged(SQUARE, "Enter", W, H) == {}


def test_resized_scales_about_the_centre_by_the_ratio_of_distances() -> None:
    assert resized(SQUARE, (125, 75), (150, 100), W, H) == {"scale": pytest.approx(1.0)}
    assert resized(SQUARE, (125, 75), (110, 60), W, H) == {"scale": pytest.approx(0.2)}
    assert resized(SQUARE, (125, 75), (100, 50), W, H) == {"scale": MIN_SCALE}
    assert resized(SQUARE, (125, 75), (1e6, 1e6), W, H) == {"scale": MAX_SCALE}
    assert resized(SQUARE, (100, 50), (150, 100), W, H) == {"scale": 0.5}


def test_rotated_follows_the_angle_swept_from_where_the_drag_began() -> None:
    assert rotated(SQUARE, (150, 50), (100, 100), W, H) == {"rotation": pytest.approx(90)}
    # Grabbed off the handle's middle: no jump before the pointer moves.
    assert rotated(SQUARE, (110, 0), (110, 0), W, H) == {"rotation": 0.0}
    tilted = LayerState("ann", "person", x=0.5, y=0.5, scale=0.5, rotation=170)
    assert rotated(tilted, (150, 50), (100, 100), W, H) == {"rotation": pytest.approx(-100)}


def test_clip_matrix_maps_the_unit_quad_to_clip_space() -> None:
    full = LayerState("ann", "person", x=0.5, y=0.5, scale=1.0)
    m = clip_matrix(full, W / H, W, H)

    def clip(u: float, v: float) -> tuple[float, float]:
        return (m[0] * u + m[3] * v + m[6], m[1] * u + m[4] * v + m[7])

    assert clip(-0.5, -0.5) == (pytest.approx(-1), pytest.approx(1))
    assert clip(0.5, 0.5) == (pytest.approx(1), pytest.approx(-1))
    assert m[2::3] == [0.0, 0.0, 1.0]


@given(layer_states, st.floats(0.2, 5), st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)))
def test_clip_matrix_agrees_with_the_pixel_matrix(
    state: LayerState, aspect: float, uv: tuple[float, float]
) -> None:
    m = clip_matrix(state, aspect, W, H)
    px, py = map_point(matrix(state, aspect, W, H), uv)
    u, v = uv
    assert m[0] * u + m[3] * v + m[6] == pytest.approx(px / W * 2 - 1, abs=1e-9)
    assert m[1] * u + m[4] * v + m[7] == pytest.approx(1 - py / H * 2, abs=1e-9)


def test_row_places_stand_side_by_side_on_the_floor() -> None:
    for stage_aspect in ASPECTS.values():
        for people in range(1, 7):
            places = row_places(people, 4 / 3, stage_aspect)
            assert len(places) == people
            boxes = [(p["x"] * stage_aspect - p["scale"] * 2 / 3, p["x"] * stage_aspect + p["scale"] * 2 / 3) for p in places]
            for (_, right), (left, _) in itertools.pairwise(boxes):
                assert right <= left
            assert all(p["y"] + p["scale"] / 2 <= 1 for p in places)


# Hybrid logical clocks, bounds and compaction: nothing one peer sends can freeze the others.


def at(ms: float) -> Layout:
    return Layout("ann", now_ms=lambda: ms)


def test_clocks_follow_real_time_and_still_count_causally() -> None:
    layout = at(1_000.0)
    first = layout.edit("ann", "x", 0.1)["clock"]
    second = layout.edit("ann", "x", 0.2)["clock"]
    assert first == 1_000 * layout_module.CLOCK_TICKS_PER_MS and second == first + 1
    later = layout.edit("ann", "y", 0.1)["clock"]
    assert later > second
    seen = op(clock=first + 5000)
    assert layout.apply(seen)
    assert layout.edit("ann", "y", 0.2)["clock"] == seen["clock"] + 1


def test_a_poisoned_clock_is_refused_and_local_edits_go_on() -> None:
    """Today's attack: one op with the largest clock would win for ever and freeze every edit."""
    layout = at(1_000_000.0)
    for clock in (MAX_CLOCK, int((1_000_000.0 + layout_module.MAX_AHEAD_MS + 1) * layout_module.CLOCK_TICKS_PER_MS)):
        assert layout.apply(op(value=0.9, clock=clock)) is False
    mine = layout.edit("ann", "x", 0.3)
    assert layout.layer("ann").x == 0.3 and mine["clock"] < MAX_CLOCK
    # An op a few seconds ahead (a peer whose clock runs fast) is fine.
    assert layout.apply(op(value=0.6, clock=int((1_000_000.0 + 5_000) * layout_module.CLOCK_TICKS_PER_MS)))


def test_z_is_clamped_and_restacking_renumbers_near_the_bounds() -> None:
    layout = Layout("ann")
    assert layout.apply(op(prop="z", value=1e12, peer="bob"))
    assert layout.layer("ann").z == layout_module.MAX_Z
    layout.edit_many("bob", {"z": 1.0})
    layout.edit_many("ann:1", {"sticker": "crown", "z": 2.0})
    values = layout.restacked("bob", up=True)
    assert set(values) == {"ann", "ann:1", "bob"} and values["bob"] == max(values.values())
    for layer, z in values.items():
        layout.edit(layer, "z", z)
    assert [layer.id for layer in layout.layers()] == ["ann:1", "ann", "bob"]
    assert layout.restacked("ann:1", up=True) == {"ann:1": 4.0}
    assert layout.restacked("ann:1", up=False) == {"ann:1": 1.0}


def test_removed_layers_keep_only_a_tombstone_and_late_ops_cannot_revive_them() -> None:
    layout = Layout("ann")
    layout.edit_many("ann:1", {"sticker": "crown", "x": 0.2, "scale": 0.3})
    layout.edit("ann:1", "removed", True)
    assert [o["prop"] for o in layout.snapshot()] == ["removed"]
    assert layout.apply(op(layer="ann:1", prop="x", value=0.9, clock=99)) is False
    assert layout.layers() == []


def test_tombstones_and_layers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_module, "MAX_TOMBSTONES", 5)
    monkeypatch.setattr(layout_module, "MAX_LAYERS", 8)
    layout = Layout("ann")
    for n in range(1, 20):
        layout.apply(op(layer=f"bob:{n}", prop="removed", value=True, clock=n, peer="bob"))
    assert len(layout.snapshot()) == 5
    for n in range(1, 20):
        layout.apply(op(layer=f"cy:{n}", prop="sticker", value="crown", clock=n, peer="cy"))
    assert len(layout.layers()) == 8 and layout.refused == 11


@settings(max_examples=150, deadline=None)
@given(st.lists(HOSTILE_OPS | st.builds(op, layer=st.sampled_from(LAYERS[:5]), prop=st.sampled_from(["z", "removed", "x"]),
                                        value=st.floats(-1e12, 1e12) | st.booleans(), clock=st.integers(1, MAX_CLOCK),
                                        peer=st.sampled_from(PEERS)), max_size=20), st.randoms())
def test_honest_peers_converge_whatever_a_hostile_peer_mixes_in(hostile: list[object], rng: object) -> None:
    honest = [op(layer=layer, prop="x", value=v / 10, clock=c, peer=p) for layer, v, c, p in
              [("ann", 1, 3, "ann"), ("bob", 2, 4, "bob"), ("ann", 5, 7, "cy"), ("stage", 0, 1, "ann")] if layer != "stage"]
    everything = honest + hostile
    one, two = Layout("ann"), Layout("bob")
    for each in everything:
        one.apply(each)
    shuffled = list(everything)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    for each in shuffled:
        two.apply(each)
    assert one.snapshot() == two.snapshot()
    one.edit("ann", "y", 0.5)
