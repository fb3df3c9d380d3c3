"""Messages that say what happened, at a bounded length (issue 23, points 4 and 7): names read
from a file are shortened with their length said; an empty tag, an oversized index, a header
with no version and a file git cannot add each get the sentence that fits."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jellyml import format as fmt
from jellyml.containers.folder import MAX_SMALL_FILE
from kit.checkpoints import model_from_bundle, write_checkpoint
from kit.cli import jellyml, jellyml_capped, one_error_line
from kit.repos import bundle_of

HUGE = 1_000_000


def test_an_empty_deepspeed_latest_says_it_is_empty(tmp_path: Path) -> None:
    (tmp_path / "latest").write_text("")
    err = one_error_line(jellyml_capped("show", str(tmp_path)), "latest is empty")
    assert "outside the folder" not in err


def test_a_huge_name_in_latest_is_shortened_with_its_length(tmp_path: Path) -> None:
    (tmp_path / "latest").write_text("g" * HUGE)
    err = one_error_line(jellyml_capped("show", str(tmp_path)), f"({HUGE:,} characters)")
    assert len(err) < 2000


def test_a_huge_shard_name_in_an_hf_index_is_shortened(tmp_path: Path) -> None:
    index = {"weight_map": {fmt.SNAPSHOT_KEY: "s/" + "x" * HUGE}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    err = one_error_line(jellyml_capped("show", str(tmp_path)), "characters)")
    assert len(err) < 2000


def test_an_index_over_the_cap_says_so_not_that_it_is_not_json(tmp_path: Path) -> None:
    with open(tmp_path / "model.safetensors.index.json", "wb") as f:
        f.truncate(MAX_SMALL_FILE + 1)
    err = one_error_line(jellyml_capped("show", str(tmp_path)), "over the limit")
    assert "not valid JSON" not in err


def test_a_header_without_any_version_is_damaged_not_newer(tmp_path: Path) -> None:
    header = json.dumps({"magic_number": fmt.SNAPSHOT_MAGIC, "snapshot_offset": 1024}).encode()
    tensor = header.ljust(1024, b"\0") + b"PACK"
    write_checkpoint(tmp_path / "m.pth", {"0": tensor})
    err = one_error_line(jellyml_capped("show", str(tmp_path / "m.pth")), "no format_version")
    assert "newer" not in err and "None" not in err


def test_a_file_git_cannot_add_is_named(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "a\n", "b.py": "b\n"})
    os.remove(repo.path / "a.py")
    os.mkfifo(repo.path / "a.py")  # tracked, and now nothing git can read as a file
    proc = jellyml("snapshot", "-o", str(tmp_path / "s.jelly"), cwd=repo.path, check=None)
    one_error_line(proc, "a.py", "updating files failed")


def test_show_cuts_a_huge_value_unless_all(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "a\n"})
    bundle, tip = bundle_of(repo)
    host = "h" * 3_000_000
    meta = {"git": {"commit": tip}, "packages": {}, "hostname": host}
    model = model_from_bundle(tmp_path / "m.pth", bundle, tip, meta)
    shown = jellyml_capped("show", str(model), env={"COLUMNS": "100"})
    assert shown.returncode == 0, shown.stderr
    assert "(3,000,000 characters)" in shown.stdout and len(shown.stdout) < 20_000
    whole = jellyml_capped("show", "--all", str(model))
    assert host in whole.stdout.replace("\n", "").replace(" ", "")
