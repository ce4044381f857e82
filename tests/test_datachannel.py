"""Messages between peers: background images in chunks arrive whole and verified, or not at all."""

from __future__ import annotations

import json
import os

import pytest

from frontend_py import datachannel
from frontend_py.datachannel import CHUNK_BYTES, Transfer, background_chunks, image_id, is_image_id


def test_an_image_round_trips_in_any_order_through_json() -> None:
    data = os.urandom(5 * CHUNK_BYTES + 123)
    chunks = [json.loads(json.dumps(chunk)) for chunk in background_chunks(data)]
    assert len(chunks) == 6 and all(chunk["id"] == image_id(data) for chunk in chunks)
    transfer = Transfer(chunks[0]["id"], chunks[0]["count"])
    results = [transfer.add(chunk) for chunk in reversed(chunks)]
    assert results[:-1] == [None] * 5 and results[-1] == data
    assert transfer.progress == 1.0


def test_a_tampered_image_is_refused() -> None:
    chunks = background_chunks(b"a" * (CHUNK_BYTES + 10))
    chunks[1]["data"] = datachannel.background_chunks(b"b" * 10)[0]["data"]
    transfer = Transfer(chunks[0]["id"], chunks[0]["count"])
    assert transfer.add(chunks[0]) is None
    with pytest.raises(ValueError):
        transfer.add(chunks[1])


@pytest.mark.parametrize(
    "change",
    [
        {"index": 5},
        {"index": -1},
        {"index": True},
        {"count": 3},
        {"data": "not base64!"},
        {"data": 12},
        {"data": "QUFB" * CHUNK_BYTES},
    ],
)
def test_malformed_chunks_are_refused(change: dict) -> None:  # type: ignore[type-arg]
    chunk = background_chunks(b"x" * 100)[0]
    transfer = Transfer(chunk["id"], chunk["count"])
    with pytest.raises(ValueError):
        transfer.add({**chunk, **change})


@pytest.mark.parametrize("image, count", [("img:xyz", 1), ("plain", 1), (image_id(b"x"), 0), (image_id(b"x"), 10**6)])
def test_transfers_need_a_real_id_and_a_sane_size(image: str, count: int) -> None:
    with pytest.raises(ValueError):
        Transfer(image, count)


def test_image_ids_fit_the_layout_and_are_recognised() -> None:
    image = image_id(b"hello")
    assert is_image_id(image) and len(image) <= 100
    assert not is_image_id("plain") and not is_image_id("img:" + "g" * 64)
