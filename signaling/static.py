"""Static serving of the browser app: index.html, frontend_py/, the shared protocol, assets/,
the ONNX models.

Every HTTP response carries the cross-origin isolation headers (wasm threads need them) and a
Content-Security-Policy that keeps every request on our own origin.

The page (index.html, at `/` and `/r/{room}`) is revalidated on every visit and names every
other file by a content-addressed URL, `/v/{digest}/{path}` (signaling/clientbuild.py
`versions`), which browsers keep for a year without asking again: a second visit fetches the
page and nothing else, and a deploy changes the URLs of what it changed. A versioned URL whose
digest is not the file's current one is a 404, never other bytes under a name cached for good.
The plain paths (`/assets/...`) answer too, revalidated each time, for pages and tools that
name them.

A file with a precompressed sibling (`x.wasm.br`, `x.wasm.gz`, written at build time) is sent
encoded when the request accepts it (`accepted_encodings`), and only after the sibling has been
checked to decode to the file's current bytes. The page, made once per deploy, is compressed
when it is made.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import NotModifiedResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signaling.clientbuild import (
    ENCODINGS,
    encode,
    fresh_sibling,
    saves_enough,
    sibling,
    unit_digest,
    unit_of,
    units,
    versioned_page,
)

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

# index.html and the plain paths: revalidated (ETag) on every use, as a deploy changes them in
# place. Versioned URLs: kept for good (a year is the longest anything honours).
APP_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


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


# Ours, in the order we prefer them at equal weight: brotli is the smaller.
PREFERENCE = ("br", "gzip", "identity")
ALIASES = {"x-gzip": "gzip"}


def accepted_encodings(header: str | None) -> list[str]:
    """The codings of `PREFERENCE` that an Accept-Encoding header accepts, best first (RFC 9110
    12.5.3): by weight, ties in our order; `*` stands for every coding it does not name; a
    weight of 0 refuses; identity is accepted unless refused. No header: identity only (a
    client that says nothing may not decode anything). A malformed element is ignored."""
    if header is None:
        return ["identity"]
    weights: dict[str, float] = {}
    for element in header.split(","):
        coding, *parameters = (part.strip() for part in element.split(";"))
        coding = ALIASES.get(coding.lower(), coding.lower())
        if not coding:
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = -1.0
        if not 0 <= weight <= 1:
            continue
        weights[coding] = max(weight, weights.get(coding, 0.0))
    star = weights.get("*")
    accepted = []
    for coding in PREFERENCE:
        weight = weights.get(coding, star)
        if weight is None:
            weight = 1.0 if coding == "identity" else 0.0
        if weight > 0:
            accepted.append((weight, coding))
    accepted.sort(key=lambda item: (-item[0], PREFERENCE.index(item[1])))
    return [coding for _, coding in accepted]


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or rewritten."""
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


@dataclass(frozen=True)
class Page:
    """index.html naming the current versions, in each encoding that makes it smaller."""

    forms: dict[str, bytes]  # "identity" always
    tag: str  # of the identity form

    @classmethod
    def of(cls, text: str) -> Page:
        body = text.encode()
        forms = {"identity": body}
        for encoding in ENCODINGS:
            encoded = encode(body, encoding)
            if saves_enough(len(body), len(encoded)):
                forms[encoding] = encoded
        return cls(forms, hashlib.sha256(body).hexdigest()[:32])


@dataclass
class _Checked:
    signature: tuple[tuple[int, int, int, int], tuple[int, int, int, int]]
    fresh: bool


