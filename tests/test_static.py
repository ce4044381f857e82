"""Static serving of the app: headers for cross-origin isolation, MIME types, no traversal."""

from __future__ import annotations

import re

import httpx
import pytest

from signaling.static import CONTENT_SECURITY_POLICY
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import Server
    from tests.staticroot import make_static_root

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
    make_static_root(root)  # the rest of what `clov serve` checks for at start
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
        ("/assets/pyodide/pyodide.mjs", "text/javascript", "no-cache"),
        ("/assets/pyodide/pyodide.asm.wasm", "application/wasm", "no-cache"),
        ("/assets/segno/__init__.py", "text/x-python", "no-cache"),
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
        "/assets/pyodide/missing.js",
        "/assets/nofolder/missing.js",
        "/frontend_py/nofolder/missing.py",
        "/models/missing.onnx",
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


def asset_step():  # type: ignore[no-untyped-def]
    """scripts/assets.py as a module (scripts/ is not a package)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("clov_assets_script", ROOT / "scripts" / "assets.py")
    assert spec is not None and spec.loader is not None
    assets = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = assets  # dataclasses look their module up there
    spec.loader.exec_module(assets)
    return assets


def test_index_lists_every_segno_module_the_asset_step_copies() -> None:
    copied = {path.name for path in asset_step().python_runtime_modules("segno")}
    assert {"__init__.py", "encoder.py", "writers.py"} <= copied and "cli.py" not in copied
    # Each lands in ./segno/ in Pyodide's working directory, which is on sys.path: `import segno`.
    listed = set(re.findall(r'"/assets/segno/(\w+\.py)": "\./segno/"', (ROOT / "index.html").read_text()))
    assert listed == copied


def test_the_standard_library_goes_out_as_one_compressed_archive_of_the_same_modules() -> None:
    import zipfile

    from signaling.clientbuild import sibling

    packaged = ROOT / "node_modules" / "pyodide" / "python_stdlib.zip"
    served = ROOT / "assets" / "pyodide" / "python_stdlib.zip"
    with zipfile.ZipFile(packaged) as package, zipfile.ZipFile(served) as copy:
        assert [member.filename for member in copy.infolist()] == [member.filename for member in package.infolist()]
        assert all(copy.read(name) == package.read(name) for name in package.namelist())
        assert {member.compress_type for member in copy.infolist()} == {zipfile.ZIP_STORED}
    # What a browser downloads: brotli over HTTPS, gzip over HTTP, both well under the package's zip.
    assert sibling(served, "br").stat().st_size < 0.7 * packaged.stat().st_size
    assert sibling(served, "gzip").stat().st_size < 0.9 * packaged.stat().st_size


def test_the_asset_step_stores_a_zip_once_and_keeps_it_and_its_siblings_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    assets = asset_step()
    source = tmp_path / "package" / "lib.zip"
    source.parent.mkdir()
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("json/__init__.py", "import re\n" * 200)
        archive.writestr("re/__init__.py", "")
    target = tmp_path / "assets"
    [copied] = assets.sync_folder(target, [source], stored_zips=("lib.zip",))
    stored = copied.read_bytes()
    assert stored == assets.stored_zip(source)  # the same bytes from the same archive, every time
    with zipfile.ZipFile(copied) as archive:
        assert archive.namelist() == ["json/__init__.py", "re/__init__.py"]
        assert archive.read("json/__init__.py") == b"import re\n" * 200
        assert archive.getinfo("json/__init__.py").compress_type == zipfile.ZIP_STORED
    (target / "lib.zip.br").write_bytes(b"its sibling")
    written = copied.stat().st_mtime_ns
    assets.sync_folder(target, [source], stored_zips=("lib.zip",))
    assert copied.stat().st_mtime_ns == written and (target / "lib.zip.br").exists()


def test_a_missing_folder_is_a_404_not_a_500(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Starlette's StaticFiles raises on its first request when its folder is missing (a 500).
    import anyio
    from starlette.applications import Starlette

    from signaling.static import static_routes

    app = Starlette(routes=static_routes(tmp_path))

    async def statuses() -> dict[str, int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            paths = ["/", "/r/Room", "/signaling/protocol.py", "/frontend_py/main.py", "/assets/pyscript/core.js",
                     "/models/face_landmark.onnx", "/models/decode.py"]
            return {path: (await client.get(path)).status_code for path in paths}

    assert set(anyio.run(statuses).values()) == {404}


def test_the_checked_files_come_from_the_asset_step_and_the_model_recipe() -> None:
    from pathlib import Path

    from signaling.clientbuild import ASSETS_COMMAND, MODELS_COMMAND, client_files

    root = Path(__file__).resolve().parent.parent
    files = client_files()
    assert {"assets/pyodide/pyodide.mjs", "assets/pyodide/pyodide.asm.wasm", "assets/pyscript/core.js",
            "assets/pyscript/core-*.js", "assets/onnxruntime/ort.wasm.min.mjs", "assets/segno/__init__.py"} <= set(
        files[ASSETS_COMMAND])
    # Every model the repository ships (the client picks among them, frontend_py/modelsessions.py model_file).
    assert set(files[MODELS_COMMAND]) == {f"models/{p.name}" for p in (root / "models").glob("*.onnx")}
    # Every runtime file index.html names is checked.
    # Every runtime file index.html names is checked (of segno, its __init__.py stands for the package).
    html = (root / "index.html").read_text()
    named = set(re.findall(r'"/(assets/[\w./-]+)"', html)) | set(re.findall(r'(?:src|href)="/(assets/[\w./-]+)"', html))
    named = {name for name in named if not name.startswith("assets/segno/")} | {"assets/segno/__init__.py"}
    assert len(named) > 3 and named <= set(files[ASSETS_COMMAND])


def _serve(root, **env: str):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    command = [sys.executable, "-m", "signaling.cli", "serve", "--port", "0"]
    environ = {**os.environ, "CLOV_STATIC_ROOT": str(root), **env}
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environ, timeout=30, check=False)


def test_serve_without_the_runtime_says_what_is_missing_and_how_to_build_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.staticroot import make_static_root

    make_static_root(tmp_path, skip=("assets/",))
    result = _serve(tmp_path)
    assert result.returncode == 1
    assert str(tmp_path) in result.stderr
    assert "assets/pyodide/pyodide.mjs" in result.stderr and "assets/pyscript/core.js" in result.stderr
    assert "scripts/setup.sh" in result.stderr and "scripts/assets.py" in result.stderr
    assert "models/" not in result.stderr  # only what is missing
    assert "CLOV is running" not in result.stderr


def test_serve_without_a_model_names_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.staticroot import make_static_root

    make_static_root(tmp_path)
    (tmp_path / "models" / "face_landmark_frame.onnx").unlink()
    result = _serve(tmp_path)
    assert result.returncode == 1
    assert "models/face_landmark_frame.onnx" in result.stderr and "models/recipe.py" in result.stderr
    assert "assets/" not in result.stderr


def test_an_empty_static_root_serves_no_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # An operator whose client is hosted elsewhere: the API and the socket only, nothing checked.
    from tests.conftest import Server

    server = Server(tmp_path, CLOV_STATIC_ROOT="").start()
    try:
        assert httpx.get(server.http + "/").status_code == 404
        assert httpx.get(server.http + "/assets/pyscript/core.js").status_code == 404
        assert httpx.post(server.http + "/api/rooms").status_code == 201
    finally:
        server.stop()
