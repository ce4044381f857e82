"""Build the browser runtime into ``assets/`` from the pinned npm packages and segno (PyPI).

The server serves ``assets/`` at the URL ``/assets/``; nothing is ever fetched from a CDN.
This script:

1. runs ``npm ci`` when ``node_modules/`` is missing or older than ``package-lock.json``;
2. copies only the files each package needs at run time (see ``RUNTIME_FILES``) into
   ``assets/<name>/``, replacing whatever was there (Pyodide's standard library as a zip of
   stored members, which compresses far better in step 4);
3. copies the pure-Python packages the client imports in Pyodide (see ``PYTHON_PACKAGES``), as
   installed in the Python that runs this script, into ``assets/<name>/`` the same way: the
   package's ``__init__.py``, the package modules it imports (transitively), and its licence;
4. writes the brotli and gzip siblings (``x.wasm.br``, ``x.wasm.gz``) of every compressible file
   the page loads, assets/ and models/ and the client's own files, which ``clov serve`` sends to
   browsers that accept them (signaling/clientbuild.py ``precompress``). Brotli at its best
   ratio takes minutes for the runtime's wasm files, so a file left unchanged by steps 2 and 3
   keeps its siblings, and only new or stale ones are written.

Plain CPython 3.11 standard library, but the packages of step 3 and ``brotli`` must be installed
in the Python that runs it, as they are in ``.venv`` (scripts/setup.sh runs it so). Run it from
anywhere::

    .venv/bin/python scripts/assets.py
"""

from __future__ import annotations

import ast
import filecmp
import importlib.metadata
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
LOCKFILE = ROOT / "package-lock.json"
ASSETS = ROOT / "assets"


@dataclass(frozen=True)
class RuntimeFiles:
    """The files of one npm package that a browser fetches, and where they go under assets/."""

    package: str  # npm package name, e.g. "@pyscript/core"
    source_dir: str  # folder inside the package that holds the files
    patterns: tuple[str, ...]  # glob patterns inside source_dir (hashed chunk names need globs)
    exclude_suffixes: tuple[str, ...] = (".map",)
    # Zip archives copied with every member stored rather than deflated (`stored_zip`).
    stored_zips: tuple[str, ...] = ()


# assets/<key>/ <- files of one package.
RUNTIME_FILES: dict[str, RuntimeFiles] = {
    # loadPyodide() fetches exactly these five (pyodide.mjs is the entry point we import).
    "pyodide": RuntimeFiles(
        package="pyodide",
        source_dir=".",
        patterns=(
            "pyodide.mjs",
            "pyodide.asm.mjs",
            "pyodide.asm.wasm",
            "python_stdlib.zip",
            "pyodide-lock.json",
        ),
        # The standard library's .py files, deflated one by one: 2.55 MB, which brotli cannot
        # shrink further. Stored, the archive is 9.7 MB and brotli sends it in 1.59 MB (gzip
        # 2.21), since it then compresses all the sources as one text; imports stop inflating.
        stored_zips=("python_stdlib.zip",),
    ),
    # core.js + core.css and the chunks a boot of our page fetches (chunk names carry content
    # hashes, hence the globs). The editor, terminal and game plugins are tiny stubs that load
    # codemirror/xterm only when a page uses them, which ours never does: those are not copied.
    "pyscript": RuntimeFiles(
        package="@pyscript/core",
        source_dir="dist",
        patterns=(
            "core.js",
            "core.css",
            "core-*.js",
            "error-*.js",
            "donkey-*.js",
            "deprecations-manager-*.js",
            "py-editor-*.js",
            "py-game-*.js",
            "py-terminal-*.js",
        ),
    ),
    # Two entry points, each with its own wasm build; a page fetches only the pair it picks
    # (frontend_py/onnxruntime.py): plain wasm (SIMD + threads), or WebGPU (asyncify build).
    "onnxruntime": RuntimeFiles(
        package="onnxruntime-web",
        source_dir="dist",
        patterns=(
            "ort.wasm.min.mjs",
            "ort-wasm-simd-threaded.mjs",
            "ort-wasm-simd-threaded.wasm",
            "ort.webgpu.min.mjs",
            "ort-wasm-simd-threaded.asyncify.mjs",
            "ort-wasm-simd-threaded.asyncify.wasm",
        ),
    ),
}


