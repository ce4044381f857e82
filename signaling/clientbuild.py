"""The browser client as files: where they are, which the page needs, and copying them into a
folder, for a static host (`clov build`, signaling/statichost.py) and into the wheel (setup.py,
which runs where only setuptools is installed: standard library only here).

What the page loads: index.html; frontend_py/ (modules, loading.js, style.css, icons, overlay
art); the wire protocol it shares with the server (signaling/protocol.py); assets/, which
scripts/assets.py fills with only what the page loads at run time; the ONNX models and the
detector decoding (models/decode.py), with the models' licence and notice, which their
redistribution must carry.

Two things derived from those files, for a first visit that moves few bytes and a second that
moves none of the large ones:
- precompressed siblings (`x.wasm.br`, `x.wasm.gz`), written at build time (`precompress`) and
  served by content negotiation (signaling/static.py) or a static host's own (nginx
  `brotli_static`/`gzip_static`); brotli needs the `brotli` package, imported only there;
- content digests of the units the page loads (`unit_of`, `versions`): each folder of assets/,
  frontend_py/, signaling/'s shared modules, each served file of models/. The page names its
  files as `v/{digest}/{path}` (frontend_py/urls.py `versioned`), so a browser keeps them for
  good and a deploy changes the URLs of exactly the units that changed.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import importlib.util
import json
import os
import re
import shutil
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from frontend_py.urls import VERSIONS_META, versioned

_CHECKOUT = Path(__file__).resolve().parent.parent
# The client `clov serve` serves by default and `clov build` copies: a checkout's, else the copy
# an installed wheel carries (setup.py puts it there).
CLIENT_ROOT = _CHECKOUT if (_CHECKOUT / "index.html").is_file() else Path(__file__).resolve().parent / "client"

SHARED_MODULES = ("__init__.py", "protocol.py")  # of signaling/: the browser imports these
BROWSER_MODEL_MODULES = ("__init__.py", "decode.py")  # of models/
MODEL_TERMS = ("LICENSE", "NOTICE")
# The scripts that say what assets/ and models/ must hold (`client_files`); an installed client
# carries them too, for its check at start, though the page never loads them.
LIST_SCRIPTS = ("scripts/assets.py", "models/recipe.py")


# What the page loads, derived from the code that builds it, so the list is written once:
# scripts/assets.py (RUNTIME_FILES, PYTHON_PACKAGES) builds assets/, models/recipe.py (MODELS)
# builds every models/<name>.onnx the client picks from (frontend_py/modelsessions.py model_file).
# Both are in a checkout, and in the client an installed wheel carries (LIST_SCRIPTS).
ASSETS_COMMAND = "scripts/setup.sh (or only the runtime: .venv/bin/python scripts/assets.py)"
MODELS_COMMAND = "git checkout -- models (they come with the repository; rebuilt by python models/recipe.py)"


def _load_script(path: Path) -> ModuleType:
    """A module of ours that is a script, not part of an installed package."""
    name = "clov_" + path.stem + "_script"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def client_files(code_root: Path = CLIENT_ROOT) -> dict[str, list[str]]:
    """The files the page loads, as glob patterns relative to the static root (hashed chunk
    names need globs), grouped by the command that makes them."""
    shell = ["index.html", "frontend_py/main.py", "signaling/protocol.py", "models/decode.py"]
    assets = _load_script(code_root / "scripts" / "assets.py")
    runtime = [
        f"assets/{name}/{pattern}" for name, spec in assets.RUNTIME_FILES.items() for pattern in spec.patterns
    ]
    # Its __init__.py stands for a copied Python package: listing its modules means parsing the
    # installed package (assets.python_runtime_modules), too slow for every start.
    runtime += [f"assets/{package}/__init__.py" for package in assets.PYTHON_PACKAGES]
    recipe = _load_script(code_root / "models" / "recipe.py")
    models = [f"models/{name}.onnx" for name in recipe.MODELS]
    return {"": shell, ASSETS_COMMAND: runtime, MODELS_COMMAND: models}


def missing_client_files(static_root: Path, code_root: Path = CLIENT_ROOT) -> dict[str, list[str]]:
    """The patterns of `client_files` that match no file under `static_root`, by command."""
    missing: dict[str, list[str]] = {}
    for command, patterns in client_files(code_root).items():
        absent = [pattern for pattern in patterns if not any(p.is_file() for p in static_root.glob(pattern))]
        if absent:
            missing[command] = absent
    return missing


def missing_files_message(static_root: Path, missing: dict[str, list[str]], serving: bool = True) -> str:
    """What `clov serve` (or `clov build`, `serving=False`) says when the client is incomplete:
    what is missing, what makes it."""
    doing = "serve the app" if serving else "build the client"
    lines = [f"clov: cannot {doing}: files the page loads are missing from {static_root}:"]
    for command, patterns in missing.items():
        folders: dict[str, list[str]] = {}
        for pattern in patterns:
            folder, _, name = pattern.rpartition("/")
            folders.setdefault(folder, []).append(name)
        for folder, names in folders.items():
            lines.append(f"  {folder + '/' if folder else ''}{', '.join(names)}")
        if command:
            lines.append(f"  -> make them with: {command}")
        elif serving:
            lines.append("  -> is CLOV_STATIC_ROOT (--static-root) a CLOV checkout?")
    if serving:
        lines.append(
            "To run only the API and the signaling socket, for a client hosted elsewhere, "
            "set CLOV_STATIC_ROOT to empty (--static-root '')."
        )
    return "\n".join(lines)


def unit_of(relative: str) -> str | None:
    """The versioned unit a served file (a path relative to the static root, "/"-separated)
    belongs to, None for one the page may not load: the rules of what is served, in one place."""
    parts = relative.split("/")
    if any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
        return None
    top, name = parts[0], parts[-1]
    # Bytecode: an installed wheel's copy gets it from pip; never the page's.
    if is_sibling(name) or "__pycache__" in parts or name.endswith(".pyc"):
        return None
    if top == "assets" and len(parts) >= 3:
        return f"assets/{parts[1]}/"
    if top == "frontend_py" and len(parts) >= 2:
        return None if name.endswith(".md") else "frontend_py/"
    if top == "signaling" and len(parts) == 2 and name in SHARED_MODULES:
        return "signaling/"
    if top == "models" and len(parts) == 2 and (name.endswith(".onnx") or name in BROWSER_MODEL_MODULES):
        return relative
    return None


def _served(root: Path, unit: str | None = None) -> list[str]:
    """The files under `root` the page may load (of one `unit` only, when given), relative."""
    if unit is None:
        candidates = [
            *(path for folder in ("frontend_py", "assets") for path in (root / folder).rglob("*")),
            *(root / "signaling" / name for name in SHARED_MODULES),
            *(root / "models").glob("*"),
        ]
    else:
        candidates = list((root / unit).rglob("*")) if unit.endswith("/") else [root / unit]
    relative = (path.relative_to(root).as_posix() for path in candidates if path.is_file())
    return sorted(name for name in relative if unit_of(name) is not None and unit in (None, unit_of(name)))


def client_sources(root: Path) -> list[Path]:
    """The files of the client under `root` (a checkout), relative to it: index.html, every file
    the page may load (`unit_of`), the models' licence terms; no precompressed siblings."""
    terms = [f"models/{name}" for name in MODEL_TERMS]
    return sorted(Path(name) for name in ["index.html", *_served(root), *terms])


