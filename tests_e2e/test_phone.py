"""The booth on two phones (Chromium's "Pixel 7" and "iPhone 14" emulation, touch on):
a full-screen stage with the controls under the thumb, sheets, the invite QR code, a
two-finger pinch and twist seen by the other phone, a double tap, the shutter, a rotation.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from typing import Any

import zxingcpp
from PIL import Image
from playwright.sync_api import Page, Playwright

from tests_e2e.conftest import diagnostics_url
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import poll
from tests_e2e.test_stage import NO_REMOVAL, all_on_stage, client_point, layer, shows_at, size, state

OpenPage = Callable[..., Page]
BAR = ("#mute", "#open-effects", "#shutter", "#record", "#open-more")
MIN_TARGET_PX = 44


def phone(playwright: Playwright, device: str, locale: str) -> dict[str, Any]:
    """The device's emulation (viewport, pixel ratio, touch, user agent) in Chromium."""
    options = {key: value for key, value in playwright.devices[device].items() if key != "default_browser_type"}
    return {**options, "locale": locale}


def on_first_screen(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, f"{selector} starts off screen: {box}"
    assert box["x"] + box["width"] <= viewport["width"] + 0.5, f"{selector} sticks out right: {box}"
    assert box["y"] + box["height"] <= viewport["height"] + 0.5, f"{selector} lies below the first screen: {box}"
    return box


def assert_in_reach(page: Page) -> None:
    """Every control of the call is on the first screen, big enough for a finger, and the
    page itself does not scroll."""
    for selector in BAR:
        box = on_first_screen(page, selector)
        assert box["width"] >= MIN_TARGET_PX and box["height"] >= MIN_TARGET_PX, f"{selector} is too small: {box}"
    assert page.evaluate("() => document.scrollingElement.scrollHeight <= innerHeight + 1")
    stage = on_first_screen(page, "#stage")
    assert stage["width"] >= page.viewport_size["width"] - 1 or stage["height"] >= 0.5 * page.viewport_size["height"]


def small_targets(page: Page, container: str) -> list[str]:
    return page.evaluate(
        """([container, least]) => [...document.querySelectorAll(
              `${container} button, ${container} select, ${container} input, ${container} .button`)]
            .filter(e => e.checkVisibility() && !['range', 'checkbox', 'file'].includes(e.type))
            .map(e => [e.id || e.className || e.tagName, e.getBoundingClientRect()])
            .filter(([, r]) => r.width < least - 0.5 || r.height < least - 0.5)  // layout rounds at 2.625 dppx
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        [container, MIN_TARGET_PX],
    )


class Fingers:
    """Touches on the screen as the touchscreen sends them (one session keeps what is down)."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)

    def __call__(self, kind: str, *points: tuple[float, float], at: float | None = None) -> None:
        touch_points = [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]
        stamp = {} if at is None else {"timestamp": at}
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points, **stamp})


