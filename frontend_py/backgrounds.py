"""The preset stage backgrounds, painted in code with Canvas 2D (our own, nothing to license).

Each preset is drawn at the stage's size when chosen, so it is sharp at 16:9 and 3:4 alike;
the random ones use a fixed seed, so every participant paints the same picture.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from frontend_py.dom import h


def _gradient(ctx: Any, width: int, height: int, stops: list[tuple[float, str]], radial: bool = False) -> None:
    if radial:
        gradient = ctx.createRadialGradient(width / 2, height * 0.35, 0, width / 2, height * 0.35, max(width, height) * 0.8)
    else:
        gradient = ctx.createLinearGradient(0, 0, 0, height)
    for offset, colour in stops:
        gradient.addColorStop(offset, colour)
    ctx.fillStyle = gradient
    ctx.fillRect(0, 0, width, height)


def plain(ctx: Any, width: int, height: int) -> None:
    _gradient(ctx, width, height, [(0, "#6c6480"), (0.6, "#46405a"), (1, "#2b2638")], radial=True)


def sunset(ctx: Any, width: int, height: int) -> None:
    _gradient(ctx, width, height, [(0, "#2d1b4e"), (0.45, "#c2407a"), (0.75, "#ff8a4c"), (1, "#ffd27a")])
    ctx.fillStyle = "rgba(255, 236, 170, 0.85)"
    ctx.beginPath()
    ctx.arc(width * 0.5, height * 0.78, min(width, height) * 0.16, 0, 2 * math.pi)
    ctx.fill()
    ctx.fillStyle = "#3a1f3d"
    ctx.fillRect(0, height * 0.84, width, height * 0.16)


def ocean(ctx: Any, width: int, height: int) -> None:
    _gradient(ctx, width, height, [(0, "#8fd3f4"), (0.55, "#4aa3df"), (0.56, "#1d6fa5"), (1, "#0b3d66")])
    ctx.strokeStyle = "rgba(255, 255, 255, 0.35)"
    ctx.lineWidth = max(2, height / 180)
    for row in range(6):
        y = height * (0.62 + row * 0.065)
        ctx.beginPath()
        for step in range(41):
            x = width * step / 40
            wave = y + math.sin(step * 0.9 + row) * height * 0.008
            if step == 0:
                ctx.moveTo(x, wave)
            else:
                ctx.lineTo(x, wave)
        ctx.stroke()


def confetti(ctx: Any, width: int, height: int) -> None:
    ctx.fillStyle = "#fff7ec"
    ctx.fillRect(0, 0, width, height)
    colours = ["#ff6b9a", "#3ddc97", "#ffc857", "#6c8cff", "#b784ff"]
    rng = random.Random(7)
    for _ in range(220):
        ctx.fillStyle = rng.choice(colours)
        ctx.beginPath()
        ctx.arc(rng.random() * width, rng.random() * height, (2 + rng.random() * 7) * width / 1280, 0, 2 * math.pi)
        ctx.fill()


def night(ctx: Any, width: int, height: int) -> None:
    _gradient(ctx, width, height, [(0, "#05061a"), (0.7, "#1a1f4f"), (1, "#3b2f6b")])
    rng = random.Random(11)
    for _ in range(260):
        alpha = 0.3 + rng.random() * 0.7
        ctx.fillStyle = f"rgba(255, 255, 240, {alpha:.2f})"
        ctx.fillRect(rng.random() * width, rng.random() * height * 0.8, 1.5 + rng.random() * 2, 1.5 + rng.random() * 2)
    ctx.fillStyle = "#f6f1d5"
    ctx.beginPath()
    ctx.arc(width * 0.82, height * 0.2, min(width, height) * 0.07, 0, 2 * math.pi)
    ctx.fill()


def stripes(ctx: Any, width: int, height: int) -> None:
    ctx.fillStyle = "#bff0dc"
    ctx.fillRect(0, 0, width, height)
    ctx.fillStyle = "#8fe3c1"
    band = width / 16
    for i in range(-16, 32):
        ctx.beginPath()
        ctx.moveTo(i * band * 2, 0)
        ctx.lineTo(i * band * 2 + band, 0)
        ctx.lineTo(i * band * 2 + band + height, height)
        ctx.lineTo(i * band * 2 + height, height)
        ctx.fill()


PRESETS: dict[str, Callable[[Any, int, int], None]] = {
    "plain": plain,
    "sunset": sunset,
    "ocean": ocean,
    "confetti": confetti,
    "night": night,
    "stripes": stripes,
}


def paint(name: str, width: int, height: int) -> Any:
    """A canvas with the preset painted at width x height."""
    canvas = h("canvas")
    canvas.width, canvas.height = width, height
    PRESETS[name](canvas.getContext("2d"), width, height)
    return canvas
