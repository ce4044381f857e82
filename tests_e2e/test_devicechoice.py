"""Switching camera and microphone inside the booth (frontend_py/devicechoice.py), with two
fake cameras (Chromium's `device-count=2`) and its three fake microphones: the camera changes
(at another size) while the peer keeps receiving the same track, the microphone's track goes
out on the same sender, mute holds, failures are explained and the booth keeps its devices,
and nothing is renegotiated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, PERMISSIONS, wait_ready
from tests_e2e.test_call import FRAMES_DECODED, poll, wait_connected

# Counts renegotiations, lets the test script getUserMedia failures, and opens the second camera
# smaller than the first (so a switch changes the picture's size).
SPY = """
(() => {
  const Original = RTCPeerConnection;
  window.__pcs = [];
  window.__negotiations = 0;
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__pcs.push(pc);
    pc.addEventListener('negotiationneeded', () => { window.__negotiations += 1; });
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.__fail = [];
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    if (window.__fail.length) throw new DOMException('scripted', window.__fail.shift());
    if (window.__stall) {
      window.__stall = false;
      return new MediaStream(document.createElement('canvas').captureStream(0).getVideoTracks());
    }
    const video = constraints && constraints.video;
    if (video && video.deviceId && video.deviceId.exact === window.__small) {
      video.width = {ideal: 640}; video.height = {ideal: 360};
    }
    return gum(constraints);
  };
})();
"""
SENDERS = """() => window.__pcs.filter(pc => pc.connectionState !== 'closed').flatMap(pc => pc.getSenders()
  .filter(s => s.track).map(s => ({kind: s.track.kind, id: s.track.id, label: s.track.label, enabled: s.track.enabled})))"""
OPTIONS = """(id) => [...document.querySelectorAll(`#${id} option`)].map(o => [o.value, o.selected])"""
SOURCES = """() => [...document.querySelectorAll('video.source-video')].map(
  v => v.srcObject.getVideoTracks().map(t => t.readyState))"""


@pytest.fixture(scope="module")
def two_camera_browser(playwright: Playwright) -> Iterator[Browser]:
    flags = [flag for flag in CHROMIUM_FLAGS if not flag.startswith("--use-fake-device")]
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*flags, "--use-fake-device-for-media-stream=device-count=2"],
    )
    yield browser
    browser.close()


def spied_page(browser: Browser, url: str, errors: list[str]) -> Page:
    context = browser.new_context(permissions=PERMISSIONS, viewport={"width": 1400, "height": 1000})
    context.add_init_script(SPY)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_ready(page)
    return page


def in_use(page: Page, select: str) -> str:
    return next(value for value, selected in page.evaluate(OPTIONS, select) if selected)


def settled(page: Page) -> None:
    page.wait_for_selector(".device-choice[aria-busy='false']", state="attached", timeout=40_000)


def receiving(page: Page, peer: str) -> bool:
    frames = page.evaluate(FRAMES_DECODED, peer)
    return bool(poll(lambda: page.evaluate(FRAMES_DECODED, peer) > frames, timeout=10))


def test_switching_camera_and_microphone_inside_the_booth(app_server, two_camera_browser: Browser) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    ana = spied_page(two_camera_browser, app_server.url("/"), errors)
    ana.fill("#name", "Ana")
    ana.click("#create")
    ana.wait_for_selector("#invite-link")
    link = ana.input_value("#invite-link")
    ana.click("#enter")
    ana.wait_for_selector("html[data-screen='room']", state="attached")
    bo = spied_page(two_camera_browser, link, errors)
    bo.fill("#name", "Bo")
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    ana_id = ana.get_attribute(".tile[data-self]", "data-peer")
    wait_connected(bo, ana_id)
    ana.wait_for_selector("#switch-camera:not([hidden])", state="attached", timeout=10_000)

    cameras = [value for value, _ in ana.evaluate(OPTIONS, "camera-choice")]
    assert len(cameras) == 2
    first = in_use(ana, "camera-choice")
    second = next(camera for camera in cameras if camera != first)
    ana.evaluate("(id) => { window.__small = id; }", second)
    senders = ana.evaluate(SENDERS)
    video_track = [s["id"] for s in senders if s["kind"] == "video"]
    negotiations = ana.evaluate("() => window.__negotiations")
    size = f"""() => {{ const v = document.querySelector('.tile[data-peer="{ana_id}"] video'); return [v.videoWidth, v.videoHeight]; }}"""
    before = bo.evaluate(size)

    # "Switch camera": the other camera, remembered; the peer gets the same track at the new size.
    ana.click("#switch-camera")
    poll(lambda: in_use(ana, "camera-choice") == second, timeout=30)
    settled(ana)
    assert in_use(ana, "camera-choice") == second
    assert ana.is_hidden("#device-error")
    assert ana.evaluate("() => localStorage.getItem('clov.camera')") == second
    assert [s["id"] for s in ana.evaluate(SENDERS) if s["kind"] == "video"] == video_track
    assert poll(lambda: bo.evaluate(size) != before, timeout=20), "the peer never got the new size"
    assert receiving(bo, ana_id)
    assert ana.evaluate(SOURCES) == [["live"]], "one camera video, and the old camera stopped"

    # The microphone list: the new track on the same sender, remembered.
    microphones = [value for value, _ in ana.evaluate(OPTIONS, "microphone-choice")]
    old_voice = {s["id"] for s in senders if s["kind"] == "audio"}
    other_microphone = next(m for m in microphones if m != in_use(ana, "microphone-choice"))
    ana.select_option("#microphone-choice", other_microphone)
    assert poll(lambda: all(s["id"] not in old_voice for s in ana.evaluate(SENDERS) if s["kind"] == "audio"), timeout=20)
    settled(ana)
    assert ana.evaluate("() => localStorage.getItem('clov.microphone')") == other_microphone

    # Muted, a new microphone stays muted.
    ana.click("#mute")
    voice = {s["id"] for s in ana.evaluate(SENDERS) if s["kind"] == "audio"}
    ana.select_option("#microphone-choice", microphones[0])
    assert poll(lambda: all(s["id"] not in voice for s in ana.evaluate(SENDERS) if s["kind"] == "audio"), timeout=20)
    settled(ana)
    assert not any(s["enabled"] for s in ana.evaluate(SENDERS) if s["kind"] == "audio")
    ana.click("#mute")

    # Refused: said why, and the booth goes on with the camera it has.
    ana.evaluate("() => { window.__fail = ['NotAllowedError']; }")
    ana.click("#switch-camera")
    ana.wait_for_selector("#device-error:not([hidden])", state="attached")
    assert "blocked" in ana.inner_text("#device-error")
    settled(ana)
    assert in_use(ana, "camera-choice") == second
    assert receiving(bo, ana_id)

    # Busy (a phone opening one camera at a time): the camera in use is let go, and the new one opens.
    ana.evaluate("() => { window.__fail = ['NotReadableError']; }")
    ana.click("#switch-camera")
    poll(lambda: in_use(ana, "camera-choice") == first, timeout=30)
    settled(ana)
    assert in_use(ana, "camera-choice") == first and ana.is_hidden("#device-error")

    # Busy even then: the camera let go of is taken back.
    ana.evaluate("() => { window.__fail = ['NotReadableError', 'NotReadableError']; }")
    ana.click("#switch-camera")
    ana.wait_for_selector("#device-error:not([hidden])", state="attached")
    settled(ana)
    assert "in use by another app" in ana.inner_text("#device-error")
    assert in_use(ana, "camera-choice") == first
    assert ana.evaluate(SOURCES) == [["live"]]
    assert receiving(bo, ana_id)

    # A camera that gives no picture: the old one goes on meanwhile, and after it.
    ana.evaluate("() => { window.__stall = true; }")
    ana.click("#switch-camera")
    ana.wait_for_timeout(3_000)
    assert receiving(bo, ana_id), "frames stopped while the new camera was tried"
    ana.wait_for_selector("#device-error[data-i18n='devices.stalled']", state="attached", timeout=40_000)
    settled(ana)
    assert in_use(ana, "camera-choice") == first
    assert receiving(bo, ana_id)

    assert ana.evaluate("() => window.__negotiations") == negotiations, "a switch renegotiated"
    assert errors == []
