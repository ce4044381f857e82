"""The WebSocket protocol `clov serve` runs: uvicorn's websockets-sansio one, with a shorter way
for the frames the relay lives on.

Nearly every frame on a signaling socket is one small text message, in or out. uvicorn's protocol
runs each through websockets' sans-io parser and serializer (a generator stepped per frame, a
`Frame` object each way) and pauses then resumes the transport's reading for every message it
queues. This subclass reads and writes such frames itself and hands everything else to
uvicorn and websockets unchanged:

- In: when websockets' parser waits at a frame boundary with no fragmented message under way,
  the complete, masked, unfragmented text frames of at most 65,535 bytes at the head of a chunk
  are unmasked here and queued like uvicorn queues them (UTF-8 checked, close 1007 otherwise).
  Whatever follows (a control frame, a fragment, a longer, partial or malformed frame) starts
  at a frame boundary and goes to websockets' parser, which enforces the rules (masking, the
  1 MiB limit, control frames between fragments, close codes) as before.
- Flow control: reading pauses when QUEUE_HIGH messages wait for the app, not at every message,
  and resumes once it has taken them all.
- Out: a text message on an open socket whose transport takes writes is framed here (FIN, text,
  unmasked, the server's side) and written at once; anything else takes uvicorn's path.
- Straight to the app: the scope's `DIRECT_TEXT` extension is this protocol, as `DirectText`.
  An app that sets its `text_handler` gets each text message read here by a plain call, with no
  queue, no `receive()` and no task switch between them, while nothing waits in the queue (so no
  message overtakes an earlier one); a message the handler declines, or one that arrives while the
  queue holds others, is queued as before. `write_text` writes a text message without a coroutine.

Keepalive pings, the opening and closing handshakes and every other frame stay uvicorn's and
websockets' own.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from types import GeneratorType
from typing import Protocol

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State
from websockets.streams import StreamReader

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

# Messages waiting for the app before reading pauses: enough that a burst never pauses reading,
# few enough (with the 1 MiB limit per message) to bound what one socket can queue.
QUEUE_HIGH = 32
_TEXT_FIN = 0x81  # FIN set, no RSV bits (no extension), opcode 1
_MASKED = 0x80
_LENGTH_16 = 126
_AT_FRAME_BOUNDARY = StreamReader.at_eof.__code__
# The key of the scope's extension that offers `DirectText` (a server-specific ASGI extension).
DIRECT_TEXT = "clov.direct_text"


class DirectText(Protocol):
    """What the `DIRECT_TEXT` extension offers an app on an accepted socket."""

    # Called with each text message read here while it is set and nothing waits in the queue;
    # True: the message is handled, False: queue it for `receive()`. It must not raise.
    text_handler: Callable[[str], bool] | None

    def write_text(self, text: str) -> bool:
        """Write a text message now if the socket takes writes at once; False: use `send`."""
        ...


def _text_frame_header(size: int) -> bytes:
    if size < _LENGTH_16:
        return bytes((_TEXT_FIN, size))
    if size < 1 << 16:
        return struct.pack("!BBH", _TEXT_FIN, _LENGTH_16, size)
    return struct.pack("!BBQ", _TEXT_FIN, 127, size)


class RelayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, reading and writing plain text frames itself."""

    text_handler: Callable[[str], bool] | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake goes on to the app
            self.scope["extensions"][DIRECT_TEXT] = self  # type: ignore[index]

    def data_received(self, data: bytes) -> None:
        if not self._parser_idle():
            super().data_received(data)
            return
        taken = self._take_text_frames(data)
        if taken < len(data) and not self.close_sent:
            super().data_received(data[taken:] if taken else data)

    def _parser_idle(self) -> bool:
        """Whether websockets' parser waits for the first byte of a frame, with no fragmented
        message under way: only then can frames be read here without it."""
        conn = self.conn
        if conn.state is not State.OPEN or conn.current_size is not None or conn.reader.buffer:
            return False
        # The server's parser runs the frame parser, which waits in the reader's at_eof between frames.
        waiting = conn.parser
        while isinstance(waiting.gi_yieldfrom, GeneratorType):
            waiting = waiting.gi_yieldfrom
        return waiting.gi_code is _AT_FRAME_BOUNDARY

    def _take_text_frames(self, data: bytes) -> int:
        """Queue the whole text frames at the head of `data`; return how many bytes they took."""
        position, size = 0, len(data)
        while size - position >= 6 and data[position] == _TEXT_FIN:
            second = data[position + 1]
            if not second & _MASKED:
                break  # websockets refuses it with the right close code
            length = second & 0x7F
            if length < _LENGTH_16:
                mask_at = position + 2
            elif length == _LENGTH_16 and size - position >= 8:
                length = (data[position + 2] << 8) | data[position + 3]
                mask_at = position + 4
            else:
                break
            end = mask_at + 4 + length
            if end > size:
                break
            payload = apply_mask(data[mask_at + 4:end], data[mask_at:mask_at + 4])
            position = end
            handler = self.text_handler
            if handler is not None and not self.queue.qsize() and not self.close_sent:
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    pass  # uvicorn's path below closes with 1007
                else:
                    if not handler(text):
                        self._queue_text(text)
                    continue
            self.curr_msg_data_type = "text"
            self.frames = [payload]
            self.send_receive_event_to_app()
            if self.close_sent:  # not UTF-8: the socket is closing, the rest is discarded
                break
        return position

    def _queue_text(self, text: str) -> None:
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        self._pause_when_full()

    def send_receive_event_to_app(self) -> None:
        already_paused = self.read_paused
        # uvicorn's own queues the message and would pause reading at once: here that waits for QUEUE_HIGH.
        self.read_paused = True
        super().send_receive_event_to_app()
        self.read_paused = already_paused
        self._pause_when_full()

    def _pause_when_full(self) -> None:
        if not self.read_paused and self.queue.qsize() >= QUEUE_HIGH:
            self.read_paused = True
            self.transport.pause_reading()

    def write_text(self, text: str) -> bool:
        if (
            self.conn.state is State.OPEN
            and not (self.close_sent or self.disconnected or self.conn.extensions)
            and self.writable.is_set()
        ):
            payload = text.encode()
            self.transport.write(_text_frame_header(len(payload)) + payload)
            return True
        return False

    async def send(self, message: ASGISendEvent) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        if text is not None and self.write_text(text):
            return
        await super().send(message)
