#!/usr/bin/env bash
# The whole test suite, after setting up .venv: lint, type check, then pytest. Arguments go to
# pytest; --fast (for a local loop) skips the tests marked slow. CI (.ci/run) runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for arg in "$@"; do
    if [ "$arg" = "--fast" ]; then
        args+=(-m "not slow")
    else
        args+=("$arg")
    fi
done
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest ${args[@]+"${args[@]}"}
