"""AI backgrounds and prompt ideas over real HTTP: `clov serve` processes against a fake
OpenAI-compatible provider (a real server on loopback that records what it is asked and answers
per scenario, chosen by a `case:...` word in the prompt), and the offline pattern painter."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from signaling.config import Settings
from signaling.imageproviders import (
    BadPicture,
    WorkerLost,
    Workers,
    parse_ideas,
    picture_from_provider,
    sizes_for,
)
from signaling.invites import Invites
from tests.client import create_room
from tests.conftest import SECRET, Server, wait_until
from tests.fakeprovider import CHAT_MODEL, COLOURS, IMAGE_MODEL, KEY, PREFIX, TIMEOUT, FakeProvider, bomb_png

GENEROUS = {  # limits out of the way of the tests that do not test them
    "CLOV_ROOM_CREATE_BURST": "1000",
    "CLOV_BACKGROUNDS_PER_ROOM": "600",
    "CLOV_BACKGROUNDS_PER_ADDRESS": "600",
    "CLOV_BACKGROUNDS_IN_FLIGHT": "8",
    "CLOV_SUGGESTIONS_PER_ROOM": "600",
    "CLOV_SUGGESTIONS_PER_ADDRESS": "600",
}


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def clov(tmp: Path, **env: str) -> Server:
    return Server(tmp, **{**GENEROUS, **env}).start()


@pytest.fixture(scope="module")
def online(provider: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = clov(
        tmp_path_factory.mktemp("online"), CLOV_PROVIDER_URL=provider.url + "/", CLOV_PROVIDER_PREFIX="compat/",
        CLOV_PROVIDER_KEY=KEY, CLOV_IMAGE_MODEL=IMAGE_MODEL, CLOV_CHAT_MODEL=CHAT_MODEL,
        CLOV_PROVIDER_TIMEOUT=str(TIMEOUT),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = clov(tmp_path_factory.mktemp("offline"))
    yield server
    server.stop()


def ask(server: Server, room: dict[str, Any], body: Any, what: str = "backgrounds", **headers: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {room['token']}", **headers}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(f"{server.http}/api/rooms/{room['room']}/{what}", content=data, headers=headers, timeout=60)


def pictures_of(response: httpx.Response) -> list[Image.Image]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    images = []
    for picture in response.json()["pictures"]:
        assert picture["mime"] == "image/jpeg"
        image = Image.open(io.BytesIO(base64.b64decode(picture["data"])))
        assert image.format == "JPEG"
        assert image.size == (picture["width"], picture["height"])
        images.append(image)
    return images


def mean_colour(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[return-value]


def close_to(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, expected))


# --- the offline pattern painter ----------------------------------------------------------------


@pytest.mark.parametrize(("aspect", "size"), [("16:9", (1920, 1080)), ("3:4", (1080, 1440))])
def test_without_a_provider_the_painter_answers_labelled_and_at_photo_size(offline, aspect, size) -> None:  # type: ignore[no-untyped-def]
    room = create_room(offline.http)
    response = ask(offline, room, {"prompt": "a castle", "style": "minimal", "aspect": aspect, "n": 2})
    images = pictures_of(response)
    assert {k: v for k, v in response.json().items() if k != "pictures"} == {
        "provider": "pattern", "ai": False, "fallback": False,
    }
    assert [image.size for image in images] == [size] * 2
    assert images[0].tobytes() != images[1].tobytes()  # the candidates differ


def test_the_server_keeps_answering_while_it_paints(offline) -> None:  # type: ignore[no-untyped-def]
    room = create_room(offline.http)

    def probe(until: Callable[[], bool]) -> float:
        """Median seconds a request to the server's event loop takes, until `until()`."""
        latencies = []
        while not until() or len(latencies) < 5:
            start = time.monotonic()
            assert httpx.get(offline.http + "/healthz").status_code == 200
            latencies.append(time.monotonic() - start)
            time.sleep(0.01)
        return sorted(latencies)[len(latencies) // 2]

    quiet_until = time.monotonic() + 1
    quiet = probe(lambda: time.monotonic() > quiet_until)
    worker = threading.Thread(
        target=ask, args=(offline, room, {"prompt": "a beach at sunset", "style": "watercolour", "aspect": "16:9", "n": 2})
    )
    worker.start()
    painting = probe(lambda: not worker.is_alive())
    worker.join()
    # The paintings (a second or more of CPU each) run in worker processes, at a lower priority:
    # the loop answers about as fast as when idle. Painting on the loop would hold a request for
    # most of a painting; the bound leaves room for a busy test machine.
    assert painting < max(0.5, 3 * quiet), (quiet, painting)


def test_picture_work_runs_in_worker_processes_that_are_replaced_when_they_die() -> None:
    async def main() -> None:
        workers = Workers(1)
        try:
            first = await workers.run(os.getpid)
            assert first != os.getpid()
            with pytest.raises(WorkerLost):
                await workers.run(os._exit, 1)
            assert await workers.run(os.getpid) not in (first, os.getpid())
        finally:
            workers.close()

    asyncio.run(main())


@pytest.mark.parametrize(("language", "hint"), [("en", ""), ("ko", ""), ("en", "space"), ("ko", "바다")])
def test_offline_prompt_ideas_are_examples(offline, language, hint) -> None:  # type: ignore[no-untyped-def]
    room = create_room(offline.http)
    response = ask(offline, room, {"language": language, "hint": hint}, "prompt-suggestions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ai"] is False and set(body) == {"prompts", "ai"}
    assert body["prompts"] and all(isinstance(p, str) and 1 <= len(p) <= 400 for p in body["prompts"])
    if language == "ko":
        assert all(re.search("[\uac00-\ud7a3]", p) for p in body["prompts"])


# --- an OpenAI-compatible provider ------------------------------------------------------------


@pytest.mark.parametrize(("aspect", "size", "asked"), [("16:9", (1920, 1080), "1536x1024"), ("3:4", (1080, 1440), "1024x1536")])
def test_provider_pictures_are_fitted_and_labelled(online, provider, aspect, size, asked) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    prompt = f"a castle in the clouds {aspect}"
    response = ask(online, room, {"prompt": f"  {prompt} ", "style": "watercolour", "aspect": aspect, "n": 3})
    images = pictures_of(response)
    body = response.json()
    assert (body["provider"], body["ai"], body["fallback"]) == (IMAGE_MODEL, True, False)
    assert [image.size for image in images] == [size] * 3
    assert [close_to(mean_colour(image), colour) for image, colour in zip(images, COLOURS)] == [True] * 3
    [request] = provider.asked(prompt)
    assert request["path"] == PREFIX + "/v1/images/generations"
    assert request["auth"] == f"Bearer {KEY}"
    sent = request["json"]
    assert (sent["model"], sent["n"], sent["size"]) == (IMAGE_MODEL, 3, asked)
    assert prompt in sent["prompt"] and "watercolour painting" in sent["prompt"]
    assert "response_format" not in sent  # gpt-image models refuse it
    assert KEY not in response.text


def test_a_url_on_the_providers_host_is_fetched(online, provider) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    response = ask(online, room, {"prompt": "case:url lighthouse", "style": "photo", "aspect": "3:4", "n": 2})
    images = pictures_of(response)
    assert response.json()["ai"] is True and response.json()["fallback"] is False
    assert [image.size for image in images] == [(1080, 1440)] * 2
    assert close_to(mean_colour(images[1]), COLOURS[1])
    assert [r["path"] for r in provider.requests if r["path"].startswith("/files/")][-2:] == [
        "/files/0-64x96.png", "/files/1-64x96.png",
    ]


def test_a_url_on_another_host_is_refused(online, provider) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    fetched = [r for r in provider.requests if r["path"].startswith("/files/")]
    response = ask(online, room, {"prompt": "case:foreign-url a castle", "style": "minimal", "aspect": "16:9", "n": 2})
    pictures_of(response)
    assert {k: response.json()[k] for k in ("provider", "ai", "fallback")} == {
        "provider": "pattern", "ai": False, "fallback": True,
    }
    assert [r for r in provider.requests if r["path"].startswith("/files/")] == fetched


FALLBACKS = ["429", "500", "timeout", "not-an-image", "gif", "bomb", "garbage-json", "empty"]


@pytest.mark.parametrize("case", FALLBACKS)
def test_provider_failures_fall_back_to_the_painter(online, provider, case) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    start = time.monotonic()
    response = ask(online, room, {"prompt": f"case:{case} a castle", "style": "minimal", "aspect": "16:9"})
    images = pictures_of(response)
    assert {k: response.json()[k] for k in ("provider", "ai", "fallback")} == {
        "provider": "pattern", "ai": False, "fallback": True,
    }
    assert [image.size for image in images] == [(1920, 1080)]
    assert len(provider.asked(f"case:{case} a castle")) == 1
    if case == "timeout":
        assert time.monotonic() - start < TIMEOUT + 1.5


@pytest.mark.parametrize("case", ["moderation", "policy"])
def test_a_moderation_refusal_asks_for_another_prompt(online, provider, case) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    response = ask(online, room, {"prompt": f"case:{case} something", "aspect": "16:9", "n": 1})
    assert response.status_code == 422
    assert response.json()["error"] == "moderation" and "different prompt" in response.json()["message"]
    assert len(provider.asked(f"case:{case} something")) == 1  # no retry, no fallback


@pytest.mark.parametrize("case", ["401", "403"])
def test_a_refused_key_is_a_generic_error_and_a_log_line_for_the_operator(online, case) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    response = ask(online, room, {"prompt": f"case:{case} a meadow", "aspect": "16:9"})
    assert response.status_code == 502
    assert response.json()["error"] == "provider_auth"
    assert KEY not in response.text
    assert wait_until(lambda: f"refused our credentials (HTTP {case})" in online.logs(), 5)
    records = [json.loads(line) for line in online.logs().splitlines() if line.startswith("{")]
    [record] = [r for r in records if f"(HTTP {case})" in r["msg"]]
    assert record["level"] == "error" and "CLOV_PROVIDER_KEY" in record["msg"]


def test_the_key_is_never_logged(online) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    ask(online, room, {"prompt": "case:401 a field", "aspect": "16:9"})
    ask(online, room, {"prompt": "a field", "aspect": "16:9"})
    assert "picture provider configured" in online.logs()
    assert KEY not in online.logs() and KEY[-12:] not in online.logs()


def test_prompt_ideas_from_the_chat_model(online, provider) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    english = ask(online, room, {"language": "en", "hint": "city"}, "prompt-suggestions")
    assert english.status_code == 200, english.text
    assert english.json() == {"prompts": ["A neon city at night", "A quiet snowy forest"], "ai": True}
    request = provider.asked('\\"city\\"')[-1]
    assert request["path"] == PREFIX + "/v1/chat/completions" and request["auth"] == f"Bearer {KEY}"
    assert request["json"]["model"] == CHAT_MODEL
    assert request["json"]["response_format"] == {"type": "json_object"}
    assert "English" in request["json"]["messages"][-1]["content"]
    korean = ask(online, room, {"language": "ko"}, "prompt-suggestions")
    assert korean.json() == {"prompts": ["노을 지는 해변", "벚꽃 핀 공원"], "ai": True}  # English and non-strings dropped


def test_unusable_chat_answers_give_offline_examples(online) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    response = ask(online, room, {"language": "ko", "hint": "case:garbage"}, "prompt-suggestions")
    assert response.status_code == 200
    body = response.json()
    assert body["ai"] is False and body["prompts"]
    assert all(re.search("[\uac00-\ud7a3]", p) for p in body["prompts"])


# --- validation, invites, limits -----------------------------------------------------------------


BAD_BODIES = [
    pytest.param({"prompt": "", "aspect": "16:9"}, "bad_prompt", id="empty-prompt"),
    pytest.param({"prompt": "   ", "aspect": "16:9"}, "bad_prompt", id="blank-prompt"),
    pytest.param({"aspect": "16:9"}, "bad_prompt", id="no-prompt"),
    pytest.param({"prompt": 5, "aspect": "16:9"}, "bad_prompt", id="number-prompt"),
    pytest.param({"prompt": "x" * 401, "aspect": "16:9"}, "bad_prompt", id="401-chars"),
    pytest.param({"prompt": "a bell\x07", "aspect": "16:9"}, "bad_prompt", id="control-char"),
    pytest.param({"prompt": "two\nlines", "aspect": "16:9"}, "bad_prompt", id="newline"),
    pytest.param({"prompt": "rtl \u202e trick", "aspect": "16:9"}, "bad_prompt", id="bidi-override"),
    pytest.param({"prompt": "lone \ud800", "aspect": "16:9"}, "bad_prompt", id="lone-surrogate"),
    pytest.param({"prompt": "a beach", "aspect": "4:3"}, "bad_request", id="bad-aspect"),
    pytest.param({"prompt": "a beach"}, "bad_request", id="no-aspect"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "n": 0}, "bad_request", id="n=0"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "n": 5}, "bad_request", id="n=5"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "n": "2"}, "bad_request", id="n-string"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "n": True}, "bad_request", id="n-bool"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "n": 1.5}, "bad_request", id="n-float"),
    pytest.param({"prompt": "a beach", "aspect": "16:9", "style": "cubism"}, "bad_request", id="bad-style"),
    pytest.param("not json", "bad_request", id="not-json"),
    pytest.param(b"\xff\xfe", "bad_request", id="not-utf8"),
    pytest.param([1, 2], "bad_request", id="array"),
    pytest.param("[" * 3000 + "]" * 3000, "bad_request", id="deep-nesting"),
]


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
def test_bad_background_requests_are_refused(offline, body, code) -> None:  # type: ignore[no-untyped-def]
    response = ask(offline, create_room(offline.http), body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code and response.json()["message"]


def test_prompt_length_counts_after_trimming(online) -> None:  # type: ignore[no-untyped-def]
    room = create_room(online.http)
    response = ask(online, room, {"prompt": "  " + "가" * 400 + " ", "aspect": "3:4"})
    assert [image.size for image in pictures_of(response)] == [(1080, 1440)]


@pytest.mark.parametrize(
    "body",
    [{"language": "fr"}, {}, {"language": "en", "hint": "x" * 41}, {"language": "en", "hint": "a\tb"},
     {"language": "en", "hint": 3}],
    ids=["bad-language", "no-language", "long-hint", "control-hint", "number-hint"],
)
def test_bad_suggestion_requests_are_refused(offline, body) -> None:  # type: ignore[no-untyped-def]
    response = ask(offline, create_room(offline.http), body, "prompt-suggestions")
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


@pytest.mark.parametrize("what", ["backgrounds", "prompt-suggestions"])
def test_the_rooms_invite_is_required(offline, what) -> None:  # type: ignore[no-untyped-def]
    room, other = create_room(offline.http), create_room(offline.http)
    body = {"prompt": "a beach", "aspect": "16:9", "language": "en"}
    url = f"{offline.http}/api/rooms/{room['room']}/{what}"
    expired = Invites(SECRET, -10).issue(room["room"])[0]
    for headers in [
        {},
        {"Authorization": room["token"]},
        {"Authorization": f"Basic {room['token']}"},
        {"Authorization": f"Bearer {room['token']}x"},
        {"Authorization": f"Bearer {other['token']}"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {Invites('another secret', 100).issue(room['room'])[0]}"},
    ]:
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("what", ["backgrounds", "prompt-suggestions"])
def test_an_oversized_body_is_refused(offline, what) -> None:  # type: ignore[no-untyped-def]
    room = create_room(offline.http)
    response = ask(offline, room, {"prompt": "a beach", "aspect": "16:9", "language": "en", "pad": "x" * 9000}, what)
    assert response.status_code == 413 and response.json()["error"] == "bad_request"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"prompt": "a beach", "aspect": "16:9", "pad": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    response = httpx.post(
        f"{offline.http}/api/rooms/{room['room']}/{what}", content=chunked(),
        headers={"Authorization": f"Bearer {room['token']}"},
    )
    assert response.status_code == 413


@pytest.fixture(scope="module")
def strict(provider: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Low limits; pictures and ideas from the fake provider (quicker than painting)."""
    server = Server(
        tmp_path_factory.mktemp("strict"), CLOV_PROVIDER_URL=provider.url, CLOV_PROVIDER_PREFIX=PREFIX,
        CLOV_PROVIDER_TIMEOUT="5", CLOV_BACKGROUNDS_PER_ROOM="2", CLOV_BACKGROUNDS_PER_ADDRESS="3",
        CLOV_BACKGROUNDS_IN_FLIGHT="1", CLOV_SUGGESTIONS_PER_ROOM="4", CLOV_SUGGESTIONS_PER_ADDRESS="30",
        CLOV_SUGGESTIONS_IN_FLIGHT="1",
    ).start()
    yield server
    server.stop()


def test_rate_limits_per_room_and_per_address(strict) -> None:  # type: ignore[no-untyped-def]
    first, second = create_room(strict.http), create_room(strict.http)
    body = {"prompt": "a beach", "aspect": "16:9"}
    at = {"X-Forwarded-For": "203.0.113.5"}
    assert [ask(strict, first, body, **at).status_code for _ in range(2)] == [200, 200]
    limited = ask(strict, first, body, **at)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert limited.headers["retry-after"] == "30"  # 2 a minute: one more in 30 s
    assert ask(strict, second, body, **at).status_code == 200  # another room: the 3rd from this address
    by_address = ask(strict, second, body, **at)
    assert by_address.status_code == 429 and by_address.headers["retry-after"] == "20"
    # What one limit refused counted against no other: the room still has its second.
    assert ask(strict, second, body, **{"X-Forwarded-For": "203.0.113.6"}).status_code == 200
    # Prompt ideas have their own, looser limits.
    ideas = [ask(strict, first, {"language": "en"}, "prompt-suggestions", **at) for _ in range(5)]
    assert [r.status_code for r in ideas] == [200] * 4 + [429]
    assert ideas[-1].headers["retry-after"] == "15" and ideas[-1].json()["error"] == "rate_limited"


@pytest.mark.parametrize(
    ("what", "slow", "then", "retry"),
    [
        ("backgrounds", {"prompt": "case:slow", "aspect": "16:9"}, {"prompt": "a beach", "aspect": "16:9"}, "10"),
        ("prompt-suggestions", {"language": "en", "hint": "case:slow"}, {"language": "en"}, "2"),
    ],
)
def test_requests_in_flight_are_capped_per_instance(strict, what, slow, then, retry) -> None:  # type: ignore[no-untyped-def]
    room = create_room(strict.http)
    url = f"{strict.http}/api/rooms/{room['room']}/{what}"
    headers = {"Authorization": f"Bearer {room['token']}", "X-Forwarded-For": f"198.51.100.{len(what)}"}

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            first = asyncio.create_task(client.post(url, json=slow, headers=headers))
            await asyncio.sleep(0.4)  # the fake provider takes 1 s over the first
            second = await client.post(url, json=then, headers=headers)
            return [await first, second]

    first, busy = asyncio.run(both())
    assert first.status_code == 200 and first.json()["ai"] is True
    assert busy.status_code == 503 and busy.json()["error"] == "busy"
    assert busy.headers["retry-after"] == retry
    assert httpx.post(url, json=then, headers=headers, timeout=60).status_code == 200  # its place is back


# --- the pieces, in process ---------------------------------------------------------------------


def test_sizes_are_asked_per_model() -> None:
    assert (sizes_for("gpt-image-1").landscape, sizes_for("gpt-image-1-mini").portrait) == ("1536x1024", "1024x1536")
    assert (sizes_for("dall-e-3").landscape, sizes_for("dall-e-3").portrait, sizes_for("dall-e-3").n) == (
        "1792x1024", "1024x1792", 1,
    )
    assert dict(sizes_for("dall-e-3").extra) == {"response_format": "b64_json"}
    assert (sizes_for("sd-turbo").landscape, sizes_for("sd-turbo").portrait) == ("1024x1024", "1024x1024")


def test_provider_pictures_are_checked_before_decoding() -> None:
    for raw in [bomb_png(30000, 30000), bomb_png(5000, 5000), b"", b"\x89PNG\r\n\x1a\n garbage"]:
        with pytest.raises(BadPicture):
            picture_from_provider(raw, "16:9")
    with pytest.raises(BadPicture):
        picture_from_provider("not base64!", "16:9")
    for kind in ("PNG", "JPEG", "WEBP"):
        buffer = io.BytesIO()
        image = Image.new("RGB", (300, 100), (0, 0, 255))
        image.paste((255, 0, 0), (100, 0, 200, 100))  # a red middle third: the centre crop keeps red
        image.save(buffer, kind)
        picture = picture_from_provider(buffer.getvalue(), "3:4")
        fitted = Image.open(io.BytesIO(picture.data))
        assert (fitted.format, fitted.size) == ("JPEG", (1080, 1440))
        assert close_to(mean_colour(fitted), (255, 0, 0))
    transparent = io.BytesIO()
    Image.new("RGBA", (64, 36), (0, 0, 0, 0)).save(transparent, "PNG")
    on_white = Image.open(io.BytesIO(picture_from_provider(transparent.getvalue(), "16:9").data))
    assert close_to(mean_colour(on_white), (255, 255, 255))


def test_chat_answers_are_parsed_defensively() -> None:
    def answer(content: Any) -> dict[str, Any]:
        return {"choices": [{"message": {"content": content}}]}

    assert parse_ideas(answer('{"ideas": ["a", "b"]}'), "en") == ["a", "b"]
    assert parse_ideas(answer('["a", "a", " b "]'), "en") == ["a", "b"]
    assert parse_ideas(answer('{"prompts": ["x\\u0000y", "ok"]}'), "en") == ["ok"]
    assert parse_ideas(answer(json.dumps({"prompts": [f"idea {i}" for i in range(20)]})), "en") == [
        f"idea {i}" for i in range(6)
    ]
    for broken in [answer("no json"), answer(None), answer("42"), {"choices": []}, {}, [], None]:
        assert parse_ideas(broken, "en") == []


def test_provider_options_are_checked() -> None:
    settings = Settings.from_env({"CLOV_PROVIDER_URL": "http://127.0.0.1:8080/", "CLOV_PROVIDER_PREFIX": "api/"})
    assert (settings.provider_url, settings.provider_prefix) == ("http://127.0.0.1:8080", "/api")
    assert KEY not in repr(Settings.from_env({"CLOV_PROVIDER_KEY": KEY}))
    for bad in [{"CLOV_PROVIDER_URL": "ftp://example"}, {"CLOV_PROVIDER_URL": "localhost:8080"},
                {"CLOV_PROVIDER_TIMEOUT": "0"}, {"CLOV_BACKGROUNDS_IN_FLIGHT": "0"}]:
        with pytest.raises(ValueError):
            Settings.from_env(bad)
