"""4-cut photo prints: where the panels and the footer go, and drawing them with Canvas 2D.

Sizes are print sizes at 300 dpi, the usual resolution for photo printing, so a saved print
comes out sharp at its real size: "strip" is the classic 2x6 inch booth strip (600x1800 px,
four landscape panels stacked), "card" a 4x6 inch postcard (1200x1800 px, four portrait
panels 2x2). Margins and gaps are whole pixels, 3-4% of the width, so panel edges fall on
pixel boundaries; the footer band under the panels, about 9% of the height, holds the caption,
the date and the CLOV wordmark. Pure Python (no `js`): tested in CPython.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CAPTION_MAX = 40
ELLIPSIS = "…"
FONT_STACK = 'system-ui, "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", NanumGothic, sans-serif'
PANEL_COUNT = 4
WORDMARK = "CLOV"


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in canvas pixels, y down."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Frame:
    """A print's colours, as CSS colour strings."""

    background: str
    placeholder: str
    text: str


@dataclass(frozen=True)
class _Format:
    width: int
    height: int
    columns: int
    rows: int
    margin: int
    gap: int
    footer: int


# Every number is chosen so the sums come out exact: margin + panels + gaps + footer + margin
# is the full height, and likewise across. Strip panels are 552x378 (about 3:2, like a
# landscape camera frame); card panels 545x749 (about 3:4, portrait, as card booths print).
FORMATS: dict[str, _Format] = {
    "strip": _Format(width=600, height=1800, columns=1, rows=4, margin=24, gap=18, footer=168),
    "card": _Format(width=1200, height=1800, columns=2, rows=2, margin=40, gap=30, footer=162),
}

FRAMES: dict[str, Frame] = {
    "white": Frame(background="#ffffff", placeholder="#e8e5e0", text="#222222"),
    "black": Frame(background="#141414", placeholder="#2c2c2c", text="#f4f4f4"),
    "pink": Frame(background="#f9d6df", placeholder="#f0b7c6", text="#7a2e45"),
    "mint": Frame(background="#cfeedf", placeholder="#a8dbc3", text="#1f5a45"),
    "lavender": Frame(background="#e4dcf5", placeholder="#c8baea", text="#4a3a78"),
}

# Footer text, as fractions of the footer's height: where the two lines' middles sit and how
# big their type is. The first line is the caption (or the wordmark when there is none).
FIRST_LINE_Y = 0.40
SECOND_LINE_Y = 0.76
CAPTION_SIZE = 0.24
WORDMARK_SIZE = 0.30
SMALL_SIZE = 0.14
TEXT_WIDTH = 0.92  # of the footer's width, so text never touches the frame's edge


def size(kind: str) -> tuple[int, int]:
    """The print's width and height in pixels."""
    spec = _format(kind)
    return spec.width, spec.height


def panels(kind: str) -> list[Rect]:
    """The four photo panels, left to right then top to bottom (the order they were shot in)."""
    spec = _format(kind)
    width = (spec.width - 2 * spec.margin - (spec.columns - 1) * spec.gap) // spec.columns
    # Below the last row there is one more gap, between the panels and the footer.
    height = (spec.height - 2 * spec.margin - spec.footer - spec.rows * spec.gap) // spec.rows
    return [
        Rect(
            spec.margin + column * (width + spec.gap), spec.margin + row * (height + spec.gap), width, height
        )
        for row in range(spec.rows)
        for column in range(spec.columns)
    ]


def footer(kind: str) -> Rect:
    """The band under the panels that holds the caption, the date and the wordmark."""
    spec = _format(kind)
    return Rect(
        spec.margin, spec.height - spec.margin - spec.footer, spec.width - 2 * spec.margin, spec.footer
    )


def cover_crop(src_w: float, src_h: float, panel_w: float, panel_h: float) -> Rect:
    """The largest centred part of a `src_w` x `src_h` picture with the panel's aspect, so the
    panel is filled without stretching (CSS `object-fit: cover`)."""
    if min(src_w, src_h, panel_w, panel_h) <= 0:
        raise ValueError("sizes must be positive")
    aspect = panel_w / panel_h
    if src_w / src_h > aspect:
        width = src_h * aspect
        return Rect((src_w - width) / 2, 0.0, width, float(src_h))
    height = src_w / aspect
    return Rect(0.0, (src_h - height) / 2, float(src_w), height)


