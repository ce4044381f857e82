"""Take the README's screenshots (docs/*.png): the lobby with its invite, the join screen, the
stage with two friends, the same after one of them rearranged it (sunglasses, a sticker,
another background), a countdown, and the photo it took, open in the gallery.

    .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --phone

`--phone` takes the phone screens instead (docs/phone/): the lobby, the join screen, the room
with two people, an open sheet and the gallery, on Chromium's "Pixel 7" and "iPhone 14"
emulation, in English and Korean (two booths, each with one phone of each kind).

Runs Chromium with the astronaut photo as camera, in a loopback-only network namespace.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright

from bench.join import isolate
from tests.conftest import Server
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, PERMISSIONS
from tests_e2e.media import make_fake_media

VIEWPORT = {"width": 1280, "height": 760}


def main() -> None:
    isolate()
    work = Path(tempfile.mkdtemp())
    media = make_fake_media(work)
    server = Server(work, CLOV_LOG_LEVEL="warning").start()
    try:
        with sync_playwright() as playwright:
            flags = [*CHROMIUM_FLAGS, *media.chromium_flags()]
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)

            def page(url: str, locale: str = "en-US"):  # type: ignore[no-untyped-def]
                context = browser.new_context(viewport=VIEWPORT, permissions=PERMISSIONS, locale=locale)
                opened = context.new_page()
                opened.goto(url)
                opened.wait_for_selector("html[data-ready='1']", state="attached", timeout=60_000)
                return opened

            host = page(server.http + "/")
            host.wait_for_timeout(800)
            host.fill("#name", "Ana")
            host.click("#create")
            host.wait_for_selector("#invite-link")
            host.screenshot(path=str(ROOT / "docs" / "invite.png"))
            link = host.input_value("#invite-link")
            host.click("#enter")

            guest = page(link, locale="ko-KR")
            guest.fill("#name", "민지")
            guest.wait_for_timeout(800)
            guest.screenshot(path=str(ROOT / "docs" / "join.png"))
            guest.click("#join")
            host.wait_for_selector(".tile:not([data-self])[data-connected]", state="attached", timeout=30_000)
            # Her models load once the first frames have crossed; until then she is sent blurred.
            host.wait_for_timeout(10_000)
            host.screenshot(path=str(ROOT / "docs" / "room.png"))
            host.click("[data-overlay='sunglasses']")
            guest.click("[data-overlay='crown']")
            host.click("[data-background='sunset']")
            host.click("[data-sticker='bunny-ears']")
            host.wait_for_timeout(5000)
            host.screenshot(path=str(ROOT / "docs" / "stage.png"))
            host.evaluate("() => window.scrollTo(0, 0)")
            host.click("#stage", position={"x": 5, "y": 5})  # nothing selected: the stage as friends see it
            guest.click("#shutter")
            host.wait_for_function("() => document.querySelector('#countdown-number').textContent === '3'", timeout=10_000)
            host.screenshot(path=str(ROOT / "docs" / "countdown.png"))
            host.wait_for_selector(".gallery-item[data-kind='photo']", timeout=60_000)
            host.wait_for_timeout(3000)
            host.click(".gallery-item .gallery-open")
            host.wait_for_timeout(800)
            host.screenshot(path=str(ROOT / "docs" / "gallery.png"))
            browser.close()
    finally:
        server.stop()
    print("wrote docs/invite.png, docs/join.png, docs/room.png, docs/stage.png, docs/countdown.png, docs/gallery.png")


PHONES = ("Pixel 7", "iPhone 14")


def phones() -> None:
    isolate()
    work = Path(tempfile.mkdtemp())
    media = make_fake_media(work)
    server = Server(work, CLOV_LOG_LEVEL="warning").start()
    out = ROOT / "docs" / "phone"
    out.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            flags = [*CHROMIUM_FLAGS, *media.chromium_flags()]
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)

            def page(device: str, language: str, url: str):  # type: ignore[no-untyped-def]
                options = {key: value for key, value in playwright.devices[device].items() if key != "default_browser_type"}
                context = browser.new_context(**options, permissions=PERMISSIONS, locale={"en": "en-US", "ko": "ko-KR"}[language])
                opened = context.new_page()
                opened.goto(url)
                opened.wait_for_selector("html[data-ready='1']", state="attached", timeout=60_000)
                return opened

            def shot(opened, device: str, language: str, what: str) -> None:  # type: ignore[no-untyped-def]
                name = device.lower().replace(" ", "")
                opened.screenshot(path=str(out / f"{name}-{language}-{what}.png"), scale="css")

            for host_language, guest_language in (("en", "ko"), ("ko", "en")):
                host_device, guest_device = PHONES
                host = page(host_device, host_language, server.http + "/")
                host.fill("#name", {"en": "Ana", "ko": "지우"}[host_language])
                host.wait_for_timeout(800)
                shot(host, host_device, host_language, "lobby")
                host.tap("#create")
                host.wait_for_selector("#invite-link")
                link = host.input_value("#invite-link")
                host.tap("#enter")
                guest = page(guest_device, guest_language, link)
                guest.fill("#name", {"en": "Bo", "ko": "민지"}[guest_language])
                guest.wait_for_timeout(800)
                shot(guest, guest_device, guest_language, "join")
                guest.tap("#join")
                for opened in (host, guest):
                    opened.wait_for_selector(".tile:not([data-self])[data-connected]", state="attached", timeout=60_000)
                host.wait_for_timeout(5000)
                for opened, device, language in ((host, host_device, host_language), (guest, guest_device, guest_language)):
                    shot(opened, device, language, "room")
                host.tap("#open-more")  # the More sheet's choices, and one of the sheets they open
                guest.tap("#open-more")
                guest.tap("#open-background")
                host.wait_for_timeout(600)
                shot(host, host_device, host_language, "sheet")
                shot(guest, guest_device, guest_language, "sheet")
                host.tap("[data-sheet=more] .sheet-close")
                guest.tap("[data-sheet=background] .sheet-close")
                guest.tap("#shutter")
                for opened, device, language in ((host, host_device, host_language), (guest, guest_device, guest_language)):
                    opened.wait_for_selector(".gallery-item[data-kind='photo']", state="attached", timeout=60_000)
                    opened.wait_for_timeout(2500)
                    opened.tap("#open-more")
                    opened.tap("#open-gallery")
                    opened.wait_for_timeout(600)
                    shot(opened, device, language, "gallery")
                # The lobby and the join screen on the other phone of each pair as well.
                lobby = page(guest_device, guest_language, server.http + "/")
                lobby.fill("#name", {"en": "Bo", "ko": "민지"}[guest_language])
                lobby.wait_for_timeout(800)
                shot(lobby, guest_device, guest_language, "lobby")
                invited = page(host_device, host_language, link)
                invited.fill("#name", {"en": "Ana", "ko": "지우"}[host_language])
                invited.wait_for_timeout(800)
                shot(invited, host_device, host_language, "join")
                for opened in (host, guest, lobby, invited):
                    opened.context.close()
            browser.close()
    finally:
        server.stop()
    print(f"wrote {len(list(out.glob('*.png')))} screenshots in docs/phone/")


if __name__ == "__main__":
    os.chdir(ROOT)
    phones() if "--phone" in sys.argv[1:] else main()
