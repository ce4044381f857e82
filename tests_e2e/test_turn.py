"""A call as it runs in production: over HTTPS and WSS, through a TURN relay (coturn).

One story, so the two costly setups are paid once: `clov serve --dev-cert 1` with
`CLOV_ICE_TRANSPORT_POLICY=relay`, coturn on loopback (tests_e2e/coturn.py), and a Chromium
that trusts the development certificate the way an administrator makes a machine trust one:
an entry in the user's NSS database, written by `certutil` (no flag that ignores certificate
errors). A Chromium without that entry refuses the page. Then the call rides out a rejoin,
which renews the TURN credentials, and a restart of coturn, which the client's own ICE restart
gets over with the renewed credentials. On the way, the page's runtime came brotli-compressed,
which Chromium offers over HTTPS only.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, Playwright

from signaling.config import OPTIONS
from tests.conftest import ROOT
from tests_e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, TURN_SECRET, AppServer, page_log, trusting_home
from tests_e2e.coturn import TurnServer
from tests_e2e.media import FakeMedia
from tests_e2e.test_call import (
    FRAMES_DECODED,
    assert_shows_camera,
    camera_error,
    own_id,
    poll,
    received_frame,
    wait_connected,
)

OpenPage = Callable[..., Page]
DEFAULT_TURN_TTL = int(next(opt.default for opt in OPTIONS if opt.name == "turn_ttl"))

# The page's peer connections, kept through the constructor for getStats() and getConfiguration().
KEEP_CONNECTIONS = """() => {
  const Native = RTCPeerConnection;
  window.clovConnections = [];
  window.RTCPeerConnection = function (...args) {
    const connection = new Native(...args);
    clovConnections.push(connection);
    return connection;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
}"""

# The candidate types of the pair each open connection sends on, and the TURN username it holds.
CONNECTIONS = """async () => {
  const result = [];
  for (const connection of clovConnections.filter(c => c.connectionState === 'connected')) {
    const stats = await connection.getStats();
    let pair = null;
    stats.forEach(report => {
      if (report.type === 'transport' && report.selectedCandidatePairId) {
        pair = stats.get(report.selectedCandidatePairId);
      }
    });
    const config = connection.getConfiguration();
    result.push({
      local: pair && stats.get(pair.localCandidateId).candidateType,
      remote: pair && stats.get(pair.remoteCandidateId).candidateType,
      policy: config.iceTransportPolicy,
      username: config.iceServers.map(server => server.username).find(Boolean),
    });
  }
  return result;
}"""


@pytest.fixture
def server(start_app_server: Callable[..., AppServer], turn_server: TurnServer) -> AppServer:
    return start_app_server(
        CLOV_DEV_CERT="1", CLOV_TURN_URLS=turn_server.url, CLOV_TURN_SECRET=TURN_SECRET,
        CLOV_ICE_TRANSPORT_POLICY="relay",
    )


@pytest.fixture
def trusting_browser(
    server: AppServer, playwright: Playwright, fake_media: FakeMedia, tmp_path: Path,
) -> Iterator[Browser]:
    """A Chromium whose user trusts the server's development certificate, in a fresh HOME."""
    certificate = ROOT / ".clov" / "dev-cert.pem"  # made by `--dev-cert 1` in the static root
    home = trusting_home(tmp_path / "home", certificate)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *fake_media.chromium_flags()],
        env={**os.environ, "HOME": str(home)},
    )
    yield browser
    browser.close()


RUNTIME_WASM = """() => {
  const entry = performance.getEntriesByType('resource').find(e => e.name.endsWith('/pyodide.asm.wasm'));
  return entry && {name: entry.name, contentEncoding: entry.contentEncoding,
                   encodedBodySize: entry.encodedBodySize, decodedBodySize: entry.decodedBodySize};
}"""


def enter(page: Page, sockets: list[str]) -> None:
    """Before the booth opens: keep the page's connections, note its sockets, send the camera
    as it is (no background removal: two segmentations would load these 2 cores for nothing)."""
    page.evaluate(KEEP_CONNECTIONS)
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.evaluate("localStorage.setItem('clov.removeBackground', '0')")


def connections(page: Page) -> list[dict[str, str]]:
    return page.evaluate(CONNECTIONS)


def relay_pairs(page: Page) -> list[tuple[str, str]]:
    return [(c["local"], c["remote"]) for c in connections(page)]


def shows_camera(page: Page, peer: str, media: FakeMedia) -> bool:
    """The page receives the peer's camera picture (each peer sends its camera as it is)."""
    if not poll(lambda: camera_error(received_frame(page, peer), media.reference) < 12, timeout=30):
        return False
    assert_shows_camera(received_frame(page, peer), media.reference)
    return True