# Pure-Python PyPI packages the client imports in Pyodide (dependencies in pyproject.toml):
# assets/<name>/ <- <name>/__init__.py and the package modules it imports, transitively, found
# by reading the import statements. Modules that only a user imports stay out: segno's cli.py
# (the command line) and helpers.py (WiFi, vCard... payloads). index.html lists each copied module.
PYTHON_PACKAGES: tuple[str, ...] = ("segno",)


def package_dir(package: str) -> Path:
    """Folder of an installed npm package."""
    return NODE_MODULES.joinpath(*package.split("/"))


def installed_version(package: str) -> str | None:
    """Version of an installed npm package, or None when it is not installed."""
    manifest = package_dir(package) / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))["version"]


def locked_version(package: str) -> str:
    """Version of a package as pinned in package-lock.json."""
    lock = json.loads(LOCKFILE.read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{package}"]["version"]


def node_modules_is_stale() -> bool:
    """True when node_modules/ is missing or does not match package-lock.json."""
    # npm ci writes node_modules/.package-lock.json; it must be newer than the lockfile.
    marker = NODE_MODULES / ".package-lock.json"
    if not marker.is_file() or marker.stat().st_mtime < LOCKFILE.stat().st_mtime:
        return True
    return any(
        installed_version(spec.package) != locked_version(spec.package)
        for spec in RUNTIME_FILES.values()
    )


def install_node_modules() -> None:
    """Install exactly what package-lock.json pins."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("assets: npm not found; install Node.js 20+ (it ships npm)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=ROOT, check=True
    )


def runtime_sources(spec: RuntimeFiles) -> list[Path]:
    """The files of one package to copy; fails when a pattern matches nothing."""
    source_dir = package_dir(spec.package) / spec.source_dir
    files: list[Path] = []
    for pattern in spec.patterns:
        matches = sorted(
            path
            for path in source_dir.glob(pattern)
            if path.is_file() and not path.name.endswith(spec.exclude_suffixes)
        )
        if not matches:
            raise FileNotFoundError(f"{spec.package}: nothing matches {spec.source_dir}/{pattern}")
        files.extend(matches)
    return files


SIBLING_SUFFIXES = (".br", ".gz")  # signaling/clientbuild.py ENCODINGS


def stored_zip(source: Path) -> bytes:
    """The zip archive ``source`` with the same members, in the same order, each stored (not
    compressed); the same bytes every time for the same ``source``."""
    output = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(output, "w", zipfile.ZIP_STORED) as stored:
        for member in original.infolist():
            copy = zipfile.ZipInfo(member.filename, date_time=member.date_time)
            copy.external_attr = member.external_attr
            stored.writestr(copy, original.read(member))
    return output.getvalue()


def sync_folder(target: Path, sources: list[Path], stored_zips: tuple[str, ...] = ()) -> list[Path]:
    """Make ``target`` hold exactly ``sources`` (by name, flat; those named in ``stored_zips`` as
    `stored_zip` makes them) and their siblings: a file that is already there with the bytes it
    should have stays as it is, with its siblings; anything else goes."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {source.name: source for source in sources}
    for present in target.iterdir():
        base = present.name.removesuffix(".br").removesuffix(".gz") if present.name.endswith(SIBLING_SUFFIXES) else ""
        if present.is_dir() and not present.is_symlink():
            shutil.rmtree(present)
        elif present.name not in wanted and base not in wanted:
            present.unlink()
    copied = []
    for name, source in wanted.items():
        destination = target / name
        if name in stored_zips:
            data = stored_zip(source)
            if not (destination.is_file() and destination.read_bytes() == data):
                destination.write_bytes(data)
        elif not (destination.is_file() and filecmp.cmp(source, destination, shallow=False)):
            shutil.copy2(source, destination)
        copied.append(destination)
    return copied


def copy_runtime_files(name: str, spec: RuntimeFiles) -> list[Path]:
    """Make assets/<name>/ hold the runtime files of one package."""
    return sync_folder(ASSETS / name, runtime_sources(spec), spec.stored_zips)


def python_package_dir(name: str) -> Path:
    """Folder of an installed pure-Python package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            f"assets: the Python package {name} is not installed in {sys.executable}; "
            "run this script with .venv/bin/python (scripts/setup.sh installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def python_runtime_modules(name: str) -> list[Path]:
    """``<name>/__init__.py`` and the modules of the package it imports, transitively.

    Reads ``from . import x``, ``from .x import y``, ``from <name> import x``,
    ``from <name>.x import y`` and ``import <name>.x``, wherever they appear (imports inside functions count too). Only flat
    packages: one with subpackages fails rather than being copied incompletely.
    """
    folder = python_package_dir(name)
    if any(path.parent != folder for path in folder.rglob("__init__.py")):
        raise NotImplementedError(f"{name}: subpackages are not supported")
    found: set[str] = set()
    pending = ["__init__"]
    while pending:
        module = pending.pop()
        if module in found:
            continue
        found.add(module)
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            candidates: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    inner = node.module or ""
                elif node.level == 0 and (node.module or "").split(".")[0] == name:
                    inner = (node.module or "").partition(".")[2]
                else:
                    continue
                if inner:
                    candidates.append(inner.split(".")[0])
                else:
                    candidates.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                candidates.extend(
                    alias.name.split(".")[1] for alias in node.names if alias.name.startswith(f"{name}.")
                )
            # Names imported from the package that are not modules (classes, functions) drop out here.
            pending.extend(candidate for candidate in candidates if (folder / f"{candidate}.py").is_file())
    return sorted(folder / f"{module}.py" for module in found)


def python_license_files(name: str) -> list[Path]:
    """The licence files the installed distribution of a package carries (its dist-info)."""
    files = importlib.metadata.distribution(name).files or []
    licenses = [
        Path(str(file.locate()))
        for file in files
        if file.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))
    ]
    if not licenses:
        raise FileNotFoundError(f"{name}: the installed distribution lists no licence file")
    return licenses


def copy_python_package(name: str) -> list[Path]:
    """Make assets/<name>/ hold the runtime modules and the licence of a Python package."""
    return sync_folder(ASSETS / name, [*python_runtime_modules(name), *python_license_files(name)])


def precompress_client() -> list[Path]:
    """The siblings of every compressible file the page loads (step 4)."""
    sys.path.insert(0, str(ROOT))
    from signaling.clientbuild import client_sources, precompress

    return precompress(ROOT / relative for relative in client_sources(ROOT) if relative.name != "index.html")


def build_assets() -> list[Path]:
    """Install node_modules if needed, then copy every package's runtime files."""
    if node_modules_is_stale():
        install_node_modules()
    copied: list[Path] = []
    for name, spec in RUNTIME_FILES.items():
        copied.extend(copy_runtime_files(name, spec))
    for name in PYTHON_PACKAGES:
        copied.extend(copy_python_package(name))
    return copied


def main() -> None:
    copied = build_assets()
    total = sum(path.stat().st_size for path in copied)
    print(f"assets: {len(copied)} files, {total / 1e6:.1f} MB in {ASSETS.relative_to(ROOT)}/")
    siblings = precompress_client()
    print(f"assets: {len(siblings)} precompressed siblings, {sum(p.stat().st_size for p in siblings) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
