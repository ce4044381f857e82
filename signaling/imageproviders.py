"""Background pictures and prompt ideas: from an OpenAI-compatible service, or made offline.

Two providers share one interface, `generate(prompt, style, aspect, n)` (fitted JPEG pictures)
and `suggest(language, hint, key)` (prompt ideas):

- `OpenAIProvider` asks `{base}{prefix}/v1/images/generations` and `/v1/chat/completions`.
  Nothing it answers is trusted: an answer is read under a byte cap and a deadline, a `url` item
  is fetched only from the provider's own origin, and every picture is decoded by Pillow under a
  pixel limit (PNG, JPEG or WebP only), then re-encoded by us at the photo's size.
- `PatternProvider` paints offline (`signaling.painter`) and takes ideas from
  `signaling.promptideas`. Its pictures are labelled `ai: false`, provider "pattern".

`ImageService` picks one and maps provider failures: a moderation refusal is the person's to
fix (`Refused`), a refused API key is the operator's (`ProviderAuthError`, logged for them),
and anything else (rate limit, server error, timeout, garbage) falls back to the painter,
labelled `fallback: true`. Every CPU-heavy step (reading a provider's answer, decoding,
fitting, encoding, painting) runs in worker processes (`Workers`), off the event loop that
relays signals.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import httpx
from PIL import Image, ImageOps

from signaling.painter import paint
from signaling.promptideas import PromptIdeas

log = logging.getLogger("clov.images")

# The photo a background is fitted to, per aspect (the stage's two frames).
PHOTO_SIZES: dict[str, tuple[int, int]] = {"16:9": (1920, 1080), "3:4": (1080, 1440)}
# Style names and the words each adds to the prompt (no provider-specific parameter).
STYLES: dict[str, str] = {
    "photo": "photograph, natural light, realistic detail",
    "watercolour": "watercolour painting, soft washes of colour on paper",
    "illustration": "flat illustration, clean lines, bold colours",
    "3d": "3D render, soft studio lighting, smooth materials",
    "pixel-art": "pixel art, crisp pixels, limited palette",
    "minimal": "minimal, simple shapes, calm colours, plenty of empty space",
}
LANGUAGES = {"en": "English", "ko": "Korean"}
MAX_PICTURES = 4
MAX_PROMPT_LENGTH = 400
MAX_IDEAS = 6

JPEG_QUALITIES = (90, 80, 70)  # the first whose JPEG fits MAX_JPEG_BYTES
MAX_JPEG_BYTES = 3 * 1024 * 1024
MAX_SOURCE_PIXELS = 4096 * 4096  # a provider picture with more is refused before decoding
MAX_SOURCE_BYTES = 16 * 1024 * 1024  # one encoded picture from the provider
MAX_ANSWER_BYTES = 48 * 1024 * 1024  # one images answer: up to 4 pictures as base64 in JSON
MAX_CHAT_BYTES = 256 * 1024
SOURCE_FORMATS = ("PNG", "JPEG", "WEBP")


@dataclass(frozen=True)
class ModelSizes:
    """The provider's sizes closest to a landscape and a portrait frame (the answer is fitted to
    the photo anyway), the most pictures one request may ask for, and what else the request
    carries: DALL-E models answer with URLs unless asked for base64; gpt-image models always
    answer base64 and refuse the parameter."""

    landscape: str
    portrait: str
    n: int = MAX_PICTURES
    extra: tuple[tuple[str, str], ...] = (("response_format", "b64_json"),)


MODEL_SIZES: tuple[tuple[str, ModelSizes], ...] = (
    ("gpt-image", ModelSizes("1536x1024", "1024x1536", extra=())),
    ("dall-e-3", ModelSizes("1792x1024", "1024x1792", n=1)),
    ("dall-e-2", ModelSizes("1024x1024", "1024x1024")),
)
DEFAULT_SIZES = ModelSizes("1024x1024", "1024x1024")

MODERATION_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_DATA_URL = re.compile(r"data:image/(?:png|jpeg|webp);base64,", re.IGNORECASE)
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


class Refused(Exception):
    """The provider's moderation refused the prompt: the person should try a different one."""


class ProviderAuthError(Exception):
    """The provider refused our API key (HTTP 401/403): the operator's configuration is wrong."""


class ProviderFailed(Exception):
    """Anything else went wrong with the provider; the pattern painter stands in."""


class BadPicture(ValueError):
    """Bytes that are not a PNG, JPEG or WebP picture we are willing to decode."""


