#!/usr/bin/env bash
# The main job: set up, train a data map on the sample shipped in the package (600 TREC
# questions with 18 labels flipped on purpose) with the embedded all-MiniLM-L6-v2, print the
# suspects and the share of flipped labels found in the top 5%. A few minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# --overwrite: running the demo again replaces its own earlier run (kept until the new one is written).
exec .venv/bin/datamap train --sample --out runs/sample --overwrite "$@"
