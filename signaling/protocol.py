"""The CLOV signaling wire protocol: message types, parsing, validation and limits.

One source of truth for the server and the browser client, so this module imports only the
standard library and nothing from the server. Every malformed input raises `ProtocolError`
and nothing else; the server turns it into an `error` message and a close code.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

CAPACITY = 6
MAX_MESSAGE_BYTES = 64 * 1024
MAX_NAME_LENGTH = 32
# RTCPeerConnection's iceTransportPolicy: "relay" uses TURN candidates only, so no peer ever
# learns another's IP address.
ICE_TRANSPORT_POLICIES = ("all", "relay")

INVALID_TOKEN = "invalid_token"
NO_ROOM = "no_room"
ROOM_FULL = "room_full"
BAD_MESSAGE = "bad_message"
RATE_LIMITED = "rate_limited"

CLOSE_CODES: dict[str, int] = {
    INVALID_TOKEN: 4401,
    NO_ROOM: 4404,
    ROOM_FULL: 4409,
    BAD_MESSAGE: 4400,
    RATE_LIMITED: 4429,
}

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Bidi embeddings, overrides and isolates can make a name render as someone else's text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
# Characters that draw nothing: a name made of them, or padded with them, looks like someone
# else's or like no name. Zero-width joiners stay, inside a name (emoji sequences, Indic and
# Persian text need them).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u200b\u2060\ufeff\u00ad\u034f")
_JOINERS = frozenset("\u200c\u200d")
MAX_COMBINING_RUN = 2  # marks stacked on one letter: enough for any script, not for a tower
# Our messages nest a handful of levels. json's C scanner recurses once per level, and under
# Pyodide a few thousand levels overflow the JavaScript stack before Python sees a
# RecursionError: a fatal error that ends the page's Python. So depth is checked first.
MAX_DEPTH = 32


class ProtocolError(Exception):
    """A message broke the protocol; `code` is one of the contract's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def close_code(self) -> int:
        return CLOSE_CODES[self.code]


@dataclass(frozen=True)
class Peer:
    id: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Join:
    """`peer` and `resume` (from an earlier welcome) rejoin under the same peer id."""

    token: str
    name: str
    peer: str | None = None
    resume: str | None = None
    type: str = field(default="join", init=False)


@dataclass(frozen=True)
class Signal:
    """A relayed message: `to` when a client sends it, `sender` when the server delivers it."""

    data: dict[str, Any]
    to: str | None = None
    sender: str | None = None
    type: str = field(default="signal", init=False)


@dataclass(frozen=True)
class Welcome:
    """`resume` proves ownership of `peer` when the socket rejoins after a drop;
    `ice_servers` and `ice_transport_policy` configure every RTCPeerConnection."""

    peer: str
    peers: list[Peer]
    ice_servers: list[dict[str, Any]]
    resume: str = ""
    ice_transport_policy: str = "all"
    type: str = field(default="welcome", init=False)


@dataclass(frozen=True)
class IceServers:
    """Fresh TURN credentials for a member whose welcome's are getting old."""

    ice_servers: list[dict[str, Any]]
    type: str = field(default="ice-servers", init=False)


@dataclass(frozen=True)
class Error:
    code: str
    message: str
    type: str = field(default="error", init=False)


@dataclass(frozen=True)
class PeerJoined:
    peer: Peer
    type: str = field(default="peer-joined", init=False)


@dataclass(frozen=True)
class PeerLeft:
    peer: str
    type: str = field(default="peer-left", init=False)


ClientMessage = Join | Signal
ServerMessage = Welcome | IceServers | Error | Signal | PeerJoined | PeerLeft
Message = ClientMessage | ServerMessage


