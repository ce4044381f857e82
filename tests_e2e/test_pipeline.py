"""The AI pipeline through real calls: background removal, overlays, providers, failures.

References come from CPython onnxruntime on the very picture the fake camera shows, so the
browser's whole path (GPU resampling, onnxruntime-web, mask refinement, packing, a real
video codec, unpacking on the receiver) is checked against the model itself.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from functools import cache

import numpy as np
import onnxruntime
import pytest
from PIL import Image
from playwright.sync_api import Page, Route

from frontend_py.facetracking import LANDMARK_SIZE, Crop, Face, crop_from_detection
from frontend_py.i18n import STRINGS
from models import decode
from tests_e2e.conftest import diagnostics_url, wait_ready
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import (
    assert_shows_camera,
    camera_error,
    create_booth,
    erode,
    join,
    own_id,
    poll,
    received_frame,
    received_packed,
    wait_connected,
)

OpenPage = Callable[..., Page]
MODELS = "models"

# One received frame of a person, unpacked by the receiver, alpha kept, and the sender's
# figures: the page's test hooks, there with its diagnostics switch on (diagnostics_url).
CUTOUT = "(peer) => globalThis.clovCutout ? clovCutout(peer) : null"
DIAGNOSTICS = "() => globalThis.clovDiagnostics ? JSON.parse(clovDiagnostics()) : null"


@cache
def session(name: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(f"{MODELS}/{name}.onnx", providers=["CPUExecutionProvider"])


def run(name: str, x: np.ndarray) -> list[np.ndarray]:
    s = session(name)
    return s.run(None, {s.get_inputs()[0].name: x[None].astype(np.float32)})


def reference_mask(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """CPython's person mask (general model) for the picture, at `size` (w, h), as booleans."""
    x = np.asarray(Image.fromarray(picture).resize((256, 256), Image.BILINEAR)) / 255.0
    (mask,) = run("selfie_segmentation", x)
    probability = Image.fromarray((mask.reshape(256, 256) * 255).astype(np.uint8))
    return np.asarray(probability.resize(size, Image.BILINEAR)) > 127


def crop_pixels(picture: np.ndarray, crop: Crop) -> np.ndarray:
    """The landmark model's input for a (turned) crop, made with PIL from the crop's maths."""
    origin, right, down = crop.to_frame(0, 0), crop.to_frame(1, 0), crop.to_frame(0, 1)
    coefficients = (right[0] - origin[0], down[0] - origin[0], origin[0],
                    right[1] - origin[1], down[1] - origin[1], origin[1])
    image = Image.fromarray(picture).transform((LANDMARK_SIZE, LANDMARK_SIZE), Image.AFFINE, coefficients, Image.BILINEAR)
    return np.asarray(image) / 255.0


