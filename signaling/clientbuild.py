"""The browser client as files: where they are, which the page needs, and copying them into a
folder, for a static host (`clov build`, signaling/statichost.py) and into the wheel (setup.py,
which runs where only setuptools is installed: standard library only here).

What the page loads: index.html; frontend_py/ (modules, loading.js, style.css, icons, overlay
art); the wire protocol it shares with the server (signaling/protocol.py); assets/, which
scripts/assets.py fills with only what the page loads at run time; the ONNX models and the
detector decoding (models/decode.py), with the models' licence and notice, which their
redistribution must carry.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

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
# builds every models/<name>.onnx the client picks from (frontend_py/pipeline.py model_file).
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


def client_sources(root: Path) -> list[Path]:
    """The files of the client under `root` (a checkout), relative to it."""
    frontend = [
        path
        for path in (root / "frontend_py").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".md")
    ]
    files = [
        root / "index.html",
        *frontend,
        *(root / "signaling" / name for name in SHARED_MODULES),
        *(path for path in (root / "assets").rglob("*") if path.is_file()),
        *(root / "models").glob("*.onnx"),
        *(root / "models" / name for name in (*BROWSER_MODEL_MODULES, *MODEL_TERMS)),
    ]
    return sorted(path.relative_to(root) for path in files)


def copy_client(source: Path, target: Path, extra: tuple[str, ...] = ()) -> list[Path]:
    """Copy the client (and the `extra` paths, relative to `source`) from `source` into
    `target`; real copies, never links, since the folder is uploaded or packed elsewhere."""
    copied = []
    for relative in [*client_sources(source), *map(Path, extra)]:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        copied.append(Path(shutil.copyfile(source / relative, destination)))
    return copied
