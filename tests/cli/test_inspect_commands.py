"""``jellyml ls / cat / diff / log`` and ``show --requirements``, run as a user runs them, on
real repositories: clean and dirty snapshots, two checkpoints of one project, a checkpoint of
another project, full and (hand-made) shallow snapshots. After every command, every byte of
the user's repository (working tree, index, refs, reflogs, objects) is what it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.checkpoints import make_model, model_from_bundle, shallow_model, write_checkpoint
from kit.cli import cli_command, fails, jellyml, ok
from kit.repos import bundle_of, unchanged

FILES = {
    "train.py": "print('train')\n",
    "src/model.py": "def model():\n    return 1\n",
    "src/data/load.py": "def load():\n    pass\n",
    ".gitignore": "*.pth\ncache/\n",
}


@pytest.fixture
def project(make_repo: Any) -> Any:
    """A project whose snapshot is dirty: a changed file, an untracked one, an ignored one."""
    repo = make_repo(FILES, name="project")
    repo.write("train.py", "print('train, changed')\n")
    repo.write("notes.txt", "untracked notes\n")
    repo.write("cache/big.bin", b"\0" * 100)  # ignored: never in a snapshot or a diff
    return repo


def snap(repo: Any, name: str = "model.pth") -> Path:
    out = repo.path / name
    make_model(repo.path, out)
    return out


# --- ls ------------------------------------------------------------------------------------


def test_ls_lists_the_snapshots_files_like_git_ls_files(project: Any) -> None:
    model = snap(project)
    with unchanged(project):
        listed = ok("ls", str(model), cwd=project.path)
        under = ok("ls", str(model), "src/data", "./train.py", cwd=project.path)
    assert listed.splitlines() == [
        ".gitignore",
        "notes.txt",
        "src/data/load.py",
        "src/model.py",
        "train.py",
    ]
    assert under.splitlines() == ["src/data/load.py", "train.py"]


def test_ls_quotes_names_as_git_does_and_z_gives_them_raw(make_repo: Any, tmp_path: Path) -> None:
    names = ["tab\there.txt", "caf\u00e9.py", 'quote".md', "plain.txt"]
    repo = make_repo({name: "x\n" for name in names})
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    with unchanged(repo):
        quoted = ok("ls", str(model), cwd=tmp_path)
        raw = jellyml("ls", "-z", str(model), cwd=tmp_path, check=None, text=False).stdout
        chosen = ok("ls", str(model), *names, cwd=tmp_path)  # listed by jellyml itself
        chosen_raw = jellyml(
            "ls", "-z", str(model), *names, cwd=tmp_path, check=None, text=False
        ).stdout
    assert quoted == chosen == repo.git("ls-files") + "\n"  # git's quoting, byte for byte
    assert sorted(raw.split(b"\0")[:-1]) == sorted(n.encode() for n in names)
    assert raw == chosen_raw


def test_ls_of_a_path_not_in_the_snapshot_is_one_line(project: Any) -> None:
    model = snap(project)
    with unchanged(project):
        err = fails("ls", str(model), "src/nope.py", cwd=project.path)
        assert "src/nope.py is not in the snapshot" in err and "jellyml ls" in err
        # Ignored files are not in a snapshot.
        assert "cache is not in the snapshot" in fails("ls", str(model), "cache", cwd=project.path)


# --- cat -----------------------------------------------------------------------------------


def test_cat_gives_exact_bytes_binary_too(make_repo: Any, tmp_path: Path) -> None:
    every_byte = bytes(range(256)) * 4 + b"\r\n\0no newline at end"
    repo = make_repo({"weights/init.bin": every_byte, "run.sh": "echo hi\n"})
    repo.write("dirty.txt", "uncommitted\r\n")
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    outside = tmp_path / "elsewhere"  # no repository here: cat needs none
    outside.mkdir()
    with unchanged(repo):
        assert (
            jellyml(
                "cat", str(model), "weights/init.bin", cwd=outside, check=None, text=False
            ).stdout
            == every_byte
        )
        assert (
            jellyml("cat", str(model), "dirty.txt", cwd=outside, check=None, text=False).stdout
            == b"uncommitted\r\n"
        )


def test_cat_of_a_symlink_gives_its_target_as_git_show_does(make_repo: Any) -> None:
    repo = make_repo({"real.txt": "real\n"}, commit=False)
    (repo.path / "link.txt").symlink_to("real.txt")
    repo.commit_all()
    model = snap(repo)
    with unchanged(repo):
        out = jellyml("cat", str(model), "link.txt", cwd=repo.path, check=None, text=False).stdout
    assert out == repo.git("show", "HEAD:link.txt").encode() == b"real.txt"


def test_cat_refuses_folders_and_missing_paths_in_one_line(project: Any) -> None:
    model = snap(project)
    with unchanged(project):
        assert "src/ is a folder in the snapshot" in fails(
            "cat", str(model), "src/", cwd=project.path
        )
        assert "nope.txt is not in the snapshot" in fails(
            "cat", str(model), "nope.txt", cwd=project.path
        )
        assert "../x is not in the snapshot" in fails("cat", str(model), "../x", cwd=project.path)
        assert "cache/big.bin is not in" in fails(
            "cat", str(model), "cache/big.bin", cwd=project.path
        )


# --- log -----------------------------------------------------------------------------------


def test_log_of_a_clean_full_snapshot_is_git_log_oneline(make_repo: Any) -> None:
    repo = make_repo(FILES)
    for n in range(3):
        repo.write("train.py", f"print({n})\n")
        repo.commit_all(f"step {n}")
    model = snap(repo)
    with unchanged(repo):
        out = ok("log", str(model), cwd=repo.path)
        two = ok("log", str(model), "-n", "2", cwd=repo.path)
    assert out == repo.git("log", "--oneline") + "\n"
    assert two.splitlines() == out.splitlines()[:2]


def test_log_of_a_dirty_snapshot_starts_with_the_snapshot_commit(project: Any) -> None:
    model = snap(project)
    with unchanged(project):
        lines = ok("log", str(model), cwd=project.path).splitlines()
    assert lines[0].endswith(" JellyML snapshot")
    assert lines[1:] == project.git("log", "--oneline").splitlines()


def test_log_of_a_shallow_snapshot_names_base_commit_and_remotes(
    make_repo: Any, tmp_path: Path
) -> None:
    source = make_repo(FILES, name="source")
    source.write("train.py", "print('snapshot')\n")
    source.commit_all("the snapshot")
    model = tmp_path / "shallow.pth"
    ids = shallow_model(source, model, {"origin": "https://example.com/team/project.git"})
    with unchanged(source):
        out = ok("log", str(model), cwd=tmp_path)
    lines = out.splitlines()
    assert lines[0] == f"{ids['flat'][:7]} JellyML snapshot"
    assert len([line for line in lines if line.endswith("JellyML snapshot")]) == 1
    assert f"snapshot commit: {ids['real']}" in lines
    assert f"base commit:     {ids['base']}" in lines
    assert "remote origin: https://example.com/team/project.git" in lines
    assert f"get the history: git fetch origin {ids['base']}" in lines


# --- diff ----------------------------------------------------------------------------------


def test_diff_against_the_working_tree_includes_untracked_files(project: Any) -> None:
    model = snap(project)
    project.write("src/model.py", "def model():\n    return 2\n")
    project.write("later.txt", "made after the snapshot\n")
    (project.path / "notes.txt").unlink()
    project.write("cache/more.bin", b"ignored")
    with unchanged(project):
        patch = ok("diff", str(model), cwd=project.path / "src")  # from a subfolder too
        names = ok("diff", str(model), "--name-status", cwd=project.path)
    assert names.splitlines() == ["A\tlater.txt", "D\tnotes.txt", "M\tsrc/model.py"]
    assert "--- a/src/model.py\n+++ b/src/model.py" in patch
    assert "-    return 1\n+    return 2\n" in patch
    assert "+made after the snapshot" in patch and "-untracked notes" in patch
    assert "cache" not in patch


def test_diff_leaves_out_the_untracked_files_a_snapshot_leaves_out(project: Any) -> None:
    model = snap(project)
    with open(project.path / "run.ckpt", "wb") as f:  # a big untracked checkpoint (sparse)
        f.truncate(64 * 1024 * 1024)
    project.write(".env", "TOKEN=secret\n")
    project.write("small.txt", "kept\n")
    with unchanged(project):
        names = ok("diff", str(model), "--name-only", cwd=project.path)
    assert names.splitlines() == ["small.txt"]


def test_diff_exit_code_and_quiet_as_git(project: Any) -> None:
    model = snap(project)
    with unchanged(project):
        same = jellyml("diff", str(model), "--exit-code", cwd=project.path, check=None, text=False)
    assert (same.returncode, same.stdout) == (0, b"")
    project.write("train.py", "print('again')\n")
    with unchanged(project):
        changed = jellyml(
            "diff", str(model), "--exit-code", "--stat", cwd=project.path, check=None, text=False
        )
        quiet = jellyml("diff", "-q", str(model), cwd=project.path, check=None, text=False)
    assert changed.returncode == 1 and b"train.py | 2 +-" in changed.stdout
    assert (quiet.returncode, quiet.stdout) == (1, b"")


def test_diff_of_two_checkpoints_of_the_same_project(project: Any) -> None:
    first = snap(project, "first.pth")
    project.commit_all("second run")
    project.write("src/model.py", "def model():\n    return 3\n")
    project.write("src/new.py", "new\n")
    second = snap(project, "second.pth")
    with unchanged(project):
        stat = ok("diff", str(first), str(second), "--stat", cwd=project.path)
        only = ok("diff", str(first), str(second), "--name-only", "--", "src/", cwd=project.path)
        reverse = ok("diff", str(second), str(first), "--name-status", cwd=project.path)
    assert "src/model.py | 2 +-" in stat and "2 files changed" in stat
    assert only.splitlines() == ["src/model.py", "src/new.py"]
    assert reverse.splitlines() == ["M\tsrc/model.py", "D\tsrc/new.py"]


def test_diff_of_checkpoints_of_two_projects_outside_any_repository(
    project: Any, make_repo: Any, tmp_path: Path
) -> None:
    other = make_repo({"train.py": "print('other project')\n", "README": "other\n"})
    ours, theirs = tmp_path / "ours.pth", tmp_path / "theirs.pth"
    make_model(project.path, ours)
    make_model(other.path, theirs)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    with unchanged(project, other):
        names = ok("diff", str(ours), str(theirs), "--name-status", cwd=nowhere)
        patch = ok("diff", str(ours), str(theirs), "--", "train.py", cwd=nowhere)
    assert names.splitlines() == [
        "D\t.gitignore",
        "A\tREADME",
        "D\tnotes.txt",
        "D\tsrc/data/load.py",
        "D\tsrc/model.py",
        "M\ttrain.py",
    ]
    assert "-print('train, changed')\n+print('other project')" in patch


def test_diff_against_a_branch_a_tag_and_a_commit(project: Any) -> None:
    model = snap(project)
    base = project.git("rev-parse", "HEAD")
    project.git("tag", "v1")
    project.commit_all("after the snapshot")
    with unchanged(project):
        for rev in ("v1", base, base[:10], "main~1"):
            out = ok("diff", str(model), rev, "--name-status", cwd=project.path)
            assert out.splitlines() == ["D\tnotes.txt", "M\ttrain.py"], rev
        assert ok("diff", str(model), "main", "--name-only", cwd=project.path) == ""


def test_diff_base_shows_what_was_uncommitted(project: Any, make_repo: Any) -> None:
    dirty = snap(project)
    clean_repo = make_repo(FILES)
    clean = snap(clean_repo)
    with unchanged(project, clean_repo):
        uncommitted = ok("diff", "--base", str(dirty), "--name-status", cwd=project.path)
        nothing = jellyml(
            "diff", "--base", str(clean), "--exit-code", cwd=clean_repo.path, check=None, text=False
        )
    assert uncommitted.splitlines() == ["A\tnotes.txt", "M\ttrain.py"]
    assert (nothing.returncode, nothing.stdout) == (0, b"")


def test_shallow_snapshot_diff_base_needs_the_base_commit(make_repo: Any, tmp_path: Path) -> None:
    source = make_repo(FILES, name="source")
    source.write("train.py", "print('snapshot')\n")
    source.commit_all("the snapshot")
    model = tmp_path / "shallow.pth"
    ids = shallow_model(source, model, {"origin": "https://example.com/team/project.git"})
    other = make_repo({"x": "another project\n"}, name="other")
    with unchanged(source, other):
        # Where the base commit is (the project's own repository): the uncommitted change.
        patch = ok("diff", "--base", str(model), cwd=source.path)
        assert "-print('train')\n+print('snapshot')" in patch
        # Against the working tree, and a listing: the bundle is enough.
        assert ok("diff", str(model), "--name-only", cwd=source.path) == ""
        assert "train.py" in ok("ls", str(model), cwd=other.path).splitlines()
        # Where it is not: one line naming the commit and where to fetch it.
        err = fails("diff", "--base", str(model), cwd=other.path)
    assert f"base commit {ids['base']} is not in {other.path}" in err
    assert f"git fetch origin {ids['base']}" in err and "example.com/team/project" in err


def test_piped_diff_has_no_colour_unless_git_is_told_always(project: Any) -> None:
    model = snap(project)
    project.write("train.py", "print('colour?')\n")
    with unchanged(project):
        piped = jellyml("diff", str(model), cwd=project.path, check=None, text=False).stdout
        forced = jellyml(
            "diff",
            str(model),
            "--no-pager",
            cwd=project.path,
            env={"GIT_CONFIG_PARAMETERS": "'color.ui'='always'"},
            check=None,
            text=False,
        ).stdout
        no_color = jellyml(
            "diff",
            str(model),
            cwd=project.path,
            env={"GIT_CONFIG_PARAMETERS": "'color.ui'='always'", "NO_COLOR": "1"},
            check=None,
            text=False,
        ).stdout
    assert b"+print('colour?')" in piped and b"\x1b[" not in piped
    assert b"\x1b[" in forced  # git's own setting is followed: the test above can fail
    assert b"\x1b[" not in no_color and no_color == piped


def test_diff_on_a_terminal_pages_and_colours_as_git_does(project: Any, tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    import os
    import subprocess

    model = snap(project)
    project.write("train.py", "print('paged')\n")
    marker = tmp_path / "paged.txt"
    cases = (  # extra argv, extra env, paged?, coloured?
        ([], {}, True, True),
        ([], {"NO_COLOR": "1"}, True, False),
        (["--no-pager"], {}, False, None),
    )
    for extra, more_env, paged, coloured in cases:
        marker.unlink(missing_ok=True)
        parent, child = pty.openpty()
        env = {**os.environ, "GIT_PAGER": f"cat > '{marker}'", **more_env}
        with unchanged(project):
            subprocess.run(
                [*cli_command(), "diff", *extra, str(model)],
                cwd=project.path,
                env=env,
                stdin=child,
                stdout=child,
                stderr=child,
                check=True,
            )
        os.close(child)
        os.close(parent)
        assert marker.exists() == paged, extra
        if paged:
            text = marker.read_text()
            assert "print('paged')" in text
            assert ("\x1b[" in text) == coloured, more_env


def test_diff_bad_inputs_are_one_line(project: Any, tmp_path: Path) -> None:
    model = snap(project)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    with unchanged(project):
        assert "no-such-branch is neither a model file nor a revision" in fails(
            "diff", str(model), "no-such-branch", cwd=project.path
        )
        assert "is not inside a git repository" in fails("diff", str(model), cwd=nowhere)
        assert "is not a model file, and there is no git repository" in fails(
            "diff", str(model), "main", cwd=nowhere
        )
        assert "nope/ is not in the snapshot" in fails(
            "diff", str(model), "--", "nope/", cwd=project.path
        )


# --- every command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ls", "{}"],
        ["cat", "{}", "train.py"],
        ["diff", "{}"],
        ["log", "{}"],
        ["diff", "--base", "{}"],
    ],
)
def test_a_file_without_a_snapshot_is_one_line(project: Any, argv: list[str]) -> None:
    plain = project.path / "plain.pth"
    write_checkpoint(plain, {"0": b"\1" * 2048})
    with unchanged(project):
        err = fails(*[a.replace("{}", str(plain)) for a in argv], cwd=project.path, code=4)
    assert "holds no JellyML snapshot" in err


@pytest.mark.parametrize("command", ["ls", "cat", "diff", "log"])
def test_help_ends_with_an_example(command: str, tmp_path: Path) -> None:
    text = ok(command, "--help", cwd=tmp_path, env={"COLUMNS": "100"})
    assert text.rstrip().split("\n\n")[-1].startswith("examples:")
    assert f"jellyml {command}" in text.rstrip().split("\n\n")[-1]


def test_show_requirements_prints_the_package_list(project: Any, tmp_path: Path) -> None:
    model = snap(project)
    with unchanged(project):
        out = ok("show", str(model), "--requirements", cwd=project.path)
        same = ok("env", str(model), cwd=project.path)
    assert out == same  # an alias of `jellyml env MODEL`
    lines = out.splitlines()
    assert "pytest==" + pytest.__version__ in lines
    for line in lines:
        assert line.startswith(("#", "-e ", "--extra-index-url ")) or "==" in line or " @ " in line


def test_show_requirements_leaves_out_what_is_not_a_package(project: Any, tmp_path: Path) -> None:
    bundle, commit = bundle_of(project)
    packages = {"numpy": "2.1.0", "torch": "2.13.0+cpu", "evil\x1b[31m": "1", "x": "1; rm -rf"}
    model = model_from_bundle(tmp_path / "m.pth", bundle, commit, {"packages": packages})
    bare = model_from_bundle(tmp_path / "bare.pth", bundle, commit, {"git": {}})
    out = ok("show", str(model), "--requirements", cwd=tmp_path)
    body = [line for line in out.splitlines() if not line.startswith("#")]
    assert body == [
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        "numpy==2.1.0",
        "torch==2.13.0+cpu",
    ]
    assert "#   evil\\x1b[31m: not a valid package name" in out.splitlines()
    assert "#   x: its version (1; rm -rf) is not a valid version" in out.splitlines()
    assert "\x1b" not in out
    # No package list at all (metadata without one, or JellyML 1.0.0): a file that says so.
    empty = ok("show", str(bare), "--requirements", cwd=tmp_path)
    assert "records no package list" in empty and all(x.startswith("#") for x in empty.splitlines())


def test_ls_into_a_pipe_closed_early_ends_quietly(make_repo: Any, tmp_path: Path) -> None:
    import subprocess

    repo = make_repo({"a.txt": "x\n", "b.txt": "y\n"})
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    proc = subprocess.Popen(
        [*cli_command(), "ls", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (`| true`)
    err = proc.stderr.read()
    assert (proc.wait(), err) == (0, b"")
