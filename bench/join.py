"""How fast an invite link becomes a call, against the bare Pyodide boot as the floor; with
`--network`, also over an emulated link, with the bytes a first and a second visit move.

For each run, a fresh browser context (cold cache, like a friend opening the link) opens an
invite link to a booth where a host is already waiting, and the app's performance marks give:
  ready    navigation start -> Python running our code   (clov:python-ready)
  preview  navigation start -> own camera on screen      (clov:preview)
  frame    Join pressed -> first frame from the host      (clov:join -> clov:first-remote-frame)
In the same run, a page that only does `await loadPyodide()` from our own assets gives the floor.
Goals: ready <= 1.3 x bare boot; first remote frame <= 1 s after both sides are ready.

    .venv/bin/python bench/join.py [--runs 5]

`--network 20mbit` serves over HTTPS (`--dev-cert`; Chromium offers brotli over HTTPS only, and
trusts the certificate through its NSS database, tests_e2e/conftest.py `trusting_home`) and
runs each visit twice in the same run, on loopback and through Chromium's network emulation
(CDP Network.emulateNetworkConditionsByRule on the page and, auto-attached, on each of its
dedicated workers, whose fetches the page's emulation does not cover). Chromium throttles each
target on its own, so while the page and a worker both download, the emulated link carries up
to twice its rate: the times over the link are a little optimistic there. Each guest visits the invite link,
joins, and counts as in the booth when the room shows and its segmentation model has run on a
frame (`booth`: navigation start to then); then the same guest opens the link again (`second
visit`, its HTTP cache warm). Bytes on the wire are counted by a TCP proxy between Chromium and
the server (TLS records and headers included; nothing reaches the server another way), and
cross-checked with the sum of CDP's encodedDataLength. Goals: a first visit moves at most 10 MB,
booth over the link <= 2 x booth on loopback, a second visit moves nothing large.

    .venv/bin/python bench/join.py --network 20mbit [--runs 3] [--checkout DIR]

`--checkout DIR` serves another checkout's server and files (an older commit, for A/B) to this
benchmark. `--trace` prints each run's timeline of both pages from Join until each has presented
the other's first frame (TRACER: the browser's own objects, so an older checkout is timed alike),
and times the other direction too: `frame back`, Join -> the host presents the guest's first frame.

Runs Chromium in a loopback-only network namespace (re-executes itself under `unshare -n`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Route, sync_playwright

from bench.scratch import scratch_folder
from signaling.static import SECURITY_HEADERS
from tests.conftest import Server, wait_until
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, diagnostics_url, trusting_home

BARE_PAGE = """<!doctype html><script type="module">
import {loadPyodide} from "/assets/pyodide/pyodide.mjs";
await loadPyodide();
performance.mark("bare:ready");
document.documentElement.dataset.ready = "1";
</script>"""

MARK = "(name) => (performance.getEntriesByName(name)[0] || {}).startTime ?? null"
# In the booth with the models loaded: the room shows and segmentation has run on a frame.
# `--trace`: what each page does between Join and the first remote frame, from the browser's own
# objects (so it times any checkout alike): the signaling socket, the peer connection, the
# guest's decoded frames, the pipeline's captured canvas, onnxruntime's wasm, every task
# that held the main thread over 50 ms, and every input event painted over 16 ms after it.
# Times are epoch milliseconds, comparable across pages.
TRACER = """(() => {
  const events = globalThis.clovTrace = [];
  const at = (what) => events.push([performance.timeOrigin + performance.now(), what]);
  new PerformanceObserver((list) => {
    for (const task of list.getEntries()) {
      events.push([performance.timeOrigin + task.startTime, `long task ${Math.round(task.duration)} ms`]);
    }
  }).observe({type: "longtask"});
  // What ran in a long frame: each script over 20 ms, by what invoked it (a timer, a frame
  // callback, an event listener, a promise's resolution).
  new PerformanceObserver((list) => {
    for (const frame of list.getEntries()) {
      const scripts = frame.scripts.filter((script) => script.duration > 20)
        .map((script) => `${script.invokerType} ${script.invoker} ${Math.round(script.duration)} ms`);
      if (scripts.length) events.push([performance.timeOrigin + frame.startTime, `long frame: ${scripts.join("; ")}`]);
    }
  }).observe({type: "long-animation-frame"});
  // How soon the page answered input (the Join press among it): each event whose next paint
  // came over 16 ms after it, and how long it waited for the thread before its handlers ran.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      events.push([performance.timeOrigin + entry.startTime, `event ${entry.name} painted after ${Math.round(entry.duration)} ms`
        + `, handled after ${Math.round(entry.processingStart - entry.startTime)} ms`]);
    }
  }).observe({type: "event", durationThreshold: 16});
  const describe = (text) => {
    try {
      const message = JSON.parse(text);
      if (message.type !== "signal") return message.type;
      const data = message.data || {};
      return data.description ? data.description.type : "candidate";
    } catch { return "?"; }
  };
  const Socket = WebSocket;
  globalThis.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      at("ws open asked");
      this.addEventListener("open", () => at("ws open"));
      this.addEventListener("message", (event) => at(`ws got ${describe(event.data)}`));
    }
    send(data) { at(`ws sent ${describe(data)}`); return super.send(data); }
  };
  const remoteTracks = new WeakSet();
  // When the first video frame was encoded here and the first one arrived and was decoded
  // here, by the connection's statistics (polled: no event says so).
  const firstFrames = async (connection) => {
    const seen = new Set();
    for (let polls = 0; seen.size < 3 && polls < 250 && connection.connectionState === "connected"; polls++) {
      for (const report of (await connection.getStats()).values()) {
        if (report.kind !== "video") continue;
        for (const [type, counter, what] of [["outbound-rtp", "framesEncoded", "encoded"],
          ["inbound-rtp", "framesReceived", "arrived"], ["inbound-rtp", "framesDecoded", "decoded"]]) {
          if (report.type === type && report[counter] > 0 && !seen.has(what)) {
            seen.add(what);
            at(`stats: first video frame ${what}`);
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const Connection = RTCPeerConnection;
  globalThis.RTCPeerConnection = class extends Connection {
    constructor(...args) {
      super(...args);
      at("pc made");
      let candidates = 0;
      this.addEventListener("negotiationneeded", () => at("pc negotiationneeded"));
      this.addEventListener("icecandidate", (event) => {
        if (!event.candidate) at("pc gathering complete");
        else if (!candidates++) at("pc first own candidate");
      });
      this.addEventListener("iceconnectionstatechange", () => at(`pc ice ${this.iceConnectionState}`));
      this.addEventListener("connectionstatechange", () => {
        at(`pc ${this.connectionState}`);
        if (this.connectionState === "connected") firstFrames(this);
      });
      this.addEventListener("track", (event) => {
        at(`pc track ${event.track.kind}`);
        remoteTracks.add(event.track);
      });
    }
    async setLocalDescription(...args) {
      at("pc setLocalDescription");
      await super.setLocalDescription(...args);
      at(`pc local ${this.localDescription.type} set`);
    }
    async setRemoteDescription(description) {
      at(`pc setRemoteDescription ${description.type}`);
      await super.setRemoteDescription(description);
      at(`pc remote ${description.type} set`);
    }
  };
  const source = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, "srcObject");
  Object.defineProperty(HTMLMediaElement.prototype, "srcObject", {
    get() { return source.get.call(this); },
    set(stream) {
      source.set.call(this, stream);
      if (!stream || !stream.getVideoTracks().some((track) => remoteTracks.has(track))) return;
      at("remote stream on a video");
      this.requestVideoFrameCallback((now, frame) => {
        events.push([performance.timeOrigin + frame.receiveTime, "first remote frame received"]);
        at("first remote frame presented");
      });
    },
  });
  const capture = HTMLCanvasElement.prototype.captureStream;
  HTMLCanvasElement.prototype.captureStream = function (...args) { at("canvas captured"); return capture.apply(this, args); };
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function (...args) {
    if (this.classList.contains("source-video")) at("camera video play");
    return play.apply(this, args);
  };
  for (const name of ["compile", "instantiate", "compileStreaming", "instantiateStreaming"]) {
    const original = WebAssembly[name];
    WebAssembly[name] = function (...args) {
      at(`wasm ${name}`);
      const done = original.apply(this, args);
      done.then(() => at(`wasm ${name} done`), () => {});
      return done;
    };
  }
  const Work = Worker;
  globalThis.Worker = class extends Work { constructor(...args) { super(...args); at("worker started"); } };
})();"""

IN_BOOTH = """() => document.documentElement.dataset.screen === 'room' && globalThis.clovDiagnostics
  && JSON.parse(clovDiagnostics()).stages.segmentation[0] > 0"""


@dataclass(frozen=True)
class Network:
    down_bits: float  # per second
    up_bits: float
    rtt_ms: float

    def emulation(self) -> dict[str, Any]:
        """Network.emulateNetworkConditionsByRule's parameters: one rule for every URL. CDP's
        latency is added to each request's round trip; throughputs are bytes per second. (The
        older Network.emulateNetworkConditions answers "Not supported" on a worker's session.)"""
        every_url = {"urlPattern": "", "latency": self.rtt_ms, "downloadThroughput": self.down_bits / 8,
                     "uploadThroughput": self.up_bits / 8}
        return {"offline": False, "matchedNetworkConditions": [every_url]}


NETWORKS = {"20mbit": Network(down_bits=20e6, up_bits=20e6, rtt_ms=40)}


class CheckoutServer(Server):
    """`clov serve` from another checkout: its code, its files."""

    def __init__(self, checkout: Path, tmp: Path, **env: str) -> None:
        super().__init__(tmp, CLOV_STATIC_ROOT=str(checkout), **env)
        self.checkout = checkout

    def start(self) -> CheckoutServer:
        env = {**os.environ, **self.env, "CLOV_PORT": str(self.port)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "signaling.cli", "serve"], env=env,
                                            cwd=self.checkout, stderr=log, stdout=subprocess.DEVNULL)
        assert wait_until(self._listening, 20), f"server did not start:\n{self.log_path.read_text()}"
        return self


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


def join_as_guest(page: Page, link: str, patience: float) -> None:
    """Open the invite link, wait for the own preview, join, and wait for the host's first
    frame. `patience` scales the waits (an emulated slow link takes longer)."""
    page.goto(link)
    page.wait_for_selector("#join", timeout=90_000 * patience)
    page.wait_for_function(f"() => ({MARK})('clov:preview') !== null", timeout=30_000 * patience)
    page.fill("#name", "Guest")
    page.click("#join")
    page.wait_for_function(f"() => ({MARK})('clov:first-remote-frame') !== null", timeout=30_000 * patience)


def invite_run(browser: Browser, link: str, host: Page | None = None) -> dict[str, float]:
    """One guest through the invite link; with `host` (traced, TRACER), the timeline of both
    pages from Join to the first remote frame is printed."""
    context = browser.new_context(permissions=["camera", "microphone"])
    if host is not None:
        context.add_init_script(TRACER)
    page = context.new_page()
    join_as_guest(page, link, patience=1)
    marks = {name: page.evaluate(MARK, f"clov:{name}") for name in ("python-ready", "preview", "join", "first-remote-frame")}
    times = {
        "ready": marks["python-ready"],
        "preview": marks["preview"],
        "frame": marks["first-remote-frame"] - marks["join"],
    }
    if host is not None:
        page.wait_for_function("() => clovTrace.some(([, what]) => what === 'first remote frame presented')", timeout=10_000)
        join = page.evaluate(f"performance.timeOrigin + ({MARK})('clov:join')")
        times["frame back"] = wait_presented(host, join) - join
        print_timeline({"guest": page, "host": host}, join)
    context.close()
    return times


# The first remote frame the host presented after `join` (epoch ms), or null: the guest's first
# frame on the host's page, the other direction.
PRESENTED_SINCE = """(join) => (clovTrace.find(([at, what]) => at >= join && what === 'first remote frame presented') || [null])[0]"""


def wait_presented(host: Page, join: float) -> float:
    host.wait_for_function(PRESENTED_SINCE, arg=join, timeout=30_000)
    return float(host.evaluate(PRESENTED_SINCE, join))


# Every clov: performance mark and every traced event of a page, in epoch milliseconds.
TIMELINE = """() => [
  ...performance.getEntriesByType("mark").filter((mark) => mark.name.startsWith("clov:"))
    .map((mark) => [performance.timeOrigin + mark.startTime, "mark " + mark.name]),
  ...globalThis.clovTrace,
]"""
# When the host's pipeline began each frame it made (its diagnostics' samples), epoch ms.
HOST_FRAMES = "() => JSON.parse(clovDiagnostics()).samples.map((sample) => [performance.timeOrigin + sample.at, sample.total])"


def print_timeline(pages: dict[str, Page], join: float) -> None:
    frames = [(at - join, total) for at, total in pages["host"].evaluate(HOST_FRAMES)]
    events = sorted([(at - join, name, what) for name, page in pages.items() for at, what in page.evaluate(TIMELINE)]
                    + [(at, "host", f"pipeline frame {total:.0f} ms") for at, total in frames])
    firsts = {name: next(at for at, who, what in events if who == name and at >= 0 and what == "first remote frame presented")
              for name in ("guest", "host")}
    end = max(firsts.values())
    print(f"  timeline from Join (ms), until both presented the other's first frame (guest {firsts['guest']:.0f}, "
          f"host {firsts['host']:.0f}):")
    for at, name, what in events:
        if -50 <= at <= end + 50:
            print(f"    {at:7.0f}  {name:5}  {what}")
    during = [at for at, _ in frames if 0 <= at <= end]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"  the host's pipeline made {len(during)} frames meanwhile" + (f", longest gap {max(gaps):.0f} ms" if gaps else ""))


