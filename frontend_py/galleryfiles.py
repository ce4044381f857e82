"""File names and ZIP archives for the gallery's downloads, apart from the browser so CPython tests them.

A name says when the picture was taken, in the taker's local time, so a folder of downloads
sorts in the order the booth took them. Archives are stored, not deflated: PNG, MP4 and WebM
are compressed already, and deflating them again in Pyodide would only cost time.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

KINDS = ("photo", "strip", "clip")

_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/quicktime": "mov",
}
_UNKNOWN = "bin"


def extension(mime: str) -> str:
    """The extension for a MIME type; parameters such as MediaRecorder's `;codecs=vp9` don't matter."""
    return _EXTENSIONS.get(mime.split(";", 1)[0].strip().lower(), _UNKNOWN)


def file_name(kind: str, taken: datetime, mime: str) -> str:
    """`clov-2026-11-29-143012.png`; strips say so (`clov-strip-…`), clips keep their video's extension."""
    infix = "strip-" if kind == "strip" else ""
    return f"clov-{infix}{taken:%Y-%m-%d-%H%M%S}.{extension(mime)}"


def zip_name(day: date) -> str:
    return f"clov-{day:%Y-%m-%d}.zip"


def unique_names(names: list[str]) -> list[str]:
    """The same names in order, a later one that repeats an earlier gaining `-2`, `-3`… before its extension.

    Names compare without case: archives are often unpacked on file systems that ignore it.
    """
    used: set[str] = set()
    unique = []
    for name in names:
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidate, count = name, 1
        while candidate.casefold() in used:
            count += 1
            candidate = f"{stem}-{count}{dot}{ext}"
        used.add(candidate.casefold())
        unique.append(candidate)
    return unique


def zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    """A ZIP archive of (name, data) pairs in order; repeated names are made unique as `unique_names` does."""
    names = unique_names([name for name, _ in entries])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, (_, data) in zip(names, entries):
            archive.writestr(name, data)
    return buffer.getvalue()
