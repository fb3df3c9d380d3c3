"""``jellyml scan --secrets``: what a checkpoint would publish, found inside its snapshot (tree,
history, metadata) and its pickles, through the installed CLI on real git repositories."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kit.checkpoints import make_model
from kit.cli import jellyml
from publish.secret_fixtures import AWS_KEY, HF_TOKEN, JWT, OLD_KEY, secret_checkpoint

SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")
FOUND = 5  # scan --secrets --check with findings (docs/CLI.md)


def _findings(*args: str, check: int = 0, cwd: Any = None) -> list[dict[str, Any]]:
    proc = jellyml("scan", "--secrets", "--json", *args, check=check, cwd=cwd)
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found


@pytest.fixture
def secret_model(make_repo: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    model = tmp_path / "model.pth"
    return model, secret_checkpoint(make_repo, model)


def test_exactly_the_planted_findings_with_path_line_and_commit(secret_model: Any) -> None:
    model, made = secret_model
    found = _findings(str(model))
    seen = {(f["rule"], f["where"], f["path"], f["line"], f["commit"]) for f in found}
    assert seen == {
        ("aws-access-key-id", "tree", "deploy.py", 3, made["aws"]),
        ("aws-access-key-id", "history", "old_config.py", 1, made["old"]),
        ("huggingface-token", "tree", "notes.txt", 2, made["snapshot"]),
        ("jwt", "metadata", "metadata:git.remotes.origin", None, None),
    }
    matches = {f["rule"] + f["where"]: f["match"] for f in found}
    assert matches["aws-access-key-idtree"] == AWS_KEY[:2] + "********" + AWS_KEY[-2:]
    assert matches["aws-access-key-idhistory"].startswith(OLD_KEY[:2])
    # never the secret itself, anywhere in the output
    text = json.dumps(found)
    for secret in (AWS_KEY, OLD_KEY, HF_TOKEN, JWT):
        assert secret not in text


def test_a_clean_checkpoint_has_no_findings(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"train.py": "token = tokenizer('hello world')\npassword = getpass()\n"})
    make_model(repo.path, tmp_path / "clean.pth")
    assert _findings(str(tmp_path / "clean.pth"), "--check") == []
    table = jellyml("scan", "--secrets", str(tmp_path / "clean.pth")).stdout
    assert "0 findings in 1 checkpoint (1 carrying a snapshot)" in table


def test_check_exits_with_its_own_code_and_the_table_names_each_place(secret_model: Any) -> None:
    model, made = secret_model
    proc = jellyml("scan", "--secrets", "--check", str(model), check=FOUND)
    assert "deploy.py:3" in proc.stdout and made["aws"][:12] in proc.stdout
    assert "old_config.py:1" in proc.stdout and "notes.txt:2" in proc.stdout
    assert AWS_KEY not in proc.stdout + proc.stderr


def test_allow_list_hides_fingerprints(secret_model: Any, tmp_path: Path) -> None:
    model, _made = secret_model
    found = _findings(str(model))
    (tmp_path / ".jellyml-scan-ignore").write_text(
        "# reviewed: rotated keys\n" + "\n".join(f["fingerprint"] for f in found) + "\n"
    )
    assert _findings(str(model), "--check", cwd=tmp_path) == []
    partly = tmp_path / "partly"
    partly.write_text(found[0]["fingerprint"] + "\n")
    left = _findings(str(model), "--ignore-file", str(partly))
    assert len(left) == len(found) - 1 and found[0] not in left


def test_sarif_is_valid_2_1_0_with_stable_rule_ids_and_fingerprints(secret_model: Any) -> None:
    model, _made = secret_model
    first = json.loads(jellyml("scan", "--secrets", "--format", "sarif", str(model)).stdout)
    jsonschema.validate(first, json.loads(SCHEMA.read_text()))
    assert first["version"] == "2.1.0"
    run = first["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"aws-access-key-id", "huggingface-token", "jwt"}
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["partialFingerprints"]
    code = [r for r in results if r["ruleId"] == "aws-access-key-id"]
    places = {
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in code
    }  # fmt: skip
    assert places == {("deploy.py", 3), ("old_config.py", 1)}
    again = json.loads(jellyml("scan", "--secrets", "--format", "sarif", str(model)).stdout)
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]


class _Boom:
    def __reduce__(self) -> Any:
        return (os.system, ("touch PWNED",))


def test_a_pickle_calling_os_system_is_dangerous_and_never_run(tmp_path: Path) -> None:
    model = tmp_path / "evil.pth"
    with zipfile.ZipFile(model, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"weights": _Boom()}, protocol=2))
        archive.writestr("evil/version", b"3\n")
    found = _findings(str(model), "--check", check=FOUND, cwd=tmp_path)
    assert [(f["rule"], f["match"], f["path"]) for f in found] == [
        ("dangerous-pickle-global", f"{os.system.__module__}.system", "evil/data.pkl")
    ]
    assert not (tmp_path / "PWNED").exists()


def test_a_user_class_is_a_note_that_does_not_fail_check(tmp_path: Path) -> None:
    model = tmp_path / "custom.pth"
    payload = b"\x80\x02cmy_project.config\nTrainConfig\nq\x00)\x81q\x01."
    with zipfile.ZipFile(model, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("custom/data.pkl", payload)
    found = _findings(str(model), "--check")
    assert [(f["rule"], f["level"], f["match"]) for f in found] == [
        ("suspicious-pickle-global", "note", "my_project.config.TrainConfig")
    ]


def test_credential_file_opted_back_in_is_found(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"train.py": "x = 1\n"})
    repo.write(".envrc", "export WANDB_MODE=offline\n")
    repo.git("add", "-f", ".envrc")
    repo.commit_all("envrc, on purpose")
    make_model(repo.path, tmp_path / "m.pth")
    found = _findings(str(tmp_path / "m.pth"))
    assert [(f["rule"], f["path"], f["where"]) for f in found] == [
        ("credential-file", ".envrc", "tree")
    ]


def test_folders_are_walked_and_every_checkpoint_is_searched(
    secret_model: Any, tmp_path: Path
) -> None:
    model, _made = secret_model
    release = tmp_path / "release" / "checkpoint-500"
    release.mkdir(parents=True)
    os.link(model, release / "model.pth")
    found = _findings(str(tmp_path / "release"))
    assert {f["checkpoint"] for f in found} == {str(release / "model.pth")}
    assert len(found) == 4


@pytest.mark.parametrize(
    "junk",
    [b"", b"not a checkpoint at all", b"PK\x03\x04" + b"\0" * 100, b"\x80\x02" + b"\xff" * 50],
)
def test_hostile_inputs_give_one_line_and_no_traceback(tmp_path: Path, junk: bytes) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(junk)
    proc = jellyml("scan", "--secrets", str(bad), check=None)
    assert proc.returncode in (0, 1, 3), proc
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") <= 2
    assert bad.read_bytes() == junk


def test_a_git_bomb_is_searched_once_per_object(tmp_path: Path) -> None:
    """A 1 KB bundle whose tree names 10^7 paths: bounded time and memory, a warning."""
    import subprocess

    from kit.checkpoints import snapshot_tensor, write_checkpoint

    repo = tmp_path / "bomb"

    def git(*args: str, stdin: bytes = b"") -> str:
        done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True)
        return done.stdout.decode().strip()

    repo.mkdir()
    git("init", "-q")
    blob = git("hash-object", "-w", "--stdin", stdin=f"KEY = '{AWS_KEY}'\n".encode())
    tree = git("mktree", stdin=f"100644 blob {blob}\tf\n".encode())
    for _ in range(7):
        rows = "".join(f"040000 tree {tree}\td{i}\n" for i in range(10))
        tree = git("mktree", stdin=rows.encode())
    commit = git("-c", "user.name=a", "-c", "user.email=b", "commit-tree", tree, "-m", "bomb")
    git("update-ref", "refs/heads/main", commit)
    git("bundle", "create", str(tmp_path / "b.bundle"), "main")
    bundle = (tmp_path / "b.bundle").read_bytes()
    model = write_checkpoint(tmp_path / "bomb.pth", [b"\0" * 16, snapshot_tensor(bundle, commit)])
    found = _findings(str(model))
    assert sorted(f["rule"] for f in found) == ["aws-access-key-id", "scan-incomplete"]
