"""The wheel is a complete install: built from this checkout, installed into a fresh environment,
its `clov serve` serves the page, the runtime and the models, and checks them at start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from frontend_py.urls import versioned
from signaling.clientbuild import versioned_page, versions
from tests.conftest import ROOT, SECRET, free_port, wait_until


def run(*command: str | Path, **options) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300,
                          check=False, **options)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel installed, and this one's packages as its dependencies."""
    tmp = tmp_path_factory.mktemp("wheel")
    # --no-isolation: the build runs on this environment's setuptools, with no download.
    built = run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp / "dist", ROOT)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [wheel] = (tmp / "dist").glob("clov-*.whl")
    venv = tmp / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    # The dependencies through a path line; .pth files are not run from there, so this
    # checkout's editable install stays out and `signaling` can only come from the wheel.
    [site] = venv.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
                    "--no-deps", "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr
    return venv


@pytest.fixture
def serve(venv: Path, tmp_path: Path) -> Iterator[str]:
    """`clov serve` of the installed wheel, run from elsewhere than the checkout; its URL."""
    port = free_port()
    env = {**os.environ, "CLOV_SECRET": SECRET, "CLOV_PORT": str(port)}
    env.pop("CLOV_STATIC_ROOT", None)
    log = tmp_path / "serve.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen([venv / "bin" / "clov", "serve"], cwd=tmp_path, env=env, stderr=stderr,
                                   stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(answers, 30), log.read_text()
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(15)


def client_root(venv: Path) -> Path:
    found = run(venv / "bin" / "python", "-c", "from signaling.clientbuild import CLIENT_ROOT; print(CLIENT_ROOT)",
                cwd=venv)
    assert found.returncode == 0, found.stderr
    return Path(found.stdout.strip())


def test_the_installed_wheel_serves_the_whole_client(venv: Path, serve: str) -> None:
    root = client_root(venv)
    assert root.is_relative_to(venv) and root.name == "client"
    for path in ("index.html", "frontend_py/main.py", "frontend_py/urls.py", "signaling/protocol.py",
                 "assets/pyodide/pyodide.asm.wasm", "assets/pyscript/core.js", "models/selfie_segmentation.onnx"):
        response = httpx.get(f"{serve}/{'' if path == 'index.html' else path}")
        assert response.status_code == 200, path
        if path == "index.html":  # naming the versioned URLs of the same files
            assert response.text == versioned_page((ROOT / path).read_text(), versions(ROOT))
        else:
            assert response.content == (ROOT / path).read_bytes(), path
    # The wheel carries the brotli siblings (httpx offers brotli, and decoded it above).
    wasm = httpx.get(f"{serve}/assets/onnxruntime/ort-wasm-simd-threaded.wasm", headers={"Accept-Encoding": "br"})
    assert wasm.headers["content-encoding"] == "br" and int(wasm.headers["content-length"]) < 0.3 * len(wasm.content)
    # Only what the page loads: no build tooling, no node_modules, no tests.
    assert not (root / "node_modules").exists() and not (root / "tests").exists()


def test_the_installed_wheel_checks_its_client_at_start(venv: Path) -> None:
    model = client_root(venv) / "models" / "face_landmark.onnx"
    saved = model.read_bytes()
    model.unlink()
    try:
        env = {**os.environ, "CLOV_PORT": "0"}
        env.pop("CLOV_STATIC_ROOT", None)
        result = run(venv / "bin" / "clov", "serve", cwd=venv, env=env)
    finally:
        model.write_bytes(saved)
    assert result.returncode == 1
    assert "models/face_landmark.onnx" in result.stderr and "CLOV is running" not in result.stderr


def test_the_installed_wheel_builds_a_static_client(venv: Path, tmp_path: Path) -> None:
    result = run(venv / "bin" / "clov", "build", tmp_path / "site", "--signaling", "https://signal.example.org",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / versioned("models/selfie_segmentation.onnx", versions(ROOT))).is_file()
    assert 'content="https://signal.example.org"' in (tmp_path / "site" / "index.html").read_text()
