#!/usr/bin/env bash
# Build jellyml's sdist, and its wheel from that sdist (as pip does from PyPI), then check what
# they ship: the license, the typing marker and the test fixtures in; jellyml-lightning/ (a
# distribution of its own) and .ci/ out. Needs `build` from PyPI (installed in .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! .venv/bin/python -m build --outdir "$out" . >"$out/build.log" 2>&1; then
    cat "$out/build.log" >&2
    exit 1
fi
tar tzf "$out"/jellyml-*.tar.gz | cut -d/ -f2- >"$out/sdist.txt"
.venv/bin/python -m zipfile -l "$out"/jellyml-*.whl | awk 'NR > 1 {print $1}' >"$out/wheel.txt"
status=0
for path in LICENSE README.md src/jellyml/py.typed tests/fixtures/jellyml-1.0.0-clean.pth \
    tests/fixtures/jellyml-1.0.0-dirty.pth; do
    grep -qxF "$path" "$out/sdist.txt" || { echo "error: the sdist lacks $path" >&2; status=1; }
done
if grep -E '^(jellyml-lightning|\.ci)/' "$out/sdist.txt" >&2; then
    echo "error: the sdist ships the files above; see [tool.hatch.build.targets.sdist]" >&2
    status=1
fi
for path in jellyml/py.typed jellyml/_version.py; do
    grep -qxF "$path" "$out/wheel.txt" || { echo "error: the wheel lacks $path" >&2; status=1; }
done
grep -qE '^jellyml-[^/]+\.dist-info/licenses/LICENSE$' "$out/wheel.txt" ||
    { echo "error: the wheel lacks LICENSE" >&2; status=1; }
if [ "$status" = 0 ]; then
    echo "dist: $(ls "$out" | grep -v '\.txt$\|\.log$' | tr '\n' ' ')ok ($(wc -l <"$out/sdist.txt") files in the sdist, $(wc -l <"$out/wheel.txt") in the wheel)"
fi
exit "$status"