def is_valid_id(value: object) -> bool:
    """Room and peer ids: 1-64 URL-safe characters."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def clean_name(value: object) -> str:
    """Return the display name trimmed and NFC-normalised, or raise `ProtocolError`.

    Any script is welcome; control, unassigned, bidi-override and invisible characters are
    not, nor marks stacked into a tower or a name that starts with one.
    """
    if not isinstance(value, str):
        raise ProtocolError(BAD_MESSAGE, "name must be a string")
    name = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ProtocolError(BAD_MESSAGE, f"name must be 1-{MAX_NAME_LENGTH} characters")
    run = MAX_COMBINING_RUN  # a name cannot start with a mark
    for index, char in enumerate(name):
        category = unicodedata.category(char)
        joiner_inside = char in _JOINERS and 0 < index < len(name) - 1 and name[index - 1] not in _JOINERS
        if char in _BIDI_CONTROLS or char in _INVISIBLE or category in _FORBIDDEN_CATEGORIES or (category == "Cf" and not joiner_inside):
            raise ProtocolError(BAD_MESSAGE, f"name contains a forbidden character U+{ord(char):04X}")
        run = run + 1 if category in ("Mn", "Me") else 0
        if run > MAX_COMBINING_RUN:
            raise ProtocolError(BAD_MESSAGE, "name has too many marks on one letter")
    return name


# A signal's `data` is relayed unread, from one browser to the other; the receiving browser
# checks these fields of it. `generation` numbers the pair's connection a signal belongs to
# (absent: the first), `restart` says its sender has just replaced a broken connection by that
# one (frontend_py/negotiation.py).
GENERATION = "generation"
RESTART = "restart"
# A pair replaces its connection a handful of times at most; the bound keeps the number a
# small int on both sides whatever a peer sends.
MAX_GENERATION = 1_000_000


def signal_generation(data: dict[str, Any]) -> int:
    """The number of the connection a peer's signal belongs to, or raise `ProtocolError`."""
    value = data.get(GENERATION, 0)
    if type(value) is not int or not 0 <= value <= MAX_GENERATION:
        raise ProtocolError(BAD_MESSAGE, f"signal has a malformed {GENERATION!r}")
    return value


def is_restart(data: dict[str, Any]) -> bool:
    """Whether a peer's signal announces a fresh connection (its `generation`) and nothing else."""
    return data.get(RESTART) is True


def restart_signal(generation: int) -> dict[str, Any]:
    """The signal that tells the other side of a pair to replace its connection by `generation`."""
    return {RESTART: True, GENERATION: generation}

def encode(message: Message) -> str:
    """Serialise a message to its JSON text."""
    return _ENCODER.encode(_to_json(message))


