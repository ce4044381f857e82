"""4-cut print layout and drawing (frontend_py/photostrip.py), against a fake canvas context."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from frontend_py.photostrip import (
    CAPTION_MAX,
    FRAMES,
    WORDMARK,
    Rect,
    cover_crop,
    draw,
    footer,
    normalise_caption,
    panels,
    size,
)

KINDS = ["strip", "card"]


@dataclass(frozen=True)
class Image:
    width: int
    height: int


class FakeContext:
    """Records every method call with the state (fill, font, alignment) it was made in."""

    def __init__(self) -> None:
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "state", {})
        object.__setattr__(self, "saved", [])

    def __setattr__(self, name: str, value: Any) -> None:
        self.state[name] = value

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> None:
            if name == "save":
                self.saved.append(dict(self.state))
            elif name == "restore":
                self.state.clear()
                self.state.update(self.saved.pop())
            self.calls.append((name, args, dict(self.state)))

        return call

    def named(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, state) for called, args, state in self.calls if called == name]


def overlaps(a: Rect, b: Rect) -> bool:
    return min(a.x + a.width, b.x + b.width) > max(a.x, b.x) and min(a.y + a.height, b.y + b.height) > max(
        a.y, b.y
    )


def inside(rect: Rect, width: float, height: float) -> bool:
    return rect.x >= 0 and rect.y >= 0 and rect.x + rect.width <= width and rect.y + rect.height <= height


def test_sizes_are_print_sizes_at_300_dpi() -> None:
    assert size("strip") == (600, 1800)
    assert size("card") == (1200, 1800)


def test_strip_is_four_stacked_landscape_panels() -> None:
    rects = panels("strip")
    assert rects == [Rect(24, 24 + i * (378 + 18), 552, 378) for i in range(4)]
    assert footer("strip") == Rect(24, 1608, 552, 168)


def test_card_is_two_by_two_portrait_panels() -> None:
    rects = panels("card")
    assert rects == [
        Rect(40, 40, 545, 749),
        Rect(615, 40, 545, 749),
        Rect(40, 819, 545, 749),
        Rect(615, 819, 545, 749),
    ]
    assert footer("card") == Rect(40, 1598, 1120, 162)


@pytest.mark.parametrize("kind", KINDS)
def test_panels_fit_without_overlapping_and_the_footer_is_below(kind: str) -> None:
    width, height = size(kind)
    rects, band = panels(kind), footer(kind)
    assert len(rects) == 4
    assert all(inside(rect, width, height) for rect in [*rects, band])
    assert not any(overlaps(a, b) for a, b in itertools.combinations([*rects, band], 2))
    assert band.y >= max(rect.y + rect.height for rect in rects)
    # Proportions a print should have: margins 3-4% of the width, footer 8-10% of the height.
    assert 0.03 * width <= rects[0].x <= 0.04 * width
    assert 0.08 * height <= band.height <= 0.10 * height
    # Whole pixels and no slack: the bottom margin equals the side margin.
    assert all(float(v).is_integer() for rect in rects for v in (rect.x, rect.y, rect.width, rect.height))
    assert height - (band.y + band.height) == rects[0].x == width - (rects[-1].x + rects[-1].width)


def test_strip_panels_are_landscape_and_card_panels_portrait() -> None:
    strip, card = panels("strip")[0], panels("card")[0]
    assert 1.3 < strip.width / strip.height < 1.6
    assert 0.65 < card.width / card.height < 0.8


@pytest.mark.parametrize(
    ("src", "panel", "expected"),
    [
        ((1920, 1080), (552, 378), Rect((1920 - 1080 * 552 / 378) / 2, 0, 1080 * 552 / 378, 1080)),
        ((480, 640), (552, 378), Rect(0, (640 - 480 * 378 / 552) / 2, 480, 480 * 378 / 552)),
        ((1920, 1080), (545, 749), Rect((1920 - 1080 * 545 / 749) / 2, 0, 1080 * 545 / 749, 1080)),
        ((300, 3000), (545, 749), Rect(0, (3000 - 300 * 749 / 545) / 2, 300, 300 * 749 / 545)),
        ((800, 600), (400, 300), Rect(0, 0, 800, 600)),
    ],
)
def test_cover_crop_is_the_centred_part_with_the_panel_aspect(
    src: tuple[int, int], panel: tuple[int, int], expected: Rect
) -> None:
    crop = cover_crop(*src, *panel)
    assert crop.x == pytest.approx(expected.x)
    assert crop.y == pytest.approx(expected.y)
    assert crop.width == pytest.approx(expected.width)
    assert crop.height == pytest.approx(expected.height)
    assert crop.width / crop.height == pytest.approx(panel[0] / panel[1])
    # Centred and inside the source, touching both sides of one axis.
    assert crop.x * 2 + crop.width == pytest.approx(src[0])
    assert crop.y * 2 + crop.height == pytest.approx(src[1])
    assert crop.width == pytest.approx(src[0]) or crop.height == pytest.approx(src[1])


@pytest.mark.parametrize("sizes", [(0, 480, 10, 10), (640, 480, 10, 0), (-1, 480, 10, 10)])
def test_cover_crop_refuses_empty_sizes(sizes: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        cover_crop(*sizes)


@pytest.mark.parametrize("kind", KINDS)
def test_draw_puts_each_photo_in_its_panel_cropped_to_the_panel_aspect(kind: str) -> None:
    ctx = FakeContext()
    photos = [Image(1280, 720), Image(480, 640), Image(1000, 1000), Image(720, 1280)]
    draw(ctx, kind, "pink", photos, "친구들이랑", "2024.05.01")
    drawn = ctx.named("drawImage")
    assert len(drawn) == 4
    for (args, _), photo, panel in zip(drawn, photos, panels(kind)):
        image, sx, sy, sw, sh, dx, dy, dw, dh = args
        assert image is photo
        assert (dx, dy, dw, dh) == (panel.x, panel.y, panel.width, panel.height)
        assert Rect(sx, sy, sw, sh) == cover_crop(photo.width, photo.height, panel.width, panel.height)
        assert sw / sh == pytest.approx(panel.width / panel.height)
    assert not any(args[2:] == (p.width, p.height) for args, _ in ctx.named("fillRect") for p in panels(kind))


def test_draw_fills_the_background_then_placeholders_for_missing_photos() -> None:
    ctx = FakeContext()
    rects = panels("strip")
    draw(ctx, "strip", "mint", [Image(640, 480), None, Image(0, 0)], "", "2024.05.01")
    fills = ctx.named("fillRect")
    assert fills[0] == ((0, 0, 600, 1800), fills[0][1])
    assert fills[0][1]["fillStyle"] == FRAMES["mint"].background
    placeholders = [args for args, state in fills if state["fillStyle"] == FRAMES["mint"].placeholder]
    # None, a 0x0 (closed) bitmap and the photo never passed all get the placeholder.
    assert placeholders == [(r.x, r.y, r.width, r.height) for r in rects[1:]]
    assert [args[0] for args, _ in ctx.named("drawImage")] == [Image(640, 480)]


def test_draw_writes_caption_and_date_in_the_footer() -> None:
    ctx = FakeContext()
    caption = "우리친구" * 20  # 80 Hangul syllables before it is cut
    draw(ctx, "card", "black", [None] * 4, caption, "2024.05.01")
    texts = ctx.named("fillText")
    band = footer("card")
    written = [args[0] for args, _ in texts]
    assert written[0] == normalise_caption(caption)
    assert len(written[0]) == CAPTION_MAX and written[0].endswith("…")
    assert "2024.05.01" in written[1] and WORDMARK in written[1]
    for (text, x, y, max_width), state in texts:
        assert state["fillStyle"] == FRAMES["black"].text
        assert state["textAlign"] == "center"
        assert x == band.x + band.width / 2
        assert band.y < y < band.y + band.height
        assert max_width <= band.width
        assert '"Noto Sans KR"' in state["font"]
    # The caption is bigger than the line under it, and stays below the footer's height.
    first_px, second_px = (int(state["font"].split()[1].removesuffix("px")) for _, state in texts)
    assert second_px < first_px <= band.height * 0.3
    # A wide Hangul caption (about 1 em a syllable: 39 of them and the ellipsis) is shrunk to
    # fit the footer, not left to overflow, and no further than that.
    syllables = CAPTION_MAX - 1
    assert first_px * syllables <= band.width * 0.92 < (first_px + 1) * syllables


def test_draw_without_caption_prints_the_wordmark_and_date() -> None:
    ctx = FakeContext()
    draw(ctx, "strip", "white", [], None, "2024.05.01")
    assert [args[0] for args, _ in ctx.named("fillText")] == [WORDMARK, "2024.05.01"]


def test_draw_leaves_the_context_state_as_it_found_it() -> None:
    ctx = FakeContext()
    ctx.fillStyle = "red"
    draw(ctx, "strip", "lavender", [Image(10, 10)] * 4, "hi", "today")
    names = [name for name, _, _ in ctx.calls]
    assert names[0] == "save" and names[-1] == "restore"
    assert ctx.state == {"fillStyle": "red"}


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        (None, ""),
        ("  hello\n\tworld \x00! ", "hello world !"),
        ("\u1100\u1161\u11a8", "각"),  # decomposed jamo become one syllable (NFC)
        ("a" * CAPTION_MAX, "a" * CAPTION_MAX),
        ("a" * (CAPTION_MAX + 1), "a" * (CAPTION_MAX - 1) + "…"),
        ("x" * 38 + " yz", "x" * 38 + "…"),  # no space left dangling before the ellipsis
    ],
)
def test_captions_are_normalised(raw: str | None, printed: str) -> None:
    assert normalise_caption(raw) == printed


@pytest.mark.parametrize(
    "call",
    [
        lambda: size("polaroid"),
        lambda: panels("Strip"),
        lambda: footer(""),
        lambda: draw(FakeContext(), "wallet", "white", [], "", ""),
        lambda: draw(FakeContext(), "strip", "gold", [], "", ""),
        lambda: draw(FakeContext(), "strip", "white", [None] * 5, "", ""),
    ],
)
def test_unknown_kinds_frames_and_too_many_photos_are_refused(call: Any) -> None:
    with pytest.raises(ValueError):
        call()
