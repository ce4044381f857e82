"""`clov build`: the client written into a folder for a static host, with its signaling server
configured (tests_e2e/test_statichost.py runs a call through it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from frontend_py.urls import versioned
from signaling.clientbuild import ENCODINGS, client_sources, fresh_sibling, sibling, versions
from signaling.static import IMMUTABLE, SECURITY_HEADERS
from signaling.statichost import BuildError, build, headers_file
from tests.conftest import ROOT
from tests.staticroot import make_static_root

SIGNAL = "https://signal.example.org"


def clov_build(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signaling.cli", "build", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site") / "booth"
    result = clov_build(site, "--signaling", SIGNAL + "/")
    assert result.returncode == 0, result.stderr
    assert str(site) in result.stderr and "CLOV_ALLOWED_ORIGINS" in result.stderr
    return site


def test_the_whole_client_is_copied_at_its_versioned_paths(site: Path) -> None:
    current = versions(ROOT)
    for relative in client_sources(ROOT):
        copy = site / versioned(relative.as_posix(), current)
        assert copy.is_file() and not copy.is_symlink(), relative
        if relative.name != "index.html":
            assert copy.read_bytes() == (ROOT / relative).read_bytes(), relative
    for needed in ("frontend_py/loading.js", "frontend_py/style.css", "frontend_py/clov.svg",
                   "frontend_py/overlays/crown.svg", "frontend_py/urls.py", "signaling/protocol.py",
                   "assets/pyodide/pyodide.mjs", "assets/segno/__init__.py", "models/decode.py",
                   "models/selfie_segmentation.onnx"):
        assert (site / versioned(needed, current)).is_file() and not (site / needed).exists(), needed
    assert (site / "models" / "NOTICE").is_file()  # the models' terms, which the page never loads
    # Nothing the page does not load: no server code, no build scripts, no caches.
    assert not list(site.rglob("relay.py")) and not list(site.rglob("recipe.py"))
    assert not list(site.rglob("__pycache__")) and not (site / "scripts").exists()


def test_the_large_files_have_fresh_siblings_for_hosts_that_serve_them(site: Path) -> None:
    current = versions(ROOT)
    for large in ("assets/pyodide/pyodide.asm.wasm", "assets/onnxruntime/ort-wasm-simd-threaded.wasm",
                  "models/face_landmark.onnx", "assets/pyodide/python_stdlib.zip"):
        path = site / versioned(large, current)
        for encoding in ENCODINGS:
            assert fresh_sibling(path, encoding), (large, encoding)
        assert sibling(path, "br").stat().st_size < 0.6 * path.stat().st_size


def test_the_page_names_its_signaling_server_and_works_in_any_folder(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert f'<meta name="clov-signaling" content="{SIGNAL}">' in page
    # Relative paths only: the folder may be served at /booth/ (GitHub Pages projects).
    assert not re.search(r'"/(assets|frontend_py|models|signaling|v)/', page)
    current = versions(ROOT)
    assert f'"./v/{current["assets/pyodide/"]}/assets/pyodide/pyodide.mjs"' in page
    assert f'src="./v/{current["frontend_py/"]}/frontend_py/main.py"' in page
    assert f"content='{json.dumps(current, separators=(',', ':'))}'" in page  # the client forms the rest
    # What a static host may not send, the page carries; the policy lets it reach its server only.
    [policy] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert f"connect-src 'self' {SIGNAL} wss://signal.example.org;" in policy
    assert "frame-ancestors" not in policy  # not allowed in <meta>
    assert page.index("Content-Security-Policy") < page.index("<script")
    assert '<meta name="referrer" content="no-referrer">' in page


def test_headers_for_hosts_that_read_a_headers_file(site: Path) -> None:
    lines = (site / "_headers").read_text().splitlines()
    assert "/*" in lines
    for name, value in SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":
            assert f"  {name}: {value}" in lines
    [policy] = [line for line in lines if line.startswith("  Content-Security-Policy: ")]
    assert "frame-ancestors 'none'" in policy and f"connect-src 'self' {SIGNAL} wss://" in policy
    # The versioned files are kept for good; nothing else names a Cache-Control (hosts join the
    # values of every rule that matches), so index.html keeps the host's revalidation.
    assert lines[lines.index("/v/*") + 1:] == [f"  Cache-Control: {IMMUTABLE}"]
    assert sum("Cache-Control" in line for line in lines) == 1


def test_a_rebuild_replaces_the_last_and_other_folders_are_left_alone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert clov_build(site, "--signaling", "http://127.0.0.1:8000").returncode == 0
    stale = site / "v" / "0123456789abcdef" / "frontend_py" / "stale.py"  # an older build's version
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    (site / "CNAME").write_text("booth.example.org")  # the host's own file stays
    assert clov_build(site, "--signaling", SIGNAL).returncode == 0
    assert not stale.exists() and (site / "CNAME").is_file()
    assert SIGNAL in (site / "index.html").read_text()

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = clov_build(other, "--signaling", SIGNAL)
    assert result.returncode == 1 and "not empty" in result.stderr
    assert [path.name for path in other.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("origin", ["signal.example.org", "https://signal.example.org/app", "ftp://signal.example.org",
                                    "https://signal.example.org/?x=1"])
def test_a_signaling_url_that_is_not_an_origin_is_refused(origin: str, tmp_path: Path) -> None:
    result = clov_build(tmp_path / "site", "--signaling", origin)
    assert result.returncode == 2
    assert "--signaling" in result.stderr and "not an origin like https://" in result.stderr
    assert not (tmp_path / "site").exists()


def test_without_the_runtime_the_build_says_what_makes_it(tmp_path: Path) -> None:
    source = make_static_root(tmp_path / "checkout", skip=("assets/",))
    with pytest.raises(BuildError) as refused:
        build(tmp_path / "site", SIGNAL, source=source)
    message = str(refused.value)
    assert message.startswith("clov: cannot build the client")
    assert "assets/pyodide/pyodide.mjs" in message and "scripts/setup.sh" in message
    assert "CLOV_STATIC_ROOT" not in message
    assert not (tmp_path / "site").exists()


def test_the_readme_shows_the_same_headers_for_nginx() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = headers_file(SIGNAL).splitlines()
    for line in lines[2:lines.index("/v/*")]:
        name, value = line.strip().split(": ", 1)
        assert f'add_header {name} "{value}" always;' in readme, name
    assert f'~^/v/ "{IMMUTABLE}";' in readme and "add_header Cache-Control $clov_cache always;" in readme
    assert "gzip_static on;" in readme and "brotli_static on;" in readme
