"""The face models on camera frames: the detector finds faces, the landmark model follows each
one from frame to frame (facetracking.py holds the geometry between them)."""

from __future__ import annotations

from frontend_py.facetracking import Face, Tracker
from frontend_py.framesampling import Affine
from frontend_py.modelinputs import ModelInput, ModelInputs
from frontend_py.onnxruntime import Session
from models import decode


class FaceModels:
    """Tracks the faces of the frames `inputs` takes its tensors from."""

    def __init__(self, inputs: ModelInputs) -> None:
        self.inputs = inputs
        self.tracker = Tracker()

    def forget(self) -> None:
        """What was learnt of one camera's picture says nothing of another's: faces are looked
        for afresh."""
        self.tracker = Tracker()

    def crops(self) -> list[tuple[Face, ModelInput | None]]:
        """Each tracked face with its atlas band (None without an atlas)."""
        return list(zip(self.tracker.faces, self.inputs.face_bands()))

    def landmarked(self) -> list[Face]:
        return [face for face in self.tracker.faces if face.landmarks]

    async def track(
        self, detector: Session, landmarker: Session, crops: list[tuple[Face, ModelInput | None]], width: int, height: int,
    ) -> list[Face]:
        """Landmarks for this frame's `crops` (their bands prepared), and for any face the
        detector finds when it is time to look; the faces that have landmarks."""
        tracker = self.tracker
        tracker.next_frame()
        for face, band in crops:
            await self._landmarks(landmarker, face, band)
        if tracker.needs_detection():
            side = max(width, height)
            ox, oy = (side - width) / 2, (side - height) / 2
            k = side / decode.INPUT_SIZE
            letterbox = Affine(k, 0, -ox, 0, k, -oy)
            outputs = await detector.run(*self.inputs.detector(letterbox, width, height))
            regressors, scores = sorted(outputs, key=lambda array: -array.length)
            found = tracker.detected(decode.detect(regressors.to_py(), scores.to_py(), width, height))
            # Detection runs only below MAX_FACES: a band is free.
            band = self.inputs.face_bands()[len(crops)]
            for face in found:
                if band is not None:
                    band.fill(self.inputs.frame, face.crop.uv_matrix(width, height))
                    band.read()
                await self._landmarks(landmarker, face, band)
        return self.landmarked()

    async def _landmarks(self, landmarker: Session, face: Face, band: ModelInput | None) -> None:
        outputs = await landmarker.run(*self.inputs.landmarks(face, band))
        points, score = sorted(outputs, key=lambda array: -array.length)
        self.tracker.landmarks(face, points.to_py(), float(score[0]))