class ClientFiles:
    """The client's files under `root`, as the routes of `static_routes` serve them: which may be
    served (signaling/clientbuild.py `unit_of`), the current digest of each unit, which siblings
    are fresh. Results are kept while the files' stat (inode, size, times) stays the same, so an
    edit, an upgrade or a deploy in place shows at the next request."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._hashes: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}
        self._siblings: dict[tuple[Path, str], _Checked] = {}
        self._page: tuple[tuple[int, int, int, int], dict[str, str], Page] | None = None

    def resolve(self, relative: str) -> Path | None:
        """The file at `relative` if the page may load it and it stays inside its folder."""
        if unit_of(relative) is None:
            return None
        top = os.path.realpath(self.root / relative.split("/")[0])
        full = os.path.realpath(self.root / relative)
        if os.path.commonpath([top, full]) != top or not os.path.isfile(full):
            return None
        return Path(full)

    def _file_hash(self, relative: str) -> bytes:
        path = self.root / relative
        signature = _signature(path.stat())
        known = self._hashes.get(relative)
        if known is None or known[0] != signature:
            known = (signature, hashlib.sha256(path.read_bytes()).digest())
            self._hashes[relative] = known
        return known[1]

    def _digest(self, files: list[str]) -> str:
        # The same digest as clientbuild.unit_digest, from hashes kept between requests.
        return unit_digest(self.root, files, file_hash=self._file_hash)

    def versions(self) -> dict[str, str]:
        """`{unit: digest}` now (blocking: hashes what changed)."""
        return {unit: self._digest(files) for unit, files in units(self.root).items()}

    def digest_of(self, unit: str) -> str | None:
        """The current digest of one unit, None if it has no files (blocking)."""
        files = units(self.root, only=unit).get(unit)
        return self._digest(files) if files else None

    def page(self) -> Page | None:
        """index.html naming the current versions, None without one (blocking: hashes what
        changed, compresses a changed page)."""
        index = self.root / "index.html"
        if not index.is_file():
            return None
        signature = _signature(index.stat())
        versions = self.versions()
        if self._page is None or self._page[:2] != (signature, versions):
            self._page = (signature, versions, Page.of(versioned_page(index.read_text(encoding="utf-8"), versions)))
        return self._page[2]

    def encodings(self, path: Path) -> set[str]:
        """The encodings whose sibling of `path` is fresh (blocking: checks what changed)."""
        fresh = set()
        for encoding in ENCODINGS:
            try:
                signature = (_signature(path.stat()), _signature(sibling(path, encoding).stat()))
            except FileNotFoundError:
                continue
            checked = self._siblings.get((path, encoding))
            if checked is None or checked.signature != signature:
                checked = _Checked(signature, fresh_sibling(path, encoding))
                self._siblings[(path, encoding)] = checked
            if checked.fresh:
                fresh.add(encoding)
        return fresh


def _etag(stat: os.stat_result, encoding: str) -> str:
    """Strong, and distinct per encoding: each is its own sequence of bytes (for If-Range)."""
    base = hashlib.md5(f"{stat.st_mtime_ns}-{stat.st_size}-{stat.st_ino}".encode(), usedforsecurity=False)
    return f'"{base.hexdigest()}{"" if encoding == "identity" else "-" + encoding}"'


def _not_modified(response: MutableHeaders, request: Headers) -> bool:
    """The request's validators match the response's: If-None-Match (weak comparison, RFC 9110
    13.1.2), else If-Modified-Since."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or response["etag"].removeprefix("W/") in tags
    since, modified = parsedate_to_datetime_or_none(request.get("if-modified-since")), None
    if since is not None and "last-modified" in response:
        modified = parsedate_to_datetime_or_none(response["last-modified"])
    return since is not None and modified is not None and since >= modified


def parsedate_to_datetime_or_none(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


async def file_response(files: ClientFiles, path: Path, request: Request, cache_control: str) -> Response:
    """`path` in the best encoding the request accepts, with its own type, and 304 when the
    request already holds it. Range, If-Range and HEAD apply to the representation chosen."""
    original = await anyio.to_thread.run_sync(path.stat)
    accepted = accepted_encodings(request.headers.get("accept-encoding"))
    # Identity is always there, so preferred to it, or refused (nothing acceptable: it goes anyway).
    wanted = accepted[: accepted.index("identity")] if "identity" in accepted else accepted
    available = await anyio.to_thread.run_sync(files.encodings, path) if wanted else set()
    encoding = next((coding for coding in wanted if coding in available), "identity")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        "ETag": _etag(original, encoding),
        "Last-Modified": formatdate(original.st_mtime, usegmt=True),
    }
    served, stat = path, original
    if encoding != "identity":
        served = sibling(path, encoding)
        stat = await anyio.to_thread.run_sync(served.stat)
        headers["Content-Encoding"] = encoding
    response = FileResponse(served, stat_result=stat, media_type=media_type, headers=headers)
    if _not_modified(response.headers, request.headers):
        return NotModifiedResponse(response.headers)
    return response


async def page_response(files: ClientFiles, request: Request) -> Response:
    page = await anyio.to_thread.run_sync(files.page)
    if page is None:
        return Response("Not Found", status_code=404)
    accepted = accepted_encodings(request.headers.get("accept-encoding"))
    encoding = next((coding for coding in accepted if coding in page.forms), "identity")
    headers = {
        "Cache-Control": APP_CACHE,
        "Vary": "Accept-Encoding",
        "ETag": f'"{page.tag}{"" if encoding == "identity" else "-" + encoding}"',
    }
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    response = Response(page.forms[encoding], media_type="text/html; charset=utf-8", headers=headers)
    if _not_modified(response.headers, request.headers):
        return NotModifiedResponse(response.headers)
    return response


def static_routes(root: Path) -> list[Route]:
    """Routes for the app: the page (`/r/{room}`, an invite link, serves the same page as
    `/`), the versioned files, and the plain paths."""
    files = ClientFiles(root)

    async def app_page(request: Request) -> Response:
        return await page_response(files, request)

    async def versioned(request: Request) -> Response:
        relative = request.path_params["path"]
        unit = unit_of(relative)
        path = files.resolve(relative)
        if unit is None or path is None:
            return Response("Not Found", status_code=404)
        if request.path_params["digest"] != await anyio.to_thread.run_sync(files.digest_of, unit):
            return Response("Not Found", status_code=404)
        return await file_response(files, path, request, IMMUTABLE)

    def plain(top: str) -> Route:
        async def endpoint(request: Request) -> Response:
            path = files.resolve(f"{top}/{request.path_params['path']}")
            if path is None:
                return Response("Not Found", status_code=404)
            return await file_response(files, path, request, APP_CACHE)

        return Route(f"/{top}/{{path:path}}", endpoint, methods=["GET", "HEAD"])

    return [
        Route("/", app_page, methods=["GET", "HEAD"]),
        Route("/r/{room}", app_page, methods=["GET", "HEAD"]),
        Route("/v/{digest}/{path:path}", versioned, methods=["GET", "HEAD"]),
        *(plain(top) for top in ("frontend_py", "signaling", "assets", "models")),
    ]
