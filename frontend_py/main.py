"""Entry point of the browser client: PyScript runs this file once Pyodide is up.

For now it proves the boot: the shared wire protocol imports in the browser, and the page
reports that it is ready (tests wait for ``<html data-ready="1">``, never a fixed sleep).
"""

from js import document

from signaling import protocol


def show_status(text: str) -> None:
    """Write one line of status text into the page."""
    document.getElementById("status").textContent = text


def mark_ready() -> None:
    """Tell tests and the page's CSS that the Python client has booted."""
    document.documentElement.dataset.ready = "1"


show_status(f"CLOV ready (protocol module {protocol.__name__} loaded)")
mark_ready()
