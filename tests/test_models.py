"""The committed ONNX models: their cards match the files, and they do their job on a real photo
(skimage's astronaut, 512x512: face at about x 180-270, y 70-170; orange suit below; US flag at
the left edge; plain wall between the head and the shuttle model)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from skimage import data as skimage_data

from frontend_py.facetracking import Crop
from frontend_py.framesampling import Affine, sampling
from models import decode

MODELS = Path(__file__).resolve().parent.parent / "models"
NAMES = ["selfie_segmentation", "selfie_segmentation_landscape", "face_detection_full_range",
         "face_landmark", "face_landmark_webgpu", "selfie_segmentation_frame",
         "selfie_segmentation_landscape_frame", "face_detection_full_range_frame", "face_landmark_frame"]
# What the browser runs on the WebGPU provider (the wasm provider runs the _frame models, and
# face_landmark keeps PRelu for them).
WEBGPU_NAMES = [name for name in NAMES if name != "face_landmark" and not name.endswith("_frame")]
DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int32)": "int32"}

# (y0, y1, x0, x1) in the 512x512 astronaut image
FACE = (80, 160, 190, 260)
TORSO = (310, 440, 70, 250)
FLAG = (10, 150, 0, 60)
WALL = (10, 100, 300, 360)


def card(name: str) -> dict:
    return json.loads((MODELS / f"{name}.json").read_text())


def session(name: str):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(MODELS / f"{name}.onnx"), opts,
                                providers=["CPUExecutionProvider"])


def run(name: str, x: np.ndarray) -> list[np.ndarray]:
    s = session(name)
    return s.run(None, {s.get_inputs()[0].name: x[None].astype(np.float32)})


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


@pytest.mark.parametrize("name", NAMES)
def test_card_matches_model(name):
    c = card(name)
    data = (MODELS / c["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == c["sha256"]
    assert c["licence"] == "Apache-2.0"
    s = session(name)
    assert [i.name for i in s.get_inputs()] == [i["name"] for i in c["inputs"]]
    assert [o.name for o in s.get_outputs()] == [o["name"] for o in c["outputs"]]
    for got, want in zip(s.get_inputs() + s.get_outputs(), c["inputs"] + c["outputs"]):
        assert list(got.shape) == want["shape"]
        assert DTYPES[got.type] == want["dtype"]


def test_licence_and_notice_ship_with_models():
    assert "Apache License" in (MODELS / "LICENSE").read_text()
    assert "MediaPipe" in (MODELS / "NOTICE").read_text()


def test_no_ops_the_webgpu_provider_lacks():
    # op types are plain strings in the protobuf: no PRelu, no unconverted TFLite custom op
    for name in WEBGPU_NAMES:
        data = (MODELS / f"{name}.onnx").read_bytes()
        assert b"PRelu" not in data and b"TFL_" not in data, name


def region_mean(mask: np.ndarray, box) -> float:
    y0, y1, x0, x1 = box
    return float((mask[y0:y1, x0:x1] > 0.5).mean())


@pytest.mark.parametrize("name,size", [("selfie_segmentation", (256, 256)),
                                       ("selfie_segmentation_landscape", (256, 144))])
def test_segmentation_covers_the_person_only(astronaut, name, size):
    x = resize(astronaut, *size) / 255.0
    (mask,) = run(name, x)
    assert mask.shape == (1, size[1], size[0], 1)
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    full = np.asarray(Image.fromarray(mask[0, :, :, 0]).resize((512, 512), Image.BILINEAR))
    assert region_mean(full, FACE) > 0.9
    assert region_mean(full, TORSO) > 0.8
    assert region_mean(full, FLAG) < 0.05
    assert region_mean(full, WALL) < 0.05


def detect_faces(image: np.ndarray):
    h, w = image.shape[:2]
    side = max(w, h)
    square = np.zeros((side, side, 3), np.uint8)
    oy, ox = (side - h) // 2, (side - w) // 2
    square[oy:oy + h, ox:ox + w] = image
    x = resize(square, 192, 192) / 127.5 - 1.0
    regressors, scores = run("face_detection_full_range", x)
    assert regressors.shape == (1, decode.NUM_ANCHORS, 16) and scores.shape == (1, decode.NUM_ANCHORS, 1)
    return decode.detect(regressors.ravel().tolist(), scores.ravel().tolist(), w, h)


def test_anchors():
    a = decode.anchors()
    assert len(a) == 2304
    assert a[0] == (0.5 / 48, 0.5 / 48) and a[-1] == (47.5 / 48, 47.5 / 48)


def test_full_range_detector_finds_the_face(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert f.score > 0.6
    cx, cy = (f.xmin + f.xmax) / 2, (f.ymin + f.ymax) / 2
    assert 190 < cx < 260 and 80 < cy < 160
    assert 60 < f.xmax - f.xmin < 140 and 60 < f.ymax - f.ymin < 140
    right_eye, left_eye = f.keypoints[0], f.keypoints[1]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert abs(right_eye[1] - left_eye[1]) < 15


def test_full_range_detector_finds_two_people_side_by_side(astronaut):
    pair = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # 1024x512
    faces = detect_faces(pair)
    assert len(faces) == 2
    centres = sorted((f.xmin + f.xmax) / 2 for f in faces)
    assert 190 < centres[0] < 260 and 1024 - 260 < centres[1] < 1024 - 190


def test_landmarks_lie_on_the_face(astronaut):
    (f,) = detect_faces(astronaut)
    cx, cy = (f.xmin + f.xmax) / 2, (f.ymin + f.ymax) / 2
    half = max(f.xmax - f.xmin, f.ymax - f.ymin) * 1.5 / 2  # crop = box x1.5, square
    x0, y0 = round(cx - half), round(cy - half)
    side = round(2 * half)
    crop = Image.fromarray(astronaut).crop((x0, y0, x0 + side, y0 + side)).resize((192, 192),
                                                                                 Image.BILINEAR)
    landmarks, presence = run("face_landmark", np.asarray(crop) / 255.0)
    assert 1 / (1 + np.exp(-presence.item())) > 0.5
    pts = landmarks.reshape(468, 3)[:, :2] * (side / 192) + (x0, y0)
    margin = 0.1 * (f.xmax - f.xmin)
    inside = ((pts[:, 0] > f.xmin - margin) & (pts[:, 0] < f.xmax + margin)
              & (pts[:, 1] > f.ymin - margin) & (pts[:, 1] < f.ymax + margin))
    assert inside.mean() > 0.95
    # the landmark cloud and the detection agree on where the face is
    assert abs(pts[:, 0].mean() - cx) < 0.15 * (f.xmax - f.xmin)
    assert abs(pts[:, 1].mean() - cy) < 0.2 * (f.ymax - f.ymin)


def test_webgpu_landmark_variant_gives_the_same_landmarks(astronaut):
    crop = resize(astronaut[60:230, 150:320], 192, 192) / 255.0
    wasm, webgpu = run("face_landmark", crop), run("face_landmark_webgpu", crop)
    for a, b in zip(wasm, webgpu, strict=True):
        assert np.abs(a - b).max() < 1e-3


# The _frame models take what the browser's wasm pipeline has: the camera frame as RGBA bytes.
# Given the same pixels, they must answer as the models they are built from.


def rgba(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], axis=-1)[None]


def sample(image: np.ndarray, to_frame: Affine, size: int) -> np.ndarray:
    """What the GPU path feeds: bilinear samples at the input's pixel centres, zeros outside."""
    h, w = image.shape[:2]
    centres = np.arange(size) + 0.5
    u, v = np.meshgrid(centres, centres)
    x, y = to_frame(u, v)
    x, y = x - 0.5, y - 0.5
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        return np.where(inside[..., None], image[yy.clip(0, h - 1), xx.clip(0, w - 1)], 0).astype(np.float32)

    return (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
            + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)


