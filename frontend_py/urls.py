"""Where the client's URLs point: its own files, the signaling server, invite links.

Served by `clov serve`, the page and the server share one origin, and an invite is
`{origin}/r/{room}#{token}`. Written by `clov build` for a static host, index.html names the
signaling server in `<meta name="clov-signaling" content="https://signal.example.org">`; the
page may then sit in any folder of any host, and such hosts cannot answer `/r/{room}` with
index.html, so an invite is `{the page's folder}?r={room}#{token}`. Either way the token rides
in the fragment, which browsers send to no server.

The runtime, the models and the client's own files are served under content-addressed URLs,
`v/{digest}/assets/pyodide/pyodide.mjs`, cached for good by browsers: index.html (never cached)
carries the digests in `<meta name="clov-versions">` (written by the server, or by `clov build`),
and `versioned` is the one function that turns a path into its URL, here and on the server.

Pure Python, so CPython tests import it; only `here()` reads the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, urlencode, urlsplit

SIGNALING_META = "clov-signaling"  # the <meta name> `clov build` writes into index.html
ROOM_PARAMETER = "r"
VERSIONS_META = "clov-versions"  # the <meta name> holding {unit: digest} (signaling/clientbuild.py units)
VERSIONED_FOLDER = "v/"


def versioned(path: str, versions: Mapping[str, str]) -> str:
    """`path` (relative to the app's folder) under its content-addressed URL: `v/{digest}/` before
    it when it belongs to a unit of `versions`, a folder ("assets/pyodide/") or a file
    ("models/face.onnx"). A unit's files fetch each other by relative URLs (Pyodide its wasm, a
    module its chunks), which stay in the same versioned folder. Other paths stay as they are."""
    for unit, digest in versions.items():
        if path == unit or (unit.endswith("/") and path.startswith(unit)):
            return f"{VERSIONED_FOLDER}{digest}/{path}"
    return path


@dataclass(frozen=True)
class Urls:
    root: str  # the folder of the app's own files, ending in "/"
    server: str  # the signaling server's origin
    static: bool  # written by `clov build`: invites in the query, not the path
    versions: Mapping[str, str] = field(default_factory=dict, compare=False)  # see `versioned`

    @classmethod
    def of(cls, href: str, signaling: str | None = None, versions: Mapping[str, str] | None = None) -> Urls:
        """The URLs of the page at `href`, given the signaling origin and the versions its
        index.html names."""
        page = urlsplit(href)
        origin = f"{page.scheme}://{page.netloc}"
        if not signaling:
            return cls(root=origin + "/", server=origin, static=False, versions=versions or {})
        folder = page.path[: page.path.rfind("/") + 1] or "/"
        return cls(root=origin + folder, server=signaling.strip().rstrip("/"), static=True, versions=versions or {})

    def app(self, path: str) -> str:
        """One of the app's own files: `app("assets/onnxruntime/")`, at its versioned URL."""
        return self.root + versioned(path.lstrip("/"), self.versions)

    def api(self, path: str) -> str:
        """The HTTP API: `api("rooms")` is POST /api/rooms's URL."""
        return f"{self.server}/api/{path.lstrip('/')}"

    def socket(self, room: str) -> str:
        secure = self.server.startswith("https:")
        return ("wss" if secure else "ws") + self.server[self.server.index(":"):] + f"/ws/{room}"

    def invite(self, room: str, token: str, search: str = "") -> str:
        """The link that opens the invitation to `room`, keeping the query `search` of the page."""
        if not self.static:
            return f"{self.root}r/{room}{search}#{token}"
        kept = [(key, value) for key, value in parse_qsl(search.lstrip("?")) if key != ROOM_PARAMETER]
        return f"{self.root}?{urlencode([(ROOM_PARAMETER, room), *kept])}#{token}"


def invitation(href: str) -> tuple[str, str] | None:
    """`(room, token)` of an invite link in either form (the token may be ""), None for any
    other page. Not validated: the caller shows what is wrong with them."""
    page = urlsplit(href)
    if page.path.startswith("/r/"):
        return page.path[3:], page.fragment
    rooms = [value for key, value in parse_qsl(page.query, keep_blank_values=True) if key == ROOM_PARAMETER]
    return (rooms[0], page.fragment) if rooms else None


@cache
def here() -> Urls:
    """The running page's URLs (fixed for its life: the root and the server never change)."""
    import js  # only in the browser: the rest of this module runs in CPython tests too

    from frontend_py.dom import nullable

    meta = nullable(js.document.querySelector(f'meta[name="{SIGNALING_META}"]'))
    versions = nullable(js.document.querySelector(f'meta[name="{VERSIONS_META}"]'))
    return Urls.of(
        str(js.location.href),
        str(meta.content) if meta is not None else None,
        json.loads(str(versions.content)) if versions is not None else None,
    )
