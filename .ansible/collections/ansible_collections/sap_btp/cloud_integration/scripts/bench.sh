#!/usr/bin/env bash
# `make bench`: runs the benchmarks B1-B6 (benchmarks/bench.py) against the BTP sandbox with the realistic profile
# and prints a table of figures, targets and ratios. Arguments are passed on, e.g. `scripts/bench.sh --only B5`
# or `scripts/bench.sh --update-doc` (writes the table into docs/performance.md). Not part of `make test`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH" ANSIBLE_FORCE_COLOR=0
cd "$ROOT"
exec "$VENV/bin/python" benchmarks/bench.py "$@"
