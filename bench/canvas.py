"""AI backgrounds, measured: the pattern painter, a prompt becoming everyone's background, and
the signaling relay while pictures are being made.

painter  `signaling.painter.paint` at 1920x1080 (the 16:9 photo size), in this process: 10
         prompts in English and Korean across the UI's styles, --runs times each; wall and CPU
         time per picture (p50, p95). One candidate costs this plus fitting and JPEG encoding.
booth    three participants (background removal off) in a server configured for the fake
         OpenAI-compatible provider of tests/fakeprovider.py, which answers solid-colour PNGs at
         once: the figures are CLOV's own share. One types a prompt, presses Generate and picks
         a candidate (the next of the three each time, so each pick changes the background),
         once to warm up (the server's picture workers start, each page's first picture; shown,
         not counted), then --rounds times:
           generate -> candidates   the press to the third candidate on the page
           pick -> every stage      the click on a candidate to every page's stage holding its
                                    id (`JSON.parse(clovStage()).stage.background`)
           generate -> every stage  the two, and the clicking between
relay    `clov serve` without a provider, and the simulated peers of bench/signaling.py (rooms
         of 6, --relay-rate signals/s for --relay-seconds): relay p50/p99 idle, then while 4
         clients ask for backgrounds back to back (POST /api/rooms/{room}/backgrounds, n=3,
         16:9), painted in the server's worker processes at low priority.

    .venv/bin/python bench/canvas.py [--runs 3] [--rounds 5] [--skip-browser] [--skip-relay]

With the booth part, runs in a loopback-only network namespace (re-executes itself under
`unshare -n`). Prints figures only; nothing is a pass or a fail.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.join import isolate
from bench.pipeline import percentile
from bench.scratch import scratch_folder
from bench.signaling import (
    DRAIN_TIMEOUT_S,
    ROOM_SIZE,
    CpuMeter,
    _gather,
    _percentiles_ms,
    _server_env,
    clov_server,
    loadgens,
    raise_nofile,
)
from bench.stage import open_booth
from signaling.imageproviders import PHOTO_SIZES
from signaling.painter import paint
from tests.conftest import Server
from tests.fakeprovider import CHAT_MODEL, IMAGE_MODEL, KEY, FakeProvider
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests_e2e.media import make_fake_media

PROMPTS = [  # (prompt, style key as the browser sends it)
    ("a quiet beach at sunset", "photo"),
    ("snowy mountains at dawn", "watercolour"),
    ("a neon city skyline at night", "illustration"),
    ("cherry blossoms in a spring park", "3d"),
    ("a starry sky over desert dunes", "pixel-art"),
    ("birthday party with fairy lights", "minimal"),
    ("노을 지는 바다", "photo"),
    ("벚꽃이 흩날리는 공원", "watercolour"),
    ("서울 야경과 불빛", "illustration"),
    ("오로라가 빛나는 겨울 밤하늘", "3d"),
]
LIMITS = {  # the API's per-minute limits out of the way: the benchmark asks often, on purpose
    "CLOV_BACKGROUNDS_PER_ROOM": "600",
    "CLOV_BACKGROUNDS_PER_ADDRESS": "600",
    "CLOV_BACKGROUNDS_IN_FLIGHT": "8",
}
GENERATIONS = 4
RELAY_ROOMS = 50
CANDIDATE = ".ai-candidate:nth-child({})"
NEW_CANDIDATES = "() => document.querySelector('.ai-candidate:nth-child(3):not([data-bench-old])') || !document.querySelector('#ai-error').hidden"
NEW_BACKGROUND = "(old) => { const b = JSON.parse(clovStage()).stage.background; return b !== old && b.startsWith('img:') && b; }"


def spread(values: list[float], unit: str = "ms", scale: float = 1.0) -> str:
    return f"p50 {statistics.median(values) * scale:7.1f} {unit}   p95 {percentile(values, 0.95) * scale:7.1f} {unit}"


# --- 1. the painter ----------------------------------------------------------------------------


def painter(runs: int) -> None:
    width, height = PHOTO_SIZES["16:9"]
    paint("warm up", "photo", 64, 36)  # numpy's first calls, not a picture's cost
    print(f"painter, {len(PROMPTS)} prompts x {runs} at {width}x{height} ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    wall: list[float] = []
    cpu: list[float] = []
    for prompt, style in PROMPTS:
        mine = []
        for _ in range(runs):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            paint(prompt, style, width, height)
            mine.append(time.perf_counter() - wall_start)
            cpu.append(time.process_time() - cpu_start)
        wall.extend(mine)
        print(f"  {style:<13} median {statistics.median(mine) * 1000:6.0f} ms   {prompt}", flush=True)
    print(f"  wall per picture  {spread(wall, scale=1000)}")
    print(f"  CPU per picture   {spread(cpu, scale=1000)}")


# --- 2. prompt -> everyone's stage ------------------------------------------------------------


def background(page: Page) -> str:
    return page.evaluate("() => JSON.parse(clovStage()).stage.background")


def booth(rounds: int) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    media = make_fake_media(scratch_folder())
    provider = FakeProvider().start()
    server = Server(
        Path(os.environ.get("TMPDIR", "/tmp")), CLOV_LOG_LEVEL="warning", **LIMITS,
        CLOV_PROVIDER_URL=provider.url, CLOV_PROVIDER_PREFIX="compat", CLOV_PROVIDER_KEY=KEY,
        CLOV_IMAGE_MODEL=IMAGE_MODEL, CLOV_CHAT_MODEL=CHAT_MODEL, CLOV_PROVIDER_TIMEOUT="10",
    ).start()
    shown: list[float] = []
    picked: list[float] = []
    whole: list[float] = []
    not_ai = 0
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *media.chromium_flags()]
            )
            pages = open_booth(browser, f"{server.http}/", 2)
            host = pages[0]
            host.wait_for_timeout(3000)  # the connections' first bursts

            for index in range(rounds + 1):  # round 0 warms up
                prompt, style = PROMPTS[index % len(PROMPTS)]
                old = background(host)
                host.click(f"[data-style='{style}']")
                host.fill("#ai-prompt", prompt)
                host.evaluate("() => document.querySelectorAll('.ai-candidate').forEach(c => c.dataset.benchOld = '1')")
                start = time.monotonic()
                host.evaluate("() => document.querySelector('#generate').click()")
                host.wait_for_function(NEW_CANDIDATES, timeout=120_000, polling=20)
                candidates = time.monotonic()
                if host.is_visible("#ai-error"):
                    raise RuntimeError(f"round {index}: {host.inner_text('#ai-error')}")
                if index and host.locator(".ai-candidate .ai-badge").count() != 3:
                    not_ai += 1
                host.evaluate(f"() => document.querySelector('{CANDIDATE.format(index % 3 + 1)}').click()")
                pick = time.monotonic()
                image = host.wait_for_function(NEW_BACKGROUND, arg=old, timeout=60_000, polling=20).json_value()
                for guest in pages[1:]:
                    guest.wait_for_function("(image) => JSON.parse(clovStage()).stage.background === image", arg=image, timeout=60_000, polling=20)
                done = time.monotonic()
                name = f"round {index}" if index else "warm-up (not counted)"
                print(f"  {name}: candidates {candidates - start:.2f} s, pick -> every stage {done - pick:.2f} s", flush=True)
                if index:
                    shown.append(candidates - start)
                    picked.append(done - pick)
                    whole.append(done - start)
            browser.close()
    finally:
        server.stop()
        provider.stop()

    print(f"booth, 3 participants, fake provider (solid-colour PNGs at once), {rounds} rounds ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Chromium {CHROMIUM})")
    print(f"  generate -> candidates   {spread(shown, 's')}")
    print(f"  pick -> every stage      {spread(picked, 's')}")
    print(f"  generate -> every stage  {spread(whole, 's')}")
    if not_ai:
        print(f"  {not_ai} of {rounds} rounds got the painter's pictures, not the provider's")


# --- 3. the relay, with and without generations ------------------------------------------------


@contextlib.contextmanager
def generating(base: str, rooms: list[dict[str, Any]]) -> Iterator[list[tuple[float, float, str]]]:
    """One client per room asking for backgrounds back to back until the block ends; yields
    (started, seconds, status) of each answered request, as they come."""
    answered: list[tuple[float, float, str]] = []
    stop = threading.Event()

    def ask(room: dict[str, Any], prompts: Iterator[tuple[str, str]]) -> None:
        headers = {"Authorization": f"Bearer {room['token']}"}
        with httpx.Client(base_url=base, trust_env=False, timeout=180) as client:
            while not stop.is_set():
                prompt, style = next(prompts)
                body = {"prompt": prompt, "style": style, "aspect": "16:9", "n": 3}
                start = time.monotonic()
                try:
                    status = str(client.post(f"/api/rooms/{room['room']}/backgrounds", json=body, headers=headers).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                answered.append((start, time.monotonic() - start, status))

    for n, room in enumerate(rooms):
        # Each its own prompts (a new one each time), as people in different booths.
        prompts = itertools.cycle(PROMPTS[n::len(rooms)] or PROMPTS)
        threading.Thread(target=ask, args=(room, prompts), daemon=True).start()
    try:
        yield answered
    finally:
        stop.set()  # each ends after its request in flight; the server's stop ends any left


def relay_window(base: str, server_pid: int, rate: int, seconds: float) -> dict[str, Any]:
    """One run of bench/signaling.py's load generator: join, relay for `seconds`, close."""
    with loadgens(base, RELAY_ROOMS, rate, seconds, 1) as pipes:
        _gather(pipes, 60 + RELAY_ROOMS)
        meter = CpuMeter(server_pid, None)
        for pipe in pipes:
            pipe.send("go")
        relays = _gather(pipes, seconds + DRAIN_TIMEOUT_S + 60)
        cpu = meter.read()
        for pipe in pipes:
            pipe.send("close")
    latencies = [ns for r in relays for ns in r.latencies_ns]
    sent, received = sum(r.sent for r in relays), sum(r.received for r in relays)
    loadgen = sum(r.cpu_seconds for r in relays) / cpu["wall"]
    return {"ms": _percentiles_ms(latencies), "sent": sent, "lost": sent - received, "cpu": cpu,
            "loadgen": loadgen, "load": os.getloadavg()[0]}


