"""Output that is not a terminal is written by the plain writer: rich is never imported (its
~40 ms would be most of a piped `show`'s time). benchmarks/_startup.py measures the time."""

from __future__ import annotations

import json
import subprocess
import sys

from crafted_models import model_with_metadata

from kit.checkpoints import make_model
from kit.cli import plain_env

_RUN = """
import json, sys
from jellyml.cli.main import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
loaded = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("rich", "torch")})
print(json.dumps([codes, loaded]), file=sys.stderr)
"""


def _run_piped(argvs: list[list[str]], cwd) -> tuple[list[int], list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(argvs)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=plain_env(),
    )
    *_messages, last = proc.stderr.strip().splitlines()
    codes, loaded = json.loads(last)
    return codes, loaded, proc.stdout


def test_piped_show_and_extract_bundle_do_not_import_rich(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    source.write("new.txt", "n\n")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    argvs = [
        ["show", str(model)],
        ["show", str(model), "--all"],
        ["show", str(model), "--json"],
        ["fix", "extract-bundle", str(model), "-o", str(tmp_path / "a.bundle")],
        ["extract-bundle", str(model), "-o", str(tmp_path / "b.bundle")],
        ["show", str(tmp_path / "missing.pth")],  # an error, on stderr
    ]
    codes, loaded, out = _run_piped(argvs, tmp_path)
    assert codes == [0, 0, 0, 0, 0, 1]
    assert loaded == []
    assert commit in out and "Wrote" in out and "\x1b" not in out


def test_piped_warnings_do_not_import_rich_either(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    model_with_metadata(source.path, model, {"git": 5})
    codes, loaded, _out = _run_piped([["show", str(model)]], tmp_path)
    assert codes == [0] and loaded == []