def copy_client(
    source: Path, target: Path, extra: tuple[str, ...] = (), layout: Mapping[str, str] | None = None,
    encodings: tuple[str, ...] = (),
) -> list[Path]:
    """Copy the client (and the `extra` paths, relative to `source`) from `source` into
    `target`; real copies, never links, since the folder is uploaded or packed elsewhere. With
    `layout` (`versions`), a versioned file goes to its versioned path (frontend_py/urls.py
    `versioned`). The siblings in `encodings` that `source` has go along (not checked here: the
    server checks a sibling before serving it)."""
    copied = []
    for relative in [*client_sources(source), *map(Path, extra)]:
        destination = target / versioned(relative.as_posix(), layout or {})
        destination.parent.mkdir(parents=True, exist_ok=True)
        copied.append(Path(shutil.copyfile(source / relative, destination)))
        for encoding in encodings:
            encoded = sibling(source / relative, encoding)
            if encoded.is_file():
                copied.append(Path(shutil.copyfile(encoded, sibling(destination, encoding))))
    return copied


# Precompression. Extensions of files that compress well (scripts/assets.py stores the members
# of Pyodide's stdlib zip uncompressed, so it does too); a sibling that saves less than
# MIN_SAVING of its file, or under MIN_SAVED_BYTES, is not worth a file and a header.
ENCODINGS = {"br": ".br", "gzip": ".gz"}
COMPRESSIBLE = (".wasm", ".mjs", ".js", ".json", ".py", ".css", ".html", ".svg", ".onnx", ".zip", ".txt")
MIN_SAVING = 0.1
MIN_SAVED_BYTES = 512
BROTLI_WINDOW = 24  # the largest window: the wasm files are many MB


def sibling(path: Path, encoding: str) -> Path:
    return path.with_name(path.name + ENCODINGS[encoding])


def is_sibling(name: str) -> bool:
    return name.endswith(tuple(ENCODINGS.values()))


