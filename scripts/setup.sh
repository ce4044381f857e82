#!/usr/bin/env bash
# Install what a fresh Debian machine lacks, idempotently: system packages, the Python
# environment (.venv) and the browser runtime (assets/ from the pinned npm packages).
# `--test` adds what the test suite needs (Chromium, fonts, Playwright, onnxruntime...).
set -euo pipefail
extras=""; [ "${1:-}" = "--test" ] && extras="[test]"
cd "$(dirname "$0")/.."

need_apt=()
if [ -n "$extras" ]; then
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  command -v chromium >/dev/null || need_apt+=(chromium)
  # Korean glyphs for the browser tests' screenshots (people's own machines have their fonts).
  [ -e /usr/share/fonts/truetype/nanum ] || need_apt+=(fonts-nanum)
  command -v ip >/dev/null || need_apt+=(iproute2)
  # The TURN relay the browser tests connect through, and certutil, which trusts the dev
  # certificate in a test browser's NSS database as an administrator would.
  command -v turnserver >/dev/null || need_apt+=(coturn)
  command -v certutil >/dev/null || need_apt+=(libnss3-tools)
fi
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  if [[ " ${need_apt[*]} " == *" coturn "* ]] && [ -d /run/systemd/system ]; then
    # Debian starts coturn as a system service on install, on every interface with its sample
    # configuration; the tests start their own on loopback, so this one is stopped and disabled.
    $sudo systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=".venv/.clov-installed${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi

.venv/bin/python scripts/assets.py
