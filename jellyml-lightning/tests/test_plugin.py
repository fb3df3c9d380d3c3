"""JellyMLLightningPlugin and JellyMLCallback in real single-process Trainer.fit runs on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

import jellyml  # noqa: E402
from jellyml_lightning import (  # noqa: E402
    JellyMLCallback,
    JellyMLLightningPlugin,
    JellyMLLightningWarning,
)
from kit import cli  # noqa: E402
from kit.repos import clone, snapshot_view  # noqa: E402
from tiny_lightning import NAMESPACES, fast_trainer_args, lightning, model_class  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.lightning,
    # A late snapshot (at the first save instead of at setup) fails every test that does not
    # expect it.
    pytest.mark.filterwarnings("error::jellyml_lightning.JellyMLLightningWarning"),
]


@pytest.fixture
def count_snapshots(monkeypatch):
    """How many times git was asked for a snapshot (jellyml.create_snapshot calls)."""
    calls = []
    real = jellyml.create_snapshot

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(jellyml, "create_snapshot", counting)
    return calls


def checkpoint_callback(pl, folder: Path):
    return pl.callbacks.ModelCheckpoint(
        dirpath=folder, monitor="train_loss", mode="min", save_top_k=2, save_last=True
    )


def snapshot_bytes(tensors: dict) -> tuple[bytes, bytes]:
    return tuple(  # type: ignore[return-value]
        tensors[key].numpy().tobytes() for key in (jellyml.SNAPSHOT_KEY, jellyml.METADATA_KEY)
    )


def restore_with_cli(ckpt: Path, where: Path) -> Path:
    """What a user runs: jellyml fix extract-bundle, then git clone of the bundle."""
    bundle = where / "restored.bundle"
    cli.jellyml("fix", "extract-bundle", str(ckpt), "-o", str(bundle), cwd=where)
    return clone(bundle, where / "restored")


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_fit_puts_the_snapshot_in_every_checkpoint(
    namespace, dirty_repo, tmp_path, count_snapshots
):
    pl = lightning(namespace)
    code_at_start = snapshot_view(dirty_repo)
    before = dirty_repo.state()
    ckpts = tmp_path / "ckpts"
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    assert len(count_snapshots) == 1  # made when the plugin is built: no setup hook reaches it
    trainer = pl.Trainer(
        max_epochs=3,
        plugins=[plugin],
        callbacks=[checkpoint_callback(pl, ckpts)],
        **fast_trainer_args(tmp_path),
    )
    model = model_class(namespace)()
    trainer.fit(model)
    trainer.save_checkpoint(ckpts / "manual.ckpt")

    assert len(count_snapshots) == 1  # once per run, however many saves
    files = sorted(p.name for p in ckpts.iterdir())
    assert len(files) == 4 and "last.ckpt" in files and "manual.ckpt" in files  # top-2 kept
    for ckpt in ckpts.iterdir():
        saved = torch.load(ckpt, weights_only=True)
        assert snapshot_bytes(saved) == snapshot_bytes(plugin.snapshot)
        found = jellyml.read_snapshot(ckpt)
        assert found.entry.startswith("archive/")  # Lightning saves through a buffer
        assert found.metadata["git"]["dirty"] is True

    clone = restore_with_cli(ckpts / "last.ckpt", tmp_path)
    assert type(dirty_repo)(clone).worktree() == code_at_start
    assert dirty_repo.state() == before


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_checkpoints_with_a_snapshot_resume_and_load(namespace, dirty_repo, tmp_path):
    pl = lightning(namespace)
    ckpts = tmp_path / "ckpts"
    model_cls = model_class(namespace)
    first = pl.Trainer(
        max_epochs=2,
        plugins=[JellyMLLightningPlugin(str(dirty_repo.path))],
        callbacks=[checkpoint_callback(pl, ckpts)],
        **fast_trainer_args(tmp_path),
    )
    first.fit(model_cls(lr=0.05))
    last = ckpts / "last.ckpt"
    saved = torch.load(last, weights_only=True)

    loaded = model_cls.load_from_checkpoint(last)
    assert loaded.hparams.lr == 0.05
    assert torch.equal(loaded.layer.weight, saved["state_dict"]["layer.weight"])

    resumed = pl.Trainer(
        max_epochs=3,
        plugins=[JellyMLLightningPlugin(str(dirty_repo.path))],
        callbacks=[checkpoint_callback(pl, tmp_path / "resumed")],
        **fast_trainer_args(tmp_path),
    )
    resumed.fit(model_cls(lr=0.05), ckpt_path=last)
    assert saved["global_step"] == 4
    assert resumed.global_step == 6  # went on from step 4, one more epoch of 2 batches
    assert jellyml.read_snapshot(tmp_path / "resumed" / "last.ckpt").commit == (
        jellyml.read_snapshot(last).commit
    )


@pytest.mark.slow
def test_snapshot_is_the_code_at_setup_not_at_save(dirty_repo, tmp_path):
    pl = lightning("lightning.pytorch")
    code_at_start = snapshot_view(dirty_repo)

    class EditCodeMidRun(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            dirty_repo.write("train.py", f"lr = 0.{trainer.current_epoch + 7}\n")

    ckpts = tmp_path / "ckpts"
    trainer = pl.Trainer(
        max_epochs=2,
        plugins=[JellyMLLightningPlugin(str(dirty_repo.path))],
        callbacks=[EditCodeMidRun(), checkpoint_callback(pl, ckpts)],
        **fast_trainer_args(tmp_path),
    )
    trainer.fit(model_class("lightning.pytorch")())
    assert (dirty_repo.path / "train.py").read_text() == "lr = 0.8\n"
    clone = restore_with_cli(ckpts / "last.ckpt", tmp_path)
    assert type(dirty_repo)(clone).worktree() == code_at_start


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_plugin_wraps_a_custom_checkpoint_io_and_both_take_effect(namespace, dirty_repo, tmp_path):
    pl = lightning(namespace)
    events = []

    class StampingIO(pl.plugins.TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            events.append(("save", Path(path).name))
            super().save_checkpoint({**checkpoint, "stamp": "custom io"}, path, storage_options)

        def load_checkpoint(self, path, *args, **kwargs):
            events.append(("load", Path(path).name))
            return super().load_checkpoint(path, *args, **kwargs)

        def remove_checkpoint(self, path):
            events.append(("remove", Path(path).name))
            super().remove_checkpoint(path)

    def trainer(max_epochs):
        plugin = JellyMLLightningPlugin(str(dirty_repo.path), checkpoint_io=StampingIO())
        return pl.Trainer(
            max_epochs=max_epochs,
            plugins=[plugin],
            callbacks=[checkpoint_callback(pl, tmp_path / "ckpts")],
            **fast_trainer_args(tmp_path),
        )

    trainer(3).fit(model_class(namespace)())
    files = list((tmp_path / "ckpts").iterdir())
    assert len(files) == 3  # the top 2 and last: the third epoch's save removed the worst
    removed = [name for kind, name in events if kind == "remove"]
    assert len(removed) == 1 and not (tmp_path / "ckpts" / removed[0]).exists()
    for ckpt in files:
        saved = torch.load(ckpt, weights_only=True)
        assert saved["stamp"] == "custom io"
        assert jellyml.SNAPSHOT_KEY in saved
        assert jellyml.read_snapshot(ckpt).bundle_size > 0

    trainer(4).fit(model_class(namespace)(), ckpt_path=tmp_path / "ckpts" / "last.ckpt")
    assert ("load", "last.ckpt") in events


@pytest.mark.slow
def test_plugin_inside_lightnings_async_checkpoint_io(dirty_repo, tmp_path):
    pl = lightning("lightning.pytorch")
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    trainer = pl.Trainer(
        max_epochs=1,
        plugins=[pl.plugins.AsyncCheckpointIO(plugin)],
        callbacks=[checkpoint_callback(pl, tmp_path / "ckpts")],
        **fast_trainer_args(tmp_path),
    )
    trainer.fit(model_class("lightning.pytorch")())
    last = tmp_path / "ckpts" / "last.ckpt"
    assert snapshot_bytes(torch.load(last, weights_only=True)) == snapshot_bytes(plugin.snapshot)


def bypassing_strategy(pl):
    """A strategy that writes checkpoints itself, as FSDP and DeepSpeed sharded saves do."""

    class WritesItsOwnFiles(pl.strategies.SingleDeviceStrategy):
        def save_checkpoint(self, checkpoint, filepath, storage_options=None):
            Path(filepath).parent.mkdir(parents=True, exist_ok=True)
            torch.save(checkpoint, filepath)

    return WritesItsOwnFiles(device=torch.device("cpu"))


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_callback_covers_strategies_that_bypass_checkpoint_io(
    namespace, dirty_repo, tmp_path, count_snapshots
):
    pl = lightning(namespace)
    before = dirty_repo.state()

    def run(folder, **extra):
        trainer = pl.Trainer(
            max_epochs=1,
            strategy=bypassing_strategy(pl),
            callbacks=[*extra.pop("callbacks", []), checkpoint_callback(pl, tmp_path / folder)],
            **extra,
            **fast_trainer_args(tmp_path),
        )
        trainer.fit(model_class(namespace)())
        return torch.load(tmp_path / folder / "last.ckpt", weights_only=True)

    plugin_only = run("plugin", plugins=[JellyMLLightningPlugin(str(dirty_repo.path))])
    assert jellyml.SNAPSHOT_KEY not in plugin_only  # why the callback exists
    callback = JellyMLCallback(str(dirty_repo.path))
    with_callback = run("callback", callbacks=[callback])
    assert snapshot_bytes(with_callback) == snapshot_bytes(callback.snapshot)
    assert jellyml.read_snapshot(tmp_path / "callback" / "last.ckpt").metadata["git"]["dirty"]
    assert dirty_repo.state() == before


@pytest.mark.slow
def test_plugin_and_callback_together_share_one_snapshot(dirty_repo, tmp_path, count_snapshots):
    pl = lightning("lightning.pytorch")
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    callback = JellyMLCallback(str(dirty_repo.path))
    trainer = pl.Trainer(
        max_epochs=1,
        plugins=[plugin],
        callbacks=[callback, checkpoint_callback(pl, tmp_path / "ckpts")],
        **fast_trainer_args(tmp_path),
    )
    trainer.fit(model_class("lightning.pytorch")())
    assert len(count_snapshots) == 1
    assert callback.snapshot is plugin.snapshot
    saved = torch.load(tmp_path / "ckpts" / "last.ckpt", weights_only=True)
    assert snapshot_bytes(saved) == snapshot_bytes(plugin.snapshot)


def test_plugin_used_outside_a_trainer_saves_its_snapshot(dirty_repo, tmp_path):
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    plugin.save_checkpoint({"state_dict": {"w": torch.ones(2)}}, tmp_path / "m.ckpt")
    loaded = plugin.load_checkpoint(tmp_path / "m.ckpt")
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))
    assert snapshot_bytes(loaded) == snapshot_bytes(plugin.snapshot)
    plugin.remove_checkpoint(tmp_path / "m.ckpt")
    assert not (tmp_path / "m.ckpt").exists()


def test_a_process_lightning_does_not_count_as_rank_zero_runs_no_git(
    dirty_repo, tmp_path, monkeypatch, count_snapshots
):
    rank_zero_only = lightning("lightning.pytorch").utilities.rank_zero.rank_zero_only
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # as in a process Lightning launched
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    assert plugin.snapshot is None and count_snapshots == []
    # Such a process never saves; if it is made to, it snapshots then, and says so.
    with pytest.warns(JellyMLLightningWarning, match="not when the run started"):
        plugin.save_checkpoint({"w": torch.ones(1)}, tmp_path / "m.ckpt")
    assert jellyml.read_snapshot(tmp_path / "m.ckpt").metadata["git"]["dirty"] is True


def test_keys_already_in_the_checkpoint_are_kept(dirty_repo, tmp_path):
    plugin = JellyMLLightningPlugin(str(dirty_repo.path))
    own = {jellyml.SNAPSHOT_KEY: torch.zeros(3, dtype=torch.uint8)}
    plugin.save_checkpoint(own, tmp_path / "m.ckpt")
    saved = torch.load(tmp_path / "m.ckpt", weights_only=True)
    assert torch.equal(saved[jellyml.SNAPSHOT_KEY], torch.zeros(3, dtype=torch.uint8))
    assert snapshot_bytes({**saved, jellyml.SNAPSHOT_KEY: plugin.snapshot[jellyml.SNAPSHOT_KEY]})
    assert own == {jellyml.SNAPSHOT_KEY: own[jellyml.SNAPSHOT_KEY]}  # the caller's dict untouched


def test_a_misspelt_option_fails_when_the_plugin_is_built(dirty_repo):
    with pytest.raises(TypeError, match="max_total_bytes"):
        JellyMLLightningPlugin(str(dirty_repo.path), max_total_bytes=10)


def test_a_snapshot_failure_stops_the_script_when_the_plugin_is_built(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(jellyml.NotAGitRepoError, match="is not inside a git repository"):
        JellyMLLightningPlugin(str(plain))
    assert list(plain.iterdir()) == []


def test_options_reach_create_snapshot(dirty_repo):
    with pytest.raises(jellyml.SnapshotTooLargeError):
        JellyMLLightningPlugin(str(dirty_repo.path), max_total_size=10)
    with pytest.warns(jellyml.SnapshotWarning, match="notes.txt"):
        plugin = JellyMLLightningPlugin(str(dirty_repo.path), secret_patterns=["notes*"])
    meta = json.loads(plugin.snapshot[jellyml.METADATA_KEY].numpy().tobytes()[1024:])
    assert meta["git"]["untracked_included"] == []


def test_the_spec_import_works_with_both_trainers(dirty_repo, monkeypatch):
    monkeypatch.chdir(dirty_repo.path)  # the default repository is the current directory's
    for namespace in NAMESPACES:
        pl = lightning(namespace)
        plugin = JellyMLLightningPlugin()
        trainer = pl.Trainer(plugins=[plugin], logger=False)
        assert trainer.strategy.checkpoint_io is plugin
        meta = json.loads(plugin.snapshot[jellyml.METADATA_KEY].numpy().tobytes()[1024:])
        assert meta["git"]["untracked_included"] == ["notes.txt", "untracked dir/notes é.txt"]
        # The strategy filled in its own default IO as the wrapped one.
        assert isinstance(
            trainer.strategy.checkpoint_io.checkpoint_io, pl.plugins.TorchCheckpointIO
        )