def run_sampled(name: str, image: np.ndarray, to_frame: Affine, size: int) -> list[np.ndarray]:
    feed = sampling(to_frame, size, size, image.shape[1], image.shape[0])
    return session(name).run(None, {
        "frame": rgba(image),
        "region_start": np.array(feed.region_start, np.int32),
        "region_end": np.array(feed.region_end, np.int32),
        "to_region": np.array(feed.to_region, np.float32).reshape(1, 2, 3),
    })


def from_phases(phases: np.ndarray) -> np.ndarray:
    """A `_frame` segmentation's four half-size planes back as the original's NHWC mask:
    pixel (2i + r, 2j + c) is plane 2r + c, row i, column j (models/README.md)."""
    _, _, rows, columns = phases.shape
    return phases[0].reshape(2, 2, rows, columns).transpose(2, 0, 3, 1).reshape(1, 2 * rows, 2 * columns, 1)


@pytest.mark.parametrize("name,size", [("selfie_segmentation", (256, 256)),
                                       ("selfie_segmentation_landscape", (256, 144))])
def test_segmentation_taking_frames_resizes_them_like_the_gpu(astronaut, name, size):
    frame = resize(astronaut, 640, 480)
    width, height = size
    to_frame = Affine(640 / width, 0, 0, 0, 480 / height, 0)
    centres_u, centres_v = np.arange(width) + 0.5, np.arange(height) + 0.5
    u, v = np.meshgrid(centres_u, centres_v)
    x, y = to_frame(u, v)
    # Half-pixel bilinear, as a texture sampled at the input's pixel centres.
    x, y = np.clip(x - 0.5, 0, 639), np.clip(y - 0.5, 0, 479)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, 639), np.minimum(y0 + 1, 479)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    f = frame.astype(np.float32)
    tensor = (f[y0, x0] * (1 - fx) * (1 - fy) + f[y0, x1] * fx * (1 - fy)
              + f[y1, x0] * (1 - fx) * fy + f[y1, x1] * fx * fy) / 255
    (want,) = run(name, tensor)
    (phases,) = session(f"{name}_frame").run(None, {"frame": rgba(frame)})
    assert phases.shape == (1, 4, height // 2, width // 2)
    got = from_phases(phases)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 1e-3
    both, either = ((got > 0.5) & (want > 0.5)).sum(), ((got > 0.5) | (want > 0.5)).sum()
    assert both / either > 0.99


@pytest.mark.parametrize("crop", [Crop(225, 120, 150, 0.3), Crop(20, 30, 150, -0.5)],
                         ids=["turned", "partly-outside"])
def test_landmarks_taking_frames_sample_the_crop_like_the_gpu(astronaut, crop):
    frame = astronaut[:480]
    want = run("face_landmark", sample(frame, crop.affine(), 192) / 255)
    got = run_sampled("face_landmark_frame", frame, crop.affine(), 192)
    for a, b in zip(want, got, strict=True):
        assert np.abs(a - b).max() < 1e-3


def test_detector_taking_frames_letterboxes_like_the_gpu(astronaut):
    frame = resize(astronaut, 640, 480)
    k = 640 / 192
    letterbox = Affine(k, 0, 0, 0, k, -80)  # 640x480 centred in a 640x640 square
    want = run("face_detection_full_range", sample(frame, letterbox, 192) / 127.5 - 1)
    got = run_sampled("face_detection_full_range_frame", frame, letterbox, 192)
    for a, b in zip(want, got, strict=True):
        assert np.abs(a - b).max() < 1e-2
    regressors, scores = sorted(got, key=lambda array: -array.size)
    (face,) = decode.detect(regressors.ravel().tolist(), scores.ravel().tolist(), 640, 480)
    assert 0.6 < face.score
