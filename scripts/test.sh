#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint (ruff, configured in pyproject.toml), then run the whole test
# suite. The fixtures start Redis and the servers themselves. Exits non-zero on any failure, on a
# lint finding, and also when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
suites=(tests)
[ -d tests_e2e ] && suites+=(tests_e2e)
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "${suites[@]}" "$@"
