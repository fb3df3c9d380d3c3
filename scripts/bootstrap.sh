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
# _version.py too: the installed metadata carries the version, so a bump means a reinstall.
deps="pyproject.toml scripts/bootstrap.sh src/jellyml/_version.py"
for extra in jellyml-lightning/pyproject.toml; do [ -f "$extra" ] && deps="$deps $extra"; done
if [ -f "$stamp" ] && [ -z "$(find $deps -newer "$stamp" 2>/dev/null)" ]; then
    exit 0
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "torch==2.13.0" numpy
# The package with its test tools (uv among them: `jellyml env` builds environments with it),
# the Hugging Face Trainer integration (safetensors reads the snapshot file back in its tests),
# and remote storage: fsspec and the backends and servers its tests use (moto here; nginx comes
# from .ci/run).
"${pip[@]}" "torch==2.13.0" -e ".[test,transformers,test-remote]" safetensors uv
# The engines' integrations and their tests: Ray Train (a local cluster; ~1.5 GB, a few
# minutes) and Accelerate (with torchrun), with torch pinned on the same command line.
"${pip[@]}" "torch==2.13.0" -e ".[ray,accelerate]"
if [ -f jellyml-lightning/pyproject.toml ]; then
    "${pip[@]}" "torch==2.13.0" -e "./jellyml-lightning[test]"
fi
touch "$stamp"
