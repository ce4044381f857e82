"""What a first and a second visit move: precompressed siblings sent by content negotiation, and
content-addressed URLs cached for good (signaling/static.py, signaling/clientbuild.py), asked of
a real `clov serve`."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest

from frontend_py.urls import Urls
from signaling.clientbuild import client_sources, precompress, sibling, versions
from signaling.static import IMMUTABLE, accepted_encodings
from tests.conftest import Server
from tests.staticroot import make_static_root

CHROMIUM_HTTPS = "gzip, deflate, br, zstd"  # what Chromium sends over HTTPS
WASM = "assets/pyodide/pyodide.asm.wasm"


def compressible(size: int) -> bytes:
    """Text-like bytes that compress well but not trivially."""
    words = [f"word{i % 977}-{i % 13}" for i in range(size // 8)]
    return " ".join(words).encode()[:size]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = make_static_root(tmp_path / "root")
    (root / "index.html").write_text(
        '<!doctype html>\n<html><head>\n  <meta charset="utf-8">\n'
        '  <script type="module" src="/assets/pyscript/core.js"></script>\n'
        '  <script type="py" src="/frontend_py/main.py" config=\'{"interpreter": "/assets/pyodide/pyodide.mjs",'
        ' "files": {"/frontend_py/urls.py": "./frontend_py/"}}\'></script>\n</head></html>\n'
    )
    (root / WASM).write_bytes(compressible(300_000))
    (root / "assets" / "pyodide" / "noise.bin").write_bytes(os.urandom(50_000))
    (root / "models" / "LICENSE").write_text("terms")
    precompress(root / relative for relative in client_sources(root))
    return root


@pytest.fixture
def client(root: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    server = Server(tmp_path, CLOV_STATIC_ROOT=str(root)).start()
    try:
        with httpx.Client(base_url=server.http) as client:
            yield client
    finally:
        server.stop()


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, ["identity"]),
        ("", ["identity"]),
        (CHROMIUM_HTTPS, ["br", "gzip", "identity"]),
        ("gzip, deflate", ["gzip", "identity"]),  # Chromium over plain HTTP
        ("BR;Q=0.5, gzip", ["gzip", "identity", "br"]),  # identity weighs 1 unless named
        ("br;q=0, gzip;q=0.8", ["identity", "gzip"]),
        ("*", ["br", "gzip", "identity"]),
        ("*;q=0", []),
        ("*;q=0, identity", ["identity"]),
        ("gzip;q=0.3, *;q=0.5", ["br", "identity", "gzip"]),
        ("identity;q=0, gzip", ["gzip"]),
        ("x-gzip", ["gzip", "identity"]),
        ("br;q=1.5, gzip;q=abc, deflate", ["identity"]),  # malformed weights count for nothing
        ("br;q=0.001 , , gzip ; q=0.002", ["identity", "gzip", "br"]),
    ],
)
def test_accept_encoding_is_read_with_weights_wildcards_and_identity(header: str | None, expected: list[str]) -> None:
    assert accepted_encodings(header) == expected


def get_raw(client: httpx.Client, path: str, **headers: str) -> httpx.Response:
    """A GET whose body stays as it came over the wire (httpx would decode gzip and brotli),
    in `extensions["raw_body"]`."""
    with client.stream("GET", path, headers=headers) as response:
        response.extensions["raw_body"] = b"".join(response.iter_raw())
    return response


DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}


def test_the_best_accepted_encoding_is_sent_with_the_files_own_type(client: httpx.Client, root: Path) -> None:
    original = (root / WASM).read_bytes()
    etags = set()
    for header, encoding in [(CHROMIUM_HTTPS, "br"), ("gzip, deflate", "gzip"), ("br;q=0, gzip", "gzip"),
                             ("identity", None), ("*;q=0", None)]:
        response = get_raw(client, "/" + WASM, **{"Accept-Encoding": header})
        body = response.extensions["raw_body"]
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/wasm"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers.get("content-encoding") == encoding, header
        assert DECODE[encoding](body) == original and int(response.headers["content-length"]) == len(body)
        if encoding is not None:
            assert len(body) < len(original) // 2
        etags.add(response.headers["etag"])
    assert len(etags) == 3  # one per encoding


def test_revalidation_head_and_ranges_follow_the_chosen_encoding(client: httpx.Client, root: Path) -> None:
    br = get_raw(client, "/" + WASM, **{"Accept-Encoding": CHROMIUM_HTTPS})
    sibling_bytes = sibling(root / WASM, "br").read_bytes()
    assert br.extensions["raw_body"] == sibling_bytes and br.headers["etag"].endswith('-br"')

    # The same representation again: 304. The identity one's tag does not match the brotli one.
    again = client.get("/" + WASM, headers={"Accept-Encoding": CHROMIUM_HTTPS, "If-None-Match": br.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == br.headers["etag"] and again.headers["vary"] == "Accept-Encoding"
    identity = client.get("/" + WASM, headers={"Accept-Encoding": "identity"})
    crossed = client.get("/" + WASM, headers={"Accept-Encoding": "identity", "If-None-Match": br.headers["etag"]})
    assert crossed.status_code == 200 and crossed.headers["etag"] == identity.headers["etag"]

    head = client.head("/" + WASM, headers={"Accept-Encoding": CHROMIUM_HTTPS})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-encoding"] == "br" and head.headers["content-length"] == str(len(sibling_bytes))

    # A range is of the representation sent: here the brotli bytes.
    part = get_raw(client, "/" + WASM, **{"Accept-Encoding": CHROMIUM_HTTPS, "Range": "bytes=10-29"})
    assert part.status_code == 206 and part.headers["content-encoding"] == "br"
    assert part.headers["content-range"] == f"bytes 10-29/{len(sibling_bytes)}"
    assert part.extensions["raw_body"] == sibling_bytes[10:30]
    stale = get_raw(client, "/" + WASM, **{"Accept-Encoding": CHROMIUM_HTTPS, "Range": "bytes=10-29",
                                           "If-Range": identity.headers["etag"]})
    assert stale.status_code == 200 and stale.extensions["raw_body"] == sibling_bytes
    plain = client.get("/" + WASM, headers={"Accept-Encoding": "identity", "Range": "bytes=0-3"})
    assert plain.status_code == 206 and plain.content == (root / WASM).read_bytes()[:4]
    assert "content-encoding" not in plain.headers


def test_a_missing_stale_or_broken_sibling_is_never_sent(client: httpx.Client, root: Path) -> None:
    accept = {"Accept-Encoding": CHROMIUM_HTTPS}
    assert client.get("/" + WASM, headers=accept).headers["content-encoding"] == "br"
    # The file changes (an upgrade copied over it) and its siblings stay behind: both stale.
    (root / WASM).write_bytes(compressible(300_001))
    response = client.get("/" + WASM, headers=accept)
    assert "content-encoding" not in response.headers and response.content == (root / WASM).read_bytes()
    precompress([root / WASM])
    assert client.get("/" + WASM, headers=accept).headers["content-encoding"] == "br"
    sibling(root / WASM, "br").unlink()
    assert client.get("/" + WASM, headers=accept).headers["content-encoding"] == "gzip"
    broken = sibling(root / WASM, "gzip")
    broken.write_bytes(broken.read_bytes()[:-20])
    response = client.get("/" + WASM, headers=accept)
    assert "content-encoding" not in response.headers and response.content == (root / WASM).read_bytes()


def test_precompression_skips_what_does_not_shrink_and_keeps_fresh_siblings(root: Path) -> None:
    wasm, noise = root / WASM, root / "assets" / "pyodide" / "noise.bin"
    assert sibling(wasm, "br").is_file() and sibling(wasm, "gzip").is_file()
    assert len(sibling(wasm, "br").read_bytes()) < len(sibling(wasm, "gzip").read_bytes()) < wasm.stat().st_size
    assert not sibling(noise, "br").exists() and not sibling(noise, "gzip").exists()  # not a compressible kind
    random_python = root / "frontend_py" / "random.py"
    random_python.write_bytes(os.urandom(20_000))  # compressible kind, incompressible bytes
    assert precompress([random_python]) == [] and not sibling(random_python, "br").exists()

    written = sibling(wasm, "br").stat().st_mtime_ns
    time.sleep(0.01)
    precompress([wasm])
    assert sibling(wasm, "br").stat().st_mtime_ns == written  # fresh: not compressed again


def test_the_page_names_versioned_urls_kept_for_good(client: httpx.Client, root: Path) -> None:
    page = client.get("/r/SomeRoom123")
    assert page.headers["cache-control"] == "no-cache" and page.text == client.get("/").text
    [table] = re.findall(r"<meta name=\"clov-versions\" content='([^']+)'>", page.text)
    current = json.loads(table)
    assert current == versions(root)
    digest = current["assets/pyodide/"]
    assert f'"/v/{digest}/assets/pyodide/pyodide.mjs"' in page.text
    assert f'src="/v/{current["assets/pyscript/"]}/assets/pyscript/core.js"' in page.text
    assert f'"/v/{current["frontend_py/"]}/frontend_py/urls.py": "./frontend_py/"' in page.text
    # The client forms the other URLs from the same table (ORT's files, the models).
    urls = Urls.of("https://booth.example.org/r/SomeRoom123", None, current)
    model = f"v/{current['models/selfie_segmentation.onnx']}/models/selfie_segmentation.onnx"
    assert urls.app("models/selfie_segmentation.onnx") == "https://booth.example.org/" + model
    assert urls.app("frontend_py/overlays/crown.svg").startswith(f"https://booth.example.org/v/{current['frontend_py/']}/")

    wasm = get_raw(client, f"/v/{digest}/{WASM}", **{"Accept-Encoding": CHROMIUM_HTTPS})
    assert wasm.status_code == 200 and wasm.headers["cache-control"] == IMMUTABLE
    assert wasm.headers["content-encoding"] == "br" and wasm.headers["content-type"] == "application/wasm"
    assert client.get("/" + model).headers["cache-control"] == IMMUTABLE
    assert client.get("/" + WASM).headers["cache-control"] == "no-cache"  # the plain path revalidates

    # Revalidating the page costs a 304 while nothing changed.
    assert client.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    # A deploy: the unit's digest moves, the old URL is gone rather than other bytes under it,
    # the other units keep theirs, and the page changes.
    (root / "assets" / "pyodide" / "pyodide.mjs").write_text("export const version = 2;\n")
    assert client.get(f"/v/{digest}/{WASM}").status_code == 404
    after = client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert after.status_code == 200
    [table] = re.findall(r"<meta name=\"clov-versions\" content='([^']+)'>", after.text)
    moved = json.loads(table)
    assert moved["assets/pyodide/"] != digest and client.get(f"/v/{moved['assets/pyodide/']}/{WASM}").status_code == 200
    assert {unit: value for unit, value in moved.items() if unit != "assets/pyodide/"} == {
        unit: value for unit, value in current.items() if unit != "assets/pyodide/"}


def test_the_page_itself_goes_compressed_and_revalidates_per_encoding(client: httpx.Client, root: Path) -> None:
    (root / "index.html").write_text((Path(__file__).parents[1] / "index.html").read_text())
    plain = get_raw(client, "/", **{"Accept-Encoding": "identity"})
    body = plain.extensions["raw_body"]
    assert "content-encoding" not in plain.headers and b"clov-versions" in body
    tags = {plain.headers["etag"]}
    for header, encoding, decode in [(CHROMIUM_HTTPS, "br", brotli.decompress), ("gzip, deflate", "gzip", gzip.decompress)]:
        page = get_raw(client, "/r/SomeRoom123", **{"Accept-Encoding": header})
        assert page.headers["content-encoding"] == encoding and page.headers["vary"] == "Accept-Encoding"
        assert len(page.extensions["raw_body"]) < len(body) / 2 and decode(page.extensions["raw_body"]) == body
        assert client.get("/", headers={"Accept-Encoding": header, "If-None-Match": page.headers["etag"]}).status_code == 304
        tags.add(page.headers["etag"])
    assert len(tags) == 3  # each encoding is its own sequence of bytes


@pytest.mark.parametrize(
    "path",
    [
        "/v/{pyodide}/assets/pyodide/../../secret.txt",
        "/v/{pyodide}/assets/pyodide/%2e%2e/%2e%2e/secret.txt",
        "/v/{pyodide}/secret.txt",
        "/v/{pyodide}/models/LICENSE",
        "/v/{pyodide}/assets/pyscript/core.js",  # another unit's digest
        "/v/0000000000000000/assets/pyodide/pyodide.mjs",
        "/v/{pyodide}/assets/pyodide/pyodide.asm.wasm.br",  # siblings are sent by negotiation only
        "/assets/pyodide/pyodide.asm.wasm.gz",
        "/v/{frontend}/frontend_py/notes.md",
        "/v/{pyodide}/",
        "/v/",
    ],
)
def test_nothing_outside_the_units_is_served(client: httpx.Client, root: Path, path: str) -> None:
    (root / "secret.txt").write_text("do not serve")
    (root / "frontend_py" / "notes.md").write_text("internal notes")
    current = versions(root)
    url = path.format(pyodide=current["assets/pyodide/"], frontend=current["frontend_py/"])
    response = client.get(url)
    assert response.status_code == 404, url
    assert b"do not serve" not in response.content and b"internal" not in response.content
