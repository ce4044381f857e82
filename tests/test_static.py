"""Static serving of the app: headers for cross-origin isolation, MIME types, no traversal."""

from __future__ import annotations

import re

import httpx
import pytest

from signaling.static import CONTENT_SECURITY_POLICY


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import Server

    root = tmp_path_factory.mktemp("static")
    (root / "index.html").write_text("<!doctype html><title>CLOV</title>")
    (root / "frontend_py").mkdir()
    (root / "frontend_py" / "main.py").write_text("print('hi')\n")
    (root / "signaling").mkdir()
    (root / "signaling" / "protocol.py").write_text("CAPACITY = 6\n")
    (root / "signaling" / "relay.py").write_text("SERVER_ONLY = True\n")
    (root / "assets" / "pyodide").mkdir(parents=True)
    (root / "assets" / "pyodide" / "pyodide.mjs").write_text("export {};\n")
    (root / "assets" / "pyodide" / "pyodide.asm.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (root / "assets" / "segno").mkdir()
    (root / "assets" / "segno" / "__init__.py").write_text("__version__ = '1.6.6'\n")
    (root / "models").mkdir()
    (root / "models" / "face.onnx").write_bytes(b"\x08\x07onnx")
    (root / "models" / "decode.py").write_text("ANCHORS = []\n")
    (root / "models" / "recipe.py").write_text("BUILD_ONLY = True\n")
    (root / "models" / ".cache").mkdir()
    (root / "models" / ".cache" / "x.onnx").write_bytes(b"cached")
    (root / "secret.txt").write_text("do not serve")
    server = Server(root, CLOV_STATIC_ROOT=str(root)).start()
    yield server
    server.stop()


ISOLATION = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
}


@pytest.mark.parametrize(
    "path, mime, cache",
    [
        ("/", "text/html", "no-cache"),
        ("/r/SomeRoom123", "text/html", "no-cache"),
        ("/frontend_py/main.py", "text/x-python", "no-cache"),
        ("/signaling/protocol.py", "text/x-python", "no-cache"),
        ("/assets/pyodide/pyodide.mjs", "text/javascript", "public, max-age=86400"),
        ("/assets/pyodide/pyodide.asm.wasm", "application/wasm", "public, max-age=86400"),
        ("/assets/segno/__init__.py", "text/x-python", "public, max-age=86400"),
        ("/models/face.onnx", "application/octet-stream", "no-cache"),
        ("/models/decode.py", "text/x-python", "no-cache"),
    ],
)
def test_app_files_with_isolation_headers(app_server, path: str, mime: str, cache: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(app_server.http + path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(mime)
    assert response.headers["cache-control"] == cache
    for name, value in ISOLATION.items():
        assert response.headers[name] == value


def test_csp_keeps_every_request_on_our_origin() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    for directive, sources in directives.items():
        for source in sources.split():
            assert source in {"'self'", "'none'", "'wasm-unsafe-eval'", "'unsafe-eval'", "'unsafe-inline'", "data:", "blob:",
                              "mediastream:"}, (directive, source)


def test_api_responses_carry_headers_and_no_store(app_server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(app_server.http + "/api/rooms")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["cross-origin-embedder-policy"] == "require-corp"


@pytest.mark.parametrize(
    "path",
    [
        "/secret.txt",
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2fsecret.txt",
        "/frontend_py/..%2f..%2fsecret.txt",
        "/signaling/relay.py",
        "/frontend_py/missing.py",
        "/r/",
        "/models/recipe.py",
        "/models/.cache/x.onnx",
        "/models/..%2fsecret.txt",
    ],
)
def test_no_traversal_and_nothing_else_served(app_server, path: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(app_server.http + path)
    assert response.status_code == 404
    assert "do not serve" not in response.text and "SERVER_ONLY" not in response.text
    assert "BUILD_ONLY" not in response.text and "cached" not in response.text


def test_index_lists_every_client_module() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(re.findall(r'"/frontend_py/(\w+\.py)": ', (root / "index.html").read_text()))
    modules = {path.name for path in (root / "frontend_py").glob("*.py")} - {"main.py"}
    assert listed == modules


def test_index_lists_every_segno_module_the_asset_step_copies() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("clov_assets_script", root / "scripts" / "assets.py")
    assert spec is not None and spec.loader is not None
    assets = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = assets  # dataclasses look their module up there
    spec.loader.exec_module(assets)

    copied = {path.name for path in assets.python_runtime_modules("segno")}
    assert {"__init__.py", "encoder.py", "writers.py"} <= copied and "cli.py" not in copied
    # Each lands in ./segno/ in Pyodide's working directory, which is on sys.path: `import segno`.
    listed = set(re.findall(r'"/assets/segno/(\w+\.py)": "\./segno/"', (root / "index.html").read_text()))
    assert listed == copied
