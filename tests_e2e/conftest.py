"""End-to-end fixtures: a real `clov serve`, Redis, and headless Chromium driven by Playwright.

Fixtures (see each docstring):
  fake_media         session  FakeMedia: camera y4m + microphone wav + RGB reference picture
  redis_server       session  tests.conftest.RedisServer
  app_server         session  AppServer on Redis, serving the real app from the repo root
  start_app_server   function factory `(**env) -> AppServer`; `.stop()` / `.start()` / `.restart()`
                              keep the port, so pages can reconnect to a restarted server
  static_host        function factory `(folder) -> StaticHost`: a plain static file server
                              (python -m http.server, no COOP/COEP), as a static host would be
  browser            package  Chromium with CHROMIUM_FLAGS and the fake media (docs/architecture.md)
  launch_browser     package  factory `(*extra_flags, media=None) -> Browser` for another camera
  camera_browser     package  factory `(width, height, fps=30) -> Browser`: a camera of that kind
  small_camera_browser package the 320x240 one, for tests with three people
  turn_server        session  coturn on loopback, secret TURN_SECRET (tests_e2e/coturn.py)
  open_page          function `(url="/", *, ready=True, browser=None) -> Page`, one context
                              (separate storage) per call, with a request guard
Helpers: `wait_ready(page)`, `page_log(page)` (console errors, page errors, foreign requests),
`trusting_home(home, certificate)` (a HOME whose Chromium trusts a development certificate),
`diagnostics_url(url)` (the page with its test hooks, `clovStage()`..., published).

The whole run is moved into a network namespace with only loopback (see `pytest_configure`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests import conftest as base_conftest
from tests.conftest import RedisServer, Server, free_port, wait_until
from tests_e2e import crashreports
from tests_e2e.coturn import TurnServer
from tests_e2e.media import FakeMedia, make_fake_media, write_y4m

redis_server = base_conftest.redis_server  # the same session fixture as the CPython tests'

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
# What a person's browser allows the booth: camera and microphone, granted at its prompt, and
# writing the clipboard from a click, which Chromium allows every page without asking (Playwright
# starts contexts with it denied). Not reading the clipboard, which a person would be asked
# for: tests read what was copied by pasting it (tests_e2e/test_call.py).
PERMISSIONS = ["camera", "microphone", "clipboard-write"]
READY_TIMEOUT_MS = 60_000
NETNS_ENV = "CLOV_E2E_NETNS"


def trusting_home(home: Path, certificate: Path) -> Path:
    """A fresh HOME whose user trusts `certificate` (`clov serve --dev-cert 1`'s) the way an
    administrator makes a machine trust one: an entry in the user's NSS database, written by
    `certutil`, which Chromium reads (no flag that ignores certificate errors). Launch Chromium
    with `HOME` set to it."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    certutil = ["certutil", "-d", f"sql:{nssdb}"]
    for command in (
        [*certutil, "-N", "--empty-password"],
        # "P": a trusted peer. The certificate is its own issuer but no CA (basic constraints
        # say so), and Chromium refuses it as a trusted CA ("C": ERR_CERT_INVALID).
        [*certutil, "-A", "-t", "P,,", "-n", "CLOV development", "-i", str(certificate)],
    ):
        subprocess.run(command, check=True, capture_output=True)
    crashreports.watch(home)
    return home


# --- network namespace -------------------------------------------------------------------------

def interfaces_up() -> list[str]:
    """Names of the interfaces that are up in this process's network namespace.

    Not /sys/class/net: after `unshare -n` sysfs still shows the parent namespace's interfaces.
    """
    out = subprocess.run(["ip", "-o", "link", "show", "up"], check=True, capture_output=True, text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines() if line.strip()]


def pytest_configure(config: pytest.Config) -> None:
    """Re-run this pytest command inside `unshare -n` (only `lo`, brought up) unless isolated.

    WebRTC needs it: outside, ICE sometimes picks an external interface (docs/architecture.md,
    "End-to-end tests").
    `CLOV_E2E_NETNS` is set in the re-executed run; set it yourself to skip the re-exec.
    """
    if os.environ.get(NETNS_ENV) or hasattr(config, "workerinput"):
        return
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            raise pytest.UsageError(f"end-to-end tests need `{tool}` (iproute2 / util-linux)")
    if set(interfaces_up()) <= {"lo"}:
        return
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise pytest.UsageError(
            f"cannot create a network namespace (`unshare -n` needs root): {probe.stderr.strip()}; "
            f"run as root, or set {NETNS_ENV}=1 to run without isolation")
    # Give the terminal back (pytest may capture fds 1 and 2 at this point), then replace this
    # process: the same interpreter, cwd and arguments, with pytest started afresh.
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(config.invocation_params.dir)
    os.environ[NETNS_ENV] = "1"
    args = [sys.executable, "-m", "pytest", *config.invocation_params.args]
    os.execvp("unshare", ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *args])


# --- servers -----------------------------------------------------------------------------------