class CountingProxy:
    """A TCP proxy on loopback in front of the server that counts the bytes each way, for every
    connection of every page and worker: what would cross the link."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.down = 0  # server -> browser
        self.up = 0
        self.loop = asyncio.new_event_loop()
        self.port = 0

    def start(self) -> CountingProxy:
        ready = threading.Event()

        async def serve() -> None:
            server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await server.serve_forever()

        threading.Thread(target=self.loop.run_until_complete, args=(serve(),), daemon=True).start()
        ready.wait(10)
        return self

    def counts(self) -> tuple[int, int]:
        return self.down, self.up

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool) -> None:
            try:
                while chunk := await reader.read(65536):
                    if downstream:
                        self.down += len(chunk)
                    else:
                        self.up += len(chunk)
                    writer.write(chunk)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, server_writer, False), pipe(server_reader, client_writer, True))


@dataclass
class Transfers:
    """What CDP saw finish loading, on the page and its workers: URL -> (encoded bytes, summed
    over its fetches, and encoding)."""

    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    workers: int = 0  # worker targets attached
    refused: list[str] = field(default_factory=list)  # what a worker's session answered with an error
    pending: dict[tuple[str, str], str] = field(default_factory=dict)  # (session, request id) -> URL

    def total(self) -> int:
        return sum(size for size, _ in self.files.values())


def watch(page: Page, network: Network | None, transfers: Transfers) -> CDPSession:
    """Network events of `page` and of each dedicated worker it starts (auto-attached, paused
    until the worker's own emulation is set, so its first fetch is already throttled)."""
    cdp = page.context.new_cdp_session(page)
    message_ids = iter(range(1, 1_000_000))

    def on_network(session: str, method: str, params: dict[str, Any]) -> None:
        if method == "Network.responseReceived":
            response = params["response"]
            encoding = {k.lower(): v for k, v in response.get("headers", {}).items()}.get("content-encoding", "")
            transfers.pending[(session, params["requestId"])] = response["url"] + "\0" + encoding
        elif method == "Network.loadingFinished":
            named = transfers.pending.pop((session, params["requestId"]), None)
            if named is not None:
                url, encoding = named.split("\0")
                # Summed: the page and a worker may each fetch the same URL.
                earlier = transfers.files.get(url, (0, encoding))[0]
                transfers.files[url] = (earlier + int(params["encodedDataLength"]), encoding)

    def to_worker(session: str, method: str, params: dict[str, Any] | None = None) -> None:
        message = json.dumps({"id": next(message_ids), "method": method, "params": params or {}})
        cdp.send("Target.sendMessageToTarget", {"sessionId": session, "message": message})

    def attached(params: dict[str, Any]) -> None:
        session = params["sessionId"]
        if params["targetInfo"]["type"] != "worker":
            to_worker(session, "Runtime.runIfWaitingForDebugger")
            return
        transfers.workers += 1
        to_worker(session, "Network.enable")
        if network is not None:
            to_worker(session, "Network.emulateNetworkConditionsByRule", network.emulation())
        to_worker(session, "Runtime.runIfWaitingForDebugger")

    def from_worker(params: dict[str, Any]) -> None:
        message = json.loads(params["message"])
        if "error" in message:
            transfers.refused.append(message["error"].get("message", ""))
        if "method" in message:
            on_network(params["sessionId"], message["method"], message.get("params", {}))

    cdp.on("Network.responseReceived", lambda params: on_network("", "Network.responseReceived", params))
    cdp.on("Network.loadingFinished", lambda params: on_network("", "Network.loadingFinished", params))
    cdp.on("Target.attachedToTarget", attached)
    cdp.on("Target.receivedMessageFromTarget", from_worker)
    cdp.send("Network.enable")
    if network is not None:
        cdp.send("Network.emulateNetworkConditionsByRule", network.emulation())
    # Not flattened: Playwright's sessions cannot address a child session; these messages can.
    cdp.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False})
    return cdp


