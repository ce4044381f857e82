"""The shutter, measured: press to photo in every gallery, countdown spread, still size, clip fps.

Three participants in one booth (background removal off: three segmentation models do not fit
on 2 cores beside three stages). One of them presses the shutter --shots times (3 s countdown)
and each page reports, on the shared machine clock, when its countdown started and when its
photo was made:
  press -> photo   from the press to the photo in the last gallery (p50, p95), and on each
                   page the time after the shot until its still was sent, the presser's
                   decision came, the photo was rendered, encoded and in the gallery
  spread           the latest countdown start minus the earliest, per shot (p50, max)
  still            bytes of each participant's full-resolution still (PNG)
Then one participant records a --clip-seconds clip with all three in it: frames drawn per
second at 1280x720 and animation frames skipped because the last frame was still drawing.

    .venv/bin/python bench/capture.py [--shots 10] [--clip-seconds 20]

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright

from bench.join import isolate
from bench.pipeline import percentile
from bench.scratch import scratch_folder
from bench.stage import open_booth
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests_e2e.media import make_fake_media


def report(page: Page) -> dict:  # type: ignore[type-arg]
    return json.loads(page.evaluate("() => clovCapture()"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--clip-seconds", type=float, default=20.0)
    args = parser.parse_args()
    isolate()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    media = make_fake_media(scratch_folder())
    server = Server(Path(os.environ.get("TMPDIR", "/tmp")), CLOV_LOG_LEVEL="warning").start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *media.chromium_flags()]
            )
            pages = open_booth(browser, f"{server.http}/", 2)
            host = pages[0]
            host.wait_for_timeout(3000)  # the clock estimates' first bursts

            press_to_photo, spreads = [], []
            for shot in range(args.shots):
                pressed = host.evaluate("() => { document.querySelector('#shutter').click(); return Date.now(); }")
                for page in pages:
                    page.wait_for_function(f"() => JSON.parse(clovCapture()).composed.length > {shot}", timeout=60_000)
                reports = [report(page) for page in pages]
                press_to_photo.append(max(r["composed"][-1][1] for r in reports) - pressed)
                starts = [r["started"][-1][1] for r in reports]
                spreads.append(max(starts) - min(starts))
                for page in pages:
                    page.wait_for_function("() => !JSON.parse(clovCapture()).busy", timeout=30_000)
            still_bytes = [size for page in pages for size in report(page)["still_bytes"]]
            timings = [timing for page in pages for timing in report(page)["timings"]]

            host.click("#record")
            host.wait_for_timeout(args.clip_seconds * 1000)
            clip = report(host)["clips"]
            host.click("#record")
            browser.close()
    finally:
        server.stop()

    print(f"capture, 3 participants, {args.shots} shots with a 3 s countdown ({os.cpu_count()} cores, Chromium {CHROMIUM}, SwiftShader WebGL)")
    print(f"  press -> photo in every gallery  p50 {statistics.median(press_to_photo) / 1000:5.2f} s   p95 {percentile(press_to_photo, 0.95) / 1000:5.2f} s   (countdown included)")
    print(f"  countdown start spread           p50 {statistics.median(spreads):5.1f} ms  max {max(spreads):5.1f} ms")
    steps = ", ".join(f"{step} {statistics.median(t[step] for t in timings if step in t) / 1000:.2f} s" for step in ("still", "decision", "rendered", "encoded", "photo"))
    print(f"  after the shot, p50 over pages   {steps}")
    print(f"  still (PNG, camera size)         p50 {statistics.median(still_bytes) / 1024:5.0f} KiB max {max(still_bytes) / 1024:5.0f} KiB")
    print(f"  clip, {args.clip_seconds:.0f} s at 1280x720             {clip['fps']:5.1f} fps  ({clip['frames']} frames drawn, {clip['skipped']} animation frames skipped)")
    print("goals: countdown start within 50 ms across pages; 30 fps clips (a software GPU will not reach it)")


if __name__ == "__main__":
    main()
