"""What of the camera may leave the device, frame by frame (docs/security.md).

With background removal on, a frame goes out masked (the person as the mask says, a constant
colour around them) once the segmentation model gives a mask; until then, blurred past
recognition. When no mask can come (the model failed, or gave nothing within READY_TIMEOUT_S),
the person is asked whether to show their camera as it is: until they agree it stays blurred,
and their answer holds until they leave the booth. With removal off, their explicit choice, the
camera goes as it is.

Pure logic, no browser: the pipeline asks `mode()` for every frame, the room shows `notice()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Mode(str, Enum):
    CAMERA = "camera"    # the picture as it is
    MASKED = "masked"    # the person; a constant colour elsewhere
    BLURRED = "blurred"  # no readable detail anywhere


class Notice(str, Enum):
    """What the person is told about their own picture (i18n keys)."""

    GETTING_READY = "privacy.getting_ready"
    ASK = "privacy.ask"
    BLURRED = "privacy.blurred"


READY_TIMEOUT_S = 30.0
FAILED_FRAMES = 3  # segmentation failures in a row that count as a failed model


@dataclass
class CameraPrivacy:
    started_at: float
    remove_background: bool = True
    has_mask: bool = False
    model_failed: bool = False
    show_unmasked: bool | None = None  # the person's answer, once asked
    failures_in_a_row: int = 0

    def mode(self) -> Mode:
        if not self.remove_background:
            return Mode.CAMERA
        if self.has_mask:
            return Mode.MASKED
        return Mode.CAMERA if self.show_unmasked else Mode.BLURRED

    def set_removal(self, on: bool) -> None:
        """Switched back on, the old mask says nothing of where the person is now."""
        self.remove_background, self.has_mask = on, False

    def mask_ready(self) -> None:
        self.has_mask, self.model_failed, self.failures_in_a_row = True, False, 0

    def frame_failed(self) -> None:
        """Segmentation threw on a frame: that frame (and the next) goes out without a mask."""
        self.has_mask = False
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= FAILED_FRAMES:
            self.model_failed = True

    def model_unavailable(self) -> None:
        self.has_mask, self.model_failed = False, True

    def stuck(self, now: float) -> bool:
        """No mask can be expected: the model failed, or it is still not ready after the timeout."""
        return not self.has_mask and (self.model_failed or now - self.started_at >= READY_TIMEOUT_S)

    def answer(self, show_unmasked: bool) -> None:
        self.show_unmasked = show_unmasked

    def notice(self, now: float) -> Notice | None:
        if not self.remove_background or self.has_mask or self.show_unmasked:
            return None
        if not self.stuck(now):
            return Notice.GETTING_READY
        return Notice.ASK if self.show_unmasked is None else Notice.BLURRED
