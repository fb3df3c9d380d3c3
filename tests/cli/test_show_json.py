"""`jellyml show --json`: every recorded field under FORMAT.md's names, checked against the
schema documented in docs/CLI.md; and metadata of the wrong types never breaks `show`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from crafted_models import model_with_metadata

from kit.checkpoints import make_model
from kit.cli import jellyml

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "CLI.md"


def documented_schema() -> dict:
    text = DOCS.read_text()
    found = re.search(r"<!-- show-json-schema -->\n```json\n(.*?)```", text, re.S)
    assert found, "docs/CLI.md lost its show --json schema"
    return json.loads(found.group(1))


def check(doc: dict) -> None:
    schema = documented_schema()
    jsonschema.validate(doc, schema)
    assert set(doc) == set(schema["properties"]), "every documented field is always there"


def show_json(model: Path, cwd: Path) -> dict:
    return json.loads(jellyml("show", str(model), "--json", cwd=cwd).stdout)


def test_a_clean_snapshot(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    doc = show_json(model, tmp_path)
    check(doc)
    assert doc["schema_version"] == 2 and doc["commit"] == commit and doc["dirty"] is False
    assert doc["changed_files"] == [] and doc["changed_files_total"] == 0
    assert doc["invalid_fields"] == []


def test_a_dirty_snapshot_records_everything_under_format_names(make_repo, tmp_path):
    source = make_repo({"a.py": "1\n"}, name="source")
    source.write("a.py", "2\n")
    source.write("new.txt", "n\n")
    source.git("remote", "add", "origin", "https://user:secret@example.com/x.git")
    model = tmp_path / "m.pth"
    commit = make_model(source.path, model)
    doc = show_json(model, tmp_path)
    check(doc)
    assert doc["commit"] == commit and doc["dirty"] is True and doc["branch"] == "main"
    assert {"status": "M", "path": "a.py"} in doc["changed_files"]
    assert doc["untracked_included"] == ["new.txt"] and doc["untracked_included_total"] == 1
    assert isinstance(doc["packages"], dict) and doc["packages"]["jellyml"]
    assert doc["python_executable"] and doc["created_git_repo"] is False
    assert "secret" not in json.dumps(doc["remotes"])
    assert len(doc["sha256"]) == 64 and doc["snapshot_size"] > 0


def test_a_jellyml_1_0_0_file(fixtures_dir, tmp_path):
    doc = show_json(fixtures_dir / "jellyml-1.0.0-dirty.pth", tmp_path)
    check(doc)
    assert doc["format_version"] == 1 and doc["has_metadata"] is False
    assert doc["sha256"] is None and doc["packages"] is None
    assert re.fullmatch(r"[0-9a-f]{40}", doc["commit"])  # read from the bundle itself


@pytest.mark.parametrize(
    "metadata, bad",
    [
        ({"git": 5}, ["git"]),
        ({"git": {"changed_files": [1, 2], "untracked_included": [3]}}, None),
        ({"git": {"remotes": ["x"], "branch": 7, "dirty": "yes"}, "packages": [1]}, None),
        ({"argv": [1, None], "torch": 2, "git": {"left_out": [{"path": 1}]}}, None),
        ({"git": {"changed_files_total": True, "submodules": "x"}}, None),
    ],
)
def test_metadata_of_the_wrong_types_is_shown_safely(make_repo, tmp_path, metadata, bad):
    source = make_repo({"a.py": "1\n"}, name="source")
    model = tmp_path / "m.pth"
    commit = model_with_metadata(source.path, model, metadata)
    doc = show_json(model, tmp_path)
    check(doc)
    assert doc["commit"] == commit
    expected = bad or sorted(
        [f"git.{k}" for k in metadata.get("git", {})] + [k for k in metadata if k != "git"]
    )
    assert sorted(doc["invalid_fields"]) == sorted(expected)
    proc = jellyml("show", str(model), cwd=tmp_path)
    assert commit in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    for field in expected:
        assert f"field {field} has the wrong type" in proc.stderr
    if "git.branch" in expected or "git" in expected:
        assert "detached" not in proc.stdout  # a bad value is not shown as a meaning
    if "torch" in expected:
        assert "not imported" not in proc.stdout
