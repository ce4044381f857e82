"""make_seekable and duration_ms (frontend_py/webm.py) on a real Chromium MediaRecorder file.

tests/data/mediarecorder.webm comes from scripts/make_test_webm.py: ~2 s of VP8 + Opus. The
checks read the output with the small independent EBML reader below, not the module's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend_py.webm import duration_ms, make_seekable

ORIGINAL = (Path(__file__).parent / "data" / "mediarecorder.webm").read_bytes()

SEGMENT, SEEK_HEAD, INFO, TRACKS, CUES, CLUSTER = (
    0x18538067, 0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1C53BB6B, 0x1F43B675)
BLOCK_IDS = (0xA3, 0xA0)  # SimpleBlock, BlockGroup
CLUSTER_ID_BYTES = bytes.fromhex("1F43B675")


def vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, int]:
    """(value, length, all-ones) of the EBML varint at pos."""
    length = 9 - data[pos].bit_length()
    raw = int.from_bytes(data[pos:pos + length], "big")
    value = raw if keep_marker else raw & ((1 << (7 * length)) - 1)
    return value, length, (1 << (7 * length)) - 1


def header(data: bytes, pos: int) -> tuple[int, int | None, int]:
    """(id, size or None when unknown, data start) of the element at pos."""
    element_id, id_length, _ = vint(data, pos, keep_marker=True)
    size, size_length, unknown = vint(data, pos + id_length, keep_marker=False)
    return element_id, None if size == unknown else size, pos + id_length + size_length


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(id, element start, data start, end) of each known-size element in [start, end)."""
    found = []
    while start < end:
        element_id, size, data_start = header(data, start)
        assert size is not None
        found.append((element_id, start, data_start, data_start + size))
        start = data_start + size
    assert start == end
    return found


def uint(data: bytes, element: tuple[int, int, int, int]) -> int:
    return int.from_bytes(data[element[2]:element[3]], "big")


def child(data: bytes, element: tuple[int, int, int, int], element_id: int) -> tuple[int, int, int, int]:
    return next(c for c in children(data, element[2], element[3]) if c[0] == element_id)


def segment_start(data: bytes) -> int:
    return header(data, 0)[2] + header(data, 0)[1]


def top_level_ids(data: bytes) -> list[int]:
    """Segment children's IDs, stepping into unknown-size Clusters' headers only."""
    _, _, pos = header(data, segment_start(data))
    ids = []
    while pos < len(data):
        element_id, size, data_start = header(data, pos)
        ids.append(element_id)
        if size is None:
            assert element_id == CLUSTER
            pos = data_start
            while pos < len(data) and header(data, pos)[0] != CLUSTER:
                pos = header(data, pos)[2] + header(data, pos)[1]
        else:
            pos = data_start + size
    return ids


def blocks(data: bytes) -> list[bytes]:
    """Every SimpleBlock and BlockGroup, whole, in file order (Segment and Clusters flattened)."""
    found = []
    pos = segment_start(data)
    while pos < len(data):
        element_id, size, data_start = header(data, pos)
        if element_id in (SEGMENT, CLUSTER):
            pos = data_start
            continue
        assert size is not None
        if element_id in BLOCK_IDS:
            found.append(data[pos:data_start + size])
        pos = data_start + size
    return found


@pytest.fixture(scope="module")
def fixed() -> bytes:
    return make_seekable(ORIGINAL)


def segment_parts(data: bytes) -> tuple[int, dict[int, list[tuple[int, int, int, int]]]]:
    """Segment data start and its children by ID, requiring a known size that ends the file."""
    element_id, size, data_start = header(data, segment_start(data))
    assert element_id == SEGMENT
    assert size == len(data) - data_start
    parts: dict[int, list[tuple[int, int, int, int]]] = {}
    for element in children(data, data_start, data_start + size):
        parts.setdefault(element[0], []).append(element)
    return data_start, parts


def test_the_recording_lacks_duration_cues_and_sizes():
    assert duration_ms(ORIGINAL) is None
    assert header(ORIGINAL, segment_start(ORIGINAL))[1] is None
    ids = top_level_ids(ORIGINAL)
    assert CUES not in ids and SEEK_HEAD not in ids
    assert ids.count(CLUSTER) >= 4


def test_duration_covers_the_two_seconds_recorded(fixed):
    assert 1500 <= duration_ms(fixed) <= 2600


def test_segment_and_clusters_have_their_real_sizes(fixed):
    _, parts = segment_parts(fixed)  # asserts the Segment's size is the bytes after its header
    assert len(parts[CLUSTER]) == top_level_ids(ORIGINAL).count(CLUSTER)
    for cluster in parts[CLUSTER]:
        children(fixed, cluster[2], cluster[3])  # asserts the children tile the Cluster exactly


