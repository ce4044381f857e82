"""Prompt ideas without a model: a small template grammar in English and Korean.

When no AI provider is configured, the background sheet's ideas still offer prompts worth
painting: a mood, a place, a time of day or the weather, and a style, put together from curated
word lists ("a quiet beach at sunset, soft watercolour" / "노을 지는 조용한 해변, 부드러운
수채화"). The words are ones the offline pattern painter (`signaling.painter`) knows, so an idea
painted offline looks like what it says.

A word or two the person typed (the hint) is kept when it names a place, mood, time or weather
of the lists, in either language; the idea then says it in the asked language. Nothing else of
the hint is ever echoed. Each key (the server passes the room) gets no idea it was given among
its last `recent`, and memory is bounded: past `max_keys` keys, the least recently used is
forgotten.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Iterator

MAX_HINT = 40  # a longer hint is ignored whole

# (English, Korean, the words of a hint that name it). Korean words attach particles, so a hint
# word names an entry when it starts with one of its Korean words ("해변에서" names "해변"); a
# one-syllable Korean word only with a particle or alone ("산에" but not "산책").
Entry = tuple[str, str, str]
_PLACES: tuple[Entry, ...] = (
    ("beach", "해변", "beach 해변 해수욕장"),
    ("lake", "호숫가", "lake lakeside 호수 호숫가"),
    ("mountain trail", "산길", "trail 산길 등산로"),
    ("pine forest", "소나무 숲", "pine pines 소나무"),
    ("flower field", "꽃밭", "flower flowers 꽃밭 꽃"),
    ("city rooftop", "도시 옥상", "rooftop roof 옥상"),
    ("harbour", "항구", "harbour harbor port 항구"),
    ("desert", "사막", "desert 사막"),
    ("snowy village", "눈 덮인 마을", "village 마을"),
    ("cherry blossom street", "벚꽃길", "blossom blossoms sakura 벚꽃"),
    ("meadow", "들판", "meadow field 들판 초원"),
    ("island", "섬", "island 섬"),
    ("garden", "정원", "garden 정원"),
    ("seaside town", "바닷가 마을", "seaside town 바닷가"),
    ("hill", "언덕", "hill hills 언덕"),
    ("city skyline", "도시 야경", "city skyline 도시 야경"),
    ("sea", "바다", "sea ocean 바다"),
    ("forest", "숲", "forest woods 숲"),
    ("mountain", "산", "mountain mountains 산"),
)
_MOODS: tuple[Entry, ...] = (
    ("quiet", "조용한", "quiet 조용"),
    ("cosy", "아늑한", "cosy cozy 아늑"),
    ("dreamy", "몽환적인", "dreamy 몽환"),
    ("peaceful", "평화로운", "peaceful 평화"),
    ("bright", "환한", "bright 환한"),
    ("calm", "고요한", "calm 고요"),
    ("lively", "활기찬", "lively 활기"),
    ("romantic", "낭만적인", "romantic 낭만"),
    ("nostalgic", "그리운", "nostalgic 그리운 추억"),
    ("wide open", "탁 트인", "open 트인"),
    ("gentle", "포근한", "gentle 포근"),
)
_TIMES: tuple[Entry, ...] = (
    ("at sunset", "노을 지는", "sunset 노을 석양"),
    ("at sunrise", "새벽녘의", "sunrise dawn 새벽 일출 해돋이"),
    ("at midnight", "한밤의", "midnight night 밤 한밤"),
    ("on a sunny afternoon", "화창한 오후의", "sunny afternoon 화창 오후"),
    ("at dusk", "해질녘의", "dusk twilight 해질녘 황혼"),
    ("under the moonlight", "달빛 비치는", "moon moonlight 달 달빛"),
)
_WEATHER: tuple[Entry, ...] = (
    ("with drifting clouds", "구름이 흐르는", "cloud clouds cloudy 구름"),
    ("in gentle snowfall", "눈 내리는", "snow snowy snowfall winter 눈 겨울"),
    ("under a starry sky", "별이 쏟아지는", "star stars starry 별 별빛"),
    ("with falling petals", "꽃잎이 흩날리는", "petal petals 꽃잎"),
    ("with fairy lights", "불빛이 반짝이는", "lights bokeh 불빛 조명"),
    ("in the morning mist", "안개 낀", "mist fog foggy 안개"),
)
_STYLES: tuple[tuple[str, str], ...] = (
    ("soft watercolour", "부드러운 수채화"),
    ("film photo", "필름 사진"),
    ("flat illustration", "플랫 일러스트"),
    ("pastel 3D render", "파스텔 3D 렌더"),
    ("pixel art", "픽셀 아트"),
    ("minimal poster", "미니멀 포스터"),
    ("warm photograph", "따뜻한 사진"),
)
_SLOTS = {"place": _PLACES, "mood": _MOODS, "time": _TIMES, "weather": _WEATHER}
# The slots each template says, in the order of its words.
_TEMPLATES = {
    "en": (("mood", "place", "time"), ("mood", "place", "weather"), ("mood", "place", "time", "weather")),
    "ko": (("time", "mood", "place"), ("weather", "mood", "place"), ("time", "weather", "mood", "place")),
}
_PARTICLES = ("에서", "으로", "은", "는", "이", "가", "을", "를", "의", "에", "과", "와", "도", "로")
_WORDS = re.compile(r"[^\W\d_]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class PromptIdeas:
    """Offline prompt ideas that never repeat one of a key's last `recent`; at most `max_keys`
    keys are remembered. Safe to call from several threads."""

    def __init__(self, rng: random.Random | None = None, max_keys: int = 1000, recent: int = 10) -> None:
        self._rng = rng or random.Random()
        self._max_keys = max_keys
        self._recent = recent
        self._given: OrderedDict[str, deque[str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._given)

    def suggest(self, language: str, hint: str = "", key: str = "") -> str:
        """An idea in `language` ("en" or "ko"; anything else gets English) that keeps what `hint`
        names and is not one of the last ideas given to `key`."""
        language = "ko" if language.strip().lower().split("-")[0] == "ko" else "en"
        kept = _understand(hint)
        templates = [t for t in _TEMPLATES[language] if set(kept) <= set(t)]
        with self._lock:
            given = self._given.pop(key, None) or deque(maxlen=self._recent)
            self._given[key] = given  # now the most recently used
            while len(self._given) > self._max_keys:
                self._given.popitem(last=False)
            drawn = (self._draw(language, templates, kept) for _ in range(50))
            # After 50 unlucky draws, the first unused idea in order (without the hint at worst).
            ordered = _every(language, templates, kept), _every(language, _TEMPLATES[language], {})
            idea = next(idea for idea in itertools.chain(drawn, *ordered) if idea not in given)
            given.append(idea)
        return idea

    def _draw(self, language: str, templates: list[tuple[str, ...]], kept: dict[str, Entry]) -> str:
        template = self._rng.choice(templates)
        picks = {slot: kept.get(slot) or self._rng.choice(_SLOTS[slot]) for slot in template}
        return _say(language, template, picks, self._rng.choice(_STYLES))


def _understand(hint: str) -> dict[str, Entry]:
    """The slots (two at most: place, mood, time, weather first) a short hint names ("beach",
    "해변에서", "quiet sunset"); nothing for a long hint."""
    text = unicodedata.normalize("NFKC", hint).strip().lower()
    if len(text) > MAX_HINT:
        return {}
    words = _WORDS.findall(text)
    kept: dict[str, Entry] = {}
    for slot, entries in _SLOTS.items():
        named = next((entry for entry in entries if any(_names(a, words) for a in entry[2].split())), None)
        if named is not None and len(kept) < 2:
            kept[slot] = named
    return kept


def _names(alias: str, words: list[str]) -> bool:
    if not _HANGUL.match(alias):
        return alias in words
    if len(alias) > 1:
        return any(word.startswith(alias) for word in words)
    return any(word == alias or (word[:1] == alias and word[1:] in _PARTICLES) for word in words)


def _say(language: str, template: tuple[str, ...], picks: dict[str, Entry], style: tuple[str, str]) -> str:
    if language == "ko":
        return f"{' '.join(picks[slot][1] for slot in template)}, {style[1]}"
    phrase = " ".join(picks[slot][0] for slot in template)
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}, {style[0]}"


def _every(language: str, templates: list[tuple[str, ...]], kept: dict[str, Entry]) -> Iterator[str]:
    """Every idea that keeps `kept`, in a fixed order."""
    for template in templates:
        options = [(kept[slot],) if slot in kept else _SLOTS[slot] for slot in template]
        for picks, style in itertools.product(itertools.product(*options), _STYLES):
            yield _say(language, template, dict(zip(template, picks)), style)
