"""The invite QR code (frontend_py/invitecode.py): the SVG it writes, drawn and decoded by zxing-cpp."""

from __future__ import annotations

import base64
import random
import re
import string
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from frontend_py.invitecode import QUIET_ZONE, qr_data_uri, qr_matrix, qr_svg

SVG = "{http://www.w3.org/2000/svg}"
PIXELS_PER_MODULE = 8
RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")
TOKEN = "".join(random.Random(7).choices(string.ascii_letters + string.digits + "-_.", k=200))
LINKS = [
    "https://booth.example.org/r/Ab3dEf9hJk",
    f"https://booth.example.org/r/Ab3dEf9hJk#{TOKEN}",
    f"https://[2001:db8::1]:8443/r/Ab3dEf9hJk#{TOKEN}",
]


def rasterise(svg: str) -> Image.Image:
    """Draw the SVG qr_svg writes (one white rect, one path of unit-high rectangles) at 8 px/module.

    Anything else in the document fails the test rather than being skipped.
    """
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("shape-rendering") == "crispEdges"
    assert root.get("width") is None and root.get("height") is None  # CSS sizes it
    x0, y0, width, height = (int(v) for v in root.get("viewBox", "").split())
    assert (x0, y0) == (0, 0) and width == height
    background, path = list(root)
    assert background.tag == f"{SVG}rect" and background.attrib == {
        "width": str(width),
        "height": str(height),
        "fill": "#fff",
    }
    assert path.tag == f"{SVG}path" and path.get("fill") == "#000"

    image = Image.new("L", (width * PIXELS_PER_MODULE,) * 2, 255)
    draw = ImageDraw.Draw(image)
    d = path.get("d", "")
    end = 0
    for run in RUN.finditer(d):
        assert run.start() == end, f"unexpected path data at {end}: {d[end : end + 20]!r}"
        end = run.end()
        x, y, length, back = (int(v) for v in run.groups())
        assert length == back > 0
        # Dark modules stay clear of the quiet zone.
        assert QUIET_ZONE <= x and x + length <= width - QUIET_ZONE
        assert QUIET_ZONE <= y < height - QUIET_ZONE
        draw.rectangle(
            (
                x * PIXELS_PER_MODULE,
                y * PIXELS_PER_MODULE,
                (x + length) * PIXELS_PER_MODULE - 1,
                (y + 1) * PIXELS_PER_MODULE - 1,
            ),
            fill=0,
        )
    assert end == len(d) and end > 0
    return image


@pytest.mark.parametrize("link", LINKS)
def test_the_svg_decodes_to_the_link(link: str) -> None:
    # No inverted retry: the code must be dark on light, as phone cameras expect.
    found = zxingcpp.read_barcodes(
        rasterise(qr_svg(link)), formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False
    )
    assert [barcode.text for barcode in found] == [link]
    assert found[0].ec_level == "M"


def test_the_svg_draws_the_matrix() -> None:
    link = LINKS[1]
    matrix = qr_matrix(link)
    image = rasterise(qr_svg(link))
    half = PIXELS_PER_MODULE // 2
    drawn = [
        [
            image.getpixel((x * PIXELS_PER_MODULE + half, y * PIXELS_PER_MODULE + half)) == 0
            for x in range(len(matrix))
        ]
        for y in range(len(matrix))
    ]
    assert drawn == matrix
    assert all(len(row) == len(matrix) for row in matrix)


def test_data_uri_holds_the_svg() -> None:
    link = LINKS[1]
    prefix = "data:image/svg+xml;base64,"
    uri = qr_data_uri(link)
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :], validate=True).decode("ascii") == qr_svg(link)


def test_empty_link_is_refused() -> None:
    for make in (qr_matrix, qr_svg, qr_data_uri):
        with pytest.raises(ValueError, match="empty"):
            make("")


def test_link_too_long_for_a_qr_code_is_refused() -> None:
    longest = "https://booth.example.org/r/Ab3dEf9hJk#" + "a" * (2331 - 39)  # version 40-M holds 2331 bytes
    assert len(qr_matrix(longest)) == 177 + 2 * QUIET_ZONE
    for make in (qr_matrix, qr_svg, qr_data_uri):
        with pytest.raises(ValueError, match="too long for a QR code"):
            make(longest + "a")
