"""Resume: a run killed after a pass continues from its checkpoint to the map it would have made,
and every checkpoint that cannot be continued is refused in one line with nothing overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from datamap_widget import train_datamap
from datamap_widget.checkpoint import CHECKPOINT_FILE, CheckpointError
from datamap_widget.cli import main
from datamap_widget.data import load_sample
from datamap_widget.run import read_run, run_files
from datamap_widget.train import fine_tune

TRAIN = ["--epochs", "2", "--batch-size", "8", "--max-length", "32", "--quiet", "--top", "3"]


class Killed(KeyboardInterrupt):
    """Stands in for a kill right after a pass's checkpoint is on disk."""


def kill_after_pass(monkeypatch, after: int) -> None:
    import datamap_widget.train as train

    save = train.save_checkpoint

    def save_then_die(folder, state):
        size = save(folder, state)
        if state["passes"] == after:
            raise Killed
        return size

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)


def same_trajectories(a, b) -> None:
    # Bitwise: the resumed run replays the same batches, dropout masks and updates in the same
    # process conditions (CPU, same thread count), so nothing may differ, not even rounding.
    for name, values in a.trajectories.items():
        np.testing.assert_array_equal(values, b.trajectories[name], err_msg=name)
    if a.embeddings is None:
        assert b.embeddings is None
    else:
        np.testing.assert_array_equal(a.embeddings, b.embeddings)


@pytest.fixture(scope="module")
def trec16(trec_jsonl):
    return trec_jsonl(16)


@pytest.fixture(scope="module")
def killed_run(trec16, tmp_path_factory):
    """A run folder whose `datamap train` was killed after pass 1 of 2: its checkpoint only."""
    out = tmp_path_factory.mktemp("killed") / "run"
    with pytest.MonkeyPatch.context() as patch:
        kill_after_pass(patch, 1)
        assert main(["train", str(trec16), "--out", str(out), *TRAIN]) == 130
    assert run_files(out) == [CHECKPOINT_FILE]
    return out


