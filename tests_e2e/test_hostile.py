"""A hostile participant: whatever it sends over its data channels, the booth goes on.

Eve is a real CLOV page whose data channels the test takes over (a wrapper around
createDataChannel, installed before the app starts): through them she sends garbage, forged
and poisoned ops, a flood of image transfers that never finish, a decompression bomb, a
shutter flood and a 10 MB message. Ana and Bo must keep drawing, their edits must still reach
each other, and their memory must stay bounded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from playwright.sync_api import Page

from frontend_py.layout import MAX_LAYERS
from tests_e2e.conftest import diagnostics_url, page_log, wait_ready
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import own_id, poll, received_packed
from tests_e2e.test_capture import downloaded
from tests_e2e.test_stage import NO_REMOVAL, all_on_stage, layer, shows_at, state

OpenPage = Callable[..., Page]

TAKE_CHANNELS = """(() => {
  const create = RTCPeerConnection.prototype.createDataChannel;
  window.eveChannels = [];
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    window.eveChannels.push(channel);
    return channel;
  };
})()"""

# Sends each text (or, as {"b64": ...}, binary) message on every open channel.
SEND = """messages => {
  let sent = 0;
  for (const channel of window.eveChannels) {
    if (channel.readyState !== 'open') continue;
    for (const message of messages) {
      try {
        channel.send(typeof message === 'string' ? message : Uint8Array.from(atob(message.b64), c => c.charCodeAt(0)));
        sent++;
      } catch (error) { /* a message past the channel's limit: the browser refuses it */ }
    }
  }
  return sent;
}"""

HEAP = "Performance.getMetrics"
# Every WebGL2 context the page makes, kept for GPU_RESET (installed before the app starts).
KEEP_CONTEXTS = """(() => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  const contexts = window.clovTestContexts = [];
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    const gl = getContext.call(this, kind, ...rest);
    if (kind === 'webgl2' && gl && !contexts.includes(gl)) contexts.push(gl);
    return gl;
  };
})()"""
# What a GPU process reset does to a page: every context it holds is lost, then given back empty.
GPU_RESET = """() => new Promise(resolve => {
  const contexts = window.clovTestContexts.filter(gl => !gl.isContextLost()).map(gl => gl.getExtension('WEBGL_lose_context'));
  for (const context of contexts) context.loseContext();
  setTimeout(() => { for (const context of contexts) context.restoreContext(); setTimeout(resolve, 500); }, 500);
})"""


def heap_mb(page: Page) -> float:
    session = page.context.new_cdp_session(page)
    session.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in session.send(HEAP)["metrics"]}
    session.detach()
    return metrics["JSHeapUsedSize"] / 1e6


def bomb_png(side: int = 20_000) -> bytes:
    """A PNG that claims side x side pixels (400 MP) in a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def binary(transfer: int, index: int, payload: bytes) -> dict:  # type: ignore[type-arg]
    return {"b64": base64.b64encode(struct.pack(">II", transfer, index) + payload).decode()}


def attack(victims: list[str], eve: str) -> list[object]:
    ana = victims[0]
    now_clock = 2**53 - 1
    bomb = bomb_png()
    bomb_id = "img:" + hashlib.sha256(bomb).hexdigest()
    messages: list[object] = [
        # 50,000 levels fit a data channel's 256 KiB: deep enough to overflow Pyodide's stack.
        "not json", "{", "[]", "null", "1e400", '"\\ud800"', "[" * 50_000 + "]" * 50_000,
        json.dumps({"type": "layout", "ops": [{"layer": ana, "prop": "x", "value": 0.05, "clock": now_clock, "peer": eve}]}),
        json.dumps({"type": "layout", "ops": [{"layer": ana, "prop": "x", "value": 0.05, "clock": 10**15, "peer": ana}]}),
        '{"type": "layout", "ops": [{"layer": "' + eve + '", "prop": "x", "value": NaN, "clock": 5, "peer": "' + eve + '"}]}',
        json.dumps({"type": "layout", "ops": [{"layer": eve, "prop": "z", "value": 1e9, "clock": 5, "peer": eve}]}),
        json.dumps({"type": "snapshot", "ops": [{"layer": f"{eve}:{n}", "prop": "sticker", "value": "crown", "clock": n + 1, "peer": eve}
                                                for n in range(40)]}),
        json.dumps({"type": "shutter", "shot": f"{ana}:77", "at": 1, "countdown": 3, "series": f"{ana}:77", "index": 0, "count": 1}),
        json.dumps({"type": "mute", "muted": {"deep": [1, 2, 3]}}),
        "x" * (10 * 1024 * 1024),
    ]
    # Image transfers announced and never finished, one after another (each replaces the last).
    for n in range(200):
        fake = "img:" + hashlib.sha256(str(n).encode()).hexdigest()
        messages += [json.dumps({"type": "background", "id": fake, "transfer": 1000 + n, "bytes": 15_000_000}), binary(1000 + n, 0, b"\0" * 60_000)]
    # A decompression bomb, complete and matching its id, and a layout naming it.
    messages += [json.dumps({"type": "background", "id": bomb_id, "transfer": 5000, "bytes": len(bomb)}), binary(5000, 0, bomb)]
    messages.append(json.dumps({"type": "layout", "ops": [{"layer": "stage", "prop": "background", "value": bomb_id, "clock": 9, "peer": eve}]}))
    # A flood of shutters: only the first few of a minute start a countdown.
    messages += [json.dumps({"type": "shutter", "shot": f"{eve}:{n}", "at": 1, "countdown": 10, "series": f"{eve}:{n}", "index": 0, "count": 1})
                 for n in range(1, 60)]
    # Chunks for transfers that are not Eve's, or not announced.
    messages += [binary(1, 0, b"junk"), binary(0xFFFFFFFF, 7, b"junk"), {"b64": base64.b64encode(b"abc").decode()}]
    return messages


