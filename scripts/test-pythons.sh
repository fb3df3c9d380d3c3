#!/usr/bin/env bash
# mypy and the tests that need neither torch nor Lightning, on the oldest Python that
# requires-python claims (3.9) and the newest we support (3.13), each in its own venv: .venv-py39,
# .venv-py313, with the package and its test extras but never torch (the only torch this machine
# has on disk is a build for Python 3.11; any other would be gigabytes of CUDA from PyPI).
# Extra arguments go to pytest. JELLYML_TEST_PYTHONS="3.9 3.13" picks the versions (a version,
# or the path of an interpreter); PYENV_ROOT (default ~/.pyenv) is searched before PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # $1: "3.9" or a path -> prints the interpreter's path
    if [[ "$1" == */* ]]; then
        echo "$1"
        return
    fi
    local found
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/python 2>/dev/null |
        sort -V | tail -n 1 || true)
    if [ -n "$found" ]; then
        echo "$found"
    elif command -v "python$1" >/dev/null && "python$1" -c "" 2>/dev/null; then
        command -v "python$1"
    else
        echo "error: no Python $1 found (in ${PYENV_ROOT:-$HOME/.pyenv}/versions or as python$1 on PATH); install it, or set JELLYML_TEST_PYTHONS to the versions you have." >&2
        return 1
    fi
}

setup_venv() {  # $1: interpreter, $2: venv folder; installs only what is missing or changed
    local stamp="$2/.jellyml-installed"
    if [ ! -x "$2/bin/python" ]; then
        "$1" -m venv "$2"
    fi
    local deps="pyproject.toml scripts/test-pythons.sh src/jellyml/_version.py"
    if [ -f "$stamp" ] && [ -z "$(find $deps -newer "$stamp" 2>/dev/null)" ]; then
        return
    fi
    "$2/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    touch "$stamp"
}

for want in ${JELLYML_TEST_PYTHONS:-3.9 3.13}; do
    python=$(find_python "$want")
    version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv=".venv-py${version/./}"
    echo "== Python $version ($python) in $venv: mypy, then the tests without torch or Lightning"
    setup_venv "$python" "$venv"
    # These runs prove the package works without torch: torch there would also mean a download.
    if "$venv/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)"; then
        echo "error: torch is installed in $venv; delete $venv and run this again." >&2
        exit 1
    fi
    # The main run type-checks as Python 3.10 (pyproject); this checks the package against the
    # standard library as it is in this version (jellyml-lightning needs Lightning: not here).
    "$venv/bin/mypy" --python-version "$version" src/jellyml
    # pytest's exit code 5 (no test collected) fails this script like any other failure.
    "$venv/bin/python" -m pytest -p no:cacheprovider -m "not torch and not lightning" "$@"
done
