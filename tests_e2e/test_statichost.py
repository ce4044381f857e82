"""The client on a static host: `clov build` into a folder served by a plain static file server
(no COOP/COEP, no CSP header, no `/r/...` routing), in a sub-folder as GitHub Pages serves a
project; `clov serve` elsewhere with only the API and the socket; two friends meet through an
invite link on the static origin."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT
from tests_e2e.conftest import AppServer, StaticHost, page_log
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import OpenPage, create_booth, join, see_each_other


def test_a_call_through_a_client_on_a_static_host(
    open_page: OpenPage, start_app_server: Callable[..., AppServer], static_host: Callable[[Path], StaticHost],
    fake_media: FakeMedia, tmp_path: Path,
) -> None:
    site = tmp_path / "www" / "booth"
    site.mkdir(parents=True)
    host = static_host(site.parent)
    server = start_app_server(CLOV_STATIC_ROOT="", CLOV_ALLOWED_ORIGINS=host.origin)
    built = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "build", str(site), "--signaling", server.origin],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert built.returncode == 0, built.stderr

    ana, link = create_booth(open_page, "Ana", host.origin + "/booth/")
    assert link.startswith(host.origin + "/booth/?r=") and "#" in link
    # Without cross-origin isolation, as static hosts without header settings serve it.
    assert ana.evaluate("() => crossOriginIsolated") is False
    bo = join(open_page, link, "Bo")
    see_each_other(ana, bo, fake_media.reference)
    for page in (ana, bo):
        assert page_log(page).page_errors == []
        assert page_log(page).console_errors == []
    # The static host got the room in the query, never the invite (the fragment).
    token = link.split("#", 1)[1]
    assert token not in host.log_tail(1000) and "?r=" in host.log_tail(1000)