def test_a_booth_on_two_phones(open_page: OpenPage, playwright: Playwright, fake_media: FakeMedia) -> None:
    picture = fake_media.reference.astype(float)
    ana = open_page(diagnostics_url("/"), **phone(playwright, "Pixel 7", "en-US"))
    ana.evaluate(NO_REMOVAL)
    ana.fill("#name", "Ana")
    ana.tap("#create")
    ana.wait_for_selector("#enter")
    link = ana.input_value("#invite-link")
    ana.tap("#enter")

    bo = open_page(diagnostics_url(link), **phone(playwright, "iPhone 14", "ko-KR"))
    bo.evaluate(NO_REMOVAL)
    # The keyboard opening (the viewport shrinking under it) leaves the name field in view.
    upright = bo.viewport_size
    bo.tap("#name")
    bo.set_viewport_size({"width": upright["width"], "height": 330})
    assert poll(lambda: bo.evaluate("() => { const r = document.querySelector('#name').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight }"), timeout=5)
    bo.set_viewport_size(upright)
    bo.fill("#name", "Bo")
    bo.tap("#join")
    ana_id, bo_id = all_on_stage([ana, bo])

    # Ana began the booth on an upright phone: the frame is 3:4, for everyone.
    assert poll(lambda: state(bo)["stage"]["aspect"] == "3:4", timeout=10), state(bo)["stage"]
    for page in (ana, bo):
        assert_in_reach(page)

    # More -> Invite: a sheet over the stage with a QR code that a phone's camera reads as the link.
    ana.tap("#open-more")
    on_first_screen(ana, "[data-sheet=more]")
    assert small_targets(ana, "[data-sheet=more]") == []
    ana.tap("#open-invite")
    assert ana.is_hidden("[data-sheet=more]")
    on_first_screen(ana, "#invite-qr")
    code = Image.open(io.BytesIO(ana.locator("#invite-qr").screenshot()))
    assert [found.text for found in zxingcpp.read_barcodes(code)] == [link]
    assert small_targets(ana, "[data-sheet=invite]") == []
    ana.tap("[data-sheet=invite] .sheet-close")
    assert ana.is_hidden("[data-sheet=invite]")
    for sheet in ("background", "stickers", "devices", "people"):
        ana.tap("#open-more")
        ana.tap(f"#open-{sheet}")
        on_first_screen(ana, f"[data-sheet={sheet}] .sheet-close")
        assert small_targets(ana, f"[data-sheet={sheet}]") == [], sheet
    ana.tap("#open-effects")  # one sheet at a time: this one takes the other's place
    assert ana.is_hidden("[data-sheet=people]")
    assert small_targets(ana, "[data-sheet=effects]") == []
    ana.tap(".sheet-scrim", position={"x": 20, "y": 20})  # a tap on the dimmed stage closes it
    assert ana.is_hidden("[data-sheet=effects]")

    # A double tap on Ana brings her in front of Bo, on both phones.
    touch = Fingers(ana)
    width, height = size(ana)
    start = layer(ana, ana_id)
    centre = client_point(ana, (start["x"] * width, start["y"] * height))
    # Stamped as a person's fingers tap: a busy page may take longer to receive them.
    now = time.time()
    for tap in (0.0, 0.15):
        touch("touchStart", centre, at=now + tap)
        touch("touchEnd", at=now + tap + 0.06)
    assert poll(lambda: layer(bo, ana_id)["z"] > layer(bo, bo_id)["z"], timeout=10), state(bo)["layers"]

    # Two fingers on Ana: spread to 1.4 times as far apart while turning 30 degrees clockwise.
    start = layer(ana, ana_id)
    box = ana.locator("#stage").bounding_box()
    spread = 0.15 * start["scale"] * box["height"]
    for step in range(11):
        angle, factor = math.radians(3 * step), 1 + 0.04 * step
        dx, dy = spread * factor * math.cos(angle), spread * factor * math.sin(angle)
        touch("touchStart" if step == 0 else "touchMove", (centre[0] - dx, centre[1] - dy), (centre[0] + dx, centre[1] + dy))
    touch("touchEnd")
    pinched = layer(ana, ana_id)
    assert abs(pinched["scale"] / start["scale"] - 1.4) < 0.05, pinched
    assert abs(pinched["rotation"] - 30) < 2, pinched
    assert abs(pinched["x"] - start["x"]) < 0.02 and abs(pinched["y"] - start["y"]) < 0.02, pinched
    assert poll(lambda: (seen := layer(bo, ana_id)) and seen["scale"] == pinched["scale"] and seen["rotation"] == pinched["rotation"], timeout=10)
    seen = layer(bo, ana_id)
    assert poll(lambda: shows_at(bo, seen, picture) < 25, timeout=10), f"Ana is not drawn pinched on Bo's stage: error {shows_at(bo, seen, picture):.1f}"
    assert shows_at(bo, start, picture) > 40  # the check can fail: the old place no longer matches

    # Bo takes a photo with the shutter in his bar; it reaches both galleries.
    bo.tap("#shutter")
    for page in (ana, bo):
        page.wait_for_selector(".gallery-item[data-kind='photo']", state="attached", timeout=90_000)
    bo.tap("#open-more")
    bo.tap("#open-gallery")
    on_first_screen(bo, ".gallery-item[data-kind='photo'] .gallery-open")
    bo.tap("[data-sheet=gallery] .sheet-close")

    # Turning Ana's phone sideways re-lays out the room and keeps the call as it was.
    ana.tap("#mute")
    ana.set_viewport_size({"width": upright_of(ana)["height"], "height": upright_of(ana)["width"]})
    assert_in_reach(ana)
    assert ana.get_attribute("#mute", "aria-pressed") == "true"
    assert layer(ana, ana_id)["scale"] == pinched["scale"]
    assert poll(lambda: shows_at(ana, layer(ana, ana_id), picture) < 25, timeout=10)


def upright_of(page: Page) -> dict[str, int]:
    viewport = page.viewport_size
    return {"width": min(viewport.values()), "height": max(viewport.values())}