def normalise_caption(caption: str | None) -> str:
    """The caption as printed: NFC, control characters gone, whitespace collapsed, at most
    CAPTION_MAX characters with an ellipsis where it was cut."""
    text = _clean(caption)
    if len(text) > CAPTION_MAX:
        text = text[: CAPTION_MAX - 1].rstrip() + ELLIPSIS
    return text


def draw(
    ctx: Any, kind: str, frame: str, photos: Sequence[Any | None], caption: str | None, date_text: str
) -> None:
    """Paint the whole print onto `ctx`, a canvas 2D context of `size(kind)`.

    `photos` holds up to four images with `width` and `height` (ImageBitmaps in the browser),
    in shooting order; a missing one leaves its panel the placeholder colour.
    """
    width, height = size(kind)
    colours = _frame(frame)
    if len(photos) > PANEL_COUNT:
        raise ValueError(f"at most {PANEL_COUNT} photos, got {len(photos)}")
    text = normalise_caption(caption)
    date = _clean(date_text)
    # save/restore so the caller's fill, font and alignment survive, even if drawing throws.
    ctx.save()
    try:
        ctx.imageSmoothingEnabled = True
        ctx.imageSmoothingQuality = "high"
        ctx.fillStyle = colours.background
        ctx.fillRect(0, 0, width, height)
        padded = list(photos) + [None] * (PANEL_COUNT - len(photos))
        for panel, photo in zip(panels(kind), padded):
            if _usable(photo):
                crop = cover_crop(photo.width, photo.height, panel.width, panel.height)
                ctx.drawImage(
                    photo,
                    crop.x,
                    crop.y,
                    crop.width,
                    crop.height,
                    panel.x,
                    panel.y,
                    panel.width,
                    panel.height,
                )
            else:
                ctx.fillStyle = colours.placeholder
                ctx.fillRect(panel.x, panel.y, panel.width, panel.height)
        _draw_footer(ctx, footer(kind), colours.text, text, date)
    finally:
        ctx.restore()


def _draw_footer(ctx: Any, band: Rect, colour: str, caption: str, date: str) -> None:
    # Centred on two lines, as booth prints are: the caption big with "CLOV · date" small under
    # it, or, with no caption, the wordmark big with the date under it.
    ctx.fillStyle = colour
    ctx.textAlign = "center"
    ctx.textBaseline = "middle"
    if caption:
        first, first_weight, first_size = caption, 600, CAPTION_SIZE
        second = f"{WORDMARK} · {date}" if date else WORDMARK
    else:
        first, first_weight, first_size = WORDMARK, 800, WORDMARK_SIZE
        second = date
    lines = [(first, first_weight, first_size, FIRST_LINE_Y)]
    if second:
        lines.append((second, 500, SMALL_SIZE, SECOND_LINE_Y))
    centre_x, room = band.x + band.width / 2, band.width * TEXT_WIDTH
    for line, weight, fraction, y in lines:
        px = _fitting_px(line, band.height * fraction, room)
        ctx.font = f"{weight} {px}px {FONT_STACK}"
        # maxWidth as well: the width guess is only a guess, and the browser then narrows the
        # text rather than letting it run over the frame.
        ctx.fillText(line, centre_x, band.y + band.height * y, room)


def _fitting_px(text: str, nominal: float, room: float) -> int:
    # Without measuring (no canvas in CPython), guess each character's advance in ems: Hangul
    # and other wide characters about 1, the rest about 0.6 in a sans-serif.
    ems = sum(1.0 if unicodedata.east_asian_width(char) in "WF" else 0.6 for char in text)
    return max(1, int(min(nominal, room / ems) if ems else nominal))


def _clean(text: str | None) -> str:
    # Control characters become spaces (a pasted newline still separates words), then runs of
    # whitespace one space.
    nfc = unicodedata.normalize("NFC", text or "")
    return " ".join("".join(" " if unicodedata.category(char) == "Cc" else char for char in nfc).split())


def _usable(photo: Any) -> bool:
    # A closed ImageBitmap reports 0x0 and drawImage would throw, so it counts as missing; so
    # does anything without a size (JS null may arrive as a proxy rather than None).
    return photo is not None and getattr(photo, "width", 0) > 0 and getattr(photo, "height", 0) > 0


def _format(kind: str) -> _Format:
    if kind not in FORMATS:
        raise ValueError(f"unknown print kind {kind!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[kind]


def _frame(frame: str) -> Frame:
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}; expected one of {sorted(FRAMES)}")
    return FRAMES[frame]
