"""Make a MediaRecorder WebM seekable: add Duration, Cues and a SeekHead, and give sizes.

Chromium's MediaRecorder streams its WebM, so it cannot go back to fill in what is only known
at the end: the Segment and its Clusters have "unknown" sizes, Info has no Duration and there
are no Cues. Players then show no length and cannot seek a downloaded clip. `make_seekable`
rewrites the container around the untouched frame data, as ts-ebml's makeMetadataSeekable or
an ffmpeg remux would; `duration_ms` reads the Duration back.

Pure Python (standard library only), so it runs in Pyodide and is tested in CPython. Every
size and varint is bounds-checked against its parent, so hostile or cut-off input raises
ValueError instead of looping or allocating.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EBML = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
SEEK = 0x4DBB
SEEK_ID = 0x53AB
SEEK_POSITION = 0x53AC
INFO = 0x1549A966
TIMECODE_SCALE = 0x2AD7B1
DURATION = 0x4489
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
CUES = 0x1C53BB6B
CUE_POINT = 0xBB
CUE_TIME = 0xB3
CUE_TRACK_POSITIONS = 0xB7
CUE_TRACK = 0xF7
CUE_CLUSTER_POSITION = 0xF1
CLUSTER = 0x1F43B675
TIMECODE = 0xE7
POSITION = 0xA7
PREV_SIZE = 0xAB
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
BLOCK_DURATION = 0x9B
CHAPTERS = 0x1043A770
TAGS = 0x1254C367
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF

VIDEO_TRACK_TYPE = 1
DEFAULT_TIMECODE_SCALE = 1_000_000  # ns per timestamp unit: timestamps in ms

# An unknown-size Cluster ends where one of these starts (they cannot be inside a Cluster).
_CLUSTER_ENDERS = frozenset({EBML, SEGMENT, SEEK_HEAD, INFO, TRACKS, CUES, CLUSTER, CHAPTERS, TAGS,
                             ATTACHMENTS})
# Regenerated, or (padding, checksums) meaningless once the Segment is laid out anew.
_DROPPED_TOP_LEVEL = frozenset({SEEK_HEAD, CUES, VOID, CRC32})
# Position and PrevSize go stale when Clusters move; a CRC-32 would cover them.
_DROPPED_IN_CLUSTER = frozenset({POSITION, PREV_SIZE, CRC32})
# Positions are written 8 bytes wide so the SeekHead's and Cues' sizes do not depend on them.
_POSITION_WIDTH = 8


@dataclass(frozen=True)
class _Element:
    id: int
    start: int  # first byte of the ID
    data_start: int
    end: int  # one past the last byte of the data, resolved for unknown sizes


@dataclass
class _Cluster:
    element: _Element
    timecode: int
    children: list[_Element]


@dataclass
class _TrackTimes:
    last: int | None = None
    previous: int | None = None
    last_duration: int | None = None

    def add(self, timestamp: int, duration: int | None) -> None:
        self.previous, self.last, self.last_duration = self.last, timestamp, duration

    def end(self) -> int:
        """Where the last frame ends: its BlockDuration, else the spacing of the last two."""
        assert self.last is not None
        if self.last_duration is not None:
            return self.last + self.last_duration
        if self.previous is not None and self.last > self.previous:
            return 2 * self.last - self.previous
        return self.last


@dataclass
class _Segment:
    element: _Element
    info: _Element
    tracks: _Element
    head: list[_Element]  # kept level-1 elements before the first Cluster, Tracks among them
    body: list[_Element | _Cluster]  # the Clusters and whatever is kept after the first one


# --- reading -------------------------------------------------------------------------------------

def _read_id(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise ValueError(f"truncated WebM: element ID expected at byte {pos}")
    first = data[pos]
    length = 9 - first.bit_length()
    if first == 0 or length > 4:
        raise ValueError(f"not a WebM file: invalid element ID at byte {pos}")
    if pos + length > end:
        raise ValueError(f"truncated WebM: element ID at byte {pos} runs past the end")
    return int.from_bytes(data[pos:pos + length], "big"), pos + length


def _read_size(data: bytes, pos: int, end: int) -> tuple[int | None, int]:
    """The size and where the data starts; None for the reserved "unknown size" (all 1 bits)."""
    if pos >= end:
        raise ValueError(f"truncated WebM: element size expected at byte {pos}")
    first = data[pos]
    length = 9 - first.bit_length()
    if first == 0:
        raise ValueError(f"not a WebM file: invalid element size at byte {pos}")
    if pos + length > end:
        raise ValueError(f"truncated WebM: element size at byte {pos} runs past the end")
    value = int.from_bytes(data[pos:pos + length], "big") & ((1 << (7 * length)) - 1)
    if value == (1 << (7 * length)) - 1:
        return None, pos + length
    return value, pos + length


def _read_header(data: bytes, pos: int, end: int) -> tuple[int, int | None, int]:
    element_id, pos = _read_id(data, pos, end)
    size, pos = _read_size(data, pos, end)
    return element_id, size, pos


def _read_element(data: bytes, pos: int, end: int) -> _Element:
    """A known-size element at pos, which must fit before end."""
    element_id, size, data_start = _read_header(data, pos, end)
    if size is None:
        raise ValueError(f"unsupported WebM: element 0x{element_id:X} at byte {pos} has unknown size")
    if data_start + size > end:
        raise ValueError(f"truncated WebM: element 0x{element_id:X} at byte {pos} runs past the end")
    return _Element(element_id, pos, data_start, data_start + size)


def _children(data: bytes, parent: _Element) -> list[_Element]:
    children = []
    pos = parent.data_start
    while pos < parent.end:
        child = _read_element(data, pos, parent.end)
        children.append(child)
        pos = child.end
    return children


def _uint(data: bytes, element: _Element) -> int:
    if element.end - element.data_start > 8:
        raise ValueError(f"invalid WebM: integer element 0x{element.id:X} is longer than 8 bytes")
    return int.from_bytes(data[element.data_start:element.end], "big")


def _float(data: bytes, element: _Element) -> float:
    raw = data[element.data_start:element.end]
    if len(raw) == 4:
        return struct.unpack(">f", raw)[0]
    if len(raw) == 8:
        return struct.unpack(">d", raw)[0]
    if not raw:
        return 0.0
    raise ValueError(f"invalid WebM: float element 0x{element.id:X} is {len(raw)} bytes long")


def _block_track_and_time(data: bytes, block: _Element) -> tuple[int, int]:
    """Track number and timecode (relative to the Cluster's) from a (Simple)Block's header."""
    track, pos = _read_size(data, block.data_start, block.end)
    if track is None or pos + 2 > block.end:
        raise ValueError(f"invalid WebM: malformed block at byte {block.start}")
    return track, int.from_bytes(data[pos:pos + 2], "big", signed=True)


def _check_ebml_header(data: bytes) -> int:
    """Check the EBML header says WebM (or Matroska) and return where the Segment starts."""
    if len(data) < 4 or int.from_bytes(data[:4], "big") != EBML:
        raise ValueError("not a WebM file: it does not start with an EBML header")
    header = _read_element(data, 0, len(data))
    doc_types = [data[c.data_start:c.end] for c in _children(data, header) if c.id == DOC_TYPE]
    doc_type = doc_types[0].rstrip(b"\0") if doc_types else b""
    if doc_type not in (b"webm", b"matroska"):
        raise ValueError(f"not a WebM file: EBML DocType is {doc_type!r}")
    return header.end


def _segment_element(data: bytes, pos: int) -> _Element:
    element_id, size, data_start = _read_header(data, pos, len(data))
    if element_id != SEGMENT:
        raise ValueError(f"not a WebM file: expected a Segment at byte {pos}, found 0x{element_id:X}")
    if size is None:
        return _Element(SEGMENT, pos, data_start, len(data))
    if data_start + size > len(data):
        raise ValueError("truncated WebM: the Segment runs past the end of the data")
    return _Element(SEGMENT, pos, data_start, data_start + size)


def _read_cluster(data: bytes, pos: int, end: int) -> _Cluster:
    element_id, size, data_start = _read_header(data, pos, end)
    if size is not None and data_start + size > end:
        raise ValueError(f"truncated WebM: Cluster at byte {pos} runs past the end")
    cluster_end = end if size is None else data_start + size
    children = []
    timecode = None
    child_pos = data_start
    while child_pos < cluster_end:
        if size is None and _read_id(data, child_pos, cluster_end)[0] in _CLUSTER_ENDERS:
            cluster_end = child_pos
            break
        child = _read_element(data, child_pos, cluster_end)
        if child.id == TIMECODE:
            timecode = _uint(data, child)
        children.append(child)
        child_pos = child.end
    if timecode is None:
        raise ValueError(f"invalid WebM: Cluster at byte {pos} has no Timecode")
    return _Cluster(_Element(element_id, pos, data_start, cluster_end), timecode, children)


def _read_segment(data: bytes, segment: _Element) -> _Segment:
    info = tracks = None
    head: list[_Element] = []
    body: list[_Element | _Cluster] = []
    pos = segment.data_start
    while pos < segment.end:
        element_id = _read_id(data, pos, segment.end)[0]
        if element_id in (EBML, SEGMENT):
            # A second file glued on after an unknown-size Segment: it ends ours.
            segment = _Element(SEGMENT, segment.start, segment.data_start, pos)
            break
        if element_id == CLUSTER:
            cluster = _read_cluster(data, pos, segment.end)
            body.append(cluster)
            pos = cluster.element.end
            continue
        element = _read_element(data, pos, segment.end)
        pos = element.end
        if element_id == INFO and info is None:
            info = element
        elif element_id == TRACKS and tracks is None:
            tracks = element
            head.append(element)
        elif element_id not in _DROPPED_TOP_LEVEL and element_id != INFO:  # a second Info is dropped
            (body if body else head).append(element)
    if info is None:
        raise ValueError("invalid WebM: no Info element")
    if tracks is None:
        raise ValueError("invalid WebM: no Tracks element")
    if not any(isinstance(item, _Cluster) for item in body):
        raise ValueError("invalid WebM: no Clusters (nothing was recorded)")
    return _Segment(segment, info, tracks, head, body)


def _timecode_scale(data: bytes, info: _Element) -> int:
    scales = [_uint(data, c) for c in _children(data, info) if c.id == TIMECODE_SCALE]
    return scales[0] if scales and scales[0] > 0 else DEFAULT_TIMECODE_SCALE


def _cue_track(data: bytes, tracks: _Element) -> int:
    """The video track's number, else the first track's (an audio-only file)."""
    numbers = []
    for entry in _children(data, tracks):
        if entry.id != TRACK_ENTRY:
            continue
        fields = {c.id: _uint(data, c) for c in _children(data, entry) if c.id in (TRACK_NUMBER, TRACK_TYPE)}
        if TRACK_NUMBER not in fields:
            continue
        if fields.get(TRACK_TYPE) == VIDEO_TRACK_TYPE:
            return fields[TRACK_NUMBER]
        numbers.append(fields[TRACK_NUMBER])
    if not numbers:
        raise ValueError("invalid WebM: Tracks has no track with a TrackNumber")
    return numbers[0]


def _end_timestamp(data: bytes, clusters: list[_Cluster]) -> int:
    """The latest end of any track's last frame, in timecode-scale units."""
    tracks: dict[int, _TrackTimes] = {}
    for cluster in clusters:
        for child in cluster.children:
            if child.id == SIMPLE_BLOCK:
                block, duration = child, None
            elif child.id == BLOCK_GROUP:
                parts = _children(data, child)
                blocks = [p for p in parts if p.id == BLOCK]
                if not blocks:
                    continue
                block = blocks[0]
                durations = [_uint(data, p) for p in parts if p.id == BLOCK_DURATION]
                duration = durations[0] if durations else None
            else:
                continue
            track, relative = _block_track_and_time(data, block)
            tracks.setdefault(track, _TrackTimes()).add(cluster.timecode + relative, duration)
    return max((times.end() for times in tracks.values()), default=0)


# --- writing -------------------------------------------------------------------------------------

def _encode_id(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def _encode_size(size: int, width: int | None = None) -> bytes:
    if width is None:
        width = 1
        while size >= (1 << (7 * width)) - 1:  # all 1 bits would mean "unknown"
            width += 1
    if width > 8 or size >= (1 << (7 * width)) - 1:
        raise ValueError(f"WebM element of {size} bytes is too large")
    return ((1 << (7 * width)) | size).to_bytes(width, "big")


def _element_bytes(element_id: int, payload: bytes) -> bytes:
    return _encode_id(element_id) + _encode_size(len(payload)) + payload


def _uint_element(element_id: int, value: int, width: int | None = None) -> bytes:
    width = width or max(1, (value.bit_length() + 7) // 8)
    return _element_bytes(element_id, value.to_bytes(width, "big"))


def _info_bytes(data: bytes, info: _Element, duration: float) -> bytes:
    # A CRC-32 would no longer match, and an old Duration is replaced.
    kept = b"".join(data[c.start:c.end] for c in _children(data, info) if c.id not in (DURATION, CRC32))
    return _element_bytes(INFO, kept + _element_bytes(DURATION, struct.pack(">d", duration)))


def _seek_head_bytes(positions: dict[int, int]) -> bytes:
    seeks = b"".join(
        _element_bytes(SEEK, _element_bytes(SEEK_ID, _encode_id(element_id))
                       + _uint_element(SEEK_POSITION, position, _POSITION_WIDTH))
        for element_id, position in positions.items())
    return _element_bytes(SEEK_HEAD, seeks)


def _cues_bytes(points: list[tuple[int, int]], track: int) -> bytes:
    cue_points = b"".join(
        _element_bytes(CUE_POINT, _uint_element(CUE_TIME, time) + _element_bytes(
            CUE_TRACK_POSITIONS,
            _uint_element(CUE_TRACK, track) + _uint_element(CUE_CLUSTER_POSITION, position, _POSITION_WIDTH)))
        for time, position in points)
    return _element_bytes(CUES, cue_points)


def make_seekable(data: bytes) -> bytes:
    """Return the WebM with Duration, Cues, a SeekHead and known Segment and Cluster sizes.

    Frame data and every other element are copied unchanged; old SeekHeads, Cues, top-level
    Voids and CRC-32s are replaced or dropped, so running it again gives the same bytes.
    """
    data = bytes(data)
    segment = _read_segment(data, _segment_element(data, _check_ebml_header(data)))
    view = memoryview(data)
    clusters = [item for item in segment.body if isinstance(item, _Cluster)]
    duration = float(_end_timestamp(data, clusters))
    track = _cue_track(data, segment.tracks)

    info = _info_bytes(data, segment.info, duration)
    head = [view[e.start:e.end] for e in segment.head]
    # Placeholder positions have the final widths, so these sizes are the final sizes.
    seek_head_size = len(_seek_head_bytes({INFO: 0, TRACKS: 0, CUES: 0}))
    cues_size = len(_cues_bytes([(c.timecode, 0) for c in clusters], track))

    # Segment data: SeekHead, Info, Tracks and the rest of the head, Cues, then the body.
    offset = tracks_position = seek_head_size + len(info)
    for element, chunk in zip(segment.head, head):
        if element is segment.tracks:
            tracks_position = offset
        offset += len(chunk)
    cues_position = offset

    body: list[bytes | memoryview] = []
    points = []
    position = cues_position + cues_size
    for item in segment.body:
        if isinstance(item, _Cluster):
            kept = [view[c.start:c.end] for c in item.children if c.id not in _DROPPED_IN_CLUSTER]
            size = sum(len(chunk) for chunk in kept)
            header = _encode_id(CLUSTER) + _encode_size(size)
            points.append((item.timecode, position))
            body.append(header)
            body.extend(kept)
            position += len(header) + size
        else:
            body.append(view[item.start:item.end])
            position += item.end - item.start

    seek_head = _seek_head_bytes({INFO: seek_head_size, TRACKS: tracks_position, CUES: cues_position})
    cues = _cues_bytes(points, track)
    segment_header = _encode_id(SEGMENT) + _encode_size(position, 8)
    tail = view[segment.element.end:]
    return b"".join([view[:segment.element.start], segment_header, seek_head, info, *head, cues, *body,
                     tail])


def duration_ms(data: bytes) -> float | None:
    """The Duration in Info in milliseconds, or None when the file has none."""
    data = bytes(data)
    segment = _segment_element(data, _check_ebml_header(data))
    pos = segment.data_start
    while pos < segment.end:
        element_id = _read_id(data, pos, segment.end)[0]
        if element_id in (CLUSTER, EBML, SEGMENT):
            break  # Info comes before the media
        element = _read_element(data, pos, segment.end)
        if element_id == INFO:
            durations = [_float(data, c) for c in _children(data, element) if c.id == DURATION]
            if not durations:
                return None
            return durations[0] * _timecode_scale(data, element) / 1e6
        pos = element.end
    return None
