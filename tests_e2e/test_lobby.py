"""The lobby and join screens: language, names, a blocked camera, leaving and coming back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests_e2e.test_call import create_booth, join, own_id, wait_connected

OpenPage = Callable[..., Page]

# The controls of the room's side panels that stick out of their panel (cut off at its edge).
CUT_OFF = """() => [...document.querySelectorAll('.panel')].filter((panel) => panel.checkVisibility()).flatMap((panel) => {
  const edge = panel.getBoundingClientRect();
  return [...panel.querySelectorAll('button, input, select, .button')].filter((e) => e.checkVisibility())
    .filter((e) => { const r = e.getBoundingClientRect(); return r.left < edge.left - 0.5 || r.right > edge.right + 0.5; })
    .map((e) => e.id || e.className);
})"""


def test_korean_browser_gets_korean_and_the_choice_sticks(open_page: OpenPage) -> None:
    page = open_page("/", locale="ko-KR")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.inner_text("h1") == "멀리 있는 친구들과 함께 찍는 포토부스."
    assert page.inner_text("#create") == "부스 만들기"
    page.select_option("#language", "en")
    assert page.inner_text("h1") == "A photo booth for friends who are far apart."
    assert page.get_attribute("#name", "placeholder") == "How friends see you"
    page.reload()
    page.wait_for_selector("html[data-ready='1']", state="attached")
    assert page.inner_text("#create") == "Create a booth"


@pytest.mark.parametrize("name", ["", "    ", "x" * 40, "Eve\u202e"], ids=["empty", "blank", "too-long", "bidi"])
def test_invalid_name_is_explained_and_creates_nothing(open_page: OpenPage, name: str) -> None:
    page = open_page("/")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#name", name)
    page.click("#create")
    page.wait_for_selector("#name-error:not([hidden])", state="attached")
    assert "1-32 characters" in page.inner_text("#name-error")
    assert posts == [] and page.is_hidden("#invite")


def test_name_is_remembered(open_page: OpenPage) -> None:
    page = open_page("/")
    page.fill("#name", "민지")
    page.click("#create")
    page.wait_for_selector("#invite-link")
    page.goto(page.url.split("/r/")[0] + "/")
    page.wait_for_selector("html[data-ready='1']", state="attached")
    assert page.input_value("#name") == "민지"


def test_blocked_camera_is_explained_and_the_booth_still_works(open_page: OpenPage, playwright) -> None:  # type: ignore[no-untyped-def]
    flags = [f for f in CHROMIUM_FLAGS if f != "--use-fake-ui-for-media-stream"]
    strict = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
    try:
        page = open_page("/", browser=strict, permissions=[])
        page.wait_for_selector("#media-notice:not([hidden])", state="attached")
        assert "blocked" in page.inner_text("#media-notice")
        page.fill("#name", "Shy")
        page.click("#create")
        page.click("#enter")
        page.wait_for_selector("html[data-screen='room']", state="attached")
        assert page.inner_text(".tile[data-self] .tile-status") == "Camera off"
    finally:
        strict.close()


def test_leaving_and_coming_back(open_page: OpenPage) -> None:
    ana, link = create_booth(open_page, "Ana")
    bo = join(open_page, link, "Bo")
    ana_id, bo_id = own_id(ana), own_id(bo)
    wait_connected(ana, bo_id)
    assert ana.evaluate(CUT_OFF) == []
    bo.click("#leave")
    bo.wait_for_selector("html[data-screen='lobby']", state="attached")
    ana.wait_for_selector(f'.tile[data-peer="{bo_id}"]', state="detached")
    assert ana.is_visible("#alone")
    bo.goto(link)
    bo.wait_for_selector("html[data-ready='1']", state="attached")
    assert bo.input_value("#name") == "Bo"
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    wait_connected(ana, own_id(bo))
    wait_connected(bo, ana_id)
    assert ana.locator(".tile").count() == 2


@pytest.mark.parametrize(
    "remove, message",
    [
        ("delete window.RTCPeerConnection", "does not support WebRTC"),
        (
            (
                "const get = HTMLCanvasElement.prototype.getContext;"
                "HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {"
                "  return kind === 'webgl2' ? null : get.call(this, kind, ...rest); }"
            ),
            "does not support WebGL2",
        ),
    ],
    ids=["no-webrtc", "no-webgl2"],
)
def test_a_browser_without_what_clov_needs_is_told_so(open_page: OpenPage, remove: str, message: str) -> None:
    page = open_page("/", ready=False)
    page.context.add_init_script(remove)
    page.reload()
    page.wait_for_selector("html[data-screen='unsupported']", state="attached", timeout=60_000)
    assert message in page.inner_text("main")


def test_too_many_booths_from_one_address_is_explained(open_page: OpenPage, start_app_server) -> None:  # type: ignore[no-untyped-def]
    server = start_app_server(CLOV_ROOM_CREATE_BURST="1", CLOV_ROOM_CREATE_RATE="0.01")
    first = open_page(server.url("/"))
    first.fill("#name", "Ana")
    first.click("#create")
    first.wait_for_selector("#invite-link")
    second = open_page(server.url("/"))
    second.fill("#name", "Bo")
    second.click("#create")
    second.wait_for_selector("#lobby-error:not([hidden])", state="attached")
    assert "Too many attempts" in second.inner_text("#lobby-error")
    assert second.is_enabled("#create") and second.is_hidden("#invite")
