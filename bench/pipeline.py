"""The sender pipeline's cost per frame in headless Chromium, wasm provider, 1 and 2 threads.

One page enters a booth alone with the astronaut photo as a 640x480 camera and the sunglasses
on, so every stage runs on every frame: preprocess (on wasm: the frame copied out as RGBA bytes
and uploaded; the models resize or sample it themselves), segmentation, face (landmarks on each
tracked face, detection when none is tracked), overlays, pack (mask refinement and packing). After a warm-up, the page's own per-frame
timings (`globalThis.clovDiagnostics()`, the diagnostics panel's data) are collected for a
while and summarised as p50/p95 per stage and achieved frames per second.
Goal on a 2-core machine: whole pipeline p50 <= 20 ms.

    .venv/bin/python bench/pipeline.py [--seconds 20] [--threads 1 2]

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, sync_playwright

from bench.join import isolate
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests_e2e.media import make_fake_media

STAGES = ("preprocess", "segmentation", "face", "overlays", "pack", "total", "send")
WARM_UP_S = 6.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(browser: Browser, origin: str, threads: int, seconds: float) -> dict:  # type: ignore[type-arg]
    context = browser.new_context(permissions=["camera", "microphone"])
    context.add_init_script("localStorage.setItem('clov.overlay', 'sunglasses')")
    page = context.new_page()
    page.goto(f"{origin}/?ep=wasm&threads={threads}")
    page.wait_for_selector("#create", timeout=60_000)
    page.fill("#name", "Bench")
    page.click("#create")
    page.wait_for_selector("#enter")
    page.click("#enter")
    page.wait_for_function("() => globalThis.clovDiagnostics && JSON.parse(clovDiagnostics()).faces > 0", timeout=60_000)
    time.sleep(WARM_UP_S)
    first = json.loads(page.evaluate("() => clovDiagnostics()"))["frames"]
    started = time.monotonic()
    time.sleep(seconds)
    report = json.loads(page.evaluate("() => clovDiagnostics()"))
    elapsed = time.monotonic() - started
    context.close()
    samples = report["samples"][-(report["frames"] - first):]
    return {
        "provider": report["provider"] + (" (segmentation in a worker)" if report["segmentation_in_worker"] else ""),
        "frames": len(samples),
        "fps": (report["frames"] - first) / elapsed,
        "faces": report["faces"],
        "stages": {stage: [s[stage] for s in samples if stage in s] for stage in STAGES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    isolate()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    media = make_fake_media(Path(tempfile.mkdtemp(prefix="clov-bench-")))
    server = Server(Path(os.environ.get("TMPDIR", "/tmp")), CLOV_LOG_LEVEL="warning").start()
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *media.chromium_flags()]
            )
            for threads in args.threads:
                results[threads] = measure(browser, server.http, threads, args.seconds)
            browser.close()
    finally:
        server.stop()

    print(f"sender pipeline, 640x480 astronaut camera, sunglasses on ({os.cpu_count()} cores, Chromium {CHROMIUM})")
    for threads, result in results.items():
        print(f"\n{result['provider']}: {result['frames']} frames, {result['fps']:.1f} fps achieved, {result['faces']} face(s) tracked")
        print(f"  {'stage':<14}{'p50 ms':>9}{'p95 ms':>9}")
        for stage in STAGES:
            values = result["stages"][stage]
            if values:
                print(f"  {stage:<14}{statistics.median(values):9.2f}{percentile(values, 0.95):9.2f}")
            else:
                print(f"  {stage:<14}{'did not run':>18}")
    print("\n(send: after `total`, until the GPU has finished the packed frame and it is in the sent track)")
    print("goal: whole pipeline (total) p50 <= 20 ms")


if __name__ == "__main__":
    main()