@dataclass
class Visit:
    times: dict[str, float]
    wire_down: int
    wire_up: int
    transfers: Transfers


def visit(context: BrowserContext, link: str, network: Network | None, proxy: CountingProxy) -> Visit:
    """One visit of the invite link, through to the booth with the models loaded."""
    page = context.new_page()
    transfers = Transfers()
    watch(page, network, transfers)
    down, up = proxy.counts()
    join_as_guest(page, link, patience=2)
    page.wait_for_function(IN_BOOTH, timeout=180_000, polling=50)
    booth = page.evaluate("performance.now()")
    wire_down, wire_up = proxy.counts()
    marks = {name: page.evaluate(MARK, f"clov:{name}") for name in ("python-ready", "preview", "join", "first-remote-frame")}
    page.close()
    times = {
        "ready": marks["python-ready"],
        "preview": marks["preview"],
        "booth": booth,
        "frame": marks["first-remote-frame"] - marks["join"],
    }
    return Visit(times, wire_down - down, wire_up - up, transfers)


def network_runs(browser: Browser, link: str, proxy: CountingProxy, network: Network, runs: int) -> None:
    results: dict[str, list[tuple[Visit, Visit]]] = {"loopback": [], "network": []}
    for i in range(runs):
        for name, conditions in (("loopback", None), ("network", network)):
            context = browser.new_context(permissions=["camera", "microphone"])
            first = visit(context, link, conditions, proxy)
            second = visit(context, link, conditions, proxy)
            context.close()
            results[name].append((first, second))
            print(f"run {i + 1} {name:8}: first " + describe(first) + " | second " + describe(second), flush=True)

    def median(name: str, which: int, key: str | Callable[[Visit], float]) -> float:
        pick = key if callable(key) else (lambda v: v.times[key])
        return statistics.median(pick(pair[which]) for pair in results[name])

    print(f"\nmedian over {runs} runs (Chromium {CHROMIUM}, {os.cpu_count()} cores; network: "
          f"{network.down_bits / 1e6:g} Mbit/s down and up, {network.rtt_ms:g} ms RTT, CDP emulation)")
    print(f"  {'':28} {'loopback':>10} {'network':>10} {'ratio':>6}")
    for which, label in ((0, "first visit"), (1, "second visit")):
        print(f"  {label}")
        for key in ("ready", "preview", "booth", "frame"):
            loop, net = median("loopback", which, key), median("network", which, key)
            print(f"    {key + ' (ms)':26} {loop:10.0f} {net:10.0f} {net / loop:6.2f}")
        for title, pick in (("wire down (MB, proxy)", lambda v: v.wire_down / 1e6),
                            ("wire up (MB, proxy)", lambda v: v.wire_up / 1e6),
                            ("CDP encodedDataLength (MB)", lambda v: v.transfers.total() / 1e6)):
            print(f"    {title:26} {median('loopback', which, pick):10.2f} {median('network', which, pick):10.2f}")
    workers = [pair[0].transfers.workers for pair in results["network"]]
    refused = sorted({error for pair in results["network"] for error in pair[0].transfers.refused})
    print(f"  dedicated workers attached and emulated per first visit: {workers}"
          + (f"; a worker's session refused: {refused}" if refused else ""))
    first = results["network"][-1][0].transfers.files
    print("\n  the last first visit over the network, files over 100 kB (CDP encodedDataLength):")
    for url, (size, encoding) in sorted(first.items(), key=lambda item: -item[1][0]):
        if size > 100_000:
            print(f"    {size / 1e6:7.2f} MB  {encoding or 'identity':8} {urlsplit(url).path}")
    booth_ratio = median("network", 0, "booth") / median("loopback", 0, "booth")
    print(f"\n  goals: first visit <= 10 MB on the wire: {median('network', 0, lambda v: v.wire_down) / 1e6:.2f} MB; "
          f"booth over the link <= 2 x loopback: {booth_ratio:.2f} x; "
          f"second visit moves nothing large: {median('network', 1, lambda v: v.wire_down) / 1e6:.2f} MB")