def encode(data: bytes, encoding: str) -> bytes:
    """`data` compressed at the best ratio (build time: slow, done once)."""
    if encoding == "br":
        import brotli  # only where we compress or check siblings: setup.py runs without it

        return brotli.compress(data, quality=11, lgwin=BROTLI_WINDOW)
    return gzip.compress(data, compresslevel=9, mtime=0)


def decodes_to(encoded: bytes, encoding: str, original: bytes) -> bool:
    """`encoded` decodes to exactly `original`; decoding at most one byte past its length."""
    if encoding == "br":
        import brotli

        decoder = brotli.Decompressor()
        try:
            decoded = decoder.process(encoded, output_buffer_limit=len(original) + 1)
        except brotli.error:
            return False
        return decoded == original and decoder.is_finished()
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # the gzip container
    try:
        decoded = decompressor.decompress(encoded, len(original) + 1)
    except zlib.error:
        return False
    return decoded == original and decompressor.eof and not decompressor.unused_data


def fresh_sibling(path: Path, encoding: str) -> bool:
    """`path`'s sibling for `encoding` exists and decodes to `path`'s bytes: a sibling left by
    an older file (an upgrade, an edit, a copy in the wrong order) never passes."""
    encoded = sibling(path, encoding)
    if not encoded.is_file():
        return False
    return decodes_to(encoded.read_bytes(), encoding, path.read_bytes())


def saves_enough(original: int, encoded: int) -> bool:
    """Whether an encoding of `original` bytes into `encoded` bytes is worth sending."""
    return original - encoded >= max(MIN_SAVED_BYTES, MIN_SAVING * original)


def worth_compressing(path: Path) -> bool:
    return path.suffix in COMPRESSIBLE and not is_sibling(path.name)


def _precompress_one(path: Path) -> list[Path]:
    kept = []
    data = path.read_bytes()
    for encoding in ENCODINGS:
        target = sibling(path, encoding)
        if fresh_sibling(path, encoding):
            kept.append(target)
            continue
        encoded = encode(data, encoding)
        if not saves_enough(len(data), len(encoded)):
            target.unlink(missing_ok=True)
            continue
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(encoded)
        partial.replace(target)  # never a half-written sibling under the served name
        kept.append(target)
    return kept


def precompress(paths: Iterable[Path]) -> list[Path]:
    """Write the brotli and gzip siblings of the compressible `paths` that lack a fresh one
    (one thread per core: brotli compresses outside the GIL); returns every sibling in place."""
    candidates = [path for path in paths if worth_compressing(path)]
    # Largest first, so the long ones start at once and the threads end together.
    candidates.sort(key=lambda path: path.stat().st_size, reverse=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return [target for kept in pool.map(_precompress_one, candidates) for target in kept]


# Versions: a unit's digest is over its files' paths and bytes; 16 hex digits are plenty for
# one site's few units, and keep URLs short.
DIGEST_LENGTH = 16


def unit_digest(root: Path, files: Iterable[str], file_hash: Callable[[str], bytes] | None = None) -> str:
    """The digest of a unit of `root` made of `files` (relative, "/"-separated); `file_hash`
    gives a file's SHA-256 (the server keeps them between requests)."""
    hash_of = file_hash or (lambda relative: hashlib.sha256((root / relative).read_bytes()).digest())
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(relative.encode() + b"\0" + hash_of(relative))
    return digest.hexdigest()[:DIGEST_LENGTH]


def units(root: Path, only: str | None = None) -> dict[str, list[str]]:
    """The files of each versioned unit of the client under `root` (of the unit `only`)."""
    grouped: dict[str, list[str]] = {}
    for relative in _served(root, only):
        grouped.setdefault(unit_of(relative) or "", []).append(relative)
    return grouped


def versions(root: Path) -> dict[str, str]:
    """`{unit: digest}` of the client under `root`."""
    return {unit: unit_digest(root, files) for unit, files in units(root).items()}


# "/assets/..." and the like in index.html's attributes and PyScript config.
ROOTED_PATH = re.compile(r'(?<=")/((?:assets|frontend_py|models|signaling)/[^"]*)(?=")')
CHARSET = '<meta charset="utf-8">'


def versioned_page(page: str, versions: Mapping[str, str]) -> str:
    """index.html naming every file of a versioned unit by its versioned URL, and carrying the
    versions for the client's own URLs (frontend_py/urls.py)."""
    rewritten = ROOTED_PATH.sub(lambda match: "/" + versioned(match[1], versions), page)
    table = json.dumps(dict(sorted(versions.items())), separators=(",", ":"))
    content = html.escape(table, quote=False).replace("'", "&#x27;")  # in a single-quoted attribute
    return rewritten.replace(CHARSET, f"{CHARSET}\n  <meta name=\"{VERSIONS_META}\" content='{content}'>", 1)