def relayed_signal(raw: str | bytes, sender: str) -> tuple[str, str] | None:
    """A client's signal as the server delivers it: (its target, its text stamped `from` sender).

    Takes the signal as this module's `encode` writes it, and passes its `data` through as
    sent once it has been parsed and checked like `parse_client_message` checks it: the relay
    spends no second encoding on every message. None for anything else (another layout, a
    join, a malformed message): `parse_client_message` then decides, with its errors.
    """
    if not (isinstance(raw, str) and raw.startswith(_SIGNAL_HEAD) and raw.endswith("}")):
        return None
    quote = raw.find('"', len(_SIGNAL_HEAD))
    to = raw[len(_SIGNAL_HEAD):quote]
    start = quote + len(_DATA_KEY)
    if not (raw.startswith(_DATA_KEY, quote) and _ID.fullmatch(to)):
        return None
    if "\\u" in raw and _SURROGATE_ESCAPE.search(raw, start):  # the substring test is the cheaper
        return None
    if len(raw) > _SURELY_SMALL_CHARS and len(raw.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        return None
    if not _nests_within(raw, MAX_DEPTH):
        return None
    try:
        data, end = _DECODER.raw_decode(raw, start)
    except (ValueError, RecursionError):
        return None
    if end != len(raw) - 1 or not isinstance(data, dict):
        return None
    return to, f'{{"type":"signal","from":"{sender}","data":{raw[start:end]}}}'


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse what a client sent the server."""
    obj = _load(raw)
    kind = obj.get("type")
    if kind == "join":
        token, peer, resume = obj.get("token"), obj.get("peer"), obj.get("resume")
        if not isinstance(token, str) or not token:
            raise ProtocolError(BAD_MESSAGE, "join needs a token string")
        if (peer is None) != (resume is None):
            raise ProtocolError(BAD_MESSAGE, "rejoining needs both 'peer' and 'resume'")
        if peer is not None and not (is_valid_id(peer) and isinstance(resume, str)):
            raise ProtocolError(BAD_MESSAGE, "malformed 'peer' or 'resume'")
        return Join(token=token, name=clean_name(obj.get("name")), peer=peer, resume=resume)
    if kind == "signal":
        to = obj.get("to")
        if not is_valid_id(to):
            raise ProtocolError(BAD_MESSAGE, "signal needs a peer id in 'to'")
        return Signal(to=to, data=_data(obj))
    raise ProtocolError(BAD_MESSAGE, f"unknown message type {_describe(kind)}")


def parse_server_message(raw: str | bytes) -> ServerMessage:
    """Parse what the server sent a client."""
    obj = _load(raw)
    kind = obj.get("type")
    if kind == "welcome":
        peer, peers, ice = obj.get("peer"), obj.get("peers"), obj.get("ice_servers")
        resume, policy = obj.get("resume", ""), obj.get("ice_transport_policy", "all")
        if not is_valid_id(peer) or not isinstance(peers, list) or not isinstance(ice, list):
            raise ProtocolError(BAD_MESSAGE, "malformed welcome")
        if not all(isinstance(server, dict) for server in ice) or not isinstance(resume, str):
            raise ProtocolError(BAD_MESSAGE, "malformed welcome")
        if policy not in ICE_TRANSPORT_POLICIES:
            raise ProtocolError(BAD_MESSAGE, "welcome has an unknown ice_transport_policy")
        return Welcome(
            peer=peer, peers=[_peer(p) for p in peers], ice_servers=ice, resume=resume,
            ice_transport_policy=policy,
        )
    if kind == "ice-servers":
        ice = obj.get("ice_servers")
        if not isinstance(ice, list) or not all(isinstance(server, dict) for server in ice):
            raise ProtocolError(BAD_MESSAGE, "malformed ice-servers")
        return IceServers(ice_servers=ice)
    if kind == "error":
        code, message = obj.get("code"), obj.get("message")
        if not isinstance(code, str) or code not in CLOSE_CODES or not isinstance(message, str):
            raise ProtocolError(BAD_MESSAGE, "malformed error")
        return Error(code=code, message=message)
    if kind == "signal":
        sender = obj.get("from")
        if not is_valid_id(sender):
            raise ProtocolError(BAD_MESSAGE, "signal needs a peer id in 'from'")
        return Signal(sender=sender, data=_data(obj))
    if kind == "peer-joined":
        return PeerJoined(peer=_peer(obj.get("peer")))
    if kind == "peer-left":
        peer = obj.get("peer")
        if not is_valid_id(peer):
            raise ProtocolError(BAD_MESSAGE, "peer-left needs a peer id")
        return PeerLeft(peer=peer)
    raise ProtocolError(BAD_MESSAGE, f"unknown message type {_describe(kind)}")


def parse_json(text: str) -> Any:
    """Untrusted JSON text as Python values, or `ProtocolError`: for text that is not JSON,
    NaN and Infinity (which JSON has not), a number out of a float's range, and nesting
    deeper than `MAX_DEPTH`. What every message off a socket or a data channel goes through."""
    if not _nests_within(text, MAX_DEPTH):
        raise ProtocolError(BAD_MESSAGE, f"message is not JSON, or nests deeper than {MAX_DEPTH} levels")
    try:
        return _DECODER.decode(text)
    except _OutOfRange as exc:
        raise ProtocolError(BAD_MESSAGE, "message holds a number out of range") from exc
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(BAD_MESSAGE, "message is not valid JSON") from exc


def _nests_within(text: str, depth: int) -> bool:
    """Whether the brackets outside strings pair up within `depth` levels: one C-speed pass
    per level, and none for the usual message with few brackets."""
    if text.count("[") + text.count("{") <= depth:
        return True
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    for _ in range(depth):
        brackets, paired = _EMPTY_PAIR.subn("", brackets)
        if not paired:
            break
    return not brackets


def _load(raw: str | bytes) -> dict[str, Any]:
    if len(raw) > _SURELY_SMALL_CHARS:
        size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError(BAD_MESSAGE, f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        # json.loads's reading of bytes (UTF-8, -16 or -32).
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ProtocolError(BAD_MESSAGE, "message is not valid JSON") from exc
    obj = parse_json(text)
    if not isinstance(obj, dict):
        raise ProtocolError(BAD_MESSAGE, "message must be a JSON object")
    # Text off a socket is valid UTF-8, so only a \uD800-\uDFFF escape can make a lone
    # surrogate; the search spares the relay's hot path a second encoding of every message.
    if _SURROGATE_ESCAPE.search(text):
        _check_sendable(obj)
    return obj


def _check_sendable(obj: dict[str, Any]) -> None:
    """Refuse what parses but cannot be sent on: what is accepted is relayed as it is."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
        raise ProtocolError(BAD_MESSAGE, "message holds a lone UTF-16 surrogate") from exc


class _OutOfRange(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses to infinity, which has no JSON form
        raise _OutOfRange(text)
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# Made once: json.loads and json.dumps with options build a decoder or an encoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A signal as `encode` writes it, up to the target's id; then the key that ends the id.
_SIGNAL_HEAD = '{"type":"signal","to":"'
_DATA_KEY = '","data":'
# No text this long in characters is longer than MAX_MESSAGE_BYTES in UTF-8 (4 bytes at most
# per character), so only a longer one needs encoding to be measured.
_SURELY_SMALL_CHARS = MAX_MESSAGE_BYTES // 4
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def _data(obj: dict[str, Any]) -> dict[str, Any]:
    data = obj.get("data")
    if not isinstance(data, dict):
        raise ProtocolError(BAD_MESSAGE, "signal needs an object in 'data'")
    return data


def _peer(value: object) -> Peer:
    if not isinstance(value, dict) or not is_valid_id(value.get("id")):
        raise ProtocolError(BAD_MESSAGE, "malformed peer")
    return Peer(id=value["id"], name=clean_name(value.get("name")))


def _describe(value: object) -> str:
    return repr(value)[:40]


def _to_json(message: Message) -> dict[str, Any]:
    if isinstance(message, Join):
        join = {"type": "join", "token": message.token, "name": message.name}
        if message.peer is not None:
            join.update(peer=message.peer, resume=message.resume)
        return join
    if isinstance(message, Signal):
        if message.sender is not None:
            return {"type": "signal", "from": message.sender, "data": message.data}
        return {"type": "signal", "to": message.to, "data": message.data}
    if isinstance(message, Welcome):
        return {
            "type": "welcome",
            "peer": message.peer,
            "peers": [p.to_json() for p in message.peers],
            "ice_servers": message.ice_servers,
            "resume": message.resume,
            "ice_transport_policy": message.ice_transport_policy,
        }
    if isinstance(message, IceServers):
        return {"type": "ice-servers", "ice_servers": message.ice_servers}
    if isinstance(message, Error):
        return {"type": "error", "code": message.code, "message": message.message}
    if isinstance(message, PeerJoined):
        return {"type": "peer-joined", "peer": message.peer.to_json()}
    if isinstance(message, PeerLeft):
        return {"type": "peer-left", "peer": message.peer}
    raise TypeError(f"not a protocol message: {message!r}")
