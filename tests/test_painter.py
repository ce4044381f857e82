"""The offline pattern painter: the same words give the same picture, the words are honoured (in
English and Korean), and any size comes out exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from signaling.painter import MAX_SIDE, _find_themes, paint

W, H = 320, 180  # small pictures keep the tests fast; the painter scales with the size


def pixels(prompt: str, style: str = "photo", width: int = W, height: int = H) -> np.ndarray:
    return np.asarray(paint(prompt, style, width, height), np.float32) / 255.0


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.asarray([0.2126, 0.7152, 0.0722], np.float32)


def bright_points(lum: np.ndarray, floor: float = 0.4, margin: float = 0.08) -> int:
    """Pixels brighter than `floor` and by `margin` than all eight neighbours: stars, not the
    grain of a smooth sky."""
    inner = lum[1:-1, 1:-1]
    neighbours = np.stack(
        [lum[1 + dy : lum.shape[0] - 1 + dy, 1 + dx : lum.shape[1] - 1 + dx]
         for dy, dx in itertools.product((-1, 0, 1), repeat=2) if (dy, dx) != (0, 0)]
    )  # fmt: skip
    return int(np.count_nonzero((inner > neighbours.max(axis=0) + margin) & (inner > floor)))


def test_the_same_words_paint_the_same_picture() -> None:
    first = paint("A quiet beach at sunset", "photo", W, H)
    assert paint("A quiet beach at sunset", "photo", W, H).tobytes() == first.tobytes()
    # Case, punctuation and spacing are not words.
    assert paint("  a QUIET beach, at sunset!", "photo", W, H).tobytes() == first.tobytes()
    for style in ("watercolour", "illustration", "3D", "pixel art", "minimal"):
        again = paint("벚꽃이 흩날리는 교정", style, W, H).tobytes()
        assert paint("벚꽃이 흩날리는 교정", style, W, H).tobytes() == again


def test_different_words_paint_different_pictures() -> None:
    prompts = ["a beach at sunset", "a beach at dawn", "night sky", "my cat wearing a hat", "a dog", "party"]
    pictures = [paint(prompt, "photo", W, H).tobytes() for prompt in prompts]
    assert len(set(pictures)) == len(prompts)
    # A number is a word too: the server asks for variants of one prompt as "prompt #2", "#3"...
    assert paint("a beach at sunset #2", "photo", W, H).tobytes() != pictures[0]


def test_the_sea_makes_the_lower_half_blue() -> None:
    for prompt in ("a beach with the sea", "the ocean", "바다에서 놀기"):
        r, g, b = pixels(prompt)[H // 2 :].reshape(-1, 3).mean(axis=0)
        assert b > r + 0.1 and b > g + 0.1, (prompt, r, g, b)


def test_a_night_sky_is_dark_with_stars() -> None:
    for prompt in ("night sky", "밤하늘의 별", "stars"):
        top = pixels(prompt, width=640, height=360)[:180]
        assert luminance(top).mean() < 0.2, prompt
        assert bright_points(luminance(top)) >= 20, prompt
    day = pixels("a sunny day", width=640, height=360)[:180]
    assert luminance(day).mean() > 0.4
    assert bright_points(luminance(day)) < 5


def test_korean_sunset_over_the_sea() -> None:
    picture = pixels("노을 지는 바다")
    r, _, b = picture[: H // 3].reshape(-1, 3).mean(axis=0)
    assert r > b + 0.15  # a warm sky
    r, g, b = picture[H // 2 :].reshape(-1, 3).mean(axis=0)
    assert b > r + 0.1 and b > g + 0.1  # over blue water


def test_pixel_art_is_blocky() -> None:
    def same_as_right_neighbour(picture: np.ndarray) -> float:
        return float(np.all(picture[:, 1:] == picture[:, :-1], axis=-1).mean())

    assert same_as_right_neighbour(pixels("a forest at dawn", "pixel art", 640, 360)) > 0.75
    assert same_as_right_neighbour(pixels("a forest at dawn", "pixel-art", 640, 360)) > 0.75
    assert same_as_right_neighbour(pixels("a forest at dawn", "photo", 640, 360)) < 0.3


def test_unknown_words_still_paint_a_varied_backdrop() -> None:
    picture = pixels("my cat wearing a hat")
    assert picture.std() > 0.03  # not one flat colour
    assert 0.1 < luminance(picture).mean() < 0.95


# One prompt per theme, and all themes at once.
PROMPTS = [
    "sunrise", "blue sky", "sunset", "twilight", "midnight", "full moon", "clouds", "the sea", "beach",
    "stars", "galaxy", "northern lights", "mountains", "meadow", "forest", "cherry blossom", "flowers",
    "snow", "desert", "city skyline", "fairy lights", "party", "zzz",
    ("snowy mountains and a forest by the lake with a city, flowers, cherry blossom, dunes, lights, "
     "a party, the aurora, the moon and stars in space at night"),
]  # fmt: skip


@pytest.mark.parametrize("width, height", [(17, 9), (9, 17), (1, 1), (3, 200)])
def test_any_size_comes_out_exactly(width: int, height: int) -> None:
    styles = ("photo", "watercolour", "illustration", "3d", "pixel art", "minimal")
    for prompt, style in itertools.product(PROMPTS, styles):
        picture = paint(prompt, style, width, height)
        assert (picture.mode, picture.size) == ("RGB", (width, height))


def test_portrait_photos_come_out_exactly() -> None:
    for prompt, style in (
        ("a beach at sunset", "photo"),
        ("cherry blossom in the city at night", "pixel art"),
    ):
        picture = paint(prompt, style, 1080, 1440)
        assert (picture.mode, picture.size) == ("RGB", (1080, 1440))


def test_sizes_out_of_range_are_refused() -> None:
    for width, height in ((0, 10), (10, 0), (MAX_SIDE + 1, 10), (-5, -5)):
        with pytest.raises(ValueError):
            paint("beach", "photo", width, height)


def test_keywords_in_english_and_korean() -> None:
    assert _find_themes("a beach at sunset") >= {"beach", "sea", "sunset"}
    assert _find_themes("바다에서 노을을 보며") >= {"sea", "sunset"}  # particles attached
    assert _find_themes("밤바다") >= {"night", "sea"}  # a compound
    assert _find_themes("첫눈이 내린 산") >= {"snow", "mountains"}  # one-syllable words
    assert "snow" not in _find_themes("눈물")  # tears: a word that only starts with 눈
    assert _find_themes("northern lights") == {"aurora"}  # the phrase, not "lights"
    assert _find_themes("벚꽃") == {"blossom"}  # cherry blossom, not flowers too
    assert _find_themes("my cat wearing a hat") == set()
