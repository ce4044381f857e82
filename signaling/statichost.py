"""`clov build`: the client written into a folder for a static host, talking to a signaling
server on another origin.

The folder is the client `clov serve` would serve, with index.html changed in three ways:
- it names the signaling server (`<meta name="clov-signaling">`, read by frontend_py/urls.py);
- its paths are relative, so the folder works at any path of its host (GitHub Pages serves a
  project at /project/), and the client's own URLs follow from the page's (frontend_py/urls.py);
- it carries what a static host may not send: the Content-Security-Policy and the referrer
  policy, as `<meta>` elements.
`_headers` holds every header `clov serve` sends, in the format Netlify and Cloudflare Pages read
(hosts that can set headers should: cross-origin isolation gives the models more threads).

As `clov serve` names them, every file but index.html sits at its content-addressed path,
`v/{digest}/...` (signaling/clientbuild.py `versions`), which `_headers` lets browsers keep for
good; each compressible file has its brotli and gzip siblings for hosts that serve them (nginx
`brotli_static`/`gzip_static`), taken from the source when they are fresh, else compressed here.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from frontend_py.urls import SIGNALING_META
from signaling.clientbuild import (
    CLIENT_ROOT,
    ENCODINGS,
    copy_client,
    missing_client_files,
    missing_files_message,
    precompress,
    versioned_page,
    versions,
)
from signaling.static import IMMUTABLE, SECURITY_HEADERS, content_security_policy

HEADERS_FILE = "_headers"
# What a build writes at the top of its folder: a rebuild replaces these and leaves the rest.
WRITTEN = ("index.html", HEADERS_FILE, "frontend_py", "signaling", "assets", "models", "v")
# "/v/.../assets/..." and the like in index.html's attributes and PyScript config.
ROOTED_PATH = re.compile(r'(?<=")/(?=(?:assets|frontend_py|models|signaling|v)/)')
VERSIONED_FILES = "/v/*"  # the content-addressed files' path in `_headers`


class BuildError(Exception):
    """What stops a build, worded for the operator."""


def build(target: Path, signaling: str, source: Path = CLIENT_ROOT) -> list[Path]:
    """Write the client from `source` into `target` for the signaling server at the origin
    `signaling` (validated already). Returns the files written."""
    missing = missing_client_files(source)
    if missing:
        raise BuildError(missing_files_message(source, missing, serving=False))
    _clear(target)
    current = versions(source)
    written = copy_client(source, target, layout=current, encodings=tuple(ENCODINGS))
    siblings = precompress(path for path in written if path.name != "index.html")
    index = target / "index.html"
    page = versioned_page(index.read_text(encoding="utf-8"), current)
    index.write_text(static_page(page, signaling), encoding="utf-8")
    headers = target / HEADERS_FILE
    headers.write_text(headers_file(signaling), encoding="utf-8")
    return sorted({*written, *siblings, headers})


def static_page(page: str, signaling: str) -> str:
    """index.html as `clov serve` serves it, turned into the static host's (see the docstring)."""
    relative, count = ROOTED_PATH.subn("./", page)
    if not count:
        raise BuildError("clov: index.html names none of the client's files: is it CLOV's?")
    policy = content_security_policy(signaling, meta=True)
    metas = (
        f'\n  <meta name="{SIGNALING_META}" content="{_attribute(signaling)}">'
        f'\n  <meta http-equiv="Content-Security-Policy" content="{_attribute(policy)}">'
        f'\n  <meta name="referrer" content="{_attribute(SECURITY_HEADERS["Referrer-Policy"])}">'
    )
    charset = '<meta charset="utf-8">'
    if charset not in relative:
        raise BuildError(f"clov: index.html has no {charset}: is it CLOV's?")
    # Right after the charset: the policy must precede every element it governs.
    return relative.replace(charset, charset + metas, 1)


def _attribute(value: str) -> str:
    """A double-quoted attribute's value (the policy's single quotes stay readable)."""
    return html.escape(value, quote=False).replace('"', "&quot;")


def headers_file(signaling: str) -> str:
    """Every header `clov serve` sends with its pages, for every path, and the caching of the
    versioned files, as `_headers`. The rest keeps the host's own caching, which revalidates
    (both hosts join the values of every rule that matches a path, so `/*` names none)."""
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(signaling)}
    lines = ["# Netlify and Cloudflare Pages send these with every file (written by clov build).", "/*"]
    lines += [f"  {name}: {value}" for name, value in headers.items()]
    lines += [VERSIONED_FILES, f"  Cache-Control: {IMMUTABLE}"]
    return "\n".join(lines) + "\n"


def _clear(target: Path) -> None:
    """Make room in `target`: a new or empty folder, or an earlier build, whose files go."""
    if target.exists() and not target.is_dir():
        raise BuildError(f"clov: {target} is not a folder")
    if not target.exists() or not any(target.iterdir()):
        return
    index = target / "index.html"
    if not (index.is_file() and f'name="{SIGNALING_META}"' in index.read_text(encoding="utf-8", errors="replace")):
        raise BuildError(
            f"clov: {target} is not empty and holds no earlier clov build; name a new or empty folder"
        )
    for name in WRITTEN:
        path = target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
