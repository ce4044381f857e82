#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole test suite. The fixtures start Redis and the
# servers themselves. Exits non-zero on any failure, and also when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
suites=(tests)
[ -d tests_e2e ] && suites+=(tests_e2e)
exec .venv/bin/python -m pytest "${suites[@]}" "$@"