def describe(v: Visit) -> str:
    return (", ".join(f"{k} {t:.0f}" for k, t in v.times.items())
            + f" ms, {v.wire_down / 1e6:.2f} MB down, {v.wire_up / 1e6:.2f} MB up, {v.transfers.workers} workers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--network", choices=sorted(NETWORKS), help="also over this emulated link, with bytes")
    parser.add_argument("--checkout", type=Path, help="serve this checkout instead (A/B against another commit)")
    parser.add_argument("--trace", action="store_true", help="print each run's timeline from Join to the first remote frame")
    args = parser.parse_args()
    isolate()
    checkout = (args.checkout or ROOT).resolve()
    subprocess.run([sys.executable, str(checkout / "scripts" / "assets.py")], check=True, stdout=subprocess.DEVNULL)
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    secure = {"CLOV_DEV_CERT": "1"} if args.network else {}
    server = CheckoutServer(checkout, tmp, CLOV_LOG_LEVEL="warning", **secure).start()
    launch_env = None
    if args.network:
        certificate = checkout / ".clov" / "dev-cert.pem"  # made by `--dev-cert 1` in the static root
        home = trusting_home(scratch_folder("clov-bench-home-") / "home", certificate)
        launch_env = {**os.environ, "HOME": str(home)}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
                                                 env=launch_env)
            host = browser.new_context(permissions=["camera", "microphone"]).new_page()
            if args.trace:
                host.add_init_script(TRACER)
            host.goto(diagnostics_url(server.http + "/"))  # its figures are read with --trace
            host.wait_for_selector("#create", timeout=60_000)
            host.fill("#name", "Host")
            host.click("#create")
            host.wait_for_selector("#invite-link")
            link = host.input_value("#invite-link")
            host.click("#enter")
            host.wait_for_selector("html[data-screen='room']", state="attached")

            if args.network:
                proxy = CountingProxy(server.port).start()
                guest_link = diagnostics_url(link.replace(f":{server.port}/", f":{proxy.port}/", 1))  # IN_BOOTH reads its figures
                network_runs(browser, guest_link, proxy, NETWORKS[args.network], args.runs)
                browser.close()
                return

            bare: list[float] = []
            runs: list[dict[str, float]] = []
            for i in range(args.runs):
                bare.append(bare_boot_ms(browser, server.http))
                runs.append(invite_run(browser, link, host if args.trace else None))
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
    if args.trace:
        print(f"  Join -> the host presents the guest's first frame  {median('frame back'):7.0f} ms")


if __name__ == "__main__":
    main()