def relay(rate: int, seconds: float) -> None:
    raise_nofile()
    env = {**_server_env("", rate, RELAY_ROOMS), **LIMITS, "CLOV_PROVIDER_URL": ""}
    with tempfile.TemporaryDirectory() as tmp, clov_server(env, Path(tmp) / "server.log") as (server, base):
        with httpx.Client(base_url=base, trust_env=False, timeout=180) as client:
            rooms = [client.post("/api/rooms").raise_for_status().json() for _ in range(GENERATIONS)]
            # The worker pool starts on first use: start it before either window.
            warm = {"prompt": "warm up", "aspect": "16:9", "n": 1}
            client.post(f"/api/rooms/{rooms[0]['room']}/backgrounds", json=warm,
                        headers={"Authorization": f"Bearer {rooms[0]['token']}"}).raise_for_status()
        print(f"  relay idle: {RELAY_ROOMS * ROOM_SIZE} sockets, {rate} signals/s for {seconds:.0f} s", flush=True)
        idle = relay_window(base, server.pid, rate, seconds)
        with generating(base, rooms) as answered:
            time.sleep(3)  # the first paintings under way
            print(f"  relay with {GENERATIONS} generations running", flush=True)
            busy = relay_window(base, server.pid, rate, seconds)
            made = list(answered)
    # Every client had a request in flight throughout; these are the ones answered by the
    # window's end, from the start of the generations.
    done = [took for _, took, status in made if status == "200"]
    statuses = Counter(status for _, _, status in made)

    print(f"relay, {RELAY_ROOMS} rooms x {ROOM_SIZE} sockets, {rate} signals/s for {seconds:.0f} s, memory broker, "
          f"no provider ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    for name, row in (("idle", idle), (f"{GENERATIONS} generations", busy)):
        cpu = row["cpu"]
        print(f"  {name:<14} relay p50 {row['ms'][0]:7.1f} ms  p99 {row['ms'][1]:7.1f} ms   ({row['sent']} sent, "
              f"{row['lost']} lost; CPU: server {cpu['server']:.0%}, load generator {row['loadgen']:.0%}, "
              f"machine {cpu['machine']:.2f} cores, load {row['load']:.1f})")
    ratio = busy["ms"][1] / idle["ms"][1] if idle["ms"][1] else float("nan")
    print(f"  p99 with generations / idle  {ratio:.2f} x")
    answers = f"p50 {statistics.median(done):.1f} s each" if done else "none answered yet"
    print(f"  generations (n=3, 16:9) answered by the window's end: {len(made)}, {answers}; statuses {dict(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="paintings per prompt (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="prompt -> pick rounds in the booth (default 5)")
    parser.add_argument("--relay-rate", type=int, default=500, help="signals per second, all peers (default 500)")
    parser.add_argument("--relay-seconds", type=float, default=10.0, help="seconds per relay window (default 10)")
    parser.add_argument("--skip-browser", action="store_true", help="no booth part (no Chromium)")
    parser.add_argument("--skip-relay", action="store_true", help="no relay part")
    args = parser.parse_args()
    if not args.skip_browser:
        isolate()
    painter(args.runs)
    if not args.skip_browser:
        booth(args.rounds)
    if not args.skip_relay:
        relay(args.relay_rate, args.relay_seconds)


if __name__ == "__main__":
    main()
