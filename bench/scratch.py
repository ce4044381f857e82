"""Scratch folders for a benchmark run, removed when the run ends."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch_folder(prefix: str = "clov-bench-") -> Path:
    """A new empty folder, removed with everything in it when this process exits (each run's
    fake camera file alone is 14 MB; left behind, repeated runs filled /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