class AppServer(Server):
    """`clov serve` serving the real app (CLOV_STATIC_ROOT defaults to the repo root)."""

    @property
    def origin(self) -> str:
        return self.http

    def url(self, path: str = "/") -> str:
        return self.http + path

    def restart(self) -> AppServer:
        """Stop, then start again on the same port (and log file)."""
        self.stop()
        self.start()
        return self

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.logs().splitlines()[-lines:]) if self.log_path.exists() else ""


_servers: list[AppServer] = []  # every server started by these fixtures: their origins are local


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[AppServer]:
    """One server for the session, on Redis. Tests that stop or restart a server use
    `start_app_server` instead."""
    server = AppServer(tmp_path_factory.mktemp("app"), CLOV_REDIS_URL=redis_server.url).start()
    _servers.append(server)
    yield server
    server.stop(signal.SIGKILL)


@pytest.fixture
def start_app_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[Callable[..., AppServer]]:
    """Factory: `start_app_server(**env)` starts a private server (on Redis unless
    `CLOV_REDIS_URL=""` is given); all are killed after the test."""
    started: list[AppServer] = []

    def start(**env: str) -> AppServer:
        server = AppServer(tmp_path, **{"CLOV_REDIS_URL": redis_server.url, **env}).start()
        started.append(server)
        _servers.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)
        _servers.remove(server)


TURN_SECRET = "turn-secret-for-tests"  # coturn's static-auth-secret and the server's CLOV_TURN_SECRET


@pytest.fixture(scope="session")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    """Debian's coturn on 127.0.0.1 with `use-auth-secret` TURN_SECRET; give a server
    `CLOV_TURN_URLS=turn_server.url` and `CLOV_TURN_SECRET=TURN_SECRET`."""
    server = TurnServer(tmp_path_factory.mktemp("coturn"), TURN_SECRET).start()
    yield server
    server.stop()


class StaticHost:
    """`python -m http.server` serving one folder: files as they are, none of our headers."""

    def __init__(self, folder: Path, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(folder),
                 str(self.port)], stdout=log, stderr=subprocess.STDOUT,
            )
        assert wait_until(self._listening, 20), f"static server did not start:\n{self.log_tail()}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _listening(self) -> bool:
        try:
            return httpx.get(self.origin + "/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False


@pytest.fixture
def static_host(tmp_path: Path) -> Iterator[Callable[[Path], StaticHost]]:
    """Factory: `static_host(folder)` serves `folder` (it may be filled later); its origin counts
    as local for `open_page`. Stopped after the test."""
    started: list[StaticHost] = []

    def start(folder: Path) -> StaticHost:
        host = StaticHost(folder, tmp_path / f"static-{len(started)}.log")
        started.append(host)
        _servers.append(host)  # type: ignore[arg-type]
        return host

    yield start
    for host in started:
        host.process.kill()
        host.process.wait(15)
        _servers.remove(host)  # type: ignore[arg-type]


# --- browser -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fake_media(tmp_path_factory: pytest.TempPathFactory) -> FakeMedia:
    return make_fake_media(tmp_path_factory.mktemp("media"))


# Package scope, not session: while sync Playwright runs, its event loop stays marked as running
# in this thread between calls, which breaks the anyio tests in tests/ if they run after ours
# (`pytest tests_e2e tests`). Package scope closes it when the run leaves tests_e2e/.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Playwright passes Chromium's own stderr on with DEBUG=pw:browser, into the captured output
    # of the test running then: a renderer that crashes ("Target crashed") leaves its last words
    # (a failed CHECK, out of memory) in the failing test's report. Set for the driver alone.
    with mock.patch.dict(os.environ, DEBUG="pw:browser"):
        pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="package")
def launch_browser(playwright: Playwright, fake_media: FakeMedia) -> Iterator[Callable[..., Browser]]:
    """Factory: `launch_browser(*extra_flags, media=None)` starts another Chromium (the fake
    camera and microphone are per browser process); closed with the package."""
    browsers: list[Browser] = []

    def launch(*extra_flags: str, media: FakeMedia | None = None) -> Browser:
        flags = [*CHROMIUM_FLAGS, *(media or fake_media).chromium_flags(), *extra_flags]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Browser:
    """The session's Chromium, with the astronaut camera and the 440 Hz microphone."""
    return launch_browser()


@pytest.fixture(scope="package")
def camera_browser(launch_browser: Callable[..., Browser], fake_media: FakeMedia, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Browser]:
    """Factory: `camera_browser(width, height, fps=30)`, a Chromium whose camera shows the
    astronaut at that size and rate (one per kind), for tests with many people: six encode 30
    videos on 2 cores."""
    browsers: dict[tuple[int, int, int], Browser] = {}

    def launch(width: int, height: int, fps: int = 30) -> Browser:
        if (width, height, fps) not in browsers:
            picture = np.asarray(Image.fromarray(fake_media.reference).resize((width, height), Image.LANCZOS))
            video = write_y4m(tmp_path_factory.mktemp(f"camera{width}") / "camera.y4m", picture, fps)
            browsers[width, height, fps] = launch_browser(media=FakeMedia(video=video, audio=fake_media.audio, reference=picture))
        return browsers[width, height, fps]

    return launch


