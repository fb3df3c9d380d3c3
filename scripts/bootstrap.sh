#!/usr/bin/env bash
# Set up .venv with everything the demo and the tests need. Safe to run again: it only
# installs what is missing. torch is pinned to 2.13.0 (a CPU build this machine has on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.jellyml-installed
deps="pyproject.toml scripts/bootstrap.sh"
for extra in jellyml-lightning/pyproject.toml; do [ -f "$extra" ] && deps="$deps $extra"; done
if [ -f "$stamp" ] && [ -z "$(find $deps -newer "$stamp" 2>/dev/null)" ]; then
    exit 0
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "torch==2.13.0" numpy
"${pip[@]}" "torch==2.13.0" -e ".[test]"
# Remote storage: fsspec and the backends/servers its tests use (moto, nginx via .ci/run).
"${pip[@]}" "torch==2.13.0" -e ".[test,test-remote]"
if [ -f jellyml-lightning/pyproject.toml ]; then
    "${pip[@]}" "torch==2.13.0" -e "./jellyml-lightning[test]"
fi
touch "$stamp"
