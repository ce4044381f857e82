"""MediaPipe's own web runtime on the fake camera, the peer of `bench/pipeline.py --peer mediapipe`.

Segmentation: npm `@mediapipe/tasks-vision` ImageSegmenter, CPU delegate, its own wasm files, with
`selfie_segmentation.tflite` out of the `mediapipe` wheel on PyPI (the model CLOV converts to
ONNX). Face landmarks: npm `@mediapipe/face_mesh`, the legacy solution, with its own wasm and
data files. Both are bench-only: they are installed into a cache folder (CACHE), never into the
project's node_modules, and served with the page (bench/peerpages/) by a small local server with
the same security headers as `clov serve` (cross-origin isolation and the same CSP). The page
runs both, one after the other, on every camera frame (bench/peerpages/mediapipe.js).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import Browser, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from starlette import routing
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from bench import browsercpu
from signaling.static import SecurityHeaders
from tests.conftest import free_port

TASKS_VISION = "1.1.0"
FACE_MESH = "0.4.1657299874"
MEDIAPIPE_WHEEL = "0.10.21"  # 1.x wheels carry no .tflite files
SELFIE_MODEL = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clov-bench" / "mediapipe"
NPM_PREFIX = CACHE / "npm"
MODEL = CACHE / f"mediapipe-{MEDIAPIPE_WHEEL}" / "selfie_segmentation.tflite"
PAGES = Path(__file__).resolve().parent / "peerpages"


def _npm_package(name: str) -> Path:
    return NPM_PREFIX.joinpath("node_modules", *name.split("/"))


def _installed(name: str) -> str | None:
    manifest = _npm_package(name) / "package.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["version"] if manifest.is_file() else None


def prepare() -> None:
    """Fetch what the peer needs into CACHE, unless it is there: call it before the bench moves
    into its loopback-only network namespace."""
    pins = {"@mediapipe/tasks-vision": TASKS_VISION, "@mediapipe/face_mesh": FACE_MESH}
    if any(_installed(name) != version for name, version in pins.items()):
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_PREFIX), "--save-exact", "--no-audit", "--no-fund",
             *(f"{name}@{version}" for name, version in pins.items())],
            check=True, stdout=subprocess.DEVNULL,
        )
    if not MODEL.is_file():
        with tempfile.TemporaryDirectory(prefix="clov-bench-wheel-") as folder:
            # Every wheel of a release holds the same model: name one, so that any Python gets it.
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "--dest", folder,
                 f"mediapipe=={MEDIAPIPE_WHEEL}"],
                check=True,
            )
            (wheel,) = Path(folder).glob("mediapipe-*.whl")
            MODEL.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as archive:
                MODEL.write_bytes(archive.read(SELFIE_MODEL))


class PeerServer:
    """The peer page, the two npm packages and the model on a free loopback port, in a thread."""

    def __init__(self) -> None:
        async def page(request: Request) -> Response:
            return FileResponse(PAGES / "mediapipe.html", media_type="text/html; charset=utf-8")

        app = Starlette(
            routes=[
                routing.Route("/", page),
                routing.Mount("/peer", StaticFiles(directory=PAGES)),
                routing.Mount("/tasks-vision", StaticFiles(directory=_npm_package("@mediapipe/tasks-vision"))),
                routing.Mount("/face_mesh", StaticFiles(directory=_npm_package("@mediapipe/face_mesh"))),
                routing.Mount("/models", StaticFiles(directory=MODEL.parent)),
            ],
            middleware=[Middleware(SecurityHeaders)],
        )
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the MediaPipe peer server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def measure(browser: Browser, warm_up_s: float, seconds: float) -> dict:  # type: ignore[type-arg]
    """Open the peer page in a fresh context, let it warm up, then collect `seconds` of samples.

    Requests to any other origin are aborted and listed under "foreign"."""
    foreign: list[str] = []
    with PeerServer() as server:
        context = browser.new_context(permissions=["camera"])

        def guard(route: Route) -> None:
            parts = urlsplit(route.request.url)
            if f"{parts.scheme}://{parts.netloc}" == server.origin or parts.scheme in ("data", "blob"):
                route.fallback()
            else:
                foreign.append(route.request.url)
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def check() -> None:
            """Raise with what the page said when it did not set up, or its frame loop stopped."""
            failed = page.evaluate(
                "() => { const d = document.documentElement.dataset; return d.error ?? (d.ready ? '' : 'not ready'); }")
            if failed:
                raise RuntimeError("\n  ".join(["the MediaPipe page failed:", failed, *errors, *foreign]))

        try:
            page.goto(server.origin + "/")
            with contextlib.suppress(PlaywrightTimeoutError):  # check() says why
                page.wait_for_selector("html[data-ready='1'], html[data-error]", state="attached", timeout=120_000)
            check()
            time.sleep(warm_up_s)
            first = json.loads(page.evaluate("() => peerDiagnostics()"))["frames"]
            started, cpu_before = time.monotonic(), browsercpu.cpu_seconds()
            time.sleep(seconds)
            report = json.loads(page.evaluate("() => peerDiagnostics()"))
            elapsed = time.monotonic() - started
            cpu = browsercpu.share_of_a_core(cpu_before, browsercpu.cpu_seconds(), elapsed)
            check()
        finally:
            context.close()
    samples = report["samples"][first:]
    return {
        "frames": len(samples),
        "fps": len(samples) / elapsed,
        "camera": f"{report['width']}x{report['height']}",
        "faces": report["faces"],
        "foreground": report["foreground"],
        "segmentation": [s["segmentation"] for s in samples],
        "face_mesh": [s["face_mesh"] for s in samples],
        "both": [s["segmentation"] + s["face_mesh"] for s in samples],
        "foreign": foreign,
        "cpu": cpu,
    }