def reference_eyes(picture: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Eye centres CPython finds with the same models and tracking maths the browser uses."""
    h, w = picture.shape[:2]
    side = max(w, h)
    square = np.zeros((side, side, 3), np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = picture
    x = np.asarray(Image.fromarray(square).resize((192, 192), Image.BILINEAR)) / 127.5 - 1.0
    regressors, scores = run("face_detection_full_range", x)
    (detection,) = decode.detect(regressors.ravel().tolist(), scores.ravel().tolist(), w, h)
    face = Face(crop_from_detection(detection))
    for _ in range(3):  # as the browser does frame after frame on a still picture
        points, _score = run("face_landmark", crop_pixels(picture, face.crop))
        face.update(points.ravel().tolist())
    return face.eyes()


def png(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def cutout(page: Page, peer: str) -> np.ndarray:
    url = poll(lambda: page.evaluate(CUTOUT, peer))
    assert url, f"no cut-out of {peer}"
    return png(url)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def alpha_iou(page: Page, peer: str, reference: np.ndarray) -> float:
    rgba = cutout(page, peer)
    want = reference_mask(reference, (rgba.shape[1], rgba.shape[0]))
    return iou(rgba[..., 3] > 127, want)


def assert_cut_out_as_the_model_says(page: Page, peer: str, reference: np.ndarray) -> None:
    """The peer's received mask reaches IoU 0.9 with CPython's for the camera's picture."""
    score = poll(lambda: (value := alpha_iou(page, peer, reference)) >= 0.9 and value, timeout=40)
    assert score, f"IoU with CPython's mask only {alpha_iou(page, peer, reference):.3f}"


# Keeps every binary data-channel message the page receives (stills arrive as such).
KEEP_BINARY = """(() => {
  const create = RTCPeerConnection.prototype.createDataChannel;
  window.clovReceived = [];
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    channel.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') window.clovReceived.push(new Uint8Array(event.data));
    });
    return channel;
  };
})()"""


def received_still(page: Page) -> np.ndarray:
    """The last still the page received, reassembled from its binary chunks, as RGBA."""
    chunks = page.evaluate("() => window.clovReceived.map(chunk => btoa(String.fromCharCode(...chunk)))")
    parts = [base64.b64decode(chunk) for chunk in chunks]
    last = max(int.from_bytes(part[:4], "big") for part in parts)
    data = b"".join(part[8:] for part in sorted((p for p in parts if int.from_bytes(p[:4], "big") == last), key=lambda p: p[4:8]))
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_receiver_sees_the_person_cut_out_as_the_model_says(open_page: OpenPage, fake_media: FakeMedia) -> None:
    ana, link = create_booth(open_page, "Ana", diagnostics_url("/"))
    bo = open_page(diagnostics_url(link))
    bo.add_init_script(KEEP_BINARY)
    bo.reload()
    wait_ready(bo)
    bo.fill("#name", "Bo")
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    ana_id = own_id(ana)
    wait_connected(bo, ana_id)
    assert_cut_out_as_the_model_says(bo, ana_id, fake_media.reference)
    rgba = cutout(bo, ana_id)
    h, w = rgba.shape[:2]

    def alpha(x0: float, x1: float, y0: float, y1: float) -> float:
        return float(rgba[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w), 3].mean())

    # The flag (left) and the wall are see-through; the face and the suit are not.
    assert alpha(0.14, 0.24, 0.05, 0.35) < 20
    assert alpha(0.58, 0.64, 0.05, 0.3) < 20
    assert alpha(0.41, 0.51, 0.15, 0.28) > 235
    assert alpha(0.25, 0.45, 0.6, 0.8) > 235

    # What Bo's browser holds of Ana's room: outside the person, one constant colour (the flag
    # and the shuttle are not in it); inside, the camera's picture.
    colour, received_alpha = received_packed(bo, ana_id)
    background = erode(received_alpha < 3, 4)
    person = erode(received_alpha > 250, 3)
    assert background.mean() > 0.3 and person.mean() > 0.15
    spread = colour[background].astype(float).std(axis=0).max()
    assert spread < 3, f"the background reaches the receiver: colour spread {spread:.1f} of 255"
    error = np.abs(colour.astype(float) - fake_media.reference)[person].mean()
    assert error < 12, f"the person differs from the camera by {error:.1f} on average"
    # Ana's still for a photo, as Bo receives it: the camera's full picture where the person
    # is, and outside one constant colour too, with alpha 0.
    bo.click("#shutter")
    bo.wait_for_selector(".gallery-item[data-kind='photo']", timeout=60_000)
    still = received_still(bo)
    assert still.shape[:2] == fake_media.reference.shape[:2]
    outside, inside = erode(still[..., 3] < 3, 4), erode(still[..., 3] > 250, 3)
    assert iou(still[..., 3] > 127, reference_mask(fake_media.reference, still.shape[1::-1])) > 0.9
    spread = still[..., :3][outside].astype(float).std(axis=0).max()
    assert outside.mean() > 0.3 and spread < 1, f"the background reaches the receiver in the still: spread {spread:.1f}"
    assert np.abs(still[..., :3].astype(float) - fake_media.reference)[inside].mean() < 6

    # The sender was told while the model loaded; now nothing is said.
    assert ana.is_hidden("#privacy-notice")
    assert ana.evaluate(DIAGNOSTICS)["privacy"] == "masked"

    # The sender's diagnostics name the provider and time every stage it ran.
    ana.click("#diagnostics summary")
    ana.wait_for_selector("#diagnostics[data-provider='wasm']", state="attached")
    assert "wasm" in ana.inner_text("#diagnostics-provider")
    # Two threads or more: segmentation runs in its own instance in a worker, beside the faces.
    assert "segmentation in a worker" in ana.inner_text("#diagnostics-provider")
    assert ana.evaluate(DIAGNOSTICS)["segmentation_in_worker"]
    report = ana.evaluate(DIAGNOSTICS)
    assert report["stages"]["segmentation"][0] > 0 and report["stages"]["pack"][0] > 0
    # Frames reach the sent track through the GPU read-back, and that wait is shown too.
    assert report["stages"]["send"][0] > 0
    for stage in ("segmentation", "send"):
        assert ana.inner_text(f"#diagnostics tr[data-stage='{stage}'] td") not in ("", "–")

    # Switching removal off sends the whole picture; on again, the cut-out comes back.
    ana.uncheck("#background-removal")
    opaque = poll(lambda: cutout(bo, ana_id)[..., 3].mean() > 250, timeout=20)
    assert opaque, "background still removed after switching it off"
    ana.check("#background-removal")
    back = poll(lambda: alpha_iou(bo, ana_id, fake_media.reference) >= 0.9, timeout=20)
    assert back, "background not removed again after switching it back on"
    assert ana.evaluate("() => localStorage.getItem('clov.removeBackground')") == "1"


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    grown = mask.copy()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            grown |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return grown


