"""The wheel carries the built client (index.html, frontend_py/, assets/, models/) in
signaling/client/, so `pip install clov-*.whl` then `clov serve` serves a complete page
(signaling/clientbuild.py CLIENT_ROOT finds it). Everything else is in pyproject.toml.

An editable install (`pip install -e .`, as scripts/setup.sh does) copies nothing: the server
serves the checkout itself.

Of the precompressed siblings scripts/assets.py writes, the wheel carries the brotli ones only:
every browser offers brotli over HTTPS, and the gzip ones would add a third of the runtime's size
again to the wheel for the few that do not (they get the files as they are). The server checks
each sibling before it sends one, so a stale sibling costs bytes, never a wrong file.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the build environment has only setuptools: clientbuild needs no more
from signaling.clientbuild import (
    LIST_SCRIPTS,
    copy_client,
    missing_client_files,
    missing_files_message,
)


class BuildWithClient(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        missing = missing_client_files(ROOT, ROOT)
        if missing:
            sys.exit(missing_files_message(ROOT, missing, serving=False))
        target = Path(self.build_lib) / "signaling" / "client"
        shutil.rmtree(target, ignore_errors=True)  # build/ outlives a build: no file of an older client stays
        copy_client(ROOT, target, extra=LIST_SCRIPTS, encodings=("br",))


setup(cmdclass={"build_py": BuildWithClient})
