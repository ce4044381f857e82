"""Static serving of the browser app: index.html, frontend_py/, the shared protocol, assets/,
the ONNX models.

Every HTTP response carries the cross-origin isolation headers (wasm threads need them) and a
Content-Security-Policy that keeps every request on our own origin.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signaling.clientbuild import BROWSER_MODEL_MODULES, SHARED_MODULES

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/x-python", ".py")
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("application/octet-stream", ".onnx")


def content_security_policy(server: str = "", meta: bool = False) -> str:
    """The page's policy. `server`: the origin of a signaling server elsewhere (`clov build`),
    which the page may connect to over HTTP and WebSocket. `meta`: for a `<meta>` element, which
    cannot carry frame-ancestors (browsers ignore it there, with a console error)."""
    connect = f"'self' {server} {server.replace('http', 'ws', 1)}" if server else "'self'"
    # 'unsafe-eval': PyScript 0.7 builds its hooks with Function() on the main thread at every
    # boot; without it the app stops right after Pyodide loads. 'wasm-unsafe-eval': Pyodide and
    # onnxruntime-web compile WebAssembly. Inline scripts stay blocked.
    directives = [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        f"connect-src {connect}",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        *([] if meta else ["frame-ancestors 'none'"]),
    ]
    return "; ".join(directives)


CONTENT_SECURITY_POLICY = content_security_policy()

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