def test_sunglasses_sit_between_the_eyes_for_everyone(open_page: OpenPage, fake_media: FakeMedia) -> None:
    requested: list[str] = []  # every URL Ana's browser asks for, its workers' included

    def recorded(url: str) -> Page:
        page = open_page(url)
        page.context.on("request", lambda request: requested.append(request.url.split("?")[0]))
        return page

    def asked(name: str) -> int:
        return sum(url.endswith(name) for url in requested)

    ana, link = create_booth(recorded, "Ana", diagnostics_url("/"))
    bo = join(open_page, link, "Bo")
    ana_id = own_id(ana)
    wait_connected(bo, ana_id)
    # Bo opened the invite as anyone would: his page has none of the test hooks Ana's has.
    hooks = "() => Object.getOwnPropertyNames(globalThis).filter((name) => name.startsWith('clov')).sort()"
    assert ana.evaluate(hooks) == ["clovCapture", "clovCutout", "clovDiagnostics", "clovStage", "clovStagePng"]
    assert bo.evaluate(hooks) == []
    reference = fake_media.reference.astype(float)
    (rx, ry), (lx, ly) = reference_eyes(fake_media.reference)
    eye_distance = float(np.hypot(lx - rx, ly - ry))

    def changed() -> np.ndarray:
        """Pixels of the person (and overlay) far from the camera's own picture (more than the
        codec's usual error). The rest of the frame is a constant colour, not the camera."""
        frame, alpha = received_packed(bo, ana_id)
        if frame.shape[:2] != reference.shape[:2]:
            return np.ones(reference.shape[:2], bool)
        return (np.abs(reference - frame.astype(float)).sum(axis=2) > 100) & erode(alpha > 250, 2)

    # Where the codec alone strays that far (sharp edges), before any overlay.
    assert poll(lambda: changed().mean() < 0.01, timeout=30), "the received picture is not the camera's"
    codec_noise = dilate(changed() | changed() | changed(), 2)
    # The booth runs, background removed, and no face model was fetched: no overlay asked for
    # them. onnxruntime's wasm came once, though the page and its worker each run it.
    ana.wait_for_function(f"() => ({DIAGNOSTICS})().privacy === 'masked'", timeout=30_000)
    assert not [url for url in requested if "/models/face_" in url]
    assert asked("ort-wasm-simd-threaded.wasm") == 1
    assert ana.is_hidden("#overlays-loading")

    # Picking an overlay fetches them, and says so until they are there.
    held: list[Route] = []
    ana.route("**/models/face_landmark*.onnx", lambda route: held.append(route))
    ana.click("[data-overlay='sunglasses']")
    assert ana.get_attribute("[data-overlay='sunglasses']", "aria-checked") == "true"
    ana.wait_for_selector("#overlays-loading", state="visible")
    assert ana.inner_text("#overlays-loading") == STRINGS["en"]["overlays.loading"]
    assert ana.get_attribute("#overlays", "aria-busy") == "true"
    # Playwright hands a held request to the test only while the test waits on the page.
    assert poll(lambda: ana.wait_for_timeout(100) or held, timeout=30), "the landmark model was never asked for"
    for route in held:
        route.fallback()
    ana.wait_for_function(f"() => ({DIAGNOSTICS})().faces === 1", timeout=30_000)
    assert ana.is_hidden("#overlays-loading") and ana.get_attribute("#overlays", "aria-busy") == "false"
    assert asked("face_detection_full_range_frame.onnx") == 1 and asked("face_landmark_frame.onnx") == 1
    assert asked("ort-wasm-simd-threaded.wasm") == 1, "the page's instance fetched the wasm again"
    assert poll(lambda: changed().sum() > 0.2 * eye_distance**2, timeout=30), "no sunglasses in the received frame"
    drawn = changed() & ~codec_noise
    ys, xs = np.nonzero(drawn)
    # The overlay lies along the eye line, from beyond one eye to beyond the other ...
    inside = (xs > rx - 0.75 * eye_distance) & (xs < lx + 0.75 * eye_distance) & (np.abs(ys - (ry + ly) / 2) < 0.45 * eye_distance)
    assert inside.mean() > 0.97, f"{(~inside).sum()} of {inside.size} overlay pixels away from the eyes"
    assert abs(xs.mean() - (rx + lx) / 2) < 0.15 * eye_distance
    # ... and dark lenses cover both eyes.
    luma = received_frame(bo, ana_id).astype(float).mean(axis=2)
    for ex, ey in ((rx, ry), (lx, ly)):
        assert (luma[int(ey) - 3:int(ey) + 4, int(ex) - 3:int(ex) + 4] < 90).mean() > 0.6

    # Removed again, the received picture is the camera's.
    ana.click("[data-overlay='']")
    gone = poll(lambda: (changed() & ~codec_noise).sum() < 20, timeout=20)
    assert gone, "sunglasses still drawn after choosing none"


