"""A static root holding a stand-in for every file `clov serve` checks for at start."""

from __future__ import annotations

from pathlib import Path

from signaling.clientbuild import client_files


def make_static_root(root: Path, skip: tuple[str, ...] = ()) -> Path:
    """Write a small file for each file the page loads (a glob's `*` becomes `x`), except those
    whose pattern starts with one of `skip` (e.g. "assets/")."""
    for patterns in client_files().values():
        for pattern in patterns:
            if pattern.startswith(skip):
                continue
            path = root / pattern.replace("*", "x")
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_bytes(b"stand-in\n")
    return root
