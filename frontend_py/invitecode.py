"""The invite link as a QR code, so a friend across the table can join by pointing a phone at it.

segno (pure Python, served from assets/segno/ like our own modules) encodes the link; this module
draws its modules as one SVG path: dark modules on white, the standard 4-module quiet zone, error
correction level M. The SVG has a viewBox and no width or height, so CSS sizes it, and
`shape-rendering="crispEdges"` keeps module edges sharp at any scale. Only segno and the standard
library: it runs the same in CPython (the tests) and in Pyodide.
"""

from __future__ import annotations

import base64

import segno

ERROR_LEVEL = "M"
QUIET_ZONE = 4  # modules of light border on every side, as the QR standard asks


def qr_matrix(link: str) -> list[list[bool]]:
    """The QR code of `link` as rows of modules (True = dark), quiet zone included.

    Raises ValueError when the link is empty or too long for any QR code at level M.
    """
    if not link:
        raise ValueError("the invite link is empty")
    try:
        code = segno.make_qr(link, error=ERROR_LEVEL, boost_error=False)
    except segno.DataOverflowError as exc:
        raise ValueError(f"the invite link is too long for a QR code ({len(link)} characters)") from exc
    return [[module == 0x1 for module in row] for row in code.matrix_iter(border=QUIET_ZONE)]


def qr_svg(link: str) -> str:
    """An SVG document of the QR code of `link`, one unit per module, sized by CSS.

    Each run of dark modules in a row is one closed `M x y h n v1 h-n z` rectangle of the path.
    Raises ValueError as `qr_matrix` does.
    """
    matrix = qr_matrix(link)
    size = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/>'
        "</svg>"
    )


def qr_data_uri(link: str) -> str:
    """`qr_svg(link)` as a data: URI for an <img> src (the page's CSP allows data: images)."""
    encoded = base64.b64encode(qr_svg(link).encode("ascii")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"
