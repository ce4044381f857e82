"""Offline prompt ideas: no repeats for one asker, Korean and English, hints kept only when known,
bounded memory."""

from __future__ import annotations

import random
import re
import unicodedata

from signaling.promptideas import PromptIdeas

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def well_formed(idea: str) -> bool:
    return 0 < len(idea) <= 400 and not any(unicodedata.category(ch) == "Cc" for ch in idea)


def test_one_key_never_gets_a_repeat_within_its_last_ten() -> None:
    ideas = PromptIdeas(random.Random(7))
    for language, hint in (("en", ""), ("ko", ""), ("en", "quiet beach"), ("ko", "노을 바다")):
        given = [ideas.suggest(language, hint, key=f"room-{language}-{hint}") for _ in range(200)]
        for i in range(len(given)):
            assert given[i] not in given[max(0, i - 10) : i], (language, hint, i)
        assert all(well_formed(idea) for idea in given)


def test_keys_are_independent() -> None:
    ideas = PromptIdeas(random.Random(3))
    given: dict[str, list[str]] = {"a": [], "b": []}
    for _ in range(100):
        for key, seen in given.items():
            seen.append(ideas.suggest("en", "quiet beach", key=key))
    for seen in given.values():
        for i in range(len(seen)):
            assert seen[i] not in seen[max(0, i - 10) : i]
    # Each key has its own memory: what room "a" was just given, room "b" may still get.
    more_for_b = {ideas.suggest("en", "quiet beach", key="b") for _ in range(300)}
    assert more_for_b & set(given["a"][-10:])


def test_korean_ideas_are_korean_and_other_languages_get_english() -> None:
    ideas = PromptIdeas(random.Random(1))
    for _ in range(30):
        assert HANGUL.search(ideas.suggest("ko"))
        assert HANGUL.search(ideas.suggest("ko-KR"))
        for language in ("en", "fr", "", "zz-top"):
            idea = ideas.suggest(language)
            assert not HANGUL.search(idea) and idea.isascii()


def test_a_known_hint_is_kept_in_the_asked_language() -> None:
    ideas = PromptIdeas(random.Random(2))
    for _ in range(20):
        assert "beach" in ideas.suggest("en", "beach")
        assert "해변" in ideas.suggest("ko", "beach")
        assert "beach" in ideas.suggest("en", "해변에서")  # a Korean word with its particle
        idea = ideas.suggest("en", "quiet sunset")
        assert "quiet" in idea and "at sunset" in idea
        assert "노을" in ideas.suggest("ko", "sunset")
        assert "산" in ideas.suggest("ko", "산에")


def test_an_unknown_or_long_hint_is_ignored() -> None:
    ideas = PromptIdeas(random.Random(4))
    for _ in range(20):
        assert "xylophone" not in ideas.suggest("en", "xylophone")
        assert "Robert'); DROP" not in ideas.suggest("en", "Robert'); DROP TABLE rooms;--")
        long_hint = "beach " * 10  # known words, but longer than 40 characters
        assert well_formed(ideas.suggest("en", long_hint))
        assert well_formed(ideas.suggest("en", "beach\x00\x1b[31m"))


def test_memory_is_bounded() -> None:
    ideas = PromptIdeas(random.Random(6), max_keys=1000)
    for i in range(5000):
        ideas.suggest("en", key=f"room-{i}")
    assert len(ideas) <= 1000
    # The least recently used keys went first: a key still in use keeps its history.
    ideas = PromptIdeas(random.Random(6), max_keys=3)
    kept = [ideas.suggest("en", key="busy")]
    for i in range(50):
        ideas.suggest("en", key=f"other-{i}")
        kept.append(ideas.suggest("en", key="busy"))
    for i in range(len(kept)):
        assert kept[i] not in kept[max(0, i - 10) : i]
    assert len(ideas) <= 3