@pytest.fixture(scope="package")
def small_camera_browser(camera_browser: Callable[..., Browser]) -> Browser:
    """A 320x240 camera, for tests with three people."""
    return camera_browser(320, 240)


@dataclass
class PageLog:
    """What one page did that a test may want to look at, and that failures report."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)  # aborted, and fail the test

    def report(self, page: Page) -> str:
        lines = [f"page {page.url}"]
        for title, items in (("console errors", self.console_errors), ("page errors", self.page_errors),
                             ("foreign requests", self.foreign_requests)):
            lines += [f"  {title}:", *(f"    {item}" for item in items)] if items else []
        return "\n".join(lines)


_LOGS = pytest.StashKey[dict[Page, PageLog]]()
_open_logs: dict[Page, PageLog] = {}  # the current test's pages, for page_log()


def page_log(page: Page) -> PageLog:
    """The console errors, page errors and foreign requests of a page from `open_page`."""
    return _open_logs[page]


def wait_ready(page: Page, timeout: float = READY_TIMEOUT_MS) -> None:
    """Wait for the app's ready signal, `<html data-ready="1">` (Pyodide booted, client started).

    A selector needs no script evaluation in the page. (With today's CSP, which has
    'unsafe-eval', `page.evaluate` and `page.wait_for_function` work too, string or function.)"""
    page.wait_for_selector("html[data-ready='1']", state="attached", timeout=timeout)


def diagnostics_url(url: str, **numbers: float) -> str:
    """`url` (a path or a whole address, an invite's `#token` kept) with the page's diagnostics
    switch on, `?diagnostics=1`: only then does the page publish the `clov*` hooks that tests and
    bench/ read it through (`clovStage()`, `clovCapture()`, `clovDiagnostics()`...), and take
    the numbers that bend it, given here as `clock_skew_ms=1500` for `clock-skew-ms=1500`.
    A page keeps its query when it moves on to a booth's address, not in the invite it shows."""
    parts = urlsplit(url)
    bends = {name.replace("_", "-"): str(value) for name, value in numbers.items()}
    kept = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "diagnostics" and key not in bends]
    return urlunsplit(parts._replace(query=urlencode([*kept, ("diagnostics", "1"), *bends.items()])))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def open_page(request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Factory: `open_page(url="/", *, ready=True, browser=None, **context_options) -> Page`.

    Each call is one participant: a fresh browser context (own storage) with PERMISSIONS. A path is resolved against `app_server`. Requests to any origin
    other than a server started by these fixtures are aborted and fail the test at teardown.
    That guard is served only while the test is inside a Playwright call, so tests wait with
    `page.wait_for_timeout`, never `time.sleep` (which holds every page's requests meanwhile).
    `ready=True` waits for `wait_ready`."""
    logs: dict[Page, PageLog] = {}
    contexts: list[BrowserContext] = []
    request.node.stash[_LOGS] = logs

    def open_(url: str = "/", *, ready: bool = True, browser: Browser | None = None, **options: object) -> Page:
        if url.startswith("/"):
            url = request.getfixturevalue("app_server").url(url)
        options.setdefault("permissions", PERMISSIONS)
        context = (browser or request.getfixturevalue("browser")).new_context(**options)
        contexts.append(context)
        log = PageLog()
        home = _origin(url)

        def allowed(target: str) -> bool:  # servers started later (a second instance) count too
            origin = _origin(target.replace("ws", "http", 1) if target.startswith("ws") else target)
            return origin == home or any(origin == server.origin for server in _servers)

        def guard(route: Route) -> None:
            target = route.request.url
            if allowed(target) or target.startswith(("data:", "blob:")):
                route.fallback()
            else:
                log.foreign_requests.append(target)
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        page = context.new_page()
        page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: log.page_errors.append(str(error)))
        page.on("websocket", lambda ws: None if allowed(ws.url) else log.foreign_requests.append(ws.url))
        logs[page] = _open_logs[page] = log
        page.goto(url)
        if ready:
            wait_ready(page)
        return page

    yield open_
    for context in contexts:
        context.close()
    foreign = [url for log in logs.values() for url in log.foreign_requests]
    for page in logs:
        _open_logs.pop(page, None)
    if foreign:
        pytest.fail("requests to foreign origins:\n  " + "\n  ".join(foreign), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, add what the pages and the servers said to the report, and where a Chromium
    process crashed meanwhile."""
    report = yield
    if report.failed:
        logs = item.stash.get(_LOGS, {})
        if logs:
            report.sections.append(("browser pages", "\n".join(log.report(p) for p, log in logs.items())))
        for server in _servers:
            report.sections.append((f"server {server.origin} (last lines)", server.log_tail()))
        turn = getattr(item, "funcargs", {}).get("turn_server")
        if turn is not None:
            report.sections.append(("turnserver (last lines)", turn.log_tail()))
        crashes = sorted(path for path in crashreports.reports() if path.stat().st_mtime >= call.start)
        if crashes:
            report.sections.append(("Chromium crash reports", "\n".join(map(crashreports.summary, crashes))))
    return report
