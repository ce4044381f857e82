"""The WebSocket protocol `clov serve` runs (signaling/wsprotocol.py) reads and writes plain text
frames itself: every byte from a socket is untrusted, so frames are written here byte for byte, to
a real server, in the chunks a test picks, and what comes back is read by websockets' own
client-side parser, which checks the server's framing strictly."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri
from websockets.utils import apply_mask

from signaling import wsprotocol
from signaling.app import create_app
from signaling.config import Settings
from signaling.wsprotocol import RelayWebSocketProtocol
from tests.client import Peer, create_room
from tests.conftest import SECRET

pytestmark = pytest.mark.anyio

MAX_SIZE = 1024 * 1024  # clov serve's ws_max_size


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """One frame as a client writes it (masked unless told otherwise), with the shortest length."""
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        length = bytes([mask_bit | size])
    elif size < 1 << 16:
        length = bytes([mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        length = bytes([mask_bit | 127]) + size.to_bytes(8, "big")
    head = bytes([(0x80 if fin else 0) | rsv | opcode]) + length
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def text(message: dict[str, Any] | str) -> bytes:
    body = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
    return frame(Opcode.TEXT, body.encode())


class RawSocket:
    """A client socket that writes exactly the bytes a test gives it, in one write each time."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, room: str, answers: bool
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws/{room}"), max_size=None)
        self.answers = answers  # whether it answers pings and closes, as a live client does
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, port: int, room: str, answers: bool = True) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer, port, room, answers)
        raw.protocol.send_request(raw.protocol.connect())
        raw._flush()
        response = await raw._event(lambda event: isinstance(event, Response))
        assert response.status_code == 101
        return raw

    @classmethod
    async def join(cls, port: int, room: dict[str, str], name: str, answers: bool = True) -> tuple[RawSocket, str]:
        raw = await cls.open(port, room["room"], answers)
        raw.write(text({"type": "join", "token": room["token"], "name": name}))
        welcome = await raw.message()
        assert welcome["type"] == "welcome", welcome
        return raw, welcome["peer"]

    def write(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))

    async def message(self) -> dict[str, Any]:
        received = await self._event(lambda event: isinstance(event, Frame) and event.opcode == Opcode.TEXT)
        return json.loads(received.data)

    async def pong(self) -> bytes:
        received = await self._event(lambda event: isinstance(event, Frame) and event.opcode == Opcode.PONG)
        return bytes(received.data)

    async def closed_with(self) -> int | None:
        """Read to the end of the stream; the server's close code, or None if it sent none."""
        while await self._read():
            pass
        return self.protocol.close_rcvd.code if self.protocol.close_rcvd is not None else None

    async def _event(self, wanted: Callable[[Any], bool]) -> Any:
        async with asyncio.timeout(5):
            while True:
                for index, event in enumerate(self.frames):
                    if wanted(event):
                        return self.frames.pop(index)
                if not await self._read():
                    raise ConnectionError(f"closed with {self.protocol.close_rcvd}")

    async def _read(self) -> bool:
        """Read what the server sent; False at the end of the stream."""
        try:
            chunk = await asyncio.wait_for(self.reader.read(65536), 5)
        except ConnectionResetError:  # what answering a close the server ended with can bring
            chunk = b""
        if chunk:
            self.protocol.receive_data(chunk)
        else:
            self.protocol.receive_eof()
        assert self.protocol.parser_exc is None, self.protocol.parser_exc  # the server's framing is valid
        self.frames.extend(self.protocol.events_received())
        self._flush()  # pongs to the server's pings, the echo of its close
        return bool(chunk)

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data and (self.answers or self.protocol.state is State.CONNECTING):
                self.writer.write(data)


def signal(to: str, n: int, pad: str = "") -> dict[str, Any]:
    return {"type": "signal", "to": to, "data": {"n": n, "pad": pad}}


