"""Static serving of the browser app: index.html, frontend_py/, the shared protocol, assets/,
the ONNX models.

Every HTTP response carries the cross-origin isolation headers (wasm threads need them) and a
Content-Security-Policy that keeps every request on our own origin.
"""

from __future__ import annotations

import importlib.util
import mimetypes
import sys
from pathlib import Path
from types import ModuleType

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/x-python", ".py")
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("application/octet-stream", ".onnx")

# 'unsafe-eval': PyScript 0.7 builds its hooks with Function() on the main thread at every
# boot; without it the app stops right after Pyodide loads. 'wasm-unsafe-eval': Pyodide and
# onnxruntime-web compile WebAssembly. Inline scripts stay blocked.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=()",
}

# Our own code changes between deploys under the same URL: revalidate (ETag) every time.
# Third-party assets come from pinned npm (and PyPI) versions and change only with a deploy too, so
# they get a day of freshness and then revalidate.
APP_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=86400"

SHARED_MODULES = ("__init__.py", "protocol.py")
BROWSER_MODEL_MODULES = ("__init__.py", "decode.py")


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp, strict_transport: bool = False) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if strict_transport:
            self.headers["Strict-Transport-Security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CachedStaticFiles(StaticFiles):
    """StaticFiles (path-traversal safe, ETag) with one Cache-Control for the whole mount.

    A missing folder answers 404 like a missing file: Starlette's own check would raise on the
    first request (a 500). `clov serve` refuses to start without the files instead
    (`missing_client_files`)."""

    def __init__(self, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control

    async def check_config(self) -> None:
        pass

    def file_response(self, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = self.cache_control
        return response


class ModelFiles(CachedStaticFiles):
    """The ONNX files of models/ and the decoding the browser imports; not the recipe or its
    build caches."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if "/" in path.strip("/") or not (path.endswith(".onnx") or path in BROWSER_MODEL_MODULES):
            return Response("Not Found", status_code=404)
        return await super().get_response(path, scope)


def static_routes(root: Path) -> list[Route | Mount]:
    """Routes for the app shell; `/r/{room}` (an invite link) serves the same page as `/`."""
    index = root / "index.html"

    async def app_page(request: Request) -> Response:
        if not index.is_file():
            return Response("Not Found", status_code=404)
        return FileResponse(index, media_type="text/html; charset=utf-8", headers={"Cache-Control": APP_CACHE})

    def shared_module(name: str) -> Route:
        async def endpoint(request: Request) -> Response:
            path = root / "signaling" / name
            if not path.is_file():
                return Response("Not Found", status_code=404)
            return FileResponse(path, headers={"Cache-Control": APP_CACHE})

        return Route(f"/signaling/{name}", endpoint)

    return [
        Route("/", app_page),
        Route("/r/{room}", app_page),
        *[shared_module(name) for name in SHARED_MODULES],
        Mount("/frontend_py", CachedStaticFiles(root / "frontend_py", APP_CACHE)),
        Mount("/assets", CachedStaticFiles(root / "assets", ASSET_CACHE)),
        Mount("/models", ModelFiles(root / "models", APP_CACHE)),
    ]


# What the page loads, derived from the code that builds it, so the list is written once:
# scripts/assets.py (RUNTIME_FILES, PYTHON_PACKAGES) builds assets/, models/recipe.py (MODELS)
# builds every models/<name>.onnx the client picks from (frontend_py/pipeline.py model_file).
CODE_ROOT = Path(__file__).resolve().parent.parent
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


def client_files(code_root: Path = CODE_ROOT) -> dict[str, list[str]]:
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


def missing_client_files(static_root: Path, code_root: Path = CODE_ROOT) -> dict[str, list[str]]:
    """The patterns of `client_files` that match no file under `static_root`, by command."""
    missing: dict[str, list[str]] = {}
    for command, patterns in client_files(code_root).items():
        absent = [pattern for pattern in patterns if not any(p.is_file() for p in static_root.glob(pattern))]
        if absent:
            missing[command] = absent
    return missing


def missing_files_message(static_root: Path, missing: dict[str, list[str]]) -> str:
    """What `clov serve` says when it cannot serve the app: what is missing, what makes it."""
    lines = [f"clov: cannot serve the app: files the page loads are missing from {static_root}:"]
    for command, patterns in missing.items():
        folders: dict[str, list[str]] = {}
        for pattern in patterns:
            folder, _, name = pattern.rpartition("/")
            folders.setdefault(folder, []).append(name)
        for folder, names in folders.items():
            lines.append(f"  {folder + '/' if folder else ''}{', '.join(names)}")
        if command:
            lines.append(f"  -> make them with: {command}")
        else:
            lines.append("  -> is CLOV_STATIC_ROOT (--static-root) a CLOV checkout?")
    lines.append(
        "To run only the API and the signaling socket, for a client hosted elsewhere, "
        "set CLOV_STATIC_ROOT to empty (--static-root '')."
    )
    return "\n".join(lines)
