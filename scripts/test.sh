#!/usr/bin/env bash
# Set up (scripts/setup.sh --test) and run every test: the widget's vitest suite, then pytest
# (unit tests, a real tiny training run, the store against SQLite and PostgreSQL, notebooks and
# the browser tests). Extra arguments go to pytest, e.g. `scripts/test.sh -k tracker`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
if [ -f js/package.json ]; then
  (cd js && npm test --silent)
fi
exec .venv/bin/python -m pytest "$@"
