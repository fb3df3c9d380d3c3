"""What a snapshot records of its Python environment (snapshot/environment.py), read from real
``.dist-info`` folders by ``importlib.metadata`` in a fresh interpreter: origins as PEP 610
gives them (credentials stripped, unknown keys dropped), the installer, the interpreter and
platform tag, torch's CUDA / ROCm version only when torch is already imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

RECORD = (
    "import json, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "{before}\n"
    "from jellyml.snapshot.metadata import runtime_metadata\n"
    "meta = runtime_metadata()\n"
    "print(json.dumps(meta))\n"
)


def recorded(site: Path, before: str = "") -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", RECORD.format(before=before), str(site)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def dist_info(
    site: Path,
    name: str,
    version: str,
    *,
    installer: Optional[str] = "pip\n",
    direct_url: Optional[str] = None,
) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if installer is not None:
        (folder / "INSTALLER").write_text(installer)
    if direct_url is not None:
        (folder / "direct_url.json").write_text(direct_url)


def test_origins_installers_and_interpreter_are_recorded(tmp_path: Path) -> None:
    site = tmp_path / "site"
    commit = "0123456789abcdef0123456789abcdef01234567"
    vcs = {
        "url": "https://build-bot:ghp_secret123@git.example.com/team/lib.git?token=x#frag",
        "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "main"},
        "junk": {"anything": 1},
    }
    dist_info(site, "from-git", "0.1", direct_url=json.dumps(vcs))
    dist_info(site, "not-json", "1.0", direct_url="{not json")
    dist_info(site, "huge-installer", "1.0", installer="x" * 100_000)
    dist_info(site, "by-uv", "2.0", installer="uv")
    edit = {"url": "file:///work/project", "dir_info": {"editable": True, "odd": [1]}}
    dist_info(site, "editable", "0.0.1", direct_url=json.dumps(edit))
    meta = recorded(site)
    dists = meta["distributions"]
    assert dists["from-git"] == {
        "version": "0.1",
        "installer": "pip",
        "direct_url": {
            "url": "https://git.example.com/team/lib.git",
            "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "main"},
        },
    }
    assert "secret" not in json.dumps(meta)
    assert dists["not-json"]["direct_url"] is None
    assert dists["huge-installer"]["installer"] is None
    assert dists["by-uv"]["installer"] == "uv"
    assert dists["editable"]["direct_url"] == {
        "url": "file:///work/project",
        "dir_info": {"editable": True},
    }
    assert meta["packages"]["from-git"] == "0.1" and list(meta["packages"]) == list(dists)
    import platform
    import sysconfig

    assert meta["python_implementation"] == platform.python_implementation()
    assert meta["platform_tag"] == sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert meta["torch_cuda"] is None and meta["torch_rocm"] is None  # torch not imported


def test_torch_gpu_versions_come_from_an_imported_torch(tmp_path: Path) -> None:
    """A stand-in for a CUDA and a ROCm build of torch (this machine has neither)."""
    for cuda, hip in (("12.1", None), (None, "6.1.40091-a8dbc0c19")):
        stand_in = (
            "import types\n"
            "torch = types.ModuleType('torch')\n"
            "torch.__version__ = '2.4.0'\n"
            f"torch.version = types.SimpleNamespace(cuda={cuda!r}, hip={hip!r})\n"
            "sys.modules['torch'] = torch\n"
        )
        meta = recorded(tmp_path, before=stand_in)
        assert (meta["torch_cuda"], meta["torch_rocm"], meta["torch"]) == (cuda, hip, "2.4.0")


@pytest.mark.torch
def test_a_real_cpu_torch_records_no_cuda(tmp_path: Path) -> None:
    meta = recorded(tmp_path, before="import torch")
    assert meta["torch"].endswith("+cpu") and meta["torch_cuda"] is None
    assert meta["distributions"]["torch"]["version"] == meta["torch"]
