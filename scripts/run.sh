#!/usr/bin/env bash
# Set up (scripts/setup.sh), then start CLOV; it prints the URL to open. Extra arguments go
# to `clov serve` (see `clov serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/clov serve "$@"
