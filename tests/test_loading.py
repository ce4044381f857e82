"""The loading screen (frontend_py/loading.js) says what went wrong instead of waiting for ever.

Runs the script in Node against a small fake DOM (tests/loading_harness.mjs); the real page is
the browser tests' business."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup.sh installs it)")


def run(scenario: str) -> dict | None:  # type: ignore[type-arg]
    result = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "loading_harness.mjs"), str(ROOT / "frontend_py" / "loading.js"), scenario],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["line"]


@pytest.mark.parametrize("scenario, detail", [
    ("fetch404", "/assets/pyodide/missing.wasm: 404"),
    ("script", "/assets/pyscript/core.js"),
])
def test_a_file_that_fails_to_load_is_an_error_with_what_to_do(scenario: str, detail: str) -> None:
    line = run(scenario)
    assert line is not None
    assert detail in line["en"] and detail in line["ko"]
    assert "scripts/setup.sh" in line["en"] and "scripts/setup.sh" in line["ko"]
    assert "새로 고치세요" in line["ko"]


def test_on_a_static_host_the_error_says_to_build_the_site_again() -> None:
    line = run("fetch404-static")
    assert line is not None and "/assets/pyodide/missing.wasm: 404" in line["en"]
    assert "clov build" in line["en"] and "clov build" in line["ko"]
    assert "setup.sh" not in line["en"] + line["ko"]


def test_a_stage_stuck_for_a_minute_says_so() -> None:
    line = run("stall")
    assert line is not None and "minute" in line["en"] and "1분" in line["ko"]


@pytest.mark.parametrize("scenario", ["fetchok", "after-boot"])
def test_no_error_when_files_load_or_once_the_app_runs(scenario: str) -> None:
    assert run(scenario) is None
