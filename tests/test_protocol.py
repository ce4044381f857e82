"""The shared protocol module: parsing, validation, limits, and fuzzing of the parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling import protocol
from signaling.protocol import (
    Error,
    Join,
    Peer,
    PeerJoined,
    PeerLeft,
    ProtocolError,
    Signal,
    Welcome,
    clean_name,
    encode,
    parse_client_message,
    parse_server_message,
)


def test_module_imports_nothing_from_the_server() -> None:
    source = Path(protocol.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    allowed = {"from __future__ import annotations", "import json", "import math", "import re", "import unicodedata",
               "from dataclasses import dataclass, field", "from typing import Any"}
    assert set(imports) <= allowed


@pytest.mark.parametrize(
    "raw, name",
    [("  민지  ", "민지"), ("Zoë", "Zoë"), ("e\u0301", "é"), ("👩‍👩‍👧", "👩‍👩‍👧"), ("x" * 32, "x" * 32), ("محمد", "محمد")],
)
def test_names_any_script_trimmed_and_normalised(raw: str, name: str) -> None:
    assert clean_name(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "x" * 33, "a\nb", "a\x00", "a\u202eb", "a\u2066b", "a\u200fb", "\ud800"])
def test_names_refused(raw: str) -> None:
    with pytest.raises(ProtocolError) as info:
        clean_name(raw)
    assert info.value.code == protocol.BAD_MESSAGE and info.value.close_code == 4400


def test_close_codes_match_the_contract() -> None:
    assert protocol.CLOSE_CODES == {
        "invalid_token": 4401, "no_room": 4404, "room_full": 4409, "bad_message": 4400, "rate_limited": 4429,
    }


def test_size_limit_is_64_kib_in_bytes() -> None:
    padding = 64 * 1024 - len('{"type":"signal","to":"p","data":{"x":""}}')
    parse_client_message('{"type":"signal","to":"p","data":{"x":"' + "a" * padding + '"}}')
    with pytest.raises(ProtocolError):
        parse_client_message('{"type":"signal","to":"p","data":{"x":"' + "a" * (padding + 1) + '"}}')
    with pytest.raises(ProtocolError):  # 3 bytes a character in UTF-8
        parse_client_message('{"type":"signal","to":"p","data":{"x":"' + "한" * (padding // 3 + 1) + '"}}')


def test_non_finite_numbers_are_not_json() -> None:
    with pytest.raises(ProtocolError):
        parse_client_message('{"type":"signal","to":"p","data":{"x":NaN}}')


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"signal","to":"p","data":{"sdp":"\\ud800"}}',
        '{"type":"signal","to":"p","data":{"\\udfff":1}}',
        '{"type":"signal","to":"p","data":{"x":1e400}}',
        '{"type":"signal","to":"p","data":{"x":[-1e999]}}',
        '{"type":"join","token":"t\\udc00","name":"Ana"}',
    ],
    ids=["surrogate-value", "surrogate-key", "overflow", "negative-overflow", "surrogate-token"],
)
def test_what_parses_can_be_sent_on(raw: str) -> None:
    # The relay re-encodes what it accepts: a lone surrogate has no UTF-8 form, infinity no JSON one.
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == protocol.BAD_MESSAGE


def _nested(depth: int, inner: str = "1") -> str:
    return "".join("[" if level % 2 else '{"k":' for level in range(depth)) + inner + "".join(
        "]" if level % 2 else "}" for level in reversed(range(depth)))


@pytest.mark.parametrize(
    "text",
    [_nested(protocol.MAX_DEPTH + 1), "[" * 50_000 + "]" * 50_000, "[" * 50_000, '{"a":' * 20_000, "[" * 40 + "}" * 40],
    ids=["one-too-deep", "deep", "unclosed", "unclosed-objects", "mismatched"],
)
def test_deep_or_unbalanced_nesting_is_refused_before_parsing(text: str) -> None:
    # Under Pyodide, json's recursion overflows the JavaScript stack some thousands deep: a
    # fatal error for the page's Python, never a RecursionError to catch.
    with pytest.raises(ProtocolError) as info:
        protocol.parse_json(text)
    assert info.value.code == protocol.BAD_MESSAGE
    signal = '{"type":"signal","to":"p","data":{"x":' + text + "}}"
    assert protocol.relayed_signal(signal, "s") is None
    with pytest.raises(ProtocolError):
        parse_client_message(signal)


@pytest.mark.parametrize(
    "text",
    [_nested(protocol.MAX_DEPTH), '["' + "[" * 1000 + '"]', json.dumps({"a": "\\", "b": "{[" * 500 + '\\"]'}),
     "[" + ",".join(["{}", "[]"] * 5000) + "]"],
    ids=["deepest", "brackets-in-a-string", "escapes", "wide"],
)
def test_nesting_within_the_bound_parses_as_json_does(text: str) -> None:
    assert protocol.parse_json(text) == json.loads(text)


def test_surrogate_pairs_are_characters() -> None:
    signal = parse_client_message('{"type":"signal","to":"p","data":{"e":"\\ud83d\\ude00","n":1e300}}')
    assert isinstance(signal, Signal) and signal.data == {"e": "😀", "n": 1e300}


SERVER_MESSAGES = [
    Welcome(peer="abc", peers=[Peer("p1", "민지")], ice_servers=[{"urls": ["stun:x"]}]),
    Welcome(peer="abc", peers=[], ice_servers=[{"urls": ["turn:x"]}], resume="r", ice_transport_policy="relay"),
    Error(code="room_full", message="full"),
    Signal(sender="abc", data={"sdp": "v=0"}),
    PeerJoined(peer=Peer("p2", "Bo")),
    PeerLeft(peer="p2"),
]


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=lambda m: m.type)
def test_server_messages_round_trip(message) -> None:  # type: ignore[no-untyped-def]
    assert parse_server_message(encode(message)) == message


@pytest.mark.parametrize("message", [Join(token="t", name="Ana"), Signal(to="abc", data={"a": [1]})], ids=["join", "signal"])
def test_client_messages_round_trip(message) -> None:  # type: ignore[no-untyped-def]
    assert parse_client_message(encode(message)) == message


@pytest.mark.parametrize("policy", ["none", "RELAY", 1, None, ["relay"]])
def test_welcome_with_an_unknown_ice_transport_policy_is_refused(policy: object) -> None:
    # The client hands it to RTCPeerConnection as it is: only the two values it takes.
    raw = json.dumps({"type": "welcome", "peer": "abc", "peers": [], "ice_servers": [], "ice_transport_policy": policy})
    with pytest.raises(ProtocolError):
        parse_server_message(raw)


def test_welcome_without_an_ice_transport_policy_means_all() -> None:
    welcome = parse_server_message('{"type": "welcome", "peer": "abc", "peers": [], "ice_servers": []}')
    assert isinstance(welcome, Welcome) and welcome.ice_transport_policy == "all"


def test_signal_wire_form_uses_from_and_to() -> None:
    assert json.loads(encode(Signal(sender="a", data={}))) == {"type": "signal", "from": "a", "data": {}}
    assert json.loads(encode(Signal(to="b", data={}))) == {"type": "signal", "to": "b", "data": {}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["join", "signal", "welcome", "error", "peer-joined", "peer-left"]) | json_values,
        "token": json_values, "name": json_values, "to": json_values, "from": json_values,
        "data": json_values, "peer": json_values, "peers": json_values, "ice_servers": json_values,
        "ice_transport_policy": json_values,
        "code": json_values, "message": json_values,
    },
)


def _parse_both(raw: str | bytes) -> None:
    for parse in (parse_client_message, parse_server_message):
        try:
            parse(raw)
        except ProtocolError as exc:
            assert exc.code in protocol.CLOSE_CODES and exc.message


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=512))
def test_fuzz_arbitrary_input_raises_only_protocol_errors(raw: str | bytes) -> None:
    _parse_both(raw)


@settings(max_examples=600, deadline=None)
@given(message_like)
def test_fuzz_message_shaped_input_raises_only_protocol_errors(obj: dict) -> None:  # type: ignore[type-arg]
    _parse_both(json.dumps(obj))


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_fuzz_clean_names_are_stable(raw: str) -> None:
    try:
        name = clean_name(raw)
    except ProtocolError:
        return
    assert clean_name(name) == name and 1 <= len(name) <= 32


@pytest.mark.parametrize(
    "raw",
    ["\u200bAna", "Ana\u200b", "\u3164", "\u3164\u3164", "A\u2060na", "\u00adBo", "\u0301Ana", "Z\u0301\u0302\u0303\u0304", "\u200dAna", "Ana\u200d",
     "\u2800"],
)
def test_invisible_and_stacked_names_are_refused(raw: str) -> None:
    with pytest.raises(ProtocolError):
        clean_name(raw)


@pytest.mark.parametrize("raw", ["e\u0301", "민지", "👩\u200d💻", "بهمن\u200cیار", "Zoë", "ti\u0301e\u0302\u0301"])
def test_names_with_joiners_and_a_few_marks_are_welcome(raw: str) -> None:
    import unicodedata

    assert clean_name(raw) == unicodedata.normalize("NFC", raw)


def _relayed_the_long_way(raw: str, sender: str) -> tuple[str, str] | None:
    """What the relay delivers when `relayed_signal` declines: parse, then encode."""
    message = parse_client_message(raw)
    if not isinstance(message, Signal) or message.to is None:
        return None
    return message.to, encode(Signal(sender=sender, data=message.data))


sendable_values = st.recursive(  # what a client can encode and the server accepts: no infinity
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), sendable_values), st.from_regex(protocol._ID, fullmatch=True))
def test_a_signal_as_clients_encode_it_is_relayed_as_parsing_and_encoding_would(data: dict, to: str) -> None:  # type: ignore[type-arg]
    raw = encode(Signal(to=to, data=data))
    relayed = protocol.relayed_signal(raw, "sender")
    assert relayed is not None and relayed == _relayed_the_long_way(raw, "sender")
    assert parse_server_message(relayed[1]) == Signal(sender="sender", data=data)


@settings(max_examples=600, deadline=None)
@given(message_like)
def test_fuzz_the_relays_short_way_never_accepts_what_parsing_refuses(obj: dict) -> None:  # type: ignore[type-arg]
    for raw in (json.dumps(obj), json.dumps(obj, separators=(",", ":"), ensure_ascii=False)):
        relayed = protocol.relayed_signal(raw, "s")
        if relayed is not None:
            assert relayed == _relayed_the_long_way(raw, "s")


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"signal","to":"p","data":{"x":1e400}}',
        '{"type":"signal","to":"p","data":{"x":NaN}}',
        '{"type":"signal","to":"p","data":{"sdp":"\\ud800"}}',
        '{"type":"signal","to":"p","data":[1]}',
        '{"type":"signal","to":"p","data":{}} ',
        '{"type":"signal","to":"p","data":{},"from":"q"}',
        '{"type":"signal","to":"p","data":{}}{"type":"signal","to":"p","data":{}}',
        '{"type":"signal","to":"p q","data":{}}',
        '{"type":"signal","to":"p","data":{"x":"' + "a" * (64 * 1024) + '"}}',
        '{"type": "signal", "to": "p", "data": {}}',
    ],
    ids=["overflow", "nan", "surrogate", "data-list", "trailing-space", "from-spoof", "two-messages", "bad-id",
         "too-large", "other-layout"],
)
def test_the_relays_short_way_leaves_anything_else_to_parsing(raw: str) -> None:
    assert protocol.relayed_signal(raw, "s") is None


@settings(max_examples=300, deadline=None)
@given(sendable_values)
def test_fuzz_json_values_parse_as_json_does(value: object) -> None:
    text = json.dumps(value)
    assert protocol.parse_json(text) == json.loads(text)