def sharpest_step(frame: np.ndarray) -> float:
    """The largest grey-level step between neighbouring pixels (the camera's photo has
    steps over 100 at its edges; a picture blurred past recognition has none over ~20)."""
    grey = frame.astype(float).mean(axis=2)
    return float(max(np.abs(np.diff(grey, axis=0)).max(), np.abs(np.diff(grey, axis=1)).max()))


def test_without_its_model_a_person_is_sent_blurred_until_they_agree(open_page: OpenPage, fake_media: FakeMedia) -> None:
    ana, link = create_booth(open_page, "Ana")
    bo = open_page(diagnostics_url(link))

    def missing(route: Route) -> None:
        route.fulfill(status=404, body="gone")

    bo.route("**/models/selfie_segmentation*.onnx", missing)
    bo.fill("#name", "Bo")
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    bo_id = own_id(bo)
    bo.wait_for_selector("#privacy-notice[data-notice='ask']", timeout=30_000)
    assert bo.inner_text("#privacy-message") == STRINGS["en"]["privacy.ask"]
    assert bo.is_hidden("#ai-notice"), "the face models loaded: nothing else to say"
    wait_connected(ana, bo_id)
    assert sharpest_step(fake_media.reference) > 100
    # Ana gets Bo's picture opaque and blurred, frame after frame, while Bo has not answered.
    for _ in range(4):
        colour, alpha = received_packed(ana, bo_id)
        assert alpha.mean() > 250
        assert sharpest_step(colour) < 20, "a sharp edge reached the receiver before Bo agreed"
        ana.wait_for_timeout(700)
    assert bo.evaluate(DIAGNOSTICS)["privacy"] == "blurred"

    bo.click("#show-camera")
    assert bo.is_hidden("#privacy-notice")
    shown = poll(lambda: camera_error(received_frame(ana, bo_id), fake_media.reference) < 12, timeout=20)
    assert shown, "Bo agreed, but Ana still does not get the camera"
    assert_shows_camera(received_frame(ana, bo_id), fake_media.reference)
    assert not ana.is_visible("#privacy-notice") and not ana.is_visible("#ai-notice")


