"""Switching camera and microphone inside the booth (devices.py): which camera "Switch camera"
turns to, and what a failed getUserMedia is taken for; the browser side is devicechoice.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend_py.devices import BUSY, DENIED, ENVIRONMENT, MISSING, USER, Camera, facing, failure, next_camera
from frontend_py.i18n import STRINGS

ANDROID = [
    Camera("a0", "camera2 0, facing back", ENVIRONMENT),
    Camera("a1", "camera2 1, facing front", USER),
    Camera("a2", "camera2 2, facing back", ENVIRONMENT),
    Camera("a3", "camera2 3, facing back", ENVIRONMENT),
]
IPHONE = [  # Safari says nothing of capabilities: the sides come from the labels
    Camera("f", "Front Camera", facing("Front Camera")),
    Camera("b", "Back Camera", facing("Back Camera")),
    Camera("u", "Back Ultra Wide Camera", facing("Back Ultra Wide Camera")),
]
LAPTOP = [
    Camera("built-in", "FaceTime HD Camera"), Camera("usb", "Logitech BRIO"), Camera("virtual", "OBS Virtual Camera"),
]


@pytest.mark.parametrize(
    "label, capabilities, expected",
    [
        ("camera2 1, facing front", [], USER),
        ("camera2 0, facing back", [], ENVIRONMENT),
        ("Front Camera", [], USER),
        ("Back Dual Wide Camera", [], ENVIRONMENT),
        ("Rear camera", [], ENVIRONMENT),
        ("전면 카메라", [], USER),
        ("후면 카메라", [], ENVIRONMENT),
        ("Integrated Webcam", ["user"], USER),
        ("Some Camera", ["environment"], ENVIRONMENT),
        ("Front Camera", ["environment"], ENVIRONMENT),  # the browser knows better than the label
        ("FaceTime HD Camera", [], ""),
        ("Turns both ways", ["user", "environment"], ""),
        ("", [], ""),
    ],
)
def test_which_way_a_camera_faces(label: str, capabilities: list[str], expected: str) -> None:
    assert facing(label, capabilities) == expected


def test_a_phone_flips_between_front_and_its_main_back_camera() -> None:
    assert next_camera(ANDROID, "a1") == "a0"
    assert next_camera(ANDROID, "a0") == "a1"
    assert next_camera(ANDROID, "a3") == "a1", "from any back camera (chosen in the list), to the front"
    assert next_camera(IPHONE, "f") == "b"
    assert next_camera(IPHONE, "u") == "f"


def test_the_open_tracks_own_facing_setting_wins_over_an_unknown_label() -> None:
    cameras = [Camera("x", "Kamera 1"), Camera("y", "Kamera 2", USER), Camera("z", "Kamera 3", ENVIRONMENT)]
    assert next_camera(cameras, "x", current_facing=USER) == "z"
    assert next_camera(cameras, "x", current_facing=ENVIRONMENT) == "y"
    assert next_camera(cameras, "x", current_facing="") == "y", "unknown: the next in the list"


def test_a_computer_goes_round_its_cameras() -> None:
    assert [next_camera(LAPTOP, camera.id) for camera in LAPTOP] == ["usb", "virtual", "built-in"]


def test_nothing_to_switch_to_with_one_camera_or_none() -> None:
    assert next_camera([], "") is None
    assert next_camera(LAPTOP[:1], "built-in") is None


def test_a_camera_not_listed_switches_to_the_first() -> None:
    assert next_camera(LAPTOP, "gone") == "built-in"
    assert next_camera(LAPTOP, "") == "built-in"


@given(
    st.lists(st.sampled_from([USER, ENVIRONMENT, ""]), min_size=2, max_size=6),
    st.data(),
)
def test_switching_never_stays_put_and_reaches_the_other_side(sides: list[str], data: st.DataObject) -> None:
    cameras = [Camera(f"c{i}", f"Camera {i}", side) for i, side in enumerate(sides)]
    current = data.draw(st.sampled_from(cameras)).id
    ids = {camera.id for camera in cameras}
    seen = {current}
    for _ in range(2 * len(cameras)):
        following = next_camera(cameras, current)
        assert following in ids and following != current
        current = following
        seen.add(current)
    if "" not in sides or len(set(sides)) == 1:
        # Sides all known (a phone) or all alike: both sides are reached, or, alike, every camera.
        assert {camera.facing for camera in cameras if camera.id in seen} == set(sides)
    if set(sides) == {""}:
        assert seen == ids


@pytest.mark.parametrize(
    "error, expected",
    [
        ("NotAllowedError Permission denied", DENIED),
        ("SecurityError", DENIED),
        ("PermissionDeniedError", DENIED),  # old Chromium
        ("NotReadableError Could not start video source", BUSY),
        ("AbortError Starting videoinput failed", BUSY),
        ("TrackStartError", BUSY),  # old Chromium
        (" Error: Could not start audio source", BUSY),
        ("NotFoundError Requested device not found", MISSING),
        ("OverconstrainedError", MISSING),
        ("", MISSING),
    ],
)
def test_why_opening_a_device_failed(error: str, expected: str) -> None:
    assert failure(error) == expected


def test_every_switching_message_exists() -> None:
    for reason in (DENIED, BUSY, MISSING, "stalled", "failed"):
        for language in STRINGS:
            assert f"devices.{reason}" in STRINGS[language]
    for key in ("devices.title", "devices.switch_camera", "camera.label", "mic.label"):
        assert all(key in STRINGS[language] for language in STRINGS)