@dataclass(frozen=True)
class Picture:
    """One background, encoded by us: JPEG at the photo's exact size."""

    mime: str
    width: int
    height: int
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "mime": self.mime,
            "width": self.width,
            "height": self.height,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass(frozen=True)
class Backgrounds:
    provider: str
    ai: bool
    fallback: bool
    pictures: list[Picture]

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "ai": self.ai,
            "fallback": self.fallback,
            "pictures": [picture.to_json() for picture in self.pictures],
        }


@dataclass(frozen=True)
class Ideas:
    prompts: list[str]
    ai: bool

    def to_json(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "ai": self.ai}


class ImageProvider(Protocol):
    name: str
    ai: bool
    max_pictures: int

    async def generate(self, prompt: str, style: str | None, aspect: str, n: int) -> list[Picture]: ...

    async def suggest(self, language: str, hint: str, key: str) -> list[str]: ...


def clean_text(value: object, max_length: int) -> str | None:
    """`value` trimmed and NFC-normalised if it is 1..max_length characters without control
    characters (or line separators, lone surrogates, bidi overrides); otherwise None."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(text) <= max_length:
        return None
    for char in text:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or char in _BIDI_CONTROLS:
            return None
    return text


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def styled_prompt(prompt: str, style: str | None) -> str:
    """The prompt a provider gets: the person's words, the style's words, and what a booth needs."""
    parts = [prompt.rstrip(". ")]
    if style:
        parts.append(f"Style: {STYLES[style]}")
    parts.append("A background for a photo booth, with no people and no text")
    return ". ".join(parts) + "."


def sizes_for(model: str) -> ModelSizes:
    for prefix, sizes in MODEL_SIZES:
        if model.lower().startswith(prefix):
            return sizes
    return DEFAULT_SIZES


# --- pictures: decode under limits, fit, encode (in the worker processes) ----------------------


def _open_checked(raw: bytes) -> Image.Image:
    """Decode `raw` only if it is a PNG, JPEG or WebP within MAX_SOURCE_PIXELS; RGB out."""
    if len(raw) > MAX_SOURCE_BYTES:
        raise BadPicture(f"{len(raw)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=SOURCE_FORMATS) as image:
                if image.format not in SOURCE_FORMATS:
                    raise BadPicture(f"format {image.format}")
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_SOURCE_PIXELS:
                    raise BadPicture(f"{width}x{height} pixels")
                image.load()
                image = ImageOps.exif_transpose(image)
                return _flatten(image)
    except BadPicture:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadPicture(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow signals a broken file by many exception types
        raise BadPicture(f"{type(exc).__name__}: {exc}") from exc


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def fit_to_photo(image: Image.Image, aspect: str) -> Picture:
    """Centre-crop `image` to the photo's aspect, resize (Lanczos), encode as JPEG."""
    width, height = PHOTO_SIZES[aspect]
    fitted = ImageOps.fit(_flatten(image), (width, height), method=Image.Resampling.LANCZOS)
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        fitted.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= MAX_JPEG_BYTES:
            break
    return Picture("image/jpeg", width, height, buffer.getvalue())