def test_without_workers_segmentation_runs_on_the_page(open_page: OpenPage, fake_media: FakeMedia) -> None:
    refusals = []

    def refused(route: Route) -> None:
        refusals.append(route.request.url)
        route.fulfill(status=404, body="no workers here")

    def blocked(url: str) -> Page:
        page = open_page(url)
        page.route("**/ort.wasm.min.mjs?instance=worker", refused)
        page.reload()
        page.wait_for_selector("#name")
        return page

    ana, link = create_booth(blocked, "Ana", diagnostics_url("/"))
    bo = join(open_page, diagnostics_url(link), "Bo")
    ana_id = own_id(ana)
    wait_connected(bo, ana_id)
    assert_cut_out_as_the_model_says(bo, ana_id, fake_media.reference)
    assert refusals, "the page never asked for the worker's module"
    assert not ana.is_visible("#ai-notice")
    ana.click("#diagnostics summary")
    provider = ana.inner_text("#diagnostics-provider")
    assert "wasm" in provider and "worker" not in provider
    assert not ana.evaluate(DIAGNOSTICS)["segmentation_in_worker"]


@pytest.fixture(scope="module")
def webgpu_browser(launch_browser):  # type: ignore[no-untyped-def]
    return launch_browser("--enable-unsafe-webgpu")


def own_mask(page: Page) -> np.ndarray:
    return cutout(page, own_id(page))[..., 3] > 127


def test_webgpu_gives_the_same_mask_as_wasm(open_page: OpenPage, webgpu_browser) -> None:  # type: ignore[no-untyped-def]
    masks = {}
    # The wasm reference runs in the usual browser: once in four CI runs, a page opened in the
    # WebGPU-flagged browser after the WebGPU page closed crashed while loading.
    for provider, browser in (("webgpu", webgpu_browser), ("wasm", None)):
        page, _ = create_booth(lambda url, provider=provider, browser=browser: open_page(diagnostics_url(f"/?ep={provider}"), browser=browser), provider)
        # SwiftShader's WebGPU is a CPU emulation (~1000x slower than a GPU): one frame is enough.
        page.wait_for_function(f"() => ({DIAGNOSTICS})()?.stages.segmentation[0] > 0", timeout=120_000)
        report = page.evaluate(DIAGNOSTICS)
        assert report["provider_name"] == provider, report["provider"]
        assert page.get_attribute("#diagnostics", "data-provider") == provider
        assert poll(lambda page=page: own_mask(page).mean() < 0.9, timeout=60), f"{provider}: no cut-out"
        masks[provider] = own_mask(page)
        page.context.close()
    agreement = iou(masks["webgpu"], masks["wasm"])
    assert agreement > 0.97, f"WebGPU and wasm masks differ: IoU {agreement:.3f}"
    print(json.dumps({"webgpu_vs_wasm_iou": agreement}))
