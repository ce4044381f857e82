"""What background removal costs or saves on the wire: the video bitrate one participant
receives from another with removal on (the person, a constant grey around them) and off (the
whole camera), in the same call, one after the other.

Two pages in one Chromium, the astronaut photo as a 640x480 camera. The receiver's
`inbound-rtp` video bytes are read from `getStats()` over a window after each switch has settled.

    .venv/bin/python bench/bitrate.py [--seconds 10] [--rounds 2]

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright

from bench.join import isolate
from bench.scratch import scratch_folder
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, PERMISSIONS, diagnostics_url
from tests_e2e.media import make_fake_media

SETTLE_S = 6.0  # after a switch: the encoder's rate control finds its new level
# The page's peer connections, for getStats(): kept by the bench only, through the constructor.
KEEP_CONNECTIONS = """
const Native = RTCPeerConnection;
globalThis.benchConnections = [];
globalThis.RTCPeerConnection = function (...args) {
  const connection = new Native(...args);
  benchConnections.push(connection);
  return connection;
};
globalThis.RTCPeerConnection.prototype = Native.prototype;
"""
VIDEO_BYTES = """async () => {
  let bytes = 0, frames = 0;
  for (const connection of benchConnections) {
    (await connection.getStats()).forEach(report => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') {
        bytes += report.bytesReceived; frames += report.framesDecoded;
      }
    });
  }
  return [bytes, frames];
}"""


def received(page: Page, seconds: float) -> tuple[float, float]:
    """Kilobits per second and frames per second of video received over `seconds`."""
    bytes_before, frames_before = page.evaluate(VIDEO_BYTES)
    started = time.monotonic()
    time.sleep(seconds)
    bytes_after, frames_after = page.evaluate(VIDEO_BYTES)
    elapsed = time.monotonic() - started
    return (bytes_after - bytes_before) * 8 / 1000 / elapsed, (frames_after - frames_before) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    isolate()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    media = make_fake_media(scratch_folder())
    server = Server(Path(os.environ.get("TMPDIR", "/tmp")), CLOV_LOG_LEVEL="warning").start()
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *media.chromium_flags()]
            )
            sender = browser.new_context(permissions=PERMISSIONS).new_page()
            sender.goto(diagnostics_url(f"{server.http}/"))
            sender.fill("#name", "Sender")
            sender.click("#create")
            link = sender.input_value("#invite-link")
            sender.click("#enter")
            receiver_context = browser.new_context(permissions=PERMISSIONS)
            receiver_context.add_init_script(KEEP_CONNECTIONS)
            receiver = receiver_context.new_page()
            receiver.goto(link)
            receiver.fill("#name", "Receiver")
            receiver.click("#join")
            receiver.wait_for_selector(".tile[data-connected]:not([data-self])", state="attached", timeout=60_000)
            sender.wait_for_function("() => JSON.parse(clovDiagnostics()).privacy === 'masked'", timeout=60_000)
            for _ in range(args.rounds):
                for removal in ("on", "off"):
                    (sender.check if removal == "on" else sender.uncheck)("#background-removal")
                    time.sleep(SETTLE_S)
                    results[removal].append(received(receiver, args.seconds))
            browser.close()
    finally:
        server.stop()

    print(f"video received from one participant, 640x480 astronaut camera, {args.seconds:.0f} s windows ({os.cpu_count()} cores)")
    print(f"  {'removal':<10}{'kbit/s':>10}{'fps':>8}{'kbit/frame':>12}   (median of {args.rounds} windows)")
    per_frame = {}
    for removal, windows in results.items():
        rate, fps = statistics.median(k for k, _ in windows), statistics.median(f for _, f in windows)
        per_frame[removal] = rate / max(fps, 0.1)
        print(f"  {removal:<10}{rate:10.0f}{fps:8.1f}{per_frame[removal]:12.1f}")
    on, off = (statistics.median(k for k, _ in results[r]) for r in ("on", "off"))
    print(f"removal on / off: {on / off:.2f}x the bits, {per_frame['on'] / per_frame['off']:.2f}x the bits per frame")
    print("(removal on runs the models too: fewer frames on a loaded machine, hence bits per frame)")


if __name__ == "__main__":
    main()
