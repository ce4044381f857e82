"""AI backgrounds in the booth: a prompt typed in the panel becomes everyone's background through
a (fake, OpenAI-compatible) provider; "suggest a prompt" fills the box; a refused prompt is
explained and changes nothing; without a provider, the pattern painter's pictures are labelled."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from playwright.sync_api import Page

from frontend_py.i18n import STRINGS
from tests.fakeprovider import CHAT_MODEL, COLOURS, IMAGE_MODEL, KEY, FakeProvider
from tests_e2e.conftest import AppServer
from tests_e2e.test_call import poll
from tests_e2e.test_stage import all_on_stage, enter, stage_pixels, state

OpenPage = Callable[..., Page]
EN = STRINGS["en"]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def corners_are(page: Page, colour: tuple[int, int, int]) -> bool:
    """The stage's corners (where nobody stands) show the picked picture's colour."""
    pixels = stage_pixels(page)
    height, width = pixels.shape[:2]
    corner = pixels[: height // 8, : width // 8].reshape(-1, 3).mean(axis=0)
    return bool(np.abs(corner - np.array(colour)).max() < 25)


def generate(page: Page, prompt: str) -> None:
    page.fill("#ai-prompt", prompt)
    page.click("#generate")


def test_a_prompt_becomes_everyones_background(open_page: OpenPage, start_app_server: Callable[..., AppServer], provider: FakeProvider) -> None:
    server = start_app_server(
        CLOV_PROVIDER_URL=provider.url, CLOV_PROVIDER_PREFIX="compat", CLOV_PROVIDER_KEY=KEY,
        CLOV_IMAGE_MODEL=IMAGE_MODEL, CLOV_CHAT_MODEL=CHAT_MODEL, CLOV_PROVIDER_TIMEOUT="10",
    )
    ana = enter(open_page, server.url("/"), "Ana", create=True)
    link = ana.evaluate("() => location.href")
    pages = [ana, enter(open_page, link, "Bo"), enter(open_page, link, "Cy")]
    all_on_stage(pages)

    # "Suggest a prompt" fills the box with the chat model's idea, said to be one.
    ana.click("#suggest-prompt")
    assert poll(lambda: ana.input_value("#ai-prompt") == "A neon city at night", timeout=20)
    assert ana.inner_text("#ai-suggest-note") == EN["ai.suggested_by_ai"]

    # A prompt and a style: three AI candidates; the second picked is on all three stages.
    ana.click("[data-style='watercolour']")
    generate(ana, "a beach at sunset")
    ana.wait_for_selector(".ai-candidate:nth-child(3)", timeout=30_000)
    assert ana.inner_text("#ai-source") == EN["ai.by_ai"]
    assert ana.locator(".ai-candidate .ai-badge").count() == 3
    asked = provider.asked("a beach at sunset")[-1]
    assert asked["auth"] == f"Bearer {KEY}"
    assert asked["json"]["model"] == IMAGE_MODEL and asked["json"]["n"] == 3
    assert "watercolour" in asked["json"]["prompt"]
    assert asked["json"]["size"] == "1536x1024"  # the model's landscape size for a 16:9 stage
    ana.click(".ai-candidate:nth-child(2)")
    for page in pages:
        assert poll(lambda page=page: state(page)["stage"]["background"].startswith("img:"), timeout=30), page.url
        assert poll(lambda page=page: corners_are(page, COLOURS[1]), timeout=15), "the picked picture is not on the stage"
    background = state(ana)["stage"]["background"]

    # A refused prompt: told to try another, and the background stays.
    generate(ana, "case:moderation a beach")
    ana.wait_for_selector("#ai-error:not([hidden])", timeout=20_000)
    assert ana.inner_text("#ai-error") == EN["ai.moderation"]
    assert ana.is_enabled("#generate")
    assert all(state(page)["stage"]["background"] == background for page in pages)

    # Cancel while the provider takes its time: the wait ends, nothing is changed or reported.
    shown = ana.get_attribute(".ai-candidate:nth-child(1) img", "src")
    generate(ana, "case:timeout a slow forest")
    ana.wait_for_selector("#ai-progress:not([hidden])", timeout=10_000)
    ana.click("#ai-cancel")
    ana.wait_for_selector("#ai-progress", state="hidden", timeout=5_000)
    assert ana.is_enabled("#generate") and ana.is_hidden("#ai-error")
    assert ana.get_attribute(".ai-candidate:nth-child(1) img", "src") == shown

    # An empty prompt never leaves the page.
    before = len(provider.requests)
    generate(ana, "   ")
    assert ana.inner_text("#ai-error") == EN["ai.empty"]
    assert len(provider.requests) == before


def test_without_a_provider_the_pictures_are_patterns_and_say_so(open_page: OpenPage) -> None:
    ko = STRINGS["ko"]
    page = enter(open_page, "/", "민지", create=True)
    page.select_option("#language", "ko")
    generate(page, "노을 지는 바다")
    page.wait_for_selector(".ai-candidate:nth-child(3)", timeout=60_000)
    assert page.inner_text("#ai-source") == ko["ai.pattern"]
    assert page.locator(".ai-badge").count() == 0
    page.click(".ai-candidate:nth-child(1)")
    assert poll(lambda: state(page)["stage"]["background"].startswith("img:"), timeout=30)
    pixels = stage_pixels(page)  # the left edge, where nobody stands: sunset sky above the sea
    height, width = pixels.shape[:2]
    sky = pixels[: height // 6, : width // 8].reshape(-1, 3).mean(axis=0)
    sea = pixels[-height // 6 :, : width // 8].reshape(-1, 3).mean(axis=0)
    assert sky[0] > sky[2], f"a sunset sky is warm: {sky}"
    assert sea[2] > sea[0], f"the sea is blue: {sea}"
