#!/usr/bin/env bash
# The demo end to end, after setting up .venv: a throwaway repo, a tiny model trained and saved
# with its snapshot, the code restored from the checkpoint and then undone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python examples/demo.py "$@"