def test_a_hostile_peer_cannot_stop_the_booth(open_page: OpenPage, fake_media: FakeMedia, tmp_path: Path) -> None:
    ana = open_page(diagnostics_url("/"))
    ana.add_init_script(KEEP_CONTEXTS)
    ana.reload()
    wait_ready(ana)
    ana.evaluate(NO_REMOVAL)
    ana.fill("#name", "Ana")
    ana.click("#create")
    ana.click("#enter")
    ana.wait_for_selector("html[data-screen='room']", state="attached")
    link = ana.evaluate("() => location.href")  # the booth's address, with Ana's diagnostics switch
    bo = open_page(link)
    bo.evaluate(NO_REMOVAL)
    bo.fill("#name", "Bo")
    bo.click("#join")
    eve = open_page(link)
    eve.add_init_script(TAKE_CHANNELS)
    eve.reload()
    wait_ready(eve)
    eve.evaluate(NO_REMOVAL)
    eve.fill("#name", "Eve")
    eve.click("#join")
    pages = [ana, bo, eve]
    for page in pages:
        page.wait_for_selector("html[data-screen='room']", state="attached")
    ids = all_on_stage(pages)
    before = [heap_mb(ana), heap_mb(bo)]
    drawn = [len(state(page)["render_ms"]) for page in (ana, bo)]

    assert eve.evaluate(SEND, attack(ids[:2], ids[2])) > 100
    ana.wait_for_timeout(3000)

    # Ana moves herself by hand; Bo sees it, so neither page froze and no poisoned clock won.
    start = layer(bo, ids[0])["x"]
    box = ana.locator("#stage").bounding_box()
    corners = layer(ana, ids[0])["corners"]
    report = state(ana)
    cx = sum(x for x, _ in corners) / 4 * box["width"] / report["width"] + box["x"]
    cy = sum(y for _, y in corners) / 4 * box["height"] / report["height"] + box["y"]
    ana.mouse.click(cx, cy)
    for _ in range(20):
        ana.keyboard.press("ArrowRight")
    assert poll(lambda: abs(layer(bo, ids[0])["x"] - start) > 0.02, timeout=15), "Ana's edit never reached Bo"
    assert layer(ana, ids[0])["x"] > 0.05

    # Both still draw; Eve's stickers are hers to add, within the layout's bound.
    for page, count in zip((ana, bo), drawn):
        assert len(state(page)["render_ms"]) > count or len(state(page)["render_ms"]) == 300
        assert len(state(page)["layers"]) <= MAX_LAYERS
    after = [heap_mb(ana), heap_mb(bo)]
    assert all(grown < start_mb + 60 for start_mb, grown in zip(before, after)), (before, after)

    # A GPU reset on Ana's device loses every context of her page. They come back, not a dead
    # booth: her stage draws Bo again, and her camera still goes through her pipeline, live
    # (her last frame, frozen, would not follow her switch): Bo receives her cut out when she
    # turns removal on, and whole again when she turns it off.
    assert received_packed(bo, ids[0])[1].mean() > 250
    ana.evaluate(GPU_RESET)
    assert poll(lambda: shows_at(ana, layer(ana, ids[1]), fake_media.reference.astype(float)) < 30, timeout=20)
    ana.check("#background-removal")
    assert poll(lambda: received_packed(bo, ids[0])[1].mean() < 200, timeout=60), "Ana's picture froze at the reset"
    ana.uncheck("#background-removal")
    assert poll(lambda: received_packed(bo, ids[0])[1].mean() > 250, timeout=30)

    # The honest pair still takes a photo together. Ana's is drawn on her restored contexts
    # (the stage's renderer, her own still): it must be Bo's photo, people and all.
    ana.wait_for_function("() => !JSON.parse(clovCapture()).busy", timeout=30_000)
    ana.click("#shutter")
    photos = []
    for page in (ana, bo):
        poll(lambda page=page: capture_done(page, f"{ids[0]}:1"), timeout=60)
        assert capture_done(page, f"{ids[0]}:1")
        page.wait_for_selector(".gallery-item[data-kind='photo']", timeout=30_000)
        _, photo = downloaded(page, ".gallery-item-download", tmp_path / own_id(page))
        photos.append(np.asarray(photo.convert("RGB")).astype(float))
    assert photos[1].std() > 30, "Bo's photo is one flat colour"
    assert np.abs(photos[0] - photos[1]).mean() < 2, "Ana's photo after the restored context is not Bo's"

    # Nothing Eve sent was a fatal error for Ana's or Bo's Python: one unwinds the interpreter
    # mid-call and closes Pyodide's API, even where the booth seems to go on.
    for page in (ana, bo):
        assert not [line for line in page_log(page).console_errors if "fatal error" in line], page_log(page).report(page)


def capture_done(page: Page, shot: str) -> bool:
    return any(done == shot for done, _ in json.loads(page.evaluate("() => clovCapture()"))["composed"])