def test_cues_point_at_every_cluster_for_the_video_track(fixed):
    data_start, parts = segment_parts(fixed)
    (cues,) = parts[CUES]
    points = children(fixed, cues[2], cues[3])
    assert len(points) == len(parts[CLUSTER])
    video_track = next(
        uint(fixed, child(fixed, entry, 0xD7))
        for entry in children(fixed, parts[TRACKS][0][2], parts[TRACKS][0][3])
        if uint(fixed, child(fixed, entry, 0x83)) == 1)
    for point, cluster in zip(points, parts[CLUSTER]):
        positions = child(fixed, point, 0xB7)
        assert uint(fixed, child(fixed, positions, 0xF7)) == video_track
        position = data_start + uint(fixed, child(fixed, positions, 0xF1))
        assert position == cluster[1]
        assert fixed[position:position + 4] == CLUSTER_ID_BYTES
        assert uint(fixed, child(fixed, point, 0xB3)) == uint(fixed, child(fixed, cluster, 0xE7))


def test_seek_head_points_at_info_tracks_and_cues(fixed):
    data_start, parts = segment_parts(fixed)
    (seek_head,) = parts[SEEK_HEAD]
    targets = {}
    for seek in children(fixed, seek_head[2], seek_head[3]):
        target_id = uint(fixed, child(fixed, seek, 0x53AB))
        targets[target_id] = data_start + uint(fixed, child(fixed, seek, 0x53AC))
    assert targets == {element_id: parts[element_id][0][1] for element_id in (INFO, TRACKS, CUES)}


def test_everything_else_is_kept(fixed):
    assert blocks(fixed) == blocks(ORIGINAL)
    assert len(blocks(fixed)) > 50
    assert fixed[:segment_start(fixed)] == ORIGINAL[:segment_start(ORIGINAL)]
    _, parts = segment_parts(fixed)
    (tracks,) = parts[TRACKS]
    assert fixed[tracks[1]:tracks[3]] in ORIGINAL


def test_running_it_again_changes_nothing(fixed):
    again = make_seekable(fixed)
    assert again == fixed
    assert duration_ms(again) == duration_ms(fixed)


def test_accepts_any_bytes_like_input(fixed):
    assert make_seekable(bytearray(ORIGINAL)) == fixed
    assert make_seekable(memoryview(ORIGINAL)) == fixed


@pytest.mark.parametrize("data", [b"", b"\x1a\x45", b"hello, this is not a video" * 10, bytes(100)])
def test_garbage_is_refused(data):
    with pytest.raises(ValueError, match="not a WebM|truncated"):
        make_seekable(data)
    with pytest.raises(ValueError, match="not a WebM|truncated"):
        duration_ms(data)


def test_a_truncated_file_is_refused():
    # Cut in the middle of the last block, as a recording lost mid-write would be.
    last = ORIGINAL.rindex(blocks(ORIGINAL)[-1])
    with pytest.raises(ValueError, match="truncated"):
        make_seekable(ORIGINAL[:last + 10])


def test_a_size_pointing_past_the_end_is_refused(fixed):
    pos = segment_start(fixed) + 4
    past_end = fixed[:pos] + (0x01 << 56 | len(fixed)).to_bytes(8, "big") + fixed[pos + 8:]
    with pytest.raises(ValueError, match="past the end"):
        make_seekable(past_end)
    # A SimpleBlock claiming the largest size there is, inside an unknown-size Cluster.
    block = ORIGINAL.index(blocks(ORIGINAL)[1])
    _, _, data_start = header(ORIGINAL, block)
    huge = ORIGINAL[:block + 1] + bytes.fromhex("01fffffffffffffe") + ORIGINAL[data_start:]
    with pytest.raises(ValueError, match="past the end"):
        make_seekable(huge)


def test_a_file_that_is_not_webm_is_refused():
    doc_type = ORIGINAL.index(b"webm")
    with pytest.raises(ValueError, match="DocType"):
        make_seekable(ORIGINAL[:doc_type] + b"avi!" + ORIGINAL[doc_type + 4:])


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.tuples(st.integers(0, len(ORIGINAL) - 1), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(1, len(ORIGINAL)))
def test_corrupt_input_gives_a_file_or_value_error(edits, length):
    data = bytearray(ORIGINAL[:length])
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    try:
        out = make_seekable(bytes(data))
    except ValueError:
        return
    assert make_seekable(out) == out