def picture_from_provider(source: bytes | str, aspect: str) -> Picture:
    """A provider's picture (bytes, or base64 text), checked, decoded and re-encoded as our own;
    `BadPicture` otherwise."""
    if isinstance(source, str):
        if len(source) > (MAX_SOURCE_BYTES + 2) // 3 * 4:
            raise BadPicture("base64 over the byte cap")
        try:
            source = base64.b64decode(source, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadPicture("bad base64") from exc
    return fit_to_photo(_open_checked(source), aspect)


@dataclass(frozen=True)
class ImagesAnswer:
    """What an images answer held: pictures already made our own, URLs still to fetch, and why
    any item was refused."""

    pictures: list[Picture]
    urls: list[str]
    refused: list[str]


def read_images_answer(raw: bytes, n: int, aspect: str) -> ImagesAnswer:
    """Read `{"data": [{"b64_json": ...} | {"url": ...}, ...]}`: the base64 pictures (and
    `data:` URLs, which some servers use) become our own pictures; other URLs are listed for
    fetching. Raises `ProviderFailed` when the answer is not of that shape at all."""
    answer = _json(raw)
    items = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ProviderFailed("the answer has no data list")
    pictures: list[Picture] = []
    urls: list[str] = []
    refused: list[str] = []
    for item in items[:n]:
        encoded = item.get("b64_json") if isinstance(item, dict) else None
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(encoded, str) and isinstance(url, str) and (inline := _DATA_URL.match(url)):
            encoded = url[inline.end():]
        if isinstance(encoded, str):
            try:
                pictures.append(picture_from_provider(encoded, aspect))
            except BadPicture as exc:
                refused.append(str(exc)[:200])
        elif isinstance(url, str):
            urls.append(url)
        else:
            refused.append("an item with neither b64_json nor url")
    return ImagesAnswer(pictures, urls, refused)


def paint_picture(prompt: str, style: str | None, aspect: str, index: int) -> Picture:
    """The `index`-th offline painting of `prompt`. The painter seeds itself from the prompt's
    words, so each candidate after the first paints a variant of the prompt: a new seed."""
    width, height = PHOTO_SIZES[aspect]
    variant = prompt if index == 0 else f"{prompt} #{index + 1}"
    return fit_to_photo(paint(variant, style or "", width, height), aspect)


# --- worker processes ----------------------------------------------------------------------------

T = TypeVar("T")


WORKER_NICENESS = 5  # below the server process, which relays signals


class WorkerLost(Exception):
    """A worker process died under a job (killed, out of memory); the pool is started afresh."""


def _start_worker() -> None:
    """Worker start-up: yield the CPU to the server process (its event loop relays signals), and
    end when the server process ends, however it ends (even SIGKILL), instead of waiting for jobs
    for ever."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="clov-parent-watch", daemon=True).start()


def _context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported the picture code once: workers fork from it ready to
    work, and inherit nothing of the running server (no event loop, no sockets)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class Workers:
    """A few worker processes for the picture work (painting, decoding, fitting, encoding).

    Processes rather than threads: the event loop that relays signals never competes with a
    picture for the interpreter lock, and a picture that crashes or exhausts its decoder takes
    down only its worker. Started on first use; a pool whose worker died is replaced.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        pool = self._pool
        if pool is None:
            pool = self._pool = ProcessPoolExecutor(self.size, mp_context=_context(), initializer=_start_worker)
        try:
            return await asyncio.wrap_future(pool.submit(function, *args))
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            log.error("a picture worker process died; starting new ones", extra={"error": str(exc)[:200]})
            raise WorkerLost(str(exc)) from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# --- the providers -------------------------------------------------------------------------------


class PatternProvider:
    """Offline: the pattern painter for pictures, curated examples for prompt ideas."""

    name = "pattern"
    ai = False
    max_pictures = MAX_PICTURES

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.ideas = PromptIdeas()

    async def generate(self, prompt: str, style: str | None, aspect: str, n: int) -> list[Picture]:
        """`n` different paintings, painted side by side in the worker processes."""
        pictures: list[Picture | None] = [None] * n

        async def one(index: int) -> None:
            try:
                pictures[index] = await self.workers.run(paint_picture, prompt, style, aspect, index)
            except WorkerLost:  # once more, on a fresh pool
                pictures[index] = await self.workers.run(paint_picture, prompt, style, aspect, index)

        async with anyio.create_task_group() as group:
            for index in range(n):
                group.start_soon(one, index)
        return [picture for picture in pictures if picture is not None]

    async def suggest(self, language: str, hint: str, key: str) -> list[str]:
        return await anyio.to_thread.run_sync(self._suggest, language, hint, key)

    def _suggest(self, language: str, hint: str, key: str) -> list[str]:
        """Ideas for `key` (the room): `PromptIdeas` gives a key none of its recent ones, so
        the ideas differ within an answer and from the answer before."""
        ideas: list[str] = []
        for _ in range(MAX_IDEAS * 2):
            if len(ideas) >= MAX_IDEAS:
                break
            idea = clean_text(self.ideas.suggest(language, hint, key), MAX_PROMPT_LENGTH)
            if idea is not None and idea not in ideas:
                ideas.append(idea)
        return ideas


class OpenAIProvider:
    """An OpenAI-compatible service: OpenAI itself, LocalAI, sd-server, Ollama, Lemonade..."""

    ai = True

    def __init__(
        self,
        base_url: str,
        prefix: str,
        key: str,
        image_model: str,
        chat_model: str,
        timeout: float,
        workers: Workers,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.workers = workers
        self.base_url = base_url.rstrip("/")
        self.api_root = self.base_url + prefix
        self.image_model = image_model
        self.chat_model = chat_model
        self.timeout = timeout
        self.name = image_model
        self.sizes = sizes_for(image_model)
        self.max_pictures = min(MAX_PICTURES, self.sizes.n)
        self._origin = _origin(httpx.URL(self.base_url))
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def generate(self, prompt: str, style: str | None, aspect: str, n: int) -> list[Picture]:
        n = max(1, min(n, self.max_pictures))
        body: dict[str, Any] = {
            "model": self.image_model,
            "prompt": styled_prompt(prompt, style),
            "n": n,
            "size": self.sizes.landscape if PHOTO_SIZES[aspect][0] > PHOTO_SIZES[aspect][1] else self.sizes.portrait,
            **dict(self.sizes.extra),
        }
        try:
            with anyio.fail_after(self.timeout):
                raw = await self._post("/v1/images/generations", body, MAX_ANSWER_BYTES)
        except TimeoutError as exc:
            raise ProviderFailed(f"no answer within {self.timeout:g} s") from exc
        try:  # megabytes of JSON and base64, and the pictures in it: all in a worker
            answer = await self.workers.run(read_images_answer, raw, n, aspect)
        except WorkerLost as exc:
            raise ProviderFailed("the answer could not be read") from exc
        for reason in answer.refused:
            log.warning("provider picture refused", extra={"error": reason})
        pictures = list(answer.pictures)
        for url in answer.urls:
            try:
                with anyio.fail_after(self.timeout):
                    source = await self._fetch(url)
            except TimeoutError:
                log.warning("provider picture URL failed", extra={"error": "timeout"})
                continue
            if source is None:
                continue
            try:
                pictures.append(await self.workers.run(picture_from_provider, source, aspect))
            except (BadPicture, WorkerLost) as exc:
                log.warning("provider picture refused", extra={"error": str(exc)[:200]})
        if not pictures:
            raise ProviderFailed("no usable picture in the answer")
        return pictures

    async def suggest(self, language: str, hint: str, key: str) -> list[str]:
        name = LANGUAGES[language]
        ask = (
            f"Write {MAX_IDEAS} different short prompts (each under 15 words) for pictures to use as the "
            f"background of a photo booth where friends pose together: places, scenes, moods; no people. "
            f"Write them in {name}. "
            'Answer with JSON only: {"prompts": ["...", "..."]}.'
        )
        if hint:
            ask += f" Build on this idea: {json.dumps(hint, ensure_ascii=False)}"
        body = {
            "model": self.chat_model,
            "messages": [
                {"role": "system", "content": "You suggest picture prompts. You answer with JSON only."},
                {"role": "user", "content": ask},
            ],
            "response_format": {"type": "json_object"},
        }
        try:
            with anyio.fail_after(self.timeout):
                answer = _json(await self._post("/v1/chat/completions", body, MAX_CHAT_BYTES))
        except TimeoutError as exc:
            raise ProviderFailed(f"no answer within {self.timeout:g} s") from exc
        ideas = parse_ideas(answer, language)
        if not ideas:
            raise ProviderFailed("no usable prompt in the chat answer")
        return ideas

    async def _post(self, path: str, body: dict[str, Any], cap: int) -> bytes:
        """POST `body` as JSON; the answer's bytes, or the exception its status maps to."""
        try:
            async with self._client.stream("POST", self.api_root + path, json=body) as response:
                raw = await _read_capped(response, cap)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise ProviderFailed(f"{type(exc).__name__}") from exc
        if status in (401, 403):
            raise ProviderAuthError(f"HTTP {status}")
        if status >= 400:
            code = _error_code(raw)
            if status == 400 and code in MODERATION_CODES:
                raise Refused(code)
            raise ProviderFailed(f"HTTP {status} {code or ''}".strip())
        return raw

    async def _fetch(self, text: str) -> bytes | None:
        try:
            url = httpx.URL(self.base_url + "/").join(text)
        except (httpx.InvalidURL, ValueError, TypeError):
            url = None
        if url is None or url.userinfo or _origin(url) != self._origin:
            log.warning("provider picture URL refused: not on the provider's host",
                        extra={"host": url.host if url is not None else ""})
            return None
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    log.warning("provider picture URL failed", extra={"status": response.status_code})
                    return None
                return await _read_capped(response, MAX_SOURCE_BYTES)
        except (httpx.HTTPError, ProviderFailed) as exc:
            log.warning("provider picture URL failed", extra={"error": type(exc).__name__})
            return None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProviderFailed("the answer is not JSON") from exc


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host.lower(), url.port or default


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ProviderFailed(f"answer of {declared} bytes")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ProviderFailed(f"answer over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_code(raw: bytes) -> str:
    """The `error.code` (or `error.type`) of an OpenAI-style error answer, or ""."""
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    for field in ("code", "type"):
        value = error.get(field)
        if isinstance(value, str) and value in MODERATION_CODES:
            return value
    code = error.get("code")
    return code[:64] if isinstance(code, str) else ""


def parse_ideas(answer: Any, language: str) -> list[str]:
    """Prompt ideas out of a chat completion that should hold `{"prompts": [...]}`; defensive
    about everything: fences around the JSON, another key, a bare list, non-strings, Korean
    asked but English answered."""
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return []
    if not isinstance(content, str):
        return []
    text = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if isinstance(data, dict):
        values = data.get("prompts")
        if not isinstance(values, list):
            values = next((v for v in data.values() if isinstance(v, list)), [])
    elif isinstance(data, list):
        values = data
    else:
        return []
    ideas: list[str] = []
    for value in values:
        idea = clean_text(value, MAX_PROMPT_LENGTH)
        if idea is None or idea in ideas or (language == "ko" and not has_hangul(idea)):
            continue
        ideas.append(idea)
        if len(ideas) >= MAX_IDEAS:
            break
    return ideas


# --- the service the API uses -----------------------------------------------------------------


class ImageService:
    """The configured provider (or none), the painter as fallback, and the error mapping."""

    def __init__(self, provider: OpenAIProvider | None, workers: Workers) -> None:
        self.provider = provider
        self.workers = workers
        self.pattern = PatternProvider(workers)

    @classmethod
    def from_settings(cls, settings: Any) -> ImageService:
        workers = Workers(settings.picture_workers)
        if not settings.provider_url:
            log.info("no picture provider configured: backgrounds come from the pattern painter")
            return cls(None, workers)
        provider = OpenAIProvider(
            settings.provider_url,
            settings.provider_prefix,
            settings.provider_key,
            settings.image_model,
            settings.chat_model,
            settings.provider_timeout,
            workers,
        )
        log.info(
            "picture provider configured",
            extra={"host": httpx.URL(settings.provider_url).host, "image_model": settings.image_model,
                   "chat_model": settings.chat_model, "key_set": bool(settings.provider_key)},
        )
        return cls(provider, workers)

    @property
    def max_pictures(self) -> int:
        return self.provider.max_pictures if self.provider is not None else self.pattern.max_pictures

    async def aclose(self) -> None:
        if self.provider is not None:
            await self.provider.aclose()
        self.workers.close()

    async def backgrounds(self, prompt: str, style: str | None, aspect: str, n: int) -> Backgrounds:
        """Pictures for the prompt; raises `Refused` or `ProviderAuthError`, else falls back."""
        n = max(1, min(n, MAX_PICTURES))
        if self.provider is None:
            pictures = await self.pattern.generate(prompt, style, aspect, n)
            return Backgrounds(self.pattern.name, False, False, pictures)
        try:
            pictures = await self.provider.generate(prompt, style, aspect, n)
        except Refused as exc:
            log.info("provider refused the prompt (moderation)", extra={"code": str(exc)})
            raise
        except ProviderAuthError as exc:
            _log_auth(exc, "images")
            raise
        except ProviderFailed as exc:
            log.warning("provider failed; the pattern painter answers", extra={"error": str(exc)[:200]})
            pictures = await self.pattern.generate(prompt, style, aspect, n)
            return Backgrounds(self.pattern.name, False, True, pictures)
        return Backgrounds(self.provider.name, True, False, pictures)

    async def ideas(self, language: str, hint: str, key: str) -> Ideas:
        """Prompt ideas; offline examples when there is no provider or it fails."""
        if self.provider is not None:
            try:
                return Ideas(await self.provider.suggest(language, hint, key), True)
            except ProviderAuthError as exc:
                _log_auth(exc, "chat")
            except (ProviderFailed, Refused) as exc:
                log.warning("provider ideas failed; offline examples answer", extra={"error": str(exc)[:200]})
        return Ideas(await self.pattern.suggest(language, hint, key), False)


def _log_auth(exc: Exception, what: str) -> None:
    log.error(
        f"the picture provider refused our credentials ({exc}) for {what}: check CLOV_PROVIDER_KEY "
        "(--provider-key) and CLOV_PROVIDER_URL / CLOV_PROVIDER_PREFIX, and that the key may use "
        "the configured models",
        extra={"status": str(exc)},
    )
