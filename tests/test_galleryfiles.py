"""The gallery's download names and ZIP archives, in CPython (the browser side is gallery.py)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest

from frontend_py.galleryfiles import extension, file_name, unique_names, zip_bytes, zip_name

TAKEN = datetime(2026, 11, 29, 14, 30, 12)


@pytest.mark.parametrize(
    "kind, mime, expected",
    [
        ("photo", "image/png", "clov-2026-11-29-143012.png"),
        ("strip", "image/png", "clov-strip-2026-11-29-143012.png"),
        ("clip", "video/mp4", "clov-2026-11-29-143012.mp4"),
        ("clip", "video/webm;codecs=vp9,opus", "clov-2026-11-29-143012.webm"),
    ],
)
def test_names_say_when_and_what(kind: str, mime: str, expected: str) -> None:
    assert file_name(kind, TAKEN, mime) == expected


def test_names_pad_every_field() -> None:
    assert file_name("photo", datetime(2027, 1, 2, 3, 4, 5), "image/png") == "clov-2027-01-02-030405.png"
    assert zip_name(date(2026, 3, 7)) == "clov-2026-03-07.zip"


@pytest.mark.parametrize(
    "mime, expected",
    [
        ("image/png", "png"),
        ("image/jpeg", "jpg"),
        ("image/webp", "webp"),
        ("video/mp4", "mp4"),
        ("video/mp4;codecs=avc1.42E01E", "mp4"),
        ("video/webm; codecs=\"vp8, opus\"", "webm"),
        ("VIDEO/WebM", "webm"),
        ("video/x-matroska;codecs=avc1", "mkv"),
        ("", "bin"),
        ("application/x-unknown", "bin"),
    ],
)
def test_extension_from_mime(mime: str, expected: str) -> None:
    assert extension(mime) == expected


def test_names_taken_in_the_same_second_become_unique() -> None:
    same = file_name("photo", TAKEN, "image/png")
    clip = file_name("clip", TAKEN, "video/webm")
    assert unique_names([same, clip, same, same]) == [
        "clov-2026-11-29-143012.png",
        "clov-2026-11-29-143012.webm",
        "clov-2026-11-29-143012-2.png",
        "clov-2026-11-29-143012-3.png",
    ]


def test_a_made_up_name_never_repeats_an_existing_one() -> None:
    assert unique_names(["a.png", "a-2.png", "a.png"]) == ["a.png", "a-2.png", "a-3.png"]
    assert unique_names(["A.PNG", "a.png"]) == ["A.PNG", "a-2.png"]
    assert unique_names(["notes", "notes"]) == ["notes", "notes-2"]
    assert unique_names([]) == []


def test_zip_reads_back_with_the_same_names_and_bytes() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    webm = b"\x1aE\xdf\xa3" + b"\x00\x01" * 5000
    name = file_name("photo", TAKEN, "image/png")
    data = zip_bytes([(name, png), (file_name("clip", TAKEN, "video/webm"), webm), (name, png[::-1])])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [
            "clov-2026-11-29-143012.png",
            "clov-2026-11-29-143012.webm",
            "clov-2026-11-29-143012-2.png",
        ]
        assert archive.read("clov-2026-11-29-143012.png") == png
        assert archive.read("clov-2026-11-29-143012.webm") == webm
        assert archive.read("clov-2026-11-29-143012-2.png") == png[::-1]
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


def test_an_empty_zip_is_still_a_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes([]))) as archive:
        assert archive.namelist() == []
