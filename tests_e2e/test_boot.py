"""The app boots in headless Chromium, isolated and local; the fake camera and microphone work."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from tests_e2e.conftest import interfaces_up, page_log
from tests_e2e.media import TONE_HZ, FakeMedia

# One camera frame as a PNG data URL (no Pyodide needed: plain browser APIs).
GRAB_CAMERA_FRAME = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = stream;
  await video.play();
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getTracks().forEach(track => track.stop());
  return canvas.toDataURL('image/png');
}"""

# The loudest frequency the microphone delivers, through an AnalyserNode.
MICROPHONE_PEAK_HZ = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 4096;
  audio.createMediaStreamSource(stream).connect(analyser);
  await new Promise(resolve => setTimeout(resolve, 500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  stream.getTracks().forEach(track => track.stop());
  await audio.close();
  let peak = 0;
  bins.forEach((value, i) => { if (value > bins[peak]) peak = i; });
  return peak * audio.sampleRate / analyser.fftSize;
}"""


def decode_data_url(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def test_only_loopback_is_up() -> None:
    assert interfaces_up() == ["lo"]


def test_app_boots_isolated_and_local(open_page) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/")  # waits for <html data-ready="1">
    assert page.evaluate("() => crossOriginIsolated") is True
    log = page_log(page)
    assert log.page_errors == []
    assert log.console_errors == []
    assert log.foreign_requests == []  # also checked by the fixture for every test


def test_fake_camera_and_microphone(open_page, fake_media: FakeMedia) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/", ready=False)
    frame = decode_data_url(page.evaluate(GRAB_CAMERA_FRAME))
    assert frame.shape == fake_media.reference.shape
    error = np.abs(frame.astype(int) - fake_media.reference.astype(int))
    assert error.mean() < 3  # about 1 here: BT.601 round trip and 4:2:0 chroma
    assert abs(page.evaluate(MICROPHONE_PEAK_HZ) - TONE_HZ) < 25
