"""Record tests/data/mediarecorder.webm: a real Chromium MediaRecorder file for tests/test_webm.py.

MediaRecorder output is what frontend_py/webm.py exists to fix (no Duration, no Cues,
unknown-size Segment and Clusters), so the tests need a file Chromium actually wrote rather
than one built by hand. It is ~2 s of an animated 160x120 canvas plus a sine tone, VP8 + Opus,
recorded with a 250 ms timeslice like the app does.

Needs Playwright (the project's test extra) and Debian's chromium. Rerun with::

    .venv/bin/python scripts/make_test_webm.py [OUTPUT]

The output differs from run to run (timing, encoder); the tests only rely on its structure.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "tests" / "data" / "mediarecorder.webm"

PAGE = """<!doctype html><canvas id="c" width="160" height="120"></canvas>"""

RECORD = """async () => {
  const canvas = document.getElementById("c");
  const ctx = canvas.getContext("2d");
  let frame = 0;
  const draw = () => {
    ctx.fillStyle = `hsl(${(frame * 7) % 360}, 70%, 50%)`;
    ctx.fillRect(0, 0, 160, 120);
    ctx.fillStyle = "white";
    ctx.fillRect((frame * 3) % 160, 40, 30, 30);
    frame++;
    requestAnimationFrame(draw);
  };
  draw();
  const audio = new AudioContext();
  await audio.resume();
  const osc = audio.createOscillator();
  const dest = audio.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  const stream = new MediaStream([
    ...canvas.captureStream(30).getVideoTracks(),
    ...dest.stream.getAudioTracks(),
  ]);
  const recorder = new MediaRecorder(stream, {
    mimeType: "video/webm;codecs=vp8,opus",
    videoBitsPerSecond: 150000,
    audioBitsPerSecond: 32000,
  });
  const chunks = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start(250);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}"""


def record() -> bytes:
    """Run Chromium headless and return the recorded WebM bytes."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page()
            page.set_content(PAGE)
            return base64.b64decode(page.evaluate(RECORD))
        finally:
            browser.close()


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    data = record()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    print(f"wrote {len(data)} bytes to {output}")


if __name__ == "__main__":
    main()