async def test_frames_in_one_chunk_are_relayed_in_order_around_control_frames_and_fragments(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    room = create_room(server.http)
    ana, ana_id = await RawSocket.join(server.port, room, "Ana")
    ben = await Peer.join(server.ws, room["room"], room["token"], "Ben")
    fragmented = json.dumps(signal(ben.id, 4, "y" * 300)).encode()
    ana.write(
        text(signal(ben.id, 1)),
        frame(Opcode.PING, b"one"),
        text(signal(ben.id, 2, "x" * 200)),  # a 16-bit length
        text(signal(ben.id, 3)),
        frame(Opcode.TEXT, fragmented[:100], fin=False),
        frame(Opcode.PING, b"two"),  # a control frame between fragments is allowed
        frame(Opcode.CONT, fragmented[100:200], fin=False),
        frame(Opcode.CONT, fragmented[200:]),
        text(signal(ben.id, 5)),
    )
    for n, pad in ((1, ""), (2, "x" * 200), (3, ""), (4, "y" * 300), (5, "")):
        assert await ben.receive_until("signal") == {"type": "signal", "from": ana_id, "data": {"n": n, "pad": pad}}
    assert [await ana.pong(), await ana.pong()] == [b"one", b"two"]


async def test_a_frame_cut_anywhere_arrives_whole(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    room = create_room(server.http)
    ana, ana_id = await RawSocket.join(server.port, room, "Ana")
    ben = await Peer.join(server.ws, room["room"], room["token"], "Ben")
    frames = text(signal(ben.id, 1, "z" * 150)) + text(signal(ben.id, 2))
    for cut in (1, 2, 3, 5, 8, len(frames) // 2, len(frames) - 1):
        ana.write(frames[:cut])
        await ana.writer.drain()
        await asyncio.sleep(0.02)  # the server reads the first piece on its own
        ana.write(frames[cut:])
        for n, pad in ((1, "z" * 150), (2, "")):
            assert await ben.receive_until("signal") == {"type": "signal", "from": ana_id, "data": {"n": n, "pad": pad}}


async def test_relayed_frames_of_every_length_form_read_back_exactly(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    ben, ben_id = await RawSocket.join(server.port, room, "Ben")
    await ana.receive_until("peer-joined")
    relayed = {"type": "signal", "from": ana.id, "data": {"pad": ""}}
    bare = len(json.dumps(relayed, separators=(",", ":")))
    # Relayed texts of 125 (7-bit length), 126 and 65,535 (16-bit) and 65,536 bytes (64-bit).
    for size in (125, 126, 65535, 65536):
        sent = {"type": "signal", "to": ben_id, "data": {"pad": "p" * (size - bare)}}
        await ana.send(json.dumps(sent, separators=(",", ":")))
        message = await ben.message()
        assert message["data"]["pad"] == "p" * (size - bare)
        assert len(json.dumps(message, separators=(",", ":"))) == size


BAD_FRAMES = {
    "text that is not UTF-8": (frame(Opcode.TEXT, b'{"type":"signal","to":"x","data":"\xff"}'), 1007),
    "an unmasked frame": (frame(Opcode.TEXT, b"{}", masked=False), 1002),
    "a reserved bit set": (frame(Opcode.TEXT, b"{}", rsv=0x40), 1002),
    "an unknown opcode": (frame(0x3, b"{}"), 1002),
    "a continuation with no message": (frame(Opcode.CONT, b"{}"), 1002),
    "a new message inside a fragmented one": (frame(Opcode.TEXT, b"{", fin=False) + text("{}"), 1002),
    "a fragmented ping": (frame(Opcode.PING, b"x", fin=False), 1002),
    "one frame over 1 MiB": (frame(Opcode.TEXT, b" " * (MAX_SIZE + 1)), 1009),
    "fragments over 1 MiB together": (
        frame(Opcode.TEXT, b" " * (MAX_SIZE // 2), fin=False) + frame(Opcode.CONT, b" " * (MAX_SIZE // 2 + 1)),
        1009,
    ),
}


@pytest.mark.parametrize("bad", BAD_FRAMES, ids=list(BAD_FRAMES))
async def test_a_bad_frame_closes_the_socket_with_its_code_and_nothing_after_it_is_relayed(  # type: ignore[no-untyped-def]
    start_server, bad: str
) -> None:
    server = start_server()
    room = create_room(server.http)
    ana, ana_id = await RawSocket.join(server.port, room, "Ana")
    ben = await Peer.join(server.ws, room["room"], room["token"], "Ben")
    await ana.message()  # peer-joined
    ana.write(text(signal(ben.id, 1)))
    assert (await ben.receive_until("signal"))["data"]["n"] == 1
    payload, code = BAD_FRAMES[bad]
    ana.write(payload, text(signal(ben.id, 2)))
    assert await ana.closed_with() == code
    assert await ben.receive() == {"type": "peer-left", "peer": ana_id}


async def test_a_close_frame_gets_its_echo_and_the_peer_leaves(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    room = create_room(server.http)
    ana, ana_id = await RawSocket.join(server.port, room, "Ana")
    ben = await Peer.join(server.ws, room["room"], room["token"], "Ben")
    ana.write(text(signal(ben.id, 1)), frame(Opcode.CLOSE, (1000).to_bytes(2, "big")), text(signal(ben.id, 2)))
    assert (await ben.receive_until("signal"))["data"]["n"] == 1
    assert await ana.closed_with() == 1000
    assert await ben.receive_until("peer-left") == {"type": "peer-left", "peer": ana_id}


async def test_a_client_that_never_answers_pings_is_closed(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(CLOV_PING_INTERVAL="0.5", CLOV_PING_TIMEOUT="0.5")
    room = create_room(server.http)
    silent, _ = await RawSocket.join(server.port, room, "Ghost", answers=False)
    assert await silent.closed_with() == 1011


class Transport(asyncio.Transport):
    """What the protocol writes, and how often it paused and resumed reading."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.pauses = self.resumes = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.pauses += 1

    def resume_reading(self) -> None:
        self.resumes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


async def test_plain_text_frames_skip_the_general_parser_and_reading_pauses_only_when_the_app_lags() -> None:
    received: list[str] = []
    reading = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await reading.wait()
        while (message := await receive())["type"] == "websocket.receive":
            received.append(message["text"])

    config = uvicorn.Config(app, ws=RelayWebSocketProtocol, ws_max_size=MAX_SIZE, ws_ping_interval=None,
                            log_config=None, lifespan="off")
    config.load()
    protocol = RelayWebSocketProtocol(config, ServerState(), {})
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(
        b"GET /ws/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    while not transport.written.startswith(b"HTTP/1.1 101"):
        await asyncio.sleep(0)
    general: list[bytes] = []
    parse = protocol.conn.receive_data
    protocol.conn.receive_data = lambda data: (general.append(bytes(data)), parse(data))[1]  # type: ignore[method-assign]

    protocol.data_received(b"".join(text(str(n)) for n in range(wsprotocol.QUEUE_HIGH - 1)))
    assert (general, transport.pauses) == ([], 0)  # all read here, and no reason to pause
    rest = frame(Opcode.PING, b"hi") + text("b")
    protocol.data_received(text("a") + rest)
    assert general == [rest]  # from the first frame it does not take, on
    assert transport.written.endswith(b"\x8a\x02hi")  # websockets answered the ping
    assert transport.pauses == 1  # QUEUE_HIGH messages wait

    reading.set()
    while len(received) < wsprotocol.QUEUE_HIGH + 1:
        await asyncio.sleep(0)
    assert received == [*map(str, range(wsprotocol.QUEUE_HIGH - 1)), "a", "b"]
    assert transport.resumes == 1
    protocol.data_received(text("c"))
    while len(received) < wsprotocol.QUEUE_HIGH + 2:
        await asyncio.sleep(0)
    assert (len(general), transport.pauses, received[-1]) == (1, 1, "c")
    protocol.connection_lost(None)


class InProcessSocket:
    """A client socket to `clov serve`'s protocol in this process, through a `Transport` and no
    event loop between a write and what the server wrote back; websockets' client side reads it."""

    def __init__(self, config: uvicorn.Config, state: ServerState, room: str) -> None:
        self.server = RelayWebSocketProtocol(config, state, {})
        self.transport = Transport()
        self.server.connection_made(self.transport)
        self.client = ClientProtocol(parse_uri(f"ws://127.0.0.1:8000/ws/{room}"), max_size=None)
        self.client.send_request(self.client.connect())
        self.read = 0

    def write(self, data: bytes) -> None:
        self.server.data_received(data)

    def texts(self) -> list[dict[str, Any]]:
        """The text messages the server has written since the last call."""
        self.client.receive_data(bytes(self.transport.written[self.read:]))
        self.read = len(self.transport.written)
        assert self.client.parser_exc is None, self.client.parser_exc
        return [json.loads(e.data) for e in self.client.events_received() if isinstance(e, Frame) and e.opcode == Opcode.TEXT]

    async def join(self, token: str, name: str) -> str:
        self.write(b"".join(self.client.data_to_send()))
        self.write(text({"type": "join", "token": token, "name": name}))
        while not (welcome := [m for m in self.texts() if m["type"] == "welcome"]):
            await asyncio.sleep(0)
        return str(welcome[0]["peer"])


async def test_a_signal_between_sockets_of_the_app_is_relayed_within_the_read_of_its_frame() -> None:
    """The whole app, its middleware included, hands the relay the protocol's own reading and
    writing (wsprotocol.DIRECT_TEXT): a signal to a socket of the same instance is written out
    before the read of its frame returns. Should an upgrade of uvicorn or Starlette lose that,
    signals would still go through `receive()`, only slower, and this test would fail."""
    threshold = gc.get_threshold()
    app = create_app(Settings.from_env({"CLOV_SECRET": SECRET}))
    config = uvicorn.Config(app, ws=RelayWebSocketProtocol, ws_max_size=MAX_SIZE, ws_ping_interval=None,
                            log_config=None, lifespan="off")
    config.load()
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://x") as http:
                room = (await http.post("/api/rooms")).json()
            state = ServerState()
            ana, ben = InProcessSocket(config, state, room["room"]), InProcessSocket(config, state, room["room"])
            ana_id = await ana.join(room["token"], "Ana")
            ben_id = await ben.join(room["token"], "Ben")
            while not ana.texts():  # peer-joined
                await asyncio.sleep(0)
            ana.write(text(signal(ben_id, 1)) + text(signal(ben_id, 2)))
            assert ben.texts() == [
                {"type": "signal", "from": ana_id, "data": {"n": n, "pad": ""}} for n in (1, 2)
            ]
            ana.write(text({"type": "signal", "to": ben_id, "data": "not an object"}))
            assert ben.texts() == []  # not relayed: the app's loop refuses it
            refusal: list[dict[str, Any]] = []
            async with asyncio.timeout(5):
                while ana.client.close_rcvd is None:
                    await asyncio.sleep(0)
                    refusal += ana.texts()
            assert [m["code"] for m in refusal] == ["bad_message"] and ana.client.close_rcvd.code == 4400
            for socket in (ana, ben):
                socket.server.connection_lost(None)
            async with asyncio.timeout(5):
                while state.tasks:  # both sockets' apps end before the app's lifespan does
                    await asyncio.sleep(0.01)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
