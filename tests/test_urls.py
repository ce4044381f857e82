"""Where the client's URLs point (frontend_py/urls.py): the same-origin page and a static host's."""

from __future__ import annotations

import pytest

from frontend_py.urls import Urls, invitation

SERVED = Urls.of("https://booth.example.org/r/AbCdEfGhIjKl?stage-scale=1#token")
STATIC = Urls.of("https://me.github.io/booth/index.html?r=AbCdEfGhIjKl#token", "https://signal.example.org/")


def test_the_page_the_server_serves_talks_to_its_own_origin() -> None:
    assert SERVED.root == "https://booth.example.org/"
    assert SERVED.app("assets/onnxruntime/") == "https://booth.example.org/assets/onnxruntime/"
    assert SERVED.api("rooms") == "https://booth.example.org/api/rooms"
    assert SERVED.socket("AbCdEfGhIjKl") == "wss://booth.example.org/ws/AbCdEfGhIjKl"
    assert Urls.of("http://127.0.0.1:8000/").socket("R") == "ws://127.0.0.1:8000/ws/R"
    assert SERVED.invite("AbCdEfGhIjKl", "t.k") == "https://booth.example.org/r/AbCdEfGhIjKl#t.k"
    assert SERVED.invite("AbCdEfGhIjKl", "t.k", "?stage-scale=1") == (
        "https://booth.example.org/r/AbCdEfGhIjKl?stage-scale=1#t.k")


def test_a_static_page_talks_to_its_signaling_server_from_its_own_folder() -> None:
    assert STATIC.root == "https://me.github.io/booth/"
    assert STATIC.app("models/face.onnx") == "https://me.github.io/booth/models/face.onnx"
    assert STATIC.api("rooms/R/backgrounds") == "https://signal.example.org/api/rooms/R/backgrounds"
    assert STATIC.socket("R") == "wss://signal.example.org/ws/R"
    assert Urls.of("http://127.0.0.1:8001/", "http://127.0.0.1:8002").socket("R") == "ws://127.0.0.1:8002/ws/R"
    # A static host cannot answer /r/{room} with the page: the room rides in the query.
    assert STATIC.invite("AbCdEfGhIjKl", "t.k") == "https://me.github.io/booth/?r=AbCdEfGhIjKl#t.k"
    assert STATIC.invite("New", "t.k", "?r=Old&stage-scale=1") == "https://me.github.io/booth/?r=New&stage-scale=1#t.k"


@pytest.mark.parametrize(
    "href, expected",
    [
        ("https://booth.example.org/r/AbCdEfGhIjKl#t.k", ("AbCdEfGhIjKl", "t.k")),
        ("https://booth.example.org/r/AbCdEfGhIjKl?stage-scale=1#t.k", ("AbCdEfGhIjKl", "t.k")),
        ("https://me.github.io/booth/?r=AbCdEfGhIjKl#t.k", ("AbCdEfGhIjKl", "t.k")),
        ("https://me.github.io/booth/index.html?x=1&r=AbCdEfGhIjKl#t.k", ("AbCdEfGhIjKl", "t.k")),
        ("https://me.github.io/booth/?r=AbCdEfGhIjKl", ("AbCdEfGhIjKl", "")),
        ("https://me.github.io/booth/?r=#t.k", ("", "t.k")),
        ("https://booth.example.org/", None),
        ("https://me.github.io/booth/?stage-scale=1#t.k", None),
    ],
)
def test_invitations_in_either_form(href: str, expected: tuple[str, str] | None) -> None:
    assert invitation(href) == expected
