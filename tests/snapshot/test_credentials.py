"""Remote URLs in a snapshot's metadata carry no passwords, tokens or query strings.

A checkpoint is shared far more widely than the repository it came from: whatever the
metadata records of ``git remote -v`` must be safe to publish.
"""

from __future__ import annotations

import json

import pytest

from jellyml.snapshot.metadata import strip_credentials
from kit.checkpoints import make_model
from kit.cli import jellyml

SECRET = "s3cret"

STRIPPED = {
    # https: user and password, token as the user name, token as the password of a fixed user
    "https://user:s3cret@github.com/team/project.git": "https://github.com/team/project.git",
    "https://ghp_s3cret@github.com/team/project.git": "https://github.com/team/project.git",
    "https://oauth2:s3cret@gitlab.example.com:8443/team/project.git": (
        "https://gitlab.example.com:8443/team/project.git"
    ),
    "http://user:s3cret@example.com/r.git": "http://example.com/r.git",
    "https://user:p%40s3cret@example.com/r.git": "https://example.com/r.git",
    "https://user:p@s3cret@example.com/r.git": "https://example.com/r.git",  # "@" unescaped
    "https://user:s3cret@[::1]:8080/r.git": "https://[::1]:8080/r.git",
    # query strings and fragments (tokens in ?private_token=, ?access_token=, ...)
    "https://example.com/r.git?private_token=s3cret": "https://example.com/r.git",
    "https://example.com/r.git?a=1&token=s3cret#s3cret": "https://example.com/r.git",
    "https://user:s3cret@example.com/r.git?token=s3cret": "https://example.com/r.git",
    # ssh URLs keep their user name (no secret) and lose a password
    "ssh://git:s3cret@example.com:2222/team/project.git": (
        "ssh://git@example.com:2222/team/project.git"
    ),
    "git+ssh://git:s3cret@example.com/team/project.git": (
        "git+ssh://git@example.com/team/project.git"
    ),
}

UNCHANGED = [
    "https://github.com/team/project.git",
    "ssh://git@example.com/team/project.git",
    "ssh://example.com:2222/team/project.git",
    "git://example.com/team/project.git",
    "git@github.com:team/project.git",  # scp-style
    "example.com:team/project.git",  # scp-style, no user
    "/srv/git/project.git",
    "../project",
    "file:///srv/git/project.git",
    "",
]


@pytest.mark.parametrize(("url", "expected"), list(STRIPPED.items()), ids=list(STRIPPED))
def test_credentials_are_stripped(url, expected):
    assert strip_credentials(url) == expected
    assert SECRET not in strip_credentials(url)


@pytest.mark.parametrize("url", UNCHANGED)
def test_urls_without_credentials_are_kept_as_they_are(url):
    assert strip_credentials(url) == url


def test_a_snapshot_records_its_remotes_without_credentials(make_repo, tmp_path):
    repo = make_repo({"a.py": "1\n"})
    remotes = {
        "origin": "https://user:s3cret@example.com/team/project.git?token=s3cret",
        "token": "https://ghp_s3cret@github.com/team/project.git",
        "ssh": "ssh://git:s3cret@example.com:2222/team/project.git",
        "scp": "git@example.com:team/project.git",
        "local": str(tmp_path / "elsewhere.git"),
    }
    for name, url in remotes.items():
        repo.git("remote", "add", name, url)
    model = tmp_path / "m.pth"
    make_model(repo.path, model)
    shown = json.loads(jellyml("show", str(model), "--json", cwd=tmp_path).stdout)
    assert shown["remotes"] == {
        "origin": "https://example.com/team/project.git",
        "token": "https://github.com/team/project.git",
        "ssh": "ssh://git@example.com:2222/team/project.git",
        "scp": "git@example.com:team/project.git",
        "local": str(tmp_path / "elsewhere.git"),
    }
    assert SECRET.encode() not in model.read_bytes()  # nowhere in the file, not just in `show`
