"""What the browser must offer before CLOV can run, checked before anything else."""

from __future__ import annotations

import js

from frontend_py import webgl
from frontend_py.dom import nullable


def missing() -> list[str]:
    """i18n keys of what this browser lacks, most fundamental first."""
    problems = []
    if not hasattr(js, "RTCPeerConnection"):
        problems.append("unsupported.webrtc")
    devices = getattr(js.navigator, "mediaDevices", None)
    if devices is None or not hasattr(devices, "getUserMedia"):
        problems.append("unsupported.media")
    probe = nullable(js.document.createElement("canvas").getContext("webgl2"))
    if probe is None:
        problems.append("unsupported.webgl2")
    else:  # a page holds few contexts, and this one would count until it is collected
        webgl.lose_context(probe)
    return problems
