"""How fast an invite link becomes a call, against the bare Pyodide boot as the floor.

For each run, a fresh browser context (cold cache, like a friend opening the link) opens an
invite link to a booth where a host is already waiting, and the app's performance marks give:
  ready    navigation start -> Python running our code   (clov:python-ready)
  preview  navigation start -> own camera on screen      (clov:preview)
  frame    Join pressed -> first frame from the host      (clov:join -> clov:first-remote-frame)
In the same run, a page that only does `await loadPyodide()` from our own assets gives the floor.
Goals: ready <= 1.3 x bare boot; first remote frame <= 1 s after both sides are ready.

    .venv/bin/python bench/join.py [--runs 5]

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Route, sync_playwright

from signaling.static import SECURITY_HEADERS
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS

BARE_PAGE = """<!doctype html><script type="module">
import {loadPyodide} from "/assets/pyodide/pyodide.mjs";
await loadPyodide();
performance.mark("bare:ready");
document.documentElement.dataset.ready = "1";
</script>"""

MARK = "(name) => (performance.getEntriesByName(name)[0] || {}).startTime ?? null"


def isolate() -> None:
    """Re-run this script in a network namespace with only loopback (WebRTC picks it then)."""
    if os.environ.get("CLOV_E2E_NETNS"):
        return
    env = {**os.environ, "CLOV_E2E_NETNS": "1"}
    script = 'ip link set lo up && exec "$@"'
    os.execvpe("unshare", ["unshare", "-n", "sh", "-c", script, "sh", sys.executable, *sys.argv], env)


def bare_boot_ms(browser: Browser, origin: str) -> float:
    context = browser.new_context()

    def serve_bare(route: Route) -> None:
        headers = {**SECURITY_HEADERS, "Content-Type": "text/html"}
        del headers["Content-Security-Policy"]  # the bare page is one inline module
        route.fulfill(body=BARE_PAGE, headers=headers)

    context.route(f"{origin}/__bare", serve_bare)
    page = context.new_page()
    page.goto(f"{origin}/__bare")
    page.wait_for_selector("html[data-ready='1']", state="attached", timeout=60_000)
    value = page.evaluate(MARK, "bare:ready")
    context.close()
    return value


def invite_run(browser: Browser, link: str) -> dict[str, float]:
    context = browser.new_context(permissions=["camera", "microphone"])
    page = context.new_page()
    page.goto(link)
    page.wait_for_selector("#join", timeout=60_000)
    page.wait_for_function(f"() => ({MARK})('clov:preview') !== null", timeout=30_000)
    page.fill("#name", "Guest")
    page.click("#join")
    page.wait_for_function(f"() => ({MARK})('clov:first-remote-frame') !== null", timeout=30_000)
    marks = {name: page.evaluate(MARK, f"clov:{name}") for name in ("python-ready", "preview", "join", "first-remote-frame")}
    context.close()
    return {
        "ready": marks["python-ready"],
        "preview": marks["preview"],
        "frame": marks["first-remote-frame"] - marks["join"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    isolate()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    server = Server(Path(os.environ.get("TMPDIR", "/tmp")), CLOV_LOG_LEVEL="warning").start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            host = browser.new_context(permissions=["camera", "microphone"]).new_page()
            host.goto(server.http + "/")
            host.wait_for_selector("#create", timeout=60_000)
            host.fill("#name", "Host")
            host.click("#create")
            host.wait_for_selector("#invite-link")
            link = host.input_value("#invite-link")
            host.click("#enter")
            host.wait_for_selector("html[data-screen='room']", state="attached")

            bare: list[float] = []
            runs: list[dict[str, float]] = []
            for i in range(args.runs):
                bare.append(bare_boot_ms(browser, server.http))
                runs.append(invite_run(browser, link))
                print(f"run {i + 1}: bare {bare[-1]:.0f} ms, " + ", ".join(f"{k} {v:.0f} ms" for k, v in runs[-1].items()))
            browser.close()
    finally:
        server.stop()

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    floor = statistics.median(bare)
    print(f"\nmedian over {args.runs} runs (Chromium {CHROMIUM}, {os.cpu_count()} cores, cold cache each run)")
    print(f"  bare Pyodide boot           {floor:7.0f} ms")
    print(f"  invite -> Python ready      {median('ready'):7.0f} ms   {median('ready') / floor:.2f} x bare (goal <= 1.30)")
    print(f"  invite -> local preview     {median('preview'):7.0f} ms   {median('preview') / floor:.2f} x bare")
    print(f"  Join -> first remote frame  {median('frame'):7.0f} ms   (goal <= 1000)")


if __name__ == "__main__":
    main()
