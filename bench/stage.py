"""The shared stage: render time with 6 layers at 1280x720, and layout propagation latency.

Two people in a booth (background removal off, so the measure is the stage alone) and four
stickers make 6 layers.
Propagation: once the stickers have been drawn (--settle seconds), one participant nudges a
sticker with the arrow keys, back and forth so it never stops at the stage's edge; each op's
send time on that page is matched (by Lamport clock) with the time the other page applied it,
both on the browser's own clock; both pages render as the app does. With 200 ops, p99 is the
third-worst op rather than the worst.
Render time: then a participant with `?sync-timing=1&stage-scale=1` takes the first one's
place: its stage renders at 1280x720 (the app halves it on a software GPU such as SwiftShader,
which headless Chromium uses here) and reads one pixel back after each draw, so each figure
includes the GPU finishing the frame.

    .venv/bin/python bench/stage.py [--seconds 15] [--nudges 200] [--settle 3]

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import json
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
from bench.pipeline import percentile
from bench.scratch import scratch_folder
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, diagnostics_url
from tests_e2e.media import make_fake_media

STICKERS = ("crown", "hat", "sunglasses", "bunny-ears")


def report(page: Page) -> dict:  # type: ignore[type-arg]
    return json.loads(page.evaluate("() => clovStage()"))


def open_person(browser, url: str, name: str) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(permissions=["camera", "microphone"])
    context.add_init_script("localStorage.setItem('clov.removeBackground', '0')")
    page = context.new_page()
    page.goto(diagnostics_url(url))
    page.wait_for_selector("#name", timeout=60_000)
    page.fill("#name", name)
    return page


def open_booth(browser, url: str, guests: int) -> list[Page]:  # type: ignore[no-untyped-def]
    """A booth created at `url` and joined by `guests` more: the host's page first, returned
    once everyone is on every stage."""
    host = open_person(browser, url, "Host")
    host.click("#create")
    host.wait_for_selector("#enter")
    link = host.input_value("#invite-link")
    host.click("#enter")
    pages = [host, *(open_person(browser, link, f"Guest {n}") for n in range(1, guests + 1))]
    for guest in pages[1:]:
        guest.click("#join")
    everyone = f"() => globalThis.clovStage && JSON.parse(clovStage()).layers.length === {len(pages)}"
    for page in pages:
        page.wait_for_function(everyone, timeout=90_000)
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--nudges", type=int, default=200)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between the last sticker arriving and the first nudge")
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
            # Latency first, with both pages rendering as the app does.
            host, guest = open_booth(browser, f"{server.http}/", 1)
            link = host.evaluate("() => location.href")  # the room keeps the invite link as its address
            for name in STICKERS:
                host.click(f"[data-sticker='{name}']")
            guest.wait_for_function("() => globalThis.clovStage && JSON.parse(clovStage()).layers.length === 6", timeout=30_000)
            # The stickers' art loads and both stages draw them for the first time: a one-off.
            guest.wait_for_timeout(args.settle * 1000)
            # The last sticker added is selected on the host: nudge it, one op per key press.
            already_sent = len(report(host)["sent"])
            host.focus("#stage")
            for index in range(args.nudges):
                # Back and forth, so the sticker never stops at the stage's edge (no op there).
                host.keyboard.press("ArrowRight" if index // 50 % 2 == 0 else "ArrowLeft")
                host.wait_for_timeout(50)
            host.wait_for_timeout(1000)
            sent = {(layer, prop, clock): at for at, layer, prop, clock in report(host)["sent"][already_sent:] if prop == "x"}
            applied = {(layer, prop, clock): at for at, layer, prop, clock in report(guest)["applied"] if prop == "x"}
            latencies = [applied[key] - at for key, at in sent.items() if key in applied]

            # Then render time: the host leaves (its stickers stay) and a participant whose
            # stage renders at full size, waiting for the GPU after each draw, takes its place.
            host.context.close()
            renderer = open_person(browser, diagnostics_url(link, sync_timing=1, stage_scale=1), "Renderer")
            renderer.click("#join")
            renderer.wait_for_function("() => globalThis.clovStage && JSON.parse(clovStage()).layers.length === 6", timeout=60_000)
            renderer.wait_for_timeout(3000)
            skip = len(report(renderer)["render_ms"])
            time.sleep(args.seconds)
            host_report = report(renderer)
            render = host_report["render_ms"][skip:] or host_report["render_ms"]
            browser.close()
    finally:
        server.stop()

    size = f"{host_report['width']}x{host_report['height']}"
    print(f"stage, {len(host_report['layers'])} layers at {size} ({os.cpu_count()} cores, Chromium {CHROMIUM}, SwiftShader WebGL)")
    print(f"  render     p50 {statistics.median(render):6.2f} ms   p95 {percentile(render, 0.95):6.2f} ms   ({len(render)} redraws in {args.seconds:.0f} s)")
    if latencies:
        print(
            f"  layout op  p50 {statistics.median(latencies):6.1f} ms   p99 {percentile(latencies, 0.99):6.1f} ms   "
            f"max {max(latencies):.1f} ms   ({len(latencies)} of {len(sent)} ops, sender -> other peer applied)"
        )
    else:
        print("  layout op  no op arrived")
    print("goal: every change reaches every participant within 100 ms on loopback")


if __name__ == "__main__":
    main()
