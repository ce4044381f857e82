"""The page withholds JSPI from Pyodide (frontend_py/jspi.js, docs/browsers.md), which holds only
while the client never blocks on a promise: without JSPI, Pyodide's blocking calls raise."""

from __future__ import annotations

import re

from tests.conftest import ROOT

BLOCKING_CALLS = re.compile(r"\b(run_sync|syncify)\b")


def test_the_client_never_blocks_on_a_promise() -> None:
    sources = [*(ROOT / "frontend_py").glob("*.py"), ROOT / "models" / "decode.py", ROOT / "signaling" / "protocol.py"]
    blocking = [f"{path.name}:{number}" for path in sources
                for number, line in enumerate(path.read_text().splitlines(), 1) if BLOCKING_CALLS.search(line)]
    assert blocking == []


def test_jspi_is_withheld_before_pyscript_starts() -> None:
    page = (ROOT / "index.html").read_text()
    assert 0 < page.index('src="/frontend_py/jspi.js"') < page.index('src="/assets/pyscript/core.js"')
    assert "delete WebAssembly.Suspending;" in (ROOT / "frontend_py" / "jspi.js").read_text()
