"""What of the camera leaves the device (privacy.py), and how its video is kept playing
(playback.py): the browser client's decisions, in CPython."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontend_py.playback import PLAY_EVERY, STALL_WAKES, Action, Watchdog
from frontend_py.privacy import FAILED_FRAMES, READY_TIMEOUT_S, CameraPrivacy, Mode, Notice


def test_blurred_until_the_first_mask_then_masked() -> None:
    privacy = CameraPrivacy(started_at=0.0)
    assert privacy.mode() is Mode.BLURRED
    assert privacy.notice(1.0) is Notice.GETTING_READY
    privacy.mask_ready()
    assert privacy.mode() is Mode.MASKED
    assert privacy.notice(1.0) is None


def test_a_failed_model_asks_and_nothing_unmasked_goes_before_yes() -> None:
    privacy = CameraPrivacy(started_at=0.0)
    privacy.model_unavailable()
    assert privacy.notice(0.5) is Notice.ASK
    assert privacy.mode() is Mode.BLURRED
    privacy.answer(True)
    assert privacy.mode() is Mode.CAMERA
    assert privacy.notice(0.5) is None


def test_no_answer_holds_and_a_mask_arriving_later_still_wins() -> None:
    privacy = CameraPrivacy(started_at=0.0)
    privacy.model_unavailable()
    privacy.answer(False)
    assert privacy.mode() is Mode.BLURRED
    assert privacy.notice(100.0) is Notice.BLURRED
    privacy.mask_ready()
    assert privacy.mode() is Mode.MASKED


def test_a_model_that_gives_nothing_for_the_timeout_counts_as_failed() -> None:
    privacy = CameraPrivacy(started_at=10.0)
    assert privacy.notice(10.0 + READY_TIMEOUT_S - 0.1) is Notice.GETTING_READY
    assert privacy.notice(10.0 + READY_TIMEOUT_S) is Notice.ASK
    assert privacy.mode() is Mode.BLURRED


def test_segmentation_failing_on_frames_blurs_them_and_then_asks() -> None:
    privacy = CameraPrivacy(started_at=0.0)
    privacy.mask_ready()
    privacy.frame_failed()
    assert privacy.mode() is Mode.BLURRED, "a frame without a mask of its own is never sent sharp"
    assert privacy.notice(1.0) is Notice.GETTING_READY
    for _ in range(FAILED_FRAMES - 1):
        privacy.frame_failed()
    assert privacy.notice(1.0) is Notice.ASK


def test_removal_off_is_the_camera_and_on_again_waits_for_a_new_mask() -> None:
    privacy = CameraPrivacy(started_at=0.0)
    privacy.mask_ready()
    privacy.set_removal(False)
    assert privacy.mode() is Mode.CAMERA and privacy.notice(1.0) is None
    privacy.set_removal(True)
    assert privacy.mode() is Mode.BLURRED


@given(st.lists(st.sampled_from(["mask", "fail", "unavailable", "off", "on", "no", "tick"]), max_size=30))
def test_the_camera_goes_unmasked_only_by_the_persons_choice(events: list[str]) -> None:
    privacy = CameraPrivacy(started_at=0.0)
    now = 0.0
    for event in events:
        if event == "mask":
            privacy.mask_ready()
        elif event == "fail":
            privacy.frame_failed()
        elif event == "unavailable":
            privacy.model_unavailable()
        elif event in ("off", "on"):
            privacy.set_removal(event == "on")
        elif event == "no":
            privacy.answer(False)
        else:
            now += 10.0
        if privacy.mode() is Mode.CAMERA:
            assert not privacy.remove_background, events
        if privacy.mode() is Mode.MASKED:
            assert privacy.has_mask


def test_a_playing_video_is_left_alone() -> None:
    watchdog = Watchdog()
    for _ in range(STALL_WAKES * 3):
        assert watchdog.after_wait(paused=False, hidden=False, has_frame=True) is Action.WAIT
        watchdog.presented()


def test_a_paused_video_is_played_again_not_on_every_wake() -> None:
    watchdog = Watchdog()
    actions = [watchdog.after_wait(paused=True, hidden=False, has_frame=True) for _ in range(PLAY_EVERY * 3)]
    assert actions.count(Action.PLAY) == 3
    assert actions[0] is Action.PLAY, "the first wake already tries"


def test_a_stuck_video_is_given_its_camera_again() -> None:
    watchdog = Watchdog()
    actions = [watchdog.after_wait(paused=False, hidden=False, has_frame=True) for _ in range(STALL_WAKES)]
    assert actions[:-1] == [Action.WAIT] * (STALL_WAKES - 1)
    assert actions[-1] is Action.REATTACH
    assert watchdog.after_wait(paused=False, hidden=False, has_frame=True) is Action.WAIT


def test_a_hidden_page_takes_frames_on_the_timer_and_recovers_when_shown() -> None:
    watchdog = Watchdog()
    for _ in range(STALL_WAKES * 2):
        assert watchdog.after_wait(paused=False, hidden=True, has_frame=True) is Action.TAKE
    assert watchdog.after_wait(paused=False, hidden=True, has_frame=False) is Action.WAIT
    # Back in front: frame callbacks resume; no needless re-attach in between.
    assert watchdog.after_wait(paused=False, hidden=False, has_frame=True) is Action.WAIT
    watchdog.presented()
    # A tab that comes back from being frozen with its video paused is played at once.
    assert watchdog.after_wait(paused=True, hidden=False, has_frame=True) is Action.PLAY
