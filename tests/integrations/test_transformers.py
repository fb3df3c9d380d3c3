"""JellyMLCallback in real Hugging Face Trainer runs on CPU: one process, and two under torchrun."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jellyml
from kit.cli import jellyml as run_cli
from kit.files import disk_usage
from kit.repos import git_logging_wrapper

HERE = Path(__file__).resolve().parent
FILE = "jellyml-snapshot.jelly"
# A hang guard, not a timed assertion: a hung collective would otherwise hang the test run.
HANG_GUARD_SECONDS = 300


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
sys.path.insert(0, str(HERE))
import hf_train  # noqa: E402

from jellyml.integrations.transformers import JellyMLCallback  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


@pytest.fixture
def dirty_repo(make_repo):
    repo = make_repo({"train.py": "lr = 0.1\n", "model/net.py": "layers = 2\n"})
    repo.write("train.py", "lr = 0.25\n")  # uncommitted change
    repo.write("model/extra.py", "untracked = True\n")  # untracked file
    return repo


def train(repo, out: Path, max_steps: int, *, resume: bool = False, **args: Any):
    callback = JellyMLCallback(str(repo.path))
    training_args = hf_train.training_args(out, max_steps)
    for name, value in args.items():
        setattr(training_args, name, value)
    trainer = transformers.Trainer(
        model=hf_train.tiny_model(),
        args=training_args,
        train_dataset=hf_train.tiny_dataset(),
        callbacks=[callback],
    )
    trainer.train(resume_from_checkpoint=resume)
    return trainer, callback


def checkpoints(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("checkpoint-*"))


def assert_cli_restores(folder: Path, repo, where: Path) -> None:
    """What a user runs on a checkpoint folder: show, then eat into an empty folder."""
    shown = run_cli("show", str(folder), cwd=where)
    assert jellyml.read_snapshot(folder).commit[:7] in shown.stdout
    target = where / f"eaten-{folder.name}"
    run_cli("eat", str(folder), "-c", str(target), "--no_donut", cwd=where)
    assert type(repo)(target).worktree() == repo.worktree()


def test_every_checkpoint_and_the_saved_model_carry_the_snapshot(dirty_repo, tmp_path, monkeypatch):
    before = dirty_repo.state()
    out = tmp_path / "out"
    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    log = logging.getLogger("transformers.integrations.jellyml")
    monkeypatch.setattr(log, "level", logging.INFO)  # as with transformers' log level at info
    log.addHandler(handler)
    try:
        trainer, callback = train(dirty_repo, out, 6)
    finally:
        log.removeHandler(handler)
    assert len(said) == 1 and said[0].startswith("JellyML: code snapshot made (commit ")
    assert "with uncommitted changes" in said[0]
    trainer.save_model(str(tmp_path / "final"))

    # save_steps=2, save_total_limit=2: checkpoint-2 was rotated away.
    assert checkpoints(out) == ["checkpoint-4", "checkpoint-6"]
    expected = callback.snapshot[jellyml.SNAPSHOT_KEY].numpy().tobytes()
    for folder in [*out.glob("checkpoint-*"), tmp_path / "final"]:
        found = jellyml.read_snapshot(folder)
        assert found.metadata["git"]["dirty"] is True
        with open(found.file, "rb") as f:  # the folder's snapshot file
            f.seek(found.bundle_offset - jellyml_header_size())
            assert f.read(len(expected)) == expected
        assert_cli_restores(folder, dirty_repo, tmp_path)
    assert dirty_repo.state() == before


def jellyml_header_size() -> int:
    from jellyml import format as fmt

    return fmt.HEADER_SIZE


def test_resuming_from_a_checkpoint_goes_on_and_keeps_rotating(dirty_repo, tmp_path):
    out = tmp_path / "out"
    train(dirty_repo, out, 4)
    dirty_repo.write("train.py", "lr = 0.5\n")  # the code changes between the two runs
    resumed, _ = train(dirty_repo, out, 8, resume=True)
    assert resumed.state.global_step == 8
    assert checkpoints(out) == ["checkpoint-6", "checkpoint-8"]
    state = json.loads((out / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8
    clone = tmp_path / "code"
    run_cli("eat", str(out / "checkpoint-8"), "-c", str(clone), "--no_donut", cwd=tmp_path)
    assert (clone / "train.py").read_text() == "lr = 0.5\n"  # the resumed run's code


def transformers_warnings(load) -> list[str]:
    """What transformers logs at WARNING or above, and warns, while ``load()`` runs."""
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    root = logging.getLogger("transformers")
    root.addHandler(handler)
    try:
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load()
    finally:
        root.removeHandler(handler)
    return records + [str(w.message) for w in caught]


def test_from_pretrained_on_a_checkpoint_warns_nothing_new(dirty_repo, tmp_path):
    out = tmp_path / "out"
    trainer, _ = train(dirty_repo, out, 2)
    plain = tmp_path / "plain"
    trainer.model.save_pretrained(str(plain))
    (plain / FILE).unlink()  # the same model, saved without the snapshot file
    model_class = transformers.GPT2LMHeadModel
    with_snapshot = transformers_warnings(lambda: model_class.from_pretrained(out / "checkpoint-2"))
    without = transformers_warnings(lambda: model_class.from_pretrained(plain))
    assert with_snapshot == without
    loaded = model_class.from_pretrained(out / "checkpoint-2")
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert not any("jellyml" in key for key in loaded.state_dict())


def test_a_copied_or_pickled_model_saves_its_own_weights(dirty_repo, tmp_path):
    trainer, _ = train(dirty_repo, tmp_path / "out", 2)
    copy_ = copy.deepcopy(trainer.model)
    with torch.no_grad():
        for param in copy_.parameters():
            param.zero_()
    copy_.save_pretrained(str(tmp_path / "copy"))
    loaded = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "copy")
    assert all(not p.any() for p in loaded.parameters())  # the copy's weights, not the original's
    assert jellyml.read_snapshot(tmp_path / "copy").bundle_size > 0
    unpickled = pickle.loads(pickle.dumps(trainer.model))
    unpickled.save_pretrained(str(tmp_path / "unpickled"))
    assert (tmp_path / "unpickled" / "model.safetensors").is_file()


class FakeHub:
    """Stands in for the Hugging Face Hub (no network here): records what each upload sees."""

    def __init__(self) -> None:
        self.uploads: list[tuple[str, list[str]]] = []

    def create_repo(self, name: str, **kwargs: Any) -> Any:
        return type("RepoUrl", (), {"repo_id": f"user/{name}"})()

    def upload_folder(self, *, folder_path: str, **kwargs: Any) -> Any:
        self.uploads.append((Path(folder_path).name, sorted(os.listdir(folder_path))))
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.set_result(None)
        return done


def test_the_file_is_in_each_folder_before_the_hub_upload_starts(dirty_repo, tmp_path, monkeypatch):
    hub = FakeHub()
    monkeypatch.setattr(transformers.trainer, "hf_api", lambda: hub)
    out = tmp_path / "out"
    train(dirty_repo, out, 4, push_to_hub=True, hub_model_id="tiny", hub_strategy="checkpoint")
    # Each save uploads output_dir (the model files copied out of the checkpoint) and the
    # checkpoint folder itself (hub_strategy="checkpoint"); the file is in both, before.
    assert [name for name, _ in hub.uploads] == ["out", "checkpoint-2", "out", "checkpoint-4"]
    for name, listing in hub.uploads:
        assert FILE in listing, (name, listing)


def test_a_model_that_is_not_a_pretrained_model_is_covered_by_on_save(dirty_repo, tmp_path):
    class Plain(torch.nn.Module):  # the Trainer saves its state dict itself, no save_pretrained
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(32, 4)
            self.head = torch.nn.Linear(4, 32)

        def forward(self, input_ids: Any, labels: Any) -> Any:
            logits = self.head(self.embed(input_ids))
            return {"loss": torch.nn.functional.cross_entropy(logits.view(-1, 32), labels.view(-1))}

    callback = JellyMLCallback(str(dirty_repo.path))
    out = tmp_path / "out"
    trainer = transformers.Trainer(
        model=Plain(),
        args=hf_train.training_args(out, 4),
        train_dataset=hf_train.tiny_dataset(),
        callbacks=[callback],
    )
    trainer.train()
    assert checkpoints(out) == ["checkpoint-2", "checkpoint-4"]
    for folder in out.glob("checkpoint-*"):
        assert (folder / "model.safetensors").is_file()
        assert jellyml.read_snapshot(folder).bundle_size > 0


def test_a_misspelt_option_fails_when_the_callback_is_built(dirty_repo):
    with pytest.raises(TypeError, match="max_total_bytes"):
        JellyMLCallback(str(dirty_repo.path), max_total_bytes=10)


def test_a_snapshot_failure_stops_training_before_the_first_step(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(jellyml.NotAGitRepoError):
        train(type("Repo", (), {"path": plain})(), tmp_path / "out", 2)
    assert not (tmp_path / "out").exists() or checkpoints(tmp_path / "out") == []


def run_guarded(
    argv: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a session of its own, so a hang kills torchrun's workers too."""
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_two_processes_under_torchrun_run_git_once_and_save_every_checkpoint(dirty_repo, tmp_path):
    log = git_logging_wrapper(tmp_path / "bin")
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{log.parent}{os.pathsep}{os.environ['PATH']}"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    script = [str(HERE / "hf_train.py"), str(dirty_repo.path), str(out), "6"]
    proc = run_guarded([*torchrun, *script], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the one line, at transformers' default log level, from global rank 0 only
    assert proc.stderr.count("JellyML: code snapshot made (commit ") == 1, proc.stderr[-3000:]
    calls = log.read_text().split()
    assert calls and set(calls) == {"rank=0"}  # rank 1 received the bytes, never ran git
    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert reports[0] == reports[1] and reports[0]["global_step"] == 6
    assert checkpoints(out) == ["checkpoint-4", "checkpoint-6"]
    for folder in [*out.glob("checkpoint-*"), out / "final"]:
        assert_cli_restores(folder, dirty_repo, tmp_path)
    assert not list(out.rglob(".jellyml-*"))  # no temporary file left by either rank


def test_ten_saves_cost_the_disk_of_one_snapshot_file(dirty_repo, tmp_path):
    """save_total_limit=3 over 10 saves: every folder has the file, as links of one."""

    out = tmp_path / "out"
    trainer, _callback = train(dirty_repo, out, 20, save_total_limit=3)
    trainer.save_model(str(out / "final"))
    assert checkpoints(out) == ["checkpoint-16", "checkpoint-18", "checkpoint-20"]
    files = [out / name / FILE for name in checkpoints(out)] + [out / "final" / FILE]
    assert len({f.stat().st_ino for f in files}) == 1
    assert disk_usage(*files) <= 1.05 * disk_usage(files[0])
    assert not list(out.rglob(".jellyml-*"))
    for folder in (out / "checkpoint-16", out / "final"):
        assert jellyml.read_snapshot(folder).metadata["git"]["dirty"] is True