@pytest.mark.slow
def test_ctrl_c_in_training_says_where_the_passes_are_kept_and_how_to_go_on(trec16, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    kill_after_pass(monkeypatch, 1)
    assert main(["train", str(trec16), "--out", str(out), *TRAIN]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("datamap: interrupted; ")
    assert str(out / CHECKPOINT_FILE) in err and "with --resume" in err


@pytest.fixture
def killed(killed_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(killed_run, copy)
    return copy


def folder_state(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow
@pytest.mark.parametrize("long_text", ["head", "windows"])
def test_a_run_killed_after_a_pass_and_resumed_makes_the_map_of_the_run_never_interrupted(long_text, tmp_path, monkeypatch):
    frame = load_sample().head(20)
    texts, labels, ids = frame["text"].tolist(), frame["label"].tolist(), frame["id"].tolist()
    # windows: 12 tokens a window, so most questions are read in several windows pooled per text.
    options = dict(epochs=3, batch_size=8, max_length=12 if long_text == "windows" else 32, long_text=long_text, progress=False)
    if long_text == "windows":
        options.update(stride=4)
    whole = fine_tune(texts, labels, ids, **options)
    kill_after_pass(monkeypatch, 2)
    with pytest.raises(Killed):
        fine_tune(texts, labels, ids, checkpoint_dir=tmp_path, **options)
    monkeypatch.undo()
    assert (tmp_path / CHECKPOINT_FILE).is_file()
    resumed = fine_tune(texts, labels, ids, checkpoint_dir=tmp_path, resume=True, **options)
    same_trajectories(whole.datamap, resumed.datamap)
    assert resumed.settings["resumed_after_pass"] == 2 and resumed.settings["checkpoint_bytes"] > 0
    assert not (tmp_path / CHECKPOINT_FILE).exists()  # removed once the run completed
    if long_text == "windows":
        assert whole.settings["read"]["units_per_text"] > 1.2  # many texts are several windows


@pytest.mark.slow
def test_train_resume_continues_a_killed_run_and_removes_its_checkpoint(killed, trec16, tmp_path, capsys):
    whole = tmp_path / "whole"
    assert main(["train", str(trec16), "--out", str(whole), *TRAIN]) == 0
    capsys.readouterr()
    assert main(["train", str(trec16), "--out", str(killed), *TRAIN, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint (" in out and "removed" in out
    assert run_files(killed) == ["datamap.parquet", "run.json", "texts.parquet"]
    same_trajectories(read_run(whole).datamap, read_run(killed).datamap)
    record = json.loads((killed / "run.json").read_text())
    assert record["checkpoint"]["resumed_after_pass"] == 1 and record["checkpoint"]["bytes"] > 1_000_000
    assert record["world_size"] == 1


@pytest.mark.slow
def test_keep_checkpoint_keeps_it_and_a_finished_run_cannot_be_resumed_without_one(trec16, tmp_path, capsys):
    kept, plain = tmp_path / "kept", tmp_path / "plain"
    assert main(["train", str(trec16), "--out", str(kept), *TRAIN, "--epochs", "1", "--keep-checkpoint"]) == 0
    assert f"kept {kept / CHECKPOINT_FILE}" in capsys.readouterr().out
    assert (kept / CHECKPOINT_FILE).is_file()
    assert json.loads((kept / "run.json").read_text())["checkpoint"]["kept"] is True
    assert main(["train", str(trec16), "--out", str(plain), *TRAIN, "--epochs", "1"]) == 0
    capsys.readouterr()
    before = folder_state(plain)
    assert main(["train", str(trec16), "--out", str(plain), *TRAIN, "--epochs", "1", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "datamap: error: --resume:" in err and "holds no checkpoint" in err and "finished run" in err
    assert folder_state(plain) == before


def refused(argv: list[str], folder: Path, capsys, *needles: str) -> None:
    before = folder_state(folder)
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    err = lines[-1]  # after at most the "training on N examples" announcement: one error line
    assert err.startswith("datamap: error: ") and len(lines) <= 2 and "Traceback" not in "".join(lines), lines
    for needle in needles:
        assert needle in err, err
    assert folder_state(folder) == before  # nothing overwritten


def test_resume_of_a_folder_without_a_checkpoint_is_refused(tmp_path, trec16, capsys):
    refused(["train", str(trec16), "--out", str(tmp_path), *TRAIN, "--resume"], tmp_path, capsys, "holds no checkpoint")


def test_resume_and_overwrite_cannot_be_given_together(tmp_path, trec16, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(trec16), "--out", str(tmp_path), *TRAIN, "--resume", "--overwrite"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


@pytest.mark.slow
def test_an_unfinished_run_is_not_replaced_by_a_new_train_and_is_no_run_to_read(killed, trec16, capsys):
    refused(["train", str(trec16), "--out", str(killed), *TRAIN], killed, capsys, "pass --resume to continue it")
    refused(["suspects", str(killed)], killed, capsys, "unfinished run", "--resume")


@pytest.mark.slow
def test_resume_on_other_data_is_refused(killed, trec_jsonl, capsys):
    other = trec_jsonl(17, start=1)
    refused(["train", str(other), "--out", str(killed), *TRAIN, "--resume"], killed, capsys, "other data")


@pytest.mark.slow
def test_resume_with_other_settings_is_refused_naming_them(killed, trec16, capsys):
    refused(["train", str(trec16), "--out", str(killed), *TRAIN, "--epochs", "3", "--lr", "0.001", "--resume"],
            killed, capsys, "other settings", "epochs 2 -> 3", "lr 0.0001 -> 0.001")


@pytest.mark.slow
def test_resume_with_another_number_of_processes_is_refused(killed, trec16, capsys):
    import torch

    state = torch.load(killed / CHECKPOINT_FILE, weights_only=True)
    torch.save({**state, "world_size": 2}, killed / CHECKPOINT_FILE)
    refused(["train", str(trec16), "--out", str(killed), *TRAIN, "--resume"], killed, capsys,
            "made by 2 process(es), this run has 1", "--nproc-per-node 2")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_is_refused(killed, trec16, capsys, damage):
    path = killed / CHECKPOINT_FILE
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a checkpoint" * 100, "empty": b""}[damage])
    refused(["train", str(trec16), "--out", str(killed), *TRAIN, "--resume"], killed, capsys, "could not be read as a checkpoint", "damaged")


def test_the_library_refuses_resume_without_a_folder_or_a_checkpoint(tmp_path):
    frame = load_sample().head(8)
    args = (frame["text"].tolist(), frame["label"].tolist())
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        fine_tune(*args, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        fine_tune(*args, checkpoint_dir=tmp_path, resume=True, progress=False)


@pytest.mark.slow
def test_a_stopped_background_run_resumes_where_its_last_complete_pass_ended(tmp_path):
    frame = load_sample().head(16)
    args = (frame["text"].tolist(), frame["label"].tolist(), frame["id"].tolist())
    options = dict(epochs=2, batch_size=8, max_length=32, checkpoint_dir=tmp_path)
    whole = train_datamap(*args, epochs=2, batch_size=8, max_length=32, progress=False)
    handle = train_datamap(*args, background=True, **options)
    import time

    while handle.progress.get("epoch") != 2 and not handle.done:  # stop in the second pass
        time.sleep(0.05)
    handle.stop()
    handle.wait()
    if handle.tracker.n_passes == 2 and not (tmp_path / CHECKPOINT_FILE).exists():
        pytest.skip("the run finished before stop() reached it")  # pragma: no cover - a very fast machine
    resumed = train_datamap(*args, background=True, resume=True, **options).wait()
    same_trajectories(whole, resumed)