def expiry(username: str) -> int:
    return int(username.split(":", 1)[0])


def allocated(turn: TurnServer, username: str) -> bool:
    """coturn made a relay for these credentials (its log names the user of each allocation)."""
    return any(": new, " in line and f"username=<{username}>" in line for line in turn.log().splitlines())


def test_a_call_over_https_through_the_turn_relay(
    server: AppServer, trusting_browser: Browser, browser: Browser, open_page: OpenPage,
    turn_server: TurnServer, fake_media: FakeMedia,
) -> None:
    open_trusted = functools.partial(open_page, browser=trusting_browser)
    sockets: list[str] = []
    ana = open_trusted(server.url("/"))
    assert ana.evaluate("location.protocol") == "https:"
    # Over HTTPS Chromium offers brotli: Pyodide's wasm came as its precompressed sibling, from
    # its content-addressed URL.
    wasm = ana.evaluate(RUNTIME_WASM)
    assert "/v/" in wasm["name"] and wasm["contentEncoding"] == "br", wasm
    assert wasm["encodedBodySize"] < 0.4 * wasm["decodedBodySize"], wasm
    enter(ana, sockets)
    ana.fill("#name", "Ana")
    ana.click("#create")
    ana.wait_for_selector("#invite-link")
    link = ana.input_value("#invite-link")
    assert link.startswith("https://")
    ana.click("#enter")
    ana.wait_for_selector("html[data-screen='room']", state="attached")
    bo = open_trusted(link)
    enter(bo, sockets)
    bo.fill("#name", "Bo")
    bo.click("#join")
    bo.wait_for_selector("html[data-screen='room']", state="attached")
    ana_id, bo_id = own_id(ana), own_id(bo)
    wait_connected(ana, bo_id)
    wait_connected(bo, ana_id)
    assert len(sockets) == 2 and all(url.startswith("wss://") for url in sockets), sockets

    # Through coturn: both ends of the pair each side sends on are relay candidates.
    before: dict[str, str] = {}
    for page, me in ((ana, ana_id), (bo, bo_id)):
        assert relay_pairs(page) == [("relay", "relay")], connections(page)
        (connection,) = connections(page)
        assert connection["policy"] == "relay"
        username = connection["username"]
        assert username.endswith(f":{me}") and allocated(turn_server, username), turn_server.log_tail()
        # Short-lived credentials: CLOV_TURN_TTL's default, hours, not a day.
        ahead = expiry(username) - time.time()
        assert 3600 <= DEFAULT_TURN_TTL - 120 < ahead <= DEFAULT_TURN_TTL < 86400, ahead
        before[me] = username
    for page, peer in ((ana, bo_id), (bo, ana_id)):
        assert shows_camera(page, peer, fake_media), f"{peer}'s camera did not arrive through the relay"

    # A rejoin (the server restarts; the pages reconnect) brings fresh credentials, and the
    # connections take them at once: when the relay then restarts too, losing every allocation,
    # the client's own ICE restart (rtcpeerconnection.py) allocates anew with the new ones.
    time.sleep(1)  # credentials are stamped to the second
    server.restart()
    for page in (ana, bo):
        page.wait_for_selector("#connection-banner[hidden]", state="attached", timeout=30_000)
    renewed = {}
    for page, me in ((ana, ana_id), (bo, bo_id)):
        fresh = poll(lambda page=page, old=before[me]: [c["username"] for c in connections(page) if c["username"] != old])
        assert fresh and expiry(fresh[0]) > expiry(before[me]), connections(page)
        renewed[me] = fresh[0]
    turn_server.stop()
    turn_server.start()
    restarted = poll(lambda: all(allocated(turn_server, name) for name in renewed.values()), timeout=60)
    assert restarted, turn_server.log_tail()
    for page, peer in ((ana, bo_id), (bo, ana_id)):
        assert poll(lambda page=page: relay_pairs(page) == [("relay", "relay")], timeout=30), connections(page)
        frames = page.evaluate(FRAMES_DECODED, peer)
        flowing = poll(lambda page=page, peer=peer, frames=frames: page.evaluate(FRAMES_DECODED, peer) > frames + 10)
        assert flowing, f"no video from {peer} after the relay restarted"
    assert all(url.startswith("wss://") for url in sockets), sockets  # the reconnections too
    for page in (ana, bo):
        assert page_log(page).page_errors == []

    # Without the certificate in its NSS database, Chromium refuses the page.
    context = browser.new_context()
    try:
        with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
            context.new_page().goto(server.url("/"))
    finally:
        context.close()
