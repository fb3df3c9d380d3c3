"""Checkpoints with known secrets in known places, for ``scan --secrets`` (the values are made
up, in the formats of real ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.checkpoints import make_model

AWS_KEY = "AKIA" + "QX7ZK3J5MPLW2R4T"
OLD_KEY = "AKIA" + "ZZ9Y8X7W6V5U4T3S"
HF_TOKEN = "hf_" + "aZ3kQ9mXp2LrT7vBn4Yc8Wd1Ej6Hs5Gu0Fo"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJjaS1ib3QiLCJleHAiOjE3OTk5OTk5OTl9"
    ".Qm9ndXNTaWduYXR1cmVGb3JUZXN0czEyMzQ1Njc4OQ"
)
REMOTE = f"https://git.example.com/{JWT}/project.git"


def secret_checkpoint(make_repo: Any, out: Path) -> dict[str, Any]:
    """A repository with an AWS key in a tracked file (line 3), a key committed then deleted,
    an ``hf_`` token in an untracked file (line 2), a JWT in its remote URL; snapshotted into
    ``out``. Returns the commits and places the findings must name."""
    repo = make_repo({"train.py": "print('train')\n", "README.md": "# demo\n"})
    repo.write("old_config.py", f"AWS_ID = '{OLD_KEY}'\n")
    added_old = repo.commit_all("add a config")
    repo.git("rm", "-q", "old_config.py")
    repo.commit_all("remove the config")
    repo.write("deploy.py", f"import boto3\n\nKEY_ID = '{AWS_KEY}'\n")
    added_aws = repo.commit_all("deploy")
    repo.write("notes.txt", f"todo\nexport HF={HF_TOKEN}\n")  # untracked
    repo.git("remote", "add", "origin", REMOTE)
    snapshot_commit = make_model(repo.path, out)
    return {"old": added_old, "aws": added_aws, "snapshot": snapshot_commit, "repo": repo}
