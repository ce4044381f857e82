"""The shared stage with three people (and a late fourth): free layout, convergence, backgrounds.

Background removal is off here: each person is then their whole camera picture, so where a
layer lands on a stage canvas can be checked pixel by pixel against the camera picture put
through the layout's own transform maths.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from frontend_py.i18n import STRINGS
from frontend_py.layout import LayerState
from frontend_py.transform import map_point, matrix
from tests_e2e.conftest import diagnostics_url
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import own_id, poll, wait_connected

OpenPage = Callable[..., Page]
NO_REMOVAL = "localStorage.setItem('clov.removeBackground', '0')"
STAGE_PNG = "() => clovStagePng()"


def state(page: Page) -> dict:  # type: ignore[type-arg]
    return json.loads(page.evaluate("() => clovStage()"))


def size(page: Page) -> tuple[int, int]:
    """The stage canvas in pixels (half of 1280x720 on a software GPU such as this one's)."""
    report = state(page)
    return report["width"], report["height"]


def layer(page: Page, layer_id: str) -> dict | None:  # type: ignore[type-arg]
    return next((item for item in state(page)["layers"] if item["id"] == layer_id), None)


def layer_state(item: dict) -> LayerState:  # type: ignore[type-arg]
    fields = {key: item[key] for key in ("id", "kind", "x", "y", "scale", "rotation", "opacity", "z")}
    return LayerState(**fields)


def stage_pixels(page: Page) -> np.ndarray:
    url = page.evaluate(STAGE_PNG)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(float)


def shows_at(page: Page, item: dict, picture: np.ndarray) -> float:  # type: ignore[type-arg]
    """Median colour error between the stage and the picture drawn at `item`'s transform."""
    return layer_error(stage_pixels(page), item, picture)


def layer_error(pixels: np.ndarray, item: dict, picture: np.ndarray) -> float:  # type: ignore[type-arg]
    """Median colour error between `pixels` (a stage or a photo) and the picture drawn at
    `item`'s transform, over points well inside the layer."""
    height, width = pixels.shape[:2]
    to_layer = matrix(layer_state(item), item["aspect"], width, height)
    errors = []
    for u in np.linspace(-0.38, 0.38, 9):
        for v in np.linspace(-0.38, 0.38, 9):
            x, y = map_point(to_layer, (u, v))
            if not (0 <= x < width and 0 <= y < height):
                continue
            px = int((u + 0.5) * picture.shape[1])
            py = int((v + 0.5) * picture.shape[0])
            errors.append(np.abs(pixels[int(y), int(x)] - picture[py, px]).mean())
    return float(np.median(errors)) if errors else 999.0


def client_point(page: Page, point: tuple[float, float]) -> tuple[float, float]:
    box = page.locator("#stage").bounding_box()
    s = state(page)
    return box["x"] + point[0] * box["width"] / s["width"], box["y"] + point[1] * box["height"] / s["height"]


def enter(open_page: OpenPage, url: str, name: str, create: bool = False) -> Page:
    page = open_page(diagnostics_url(url))
    page.evaluate(NO_REMOVAL)
    page.fill("#name", name)
    if create:
        page.click("#create")
        page.wait_for_selector("#enter")
        page.click("#enter")
    else:
        page.click("#join")
    page.wait_for_selector("html[data-screen='room']", state="attached")
    return page


@pytest.fixture
def trio(open_page: OpenPage) -> tuple[list[Page], list[str], str]:
    ana = enter(open_page, "/", "Ana", create=True)
    link = ana.input_value("#invite-link") if ana.is_visible("#invite-link") else ana.evaluate("() => location.href")
    pages = [ana, enter(open_page, link, "Bo"), enter(open_page, link, "Cy")]
    return pages, all_on_stage(pages), link


def all_on_stage(pages: list[Page]) -> list[str]:
    """Wait until every page is connected to every other and shows everyone; their ids."""
    ids = [own_id(page) for page in pages]
    for page, me in zip(pages, ids):
        for other in ids:
            if other != me:
                wait_connected(page, other, timeout=60_000)
    assert poll(lambda: all(len(state(page)["layers"]) == len(pages) for page in pages), timeout=30)
    return ids


def same_layout(pages: list[Page]) -> bool:
    layouts = [[{k: v for k, v in item.items() if k != "corners"} for item in state(page)["layers"]] for page in pages]
    return all(layout == layouts[0] for layout in layouts)


def test_one_drags_and_rotates_another_and_everyone_sees_it(trio, fake_media: FakeMedia) -> None:  # type: ignore[no-untyped-def]
    (ana, bo, cy), (_, bo_id, _), _ = trio
    picture = fake_media.reference.astype(float)
    # People stand side by side, not overlapping.
    boxes = sorted((item["corners"][0][0], item["corners"][1][0]) for item in state(ana)["layers"])
    assert all(left[1] <= right[0] + 1 for left, right in itertools.pairwise(boxes))

    start = layer(ana, bo_id)
    width, height = size(ana)
    centre = (start["x"] * width, start["y"] * height)
    ana.mouse.click(*client_point(ana, centre))
    ana.wait_for_selector("#layer-tools:not([hidden])")
    ana.click("#layer-forward")  # on top, so nothing hides it in the pixel check
    # Drag up and to the left by a seventh of the stage's width and a sixth of its height.
    dx, dy = -width / 7, -height / 6
    ana.mouse.move(*client_point(ana, centre))
    ana.mouse.down()
    for step in range(1, 11):
        ana.mouse.move(*client_point(ana, (centre[0] + dx * step / 10, centre[1] + dy * step / 10)))
    ana.mouse.up()
    moved = layer(ana, bo_id)
    assert moved["x"] == pytest.approx(start["x"] - 1 / 7, abs=0.01)
    assert moved["y"] == pytest.approx(start["y"] - 1 / 6, abs=0.01)
    assert moved["auto"] is False
    # Make it 20% bigger with the bottom right handle: the centre stays where it is.
    corner = moved["corners"][2]
    middle = (moved["x"] * width, moved["y"] * height)
    ana.mouse.move(*client_point(ana, corner))
    ana.mouse.down()
    for step in range(1, 6):
        grown = 1 + 0.04 * step
        ana.mouse.move(*client_point(ana, (middle[0] + (corner[0] - middle[0]) * grown, middle[1] + (corner[1] - middle[1]) * grown)))
    ana.mouse.up()
    resized = layer(ana, bo_id)
    assert resized["scale"] == pytest.approx(moved["scale"] * 1.2, rel=0.03)
    assert (resized["x"], resized["y"]) == pytest.approx((moved["x"], moved["y"]))
    moved = resized
    # Turn it with the rotate handle: from above the top edge to the right of the centre.
    top_left, top_right = moved["corners"][0], moved["corners"][1]
    handle = ((top_left[0] + top_right[0]) / 2, (top_left[1] + top_right[1]) / 2 - 32 * state(ana)["resolution"])
    middle = (moved["x"] * width, moved["y"] * height)
    ana.mouse.move(*client_point(ana, handle))
    ana.mouse.down()
    radius = middle[1] - handle[1]
    for degrees in range(0, 31, 5):
        angle = math.radians(degrees)
        ana.mouse.move(*client_point(ana, (middle[0] + radius * math.sin(angle), middle[1] - radius * math.cos(angle))))
    ana.mouse.up()
    turned = layer(ana, bo_id)
    assert turned["rotation"] == pytest.approx(30, abs=2)

    for page in (bo, cy, ana):
        assert poll(lambda page=page: (item := layer(page, bo_id)) and item["rotation"] == turned["rotation"] and item["x"] == turned["x"], timeout=10)
        item = layer(page, bo_id)
        here = poll(lambda page=page, item=item: shows_at(page, item, picture) < 25, timeout=10)
        assert here, f"Bo's layer not drawn at its new place: error {shows_at(page, item, picture):.1f}"
        # The check can fail: the same points read with the old transform do not match.
        assert shows_at(page, start, picture) > 40


def test_concurrent_edits_converge(trio) -> None:  # type: ignore[no-untyped-def]
    pages, ids, _ = trio
    ana, bo, cy = pages
    target = ids[1]
    for page in (ana, cy):
        item = layer(page, target)
        page.mouse.click(*client_point(page, (item["x"] * size(page)[0], item["y"] * size(page)[1])))
        page.wait_for_selector("#layer-tools:not([hidden])")
    # Both edit the same layer at once: Ana nudges it right, Cy nudges it left and fades it.
    for _ in range(8):
        ana.keyboard.press("ArrowRight")
        cy.keyboard.press("ArrowLeft")
    cy.fill("#layer-opacity", "40")
    assert poll(lambda: same_layout(pages), timeout=15), [layer(page, target) for page in pages]
    final = layer(bo, target)
    assert final["opacity"] == pytest.approx(0.4)
    assert not final["auto"]

    # Bo reloads the page and joins again within a minute: back under the same id, and at
    # the place the others had given him, on every stage.
    bo.reload()
    bo.wait_for_selector("html[data-ready='1']", state="attached", timeout=60_000)
    bo.fill("#name", "Bo")
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    assert own_id(bo) == target
    for page in pages:
        assert poll(lambda page=page: (item := layer(page, target)) and item["x"] == final["x"] and item["opacity"] == final["opacity"], timeout=30)


def png_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


DROP = """async ([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type}));
  const frame = document.querySelector('.stage-frame');
  frame.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
  frame.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


def drop(page: Page, data: bytes, name: str, mime: str = "") -> None:
    page.evaluate(DROP, [base64.b64encode(data).decode(), name, mime])


def test_dropped_background_reaches_everyone_and_a_late_joiner(trio, open_page: OpenPage) -> None:  # type: ignore[no-untyped-def]
    pages, ids, link = trio
    ana, bo, _ = pages
    # Left half red, right half blue, with noise so the JPEG is not tiny: 1600x1200.
    rng = np.random.default_rng(1)
    art = np.zeros((1200, 1600, 3), np.uint8)
    art[:, :800] = (220, 30, 40)
    art[:, 800:] = (30, 60, 220)
    art = np.clip(art.astype(int) + rng.integers(-12, 12, art.shape), 0, 255).astype(np.uint8)
    drop(bo, png_bytes(Image.fromarray(art)), "holiday.png", "image/png")

    def has_image(page: Page) -> bool:
        return state(page)["stage"]["background"].startswith("img:")

    assert poll(lambda: all(has_image(page) for page in pages), timeout=30)
    background = state(bo)["stage"]["background"]

    def corners_coloured(page: Page) -> bool:
        pixels = stage_pixels(page)
        left, right = pixels[10:30, 10:30].mean(axis=(0, 1)), pixels[10:30, -30:-10].mean(axis=(0, 1))
        return left[0] > 150 and left[2] < 90 and right[2] > 150 and right[0] < 90

    for page in pages:
        assert poll(lambda page=page: corners_coloured(page), timeout=30), "the dropped image is not on every stage"

    # Someone rearranges, then a fourth person arrives and sees both.
    item = layer(ana, ids[2])
    ana.mouse.click(*client_point(ana, (item["x"] * size(ana)[0], item["y"] * size(ana)[1])))
    ana.wait_for_selector("#layer-tools:not([hidden])")
    for _ in range(5):
        ana.keyboard.press("Shift+ArrowUp")
    assert poll(lambda: same_layout(pages), timeout=15)
    expected = layer(ana, ids[2])
    dee = enter(open_page, link, "Dee")
    assert poll(lambda: (item := layer(dee, ids[2])) and item["y"] == expected["y"] and item["x"] == expected["x"], timeout=30)
    assert poll(lambda: state(dee)["stage"]["background"] == background, timeout=30)
    assert poll(lambda: corners_coloured(dee), timeout=30), "the late joiner does not see the background"


def test_bad_files_are_refused_with_their_reason(open_page: OpenPage) -> None:
    page = enter(open_page, "/", "Ana", create=True)
    page.wait_for_function("() => globalThis.clovStage && JSON.parse(clovStage()).layers.length === 1")
    before = state(page)["stage"]["background"]
    header = png_bytes(Image.new("RGB", (64, 64), (1, 2, 3)))
    enormous = bytearray(header[:33])
    enormous[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")
    enormous[29:33] = zlib.crc32(bytes(enormous[12:29])).to_bytes(4, "big")
    cases = [
        (b"just some notes, not a picture\n", "photo.png", "background.not_image"),
        (header[:30], "cut.png", "background.truncated"),
        (bytes(enormous) + header[33:], "huge.png", "background.too_many_pixels"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "background.not_image"),
    ]
    for data, name, key in cases:
        drop(page, data, name)
        page.wait_for_selector("#background-error:not([hidden])")
        assert page.inner_text("#background-error") == STRINGS["en"][key], name
        assert state(page)["stage"]["background"] == before
        page.evaluate("() => document.querySelector('#background-error').hidden = true")
    # Stickers come and go; the frame turns portrait and the person is placed again.
    page.click("[data-sticker='crown']")
    assert poll(lambda: [item["kind"] for item in state(page)["layers"]] == ["person", "sticker"])
    page.click("#layer-delete")
    assert poll(lambda: len(state(page)["layers"]) == 1)
    page.select_option("#aspect", "3:4")
    assert poll(lambda: size(page)[1] / size(page)[0] == pytest.approx(960 / 720))
    (person,) = state(page)["layers"]
    assert person["auto"] and person["corners"][2][1] <= size(page)[1]
    assert page.get_attribute(".stage-frame", "data-aspect") == "3:4"
    # Through the file picker too, and a good file afterwards is taken.
    page.set_input_files("#background-file", files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0" + b"\0" * 8}])
    page.wait_for_selector("#background-error:not([hidden])")
    assert page.inner_text("#background-error") == STRINGS["en"]["background.truncated"]
    good = png_bytes(Image.new("RGB", (640, 360), (250, 200, 0)))
    page.set_input_files("#background-file", files=[{"name": "sun.png", "mimeType": "image/png", "buffer": good}])
    assert poll(lambda: state(page)["stage"]["background"].startswith("img:"), timeout=20)
    assert page.is_hidden("#background-error")


def test_a_finger_drags_a_layer(open_page: OpenPage) -> None:
    page = open_page(diagnostics_url("/"), has_touch=True)
    page.evaluate(NO_REMOVAL)
    page.fill("#name", "Ana")
    page.click("#create")
    page.wait_for_selector("#enter")
    page.click("#enter")
    page.wait_for_function("() => globalThis.clovStage && JSON.parse(clovStage()).layers.length === 1")
    (start,) = state(page)["layers"]
    width, height = size(page)
    x, y = client_point(page, (start["x"] * width, start["y"] * height))
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, at: tuple[float, float] | None) -> None:
        points = [] if at is None else [{"x": at[0], "y": at[1], "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", (x, y))
    for step in range(1, 9):
        touch("touchMove", (x + 10 * step, y - 5 * step))
    touch("touchEnd", None)
    assert poll(lambda: state(page)["layers"][0]["x"] > start["x"] + 0.02, timeout=10), state(page)["layers"]
    moved = state(page)["layers"][0]
    assert moved["y"] < start["y"] and moved["auto"] is False
