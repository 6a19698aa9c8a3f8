"""The `datamap` command, run in-process: a real tiny training run and every bad-input path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap_widget import DataMap
from datamap_widget.cli import main
from datamap_widget.data import load_sample


@pytest.fixture(scope="module")
def trec_small(trec_jsonl):
    """64 real TREC questions (train split) as JSONL."""
    return trec_jsonl(64)


@pytest.fixture(scope="module")
def trained_run(trec_small, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["train", str(trec_small), "--out", str(out), "--epochs", "2", "--quiet", "--top", "5"])
    assert code == 0
    return out


@pytest.mark.slow
def test_train_writes_a_run_folder(trained_run, trec_small, capsys):
    dmap = DataMap.read_parquet(str(trained_run / "datamap.parquet"))
    source = pd.read_json(trec_small, lines=True)
    assert sorted(dmap.ids.tolist()) == sorted(source["id"])
    assert dmap.n_passes == 2
    assert dmap.label_names == sorted(source["label"].unique())
    table = pd.read_parquet(trained_run / "datamap.parquet")
    assert list(table.columns[:8]) == [
        "id", "label", "confidence", "variability", "correctness", "category", "mislabel_score", "suggested_label",
    ]
    run = json.loads((trained_run / "run.json").read_text())
    assert run["settings"]["epochs"] == 2 and run["settings"]["seed"] == 0
    assert {"torch", "transformers", "datamap_widget"} <= set(run["versions"])
    assert len(run["timings"]["epoch_s"]) == 2
    texts = pd.read_parquet(trained_run / "texts.parquet")
    assert texts.set_index("id").loc["trec-train-0000", "text"] == source.loc[0, "text"]


@pytest.mark.slow
def test_same_data_and_seed_give_the_same_ranking(trained_run, trec_small, tmp_path):
    assert main(["train", str(trec_small), "--out", str(tmp_path), "--epochs", "2", "--quiet"]) == 0
    first = DataMap.read_parquet(str(trained_run / "datamap.parquet")).suspects()
    second = DataMap.read_parquet(str(tmp_path / "datamap.parquet")).suspects()
    assert first.index.tolist() == second.index.tolist()
    pd.testing.assert_series_equal(first["mislabel_score"], second["mislabel_score"])


@pytest.mark.slow
def test_suspects_command_prints_the_saved_ranking(trained_run, capsys):
    assert main(["suspects", str(trained_run), "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:5] == ["rank", "id", "label", "suggested", "score"]
    expected = DataMap.read_parquet(str(trained_run / "datamap.parquet")).suspects(top=3).index.tolist()
    assert [line.split()[1] for line in lines[1:]] == expected
    assert main(["suspects", str(trained_run), "--frac", "0.1", "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    frame = pd.read_csv(pd.io.common.StringIO(csv))
    assert len(frame) == 7 and "text" in frame.columns  # ceil(0.1 * 64)


def test_the_shipped_sample_has_documented_flips():
    sample = load_sample()
    assert len(sample) == 600 and sample["id"].is_unique
    assert (sample["label"] != sample["true_label"]).sum() == 18
    assert set(sample["label"]) == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


@pytest.mark.slow
def test_sample_run_reports_the_share_of_flips_found(tmp_path, capsys, monkeypatch):
    # The README's main job, with fewer epochs to keep CI short.
    assert main(["train", "--sample", "--out", str(tmp_path), "--epochs", "2", "--quiet", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "of 18 label errors" in out and "in the top 5% (30 of 600 examples)" in out
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["summary"]["label_errors"] == 18


# ------------------------------------------------------------------ bad input


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


def test_missing_file(tmp_path, capsys):
    code, err = run_cli(["train", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "data file not found" in err and "Traceback" not in err


def test_missing_column_lists_the_columns(tmp_path, capsys):
    path = tmp_path / "d.csv"
    pd.DataFrame({"sentence": ["a b", "c d"], "label": ["x", "y"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no column 'text' (--text-column)" in err and "'sentence'" in err


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "is empty" in err


def test_single_class(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", "x", "x"]}).to_json(path, orient="records", lines=True)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "single class 'x'" in err


def test_blank_texts(tmp_path, capsys):
    path = tmp_path / "blank.parquet"
    pd.DataFrame({"id": [7, 8, 9], "text": ["fine", "  ", "ok"], "label": ["x", "y", "x"]}).to_parquet(path)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "1 blank text(s), e.g. ids [8]" in err


def test_missing_texts_labels_and_ids_say_which_rows(tmp_path, capsys):
    # A CSV's empty cell is a missing text: "2 missing text(s)" alone left the user searching 300 rows.
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"doc_id": [1000, 1001, 1002, 1003], "review": ["", "good", None, "bad"], "sentiment": ["a", "b", "a", "b"]}).to_csv(path, index=False)
    columns = ["--text-column", "review", "--label-column", "sentiment", "--id-column", "doc_id"]
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o"), *columns], capsys)
    assert code == 2 and "column 'review' has 2 missing text(s), e.g. ids [1000, 1002]: remove or fill them" in err
    pd.DataFrame({"doc_id": [1000, None, 1002], "review": ["x", "y", "z"], "sentiment": ["a", "b", "a"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o"), *columns], capsys)
    assert code == 2 and "column 'doc_id' has 1 missing id(s), e.g. rows [1]" in err
    pd.DataFrame({"review": ["x", "y", "z"], "sentiment": ["a", None, "a"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o"), *columns], capsys)
    assert code == 2 and "column 'sentiment' has 1 missing label(s), e.g. rows [1]" in err
    pd.DataFrame({"doc_id": [1004, 1004], "review": ["x", "y"], "sentiment": ["a", "b"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o"), *columns], capsys)
    assert code == 2 and "repeated ids: [1004]" in err  # the int id, not the string '1004'
    pd.DataFrame({"doc_id": [1000, 1001], "review": ["  ", "fine"], "sentiment": ["a", "b"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o"), *columns], capsys)
    assert code == 2 and "column 'review' has 1 blank text(s), e.g. ids [1000]" in err  # the file's words, not "texts has"


def test_repeated_ids(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    pd.DataFrame({"id": ["a", "a"], "text": ["x y", "z w"], "label": ["p", "q"]}).to_csv(path, index=False)
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "repeated ids" in err


def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n")
    code, err = run_cli(["train", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "could not be read" in err


def test_suspects_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, err = run_cli(["suspects", str(tmp_path)], capsys)
    assert code == 2 and "not a run folder" in err


def test_data_and_sample_are_exclusive(tmp_path, capsys):
    code, err = run_cli(["train", "--out", str(tmp_path)], capsys)
    assert code == 2 and "DATA (a file) or --sample" in err


# ------------------------------------------------------------------ damaged run folders, bad ids, outputs


def _one_line_error(code, err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err, err
    errors = [line for line in lines if line.startswith("datamap: error: ")]
    # One error line, last; at most the "training on …" progress line before it.
    assert len(errors) == 1 and lines[-1] == errors[0] and len(lines) <= 2, err
    return errors[0]


@pytest.fixture
def good_run(tmp_path):
    from tests.harness.maps import random_datamap

    folder = tmp_path / "run"
    folder.mkdir()
    dmap = random_datamap(20)
    dmap.to_parquet(str(folder / "datamap.parquet"))
    pd.DataFrame({"id": dmap.ids, "text": [f"text {i}" for i in range(20)]}).to_parquet(folder / "texts.parquet")
    (folder / "run.json").write_text(json.dumps({"settings": {}}))
    return folder


@pytest.mark.parametrize(
    "name, damage, said",
    [
        ("datamap.parquet", b"", "datamap.parquet could not be read as a data map"),
        ("datamap.parquet", b"PAR1 this is not parquet", "datamap.parquet could not be read as a data map"),
        ("datamap.parquet", "dir", "datamap.parquet could not be read as a data map"),
        ("datamap.parquet", "frame-without-columns", "datamap.parquet could not be read as a data map"),
        ("run.json", b"{not json", "run.json could not be read as a run record"),
        ("run.json", b"[1, 2]", "run.json holds a JSON list, not the run record"),
        ("texts.parquet", b"garbage", "texts.parquet could not be read as texts"),
        ("texts.parquet", "frame-without-columns", "texts.parquet could not be read as texts"),
    ],
)
def test_a_damaged_run_folder_gives_a_one_line_error(good_run, capsys, name, damage, said):
    target = good_run / name
    target.unlink()
    if damage == "dir":
        target.mkdir()
    elif damage == "frame-without-columns":
        pd.DataFrame({"other": [1, 2]}).to_parquet(target)
    else:
        target.write_bytes(damage)
    for command in (["suspects", str(good_run)], ["report", str(good_run)], ["export", str(good_run), "--out", "-"]):
        line = _one_line_error(*run_cli(command, capsys))
        assert said in line, line


def test_a_failed_export_leaves_the_earlier_export_whole(good_run, tmp_path, capsys, monkeypatch):
    import errno
    import os

    target = tmp_path / "labels.csv"
    assert main(["export", str(good_run), "--out", str(target)]) == 0
    before = target.read_bytes()
    real = pd.DataFrame.to_csv

    def disk_fills(self, path_or_buf=None, *args, **kwargs):
        text = real(self, None, *args, **kwargs)
        with open(path_or_buf, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_fills)
    line = _one_line_error(*run_cli(["export", str(good_run), "--out", str(target)], capsys))
    assert "No space left on device" in line
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "run"]  # no temporary file left


def test_an_output_that_is_a_folder_or_unwritable_is_named_in_plain_words(good_run, tmp_path, capsys, monkeypatch):
    import errno
    import os

    import datamap_widget.report

    # `datamap export RUN --out somefolder` said "[Errno 21] Is a directory: 'somefolder'".
    line = _one_line_error(*run_cli(["export", str(good_run), "--out", str(tmp_path)], capsys))
    assert f"--out {tmp_path} is a folder; give a file name (e.g. {tmp_path / 'labels.csv'})" in line and "Errno" not in line
    # `datamap report RUN --output missing/r.html` said "[Errno 2] No such file or directory: 'missing/r.html'".
    line = _one_line_error(*run_cli(["report", str(good_run), "--output", str(tmp_path / "nope" / "r.html")], capsys))
    assert f"--output: the folder {tmp_path / 'nope'} does not exist" in line and "Errno" not in line

    # Any other OSError (a read-only folder, a full disk) reads "PATH: reason".
    def refused(dmap, output, *args, **kwargs):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(output))

    monkeypatch.setattr(datamap_widget.report, "write_report", refused)
    line = _one_line_error(*run_cli(["report", str(good_run)], capsys))
    assert line == f"datamap: error: {good_run / 'report.html'}: Permission denied"


def _data(tmp_path, ids, name="d.jsonl"):
    path = tmp_path / name
    n = len(ids)
    pd.DataFrame({"id": ids, "text": [f"text number {i}" for i in range(n)], "label": ["x", "y"] * (n // 2)}).to_json(
        path, orient="records", lines=True
    )
    return path


@pytest.mark.parametrize(
    "ids, said",
    [
        ([1, "a", 2, "b"], "mixes id types (int e.g. 1, str e.g. 'a')"),
        ([1.5, 2.0, 3.0, 4.0], "fractional ids (e.g. 1.5)"),
        ([True, False, True, False], "holds True/False"),
    ],
)
def test_mixed_float_or_boolean_ids_are_refused_before_anything_is_written(tmp_path, capsys, ids, said):
    out = tmp_path / "o"
    line = _one_line_error(*run_cli(["train", str(_data(tmp_path, ids)), "--out", str(out)], capsys))
    assert said in line and not out.exists(), line


def test_bad_input_found_by_training_leaves_no_empty_out_folder(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", "x", "x"]}).to_json(path, orient="records", lines=True)
    out = tmp_path / "new" / "o"
    assert "single class" in _one_line_error(*run_cli(["train", str(path), "--out", str(out)], capsys))
    assert not out.exists()
    # A folder the user made (with their files) is left as it was.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    run_cli(["train", str(path), "--out", str(mine)], capsys)
    assert (mine / "notes.txt").read_text() == "keep me"


class FakeTraining:
    """Stands in for fine_tune (seconds instead of minutes); can break the output folder mid-run."""

    def __init__(self, break_out: Path | None = None):
        self.calls = 0
        self.break_out = break_out

    def __call__(self, texts, labels, ids, **settings):
        from tests.harness.maps import random_datamap

        from datamap_widget.train import TrainingRun

        self.calls += 1
        if self.break_out is not None:  # the disk goes away while training runs
            import shutil

            shutil.rmtree(self.break_out)
            self.break_out.write_text("now a file")
        dmap = random_datamap(len(ids), n_classes=2, ids=np.array(ids), label_names=sorted(set(labels)))
        return TrainingRun(dmap, {"model": "fake", **settings}, {"total_s": 1.0}, "cpu", [0.5])


def test_an_output_error_after_training_keeps_the_run_and_says_where(tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    out = tmp_path / "o"
    fake = FakeTraining(break_out=out)
    monkeypatch.setattr(datamap_widget.train, "fine_tune", fake)
    code = main(["train", str(_data(tmp_path, [f"d{i}" for i in range(8)])), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert fake.calls == 1 and code == 1 and "Traceback" not in err
    line = [line for line in err.splitlines() if line.startswith("datamap: error:")][0]
    assert f"could not write the run to {out}" in line and "it was written to" in line
    saved = Path(line.split("it was written to ")[1].split(" instead")[0])
    assert sorted(DataMap.read_parquet(str(saved / "datamap.parquet")).ids.tolist()) == [f"d{i}" for i in range(8)]
    assert (saved / "run.json").exists() and (saved / "texts.parquet").exists()


def test_a_full_disk_while_writing_a_new_out_leaves_no_partial_file_there(tmp_path, capsys, monkeypatch, disk_fills):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTraining())
    out = tmp_path / "new"
    disk_fills(at=1)  # the first file written in --out fails; the fallback folder's are written
    code = main(["train", str(_data(tmp_path, [f"d{i}" for i in range(8)])), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "it was written to" in err
    # Not a truncated datamap.parquet that `suspects` and `report` would call damaged: no file at all.
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    saved = Path(err.split("it was written to ")[1].split(" instead")[0])
    assert len(DataMap.read_parquet(saved)) == 8


def _files(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_second_train_into_the_same_folder_is_refused_unless_overwrite(tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    fake = FakeTraining()
    monkeypatch.setattr(datamap_widget.train, "fine_tune", fake)
    out = tmp_path / "run"
    first, other = _data(tmp_path, [f"a{i}" for i in range(8)], "a.jsonl"), _data(tmp_path, [f"b{i}" for i in range(6)], "b.jsonl")
    assert main(["train", str(first), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    before = _files(out)
    line = _one_line_error(*run_cli(["train", str(other), "--out", str(out), "--quiet"], capsys))
    assert f"--out {out} already holds a run" in line and "--overwrite" in line, line
    assert fake.calls == 1, "the second run trained although its output was refused"
    assert _files(out) == before
    # --overwrite replaces it, and leaves nothing else behind.
    assert main(["train", str(other), "--out", str(out), "--quiet", "--overwrite"]) == 0
    assert sorted(DataMap.read_parquet(out).ids.tolist()) == [f"b{i}" for i in range(6)]
    assert sorted(_files(out)) == ["datamap.parquet", "run.json", "texts.parquet"]
    assert json.loads((out / "run.json").read_text())["data"] == str(other)


def test_a_folder_without_a_run_is_written_into_as_it_is(tmp_path, monkeypatch):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTraining())
    data = str(_data(tmp_path, [f"d{i}" for i in range(8)]))
    empty, mine = tmp_path / "empty", tmp_path / "mine"
    empty.mkdir()
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "report.html").write_text("<p>an old report is not a run</p>")
    for folder in (empty, mine):
        assert main(["train", data, "--out", str(folder), "--quiet"]) == 0
        assert len(DataMap.read_parquet(folder)) == 8
    assert (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("fails_at", [1, 2], ids=["texts", "map"])
def test_a_full_disk_during_overwrite_leaves_the_earlier_run_byte_identical(tmp_path, capsys, monkeypatch, disk_fills, fails_at):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTraining())
    out = tmp_path / "run"
    assert main(["train", str(_data(tmp_path, [f"a{i}" for i in range(8)], "a.jsonl")), "--out", str(out), "--quiet"]) == 0
    before = _files(out)
    disk_fills(at=fails_at)  # the texts are written first, then the map
    code = main(["train", str(_data(tmp_path, [f"b{i}" for i in range(6)], "b.jsonl")), "--out", str(out), "--quiet", "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "it was written to" in err
    assert _files(out) == before  # the earlier run, whole, and no temporary file
    assert main(["suspects", str(out), "--top", "3"]) == 0


def test_a_train_overwrite_that_really_fills_the_disk_keeps_the_earlier_run(tiny_disk, tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTraining())
    out = tiny_disk / "run"
    assert main(["train", str(_data(tmp_path, [f"a{i}" for i in range(8)], "a.jsonl")), "--out", str(out), "--quiet"]) == 0
    before = _files(out)
    big = _data(tmp_path, [f"b{i}" for i in range(20_000)], "b.jsonl")  # megabytes of map, on a 512 KiB disk
    assert main(["train", str(big), "--out", str(out), "--quiet", "--overwrite", "--top", "1"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _files(out) == before


def test_every_output_is_checked_before_training(tmp_path, capsys, monkeypatch):
    import torch

    import datamap_widget.train
    from datamap_widget import Store

    fake = FakeTraining()
    monkeypatch.setattr(datamap_widget.train, "fine_tune", fake)
    data = str(_data(tmp_path, [f"d{i}" for i in range(8)]))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    db = tmp_path / "maps.db"
    Store(db).close()
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cases = [
        (["--out", str(a_file)], f"--out {a_file} is a file"),
        (["--out", str(a_file / "sub")], "cannot be written"),
        (["--out", str(tmp_path / "o1"), "--store", read_only, "--dataset", "d"], "read-only"),
        (["--out", str(tmp_path / "o2"), "--device", "cuda"], "no cuda device is available on this machine"),
        (["--out", str(tmp_path / "o3"), "--device", "gpu7"], "'gpu7' is not a device torch knows"),
    ]
    for extra, said in cases:
        line = _one_line_error(*run_cli(["train", data, "--quiet", *extra], capsys))
        assert said in line, line
    assert fake.calls == 0, "training ran although an output was unusable"
    assert a_file.read_text() == "x"
    # With good outputs, the same command trains once and writes the folder.
    assert main(["train", data, "--quiet", "--out", str(tmp_path / "ok")]) == 0 and fake.calls == 1
    assert (tmp_path / "ok" / "datamap.parquet").exists()


def test_texts_cut_at_max_length_are_one_warning_line_in_the_commands_voice(trec_small, tmp_path, capsys):
    code, err = run_cli(["train", str(trec_small), "--out", str(tmp_path / "cut"), "--epochs", "1", "--max-length", "8", "--quiet"], capsys)
    assert code == 0
    warning = [line for line in err.splitlines() if "were cut" in line]
    assert len(warning) == 1 and warning[0].startswith("datamap: warning: ") and "max_length=8" in warning[0]
    assert "UserWarning" not in err and "fine_tune(" not in err  # no Python source location
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["settings"]["truncated_texts"] > 0


# ------------------------------------------------------------------ what the data holds, kept whole and shown safely (issue 27)

TITLE = "\x1b]0;TITLE\x07"  # retitles a terminal that prints it raw


def _odd_run(tmp_path, ids, label_names=None, texts=None):
    """A run folder whose ids, label names and texts are the given untrusted strings."""
    from tests.harness.maps import random_datamap

    folder = tmp_path / "run"
    folder.mkdir()
    dmap = random_datamap(len(ids), n_classes=len(label_names or [0, 1]), ids=np.array(ids, dtype=object), label_names=label_names)
    dmap.to_parquet(str(folder / "datamap.parquet"))
    texts = texts or [f"text {i}" for i in range(len(ids))]
    pd.DataFrame({"id": dmap.ids, "text": texts}).to_parquet(folder / "texts.parquet")
    return folder, dmap


def test_export_round_trips_any_id_and_label_through_pandas(tmp_path, capsys):
    """Item 5: a carriage return in an id gave 41 rows for 40 examples; a NUL was written raw."""
    ids = [f"e{i}" for i in range(34)] + ["cr\rin the middle", "nul\x00", "line\nbreak", 'quote " and, comma', "=HYPERLINK(1)", "NA"]
    names = ["neg\r", "=pos"]
    folder, dmap = _odd_run(tmp_path, ids, names)
    out = tmp_path / "labels.csv"
    assert main(["export", str(folder), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert len(pd.read_csv(out)) == 40  # the plain call counts the rows right
    back = pd.read_csv(out, dtype={"id": str, "label": str, "original_label": str}, keep_default_na=False)  # the README's call
    assert back["id"].tolist() == ids
    assert back["label"].tolist() == [names[c] for c in dmap.labels]
    # Formula-looking cells are written as they are (so they read back), with one warning line.
    assert err.count("datamap: warning: ") == 1 and "cell(s) start with =, +, - or @" in err
    assert main(["export", str(folder), "--out", str(out), "--excel-safe"]) == 0
    safe = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert safe["id"].tolist()[-2] == "'=HYPERLINK(1)" and not safe.isin(["=HYPERLINK(1)", "=pos"]).any().any()


def test_no_control_character_from_the_data_reaches_the_terminal(tmp_path, capsys, monkeypatch):
    """Item 6: an id or a text holding an escape sequence retitled the terminal."""
    ids = [f"plain{i}" for i in range(19)] + [TITLE]
    texts = [f"text {i}" for i in range(19)] + [f"tab\there{TITLE}\nnext line"]
    folder, _ = _odd_run(tmp_path, ids, texts=texts)
    assert main(["suspects", str(folder), "--top", "20"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\t" not in out
    assert "\\x1b]0;TITLE\\x07" in out and "tab\\there\\x1b]0;TITLE\\x07\\nnext line" in out
    assert len(out.strip().splitlines()) == 21  # a header and one line per suspect
    # Errors quote what was typed, escaped, on one line.
    line = _one_line_error(*run_cli(["suspects", str(tmp_path / f"gone{TITLE}")], capsys))
    assert "gone\\x1b]0;TITLE\\x07" in line
    with pytest.raises(SystemExit) as exit_:  # argparse's own refusal quotes the argument too
        main(["suspects", str(folder), f"extra{TITLE}"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "\x1b" not in err and "extra\\x1b" in err
    # CSV on a terminal shows the escapes; piped, it keeps the bytes.
    assert main(["suspects", str(folder), "--format", "csv"]) == 0
    assert TITLE in capsys.readouterr().out
    monkeypatch.setattr(type(sys.stdout), "isatty", lambda self: True, raising=False)
    assert main(["suspects", str(folder), "--format", "csv"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\\x1b]0;TITLE\\x07" in shown


# ------------------------------------------------------------------ clearer refusals (issue 27, item 9)


def _jsonl(tmp_path, lines, name="d.jsonl", encoding="utf-8"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding=encoding)
    return path


@pytest.mark.parametrize(
    "labels, said",
    [
        ([1, "1", 2, 2], "column 'label' holds 1 (int) and '1' (str), which would merge into one class '1'"),
        ([True, False, True, False], "column 'label' holds True/False; give the classes as names"),
    ],
)
def test_labels_that_would_merge_or_become_classes_are_refused_naming_them(tmp_path, capsys, labels, said):
    path = _jsonl(tmp_path, [{"text": f"text {i}", "label": label} for i, label in enumerate(labels)])
    out = tmp_path / "o"
    line = _one_line_error(*run_cli(["train", str(path), "--out", str(out)], capsys))
    assert said in line and not out.exists(), line


def test_a_jsonl_file_with_a_byte_order_mark_is_read(tmp_path):
    from datamap_widget.data import read_table

    rows = [{"id": i, "text": f"text {i}", "label": "xy"[i % 2]} for i in range(4)]
    frame = read_table(_jsonl(tmp_path, rows, encoding="utf-8-sig"))  # was "could not be read as JSONL"
    assert frame.columns.tolist() == ["id", "text", "label"] and frame["id"].tolist() == [0, 1, 2, 3]


def test_ctrl_c_while_the_command_loads_is_one_line_and_status_130(monkeypatch, capsys):
    import datamap_widget.cli as cli

    def interrupted():
        raise KeyboardInterrupt  # as if Ctrl-C landed while build_parser imported the training code

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["suspects", "x"]) == 130
    err = capsys.readouterr().err
    assert err == "datamap: interrupted\n"


@pytest.mark.slow
def test_train_on_long_texts_says_what_it_read_in_the_summary_and_the_run_record(tmp_path, capsys, verdict_last):
    texts, labels, ids = verdict_last(40)
    data = tmp_path / "long.jsonl"
    pd.DataFrame({"id": ids, "text": texts, "label": labels}).to_json(data, orient="records", lines=True)
    code = main(["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--max-length", "64", "--quiet", "--top", "3"])
    out, err = capsys.readouterr()
    assert code == 0
    from datamap_widget.train import DEFAULTS

    mode = DEFAULTS["long_text"]
    read_line = [line for line in out.splitlines() if line.startswith("read:")]
    assert read_line == [read_line[0]] and f"mode {mode}, max_length=64: 40 of 40 texts are longer" in read_line[0]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["settings"]["read"]["mode"] == mode and record["settings"]["read"]["texts"] == 40
    assert record["settings"]["text_view"] is False and record["settings"]["method"] == "confidence"
    dmap = DataMap.read_parquet(str(tmp_path / "run"))
    assert dmap.reading["mode"] == mode and dmap.text_probabilities is None
    code = main(["train", str(data), "--out", str(tmp_path / "run2"), "--epochs", "1", "--max-length", "64", "--quiet", "--top", "3", "--text-view", "on"])
    assert code == 0
    with_view = DataMap.read_parquet(str(tmp_path / "run2"))
    assert with_view.method == "confidence_text" and with_view.text_probabilities.shape == (40, 2)
    report = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "run"), "--output", str(report)]) == 0
    assert f"read: mode {mode}, max_length=64: 40 of 40 texts are longer" in report.read_text()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--long-text", "windows", "--stride", "126"], "stride=126 is not smaller than a window's 126 text tokens"),
        (["--long-text", "windows", "--max-windows", "0"], "max_windows must be an int >= 1"),
        (["--long-text", "windows", "--max-length", "1024"], "max_length=1024 is more than this model reads (512 tokens"),
    ],
)
def test_long_text_settings_that_cannot_work_are_one_line_and_leave_nothing_behind(tmp_path, capsys, flags, said):
    out = tmp_path / "never"
    code, err = run_cli(["train", str(_data(tmp_path, [f"d{i}" for i in range(8)])), "--out", str(out), "--quiet", *flags], capsys)
    assert code == 2 and err.count("datamap: error:") == 1 and said in err
    assert not out.exists()


def test_the_suspects_table_shows_no_suggestion_where_the_map_shows_none():
    """Issue 29.2: `datamap suspects` printed the given label as the suggestion where the map offers none."""
    from datamap_widget.cli import format_suspects

    rows = pd.DataFrame(
        {"label": ["a", "a", "b"], "suggested_label": ["b", "a", None], "mislabel_score": [0.9, 0.5, 0.1]},
        index=["x1", "x2", "x3"],
    )
    lines = format_suspects(rows).splitlines()
    assert [line.split()[3] for line in lines[1:]] == ["b", "—", "—"]


# ------------------------------------------------------------------------------ the projection, made in training


def _no_projection_code(monkeypatch):
    """Make any projection computation fail loudly: what follows must read a saved one."""
    import datamap_widget.projection as projection

    def refuse(*args, **kwargs):
        raise AssertionError("the projection was computed, not read from the run")

    monkeypatch.setattr(projection, "project", refuse)


@pytest.mark.slow
def test_a_trained_run_holds_its_projection_and_a_widget_opens_with_it(trained_run, monkeypatch):
    from datamap_widget.projection import resolve_method
    from datamap_widget.run import read_run

    run = json.loads((trained_run / "run.json").read_text())
    assert run["settings"]["projection"] == resolve_method(None) and run["timings"]["projection_s"] >= 0
    _no_projection_code(monkeypatch)
    for dmap in (DataMap.read_parquet(trained_run), read_run(trained_run).datamap):
        assert dmap.projection_method == resolve_method(None)
        assert np.isfinite(dmap.projection().to_numpy()).all()
    widget = read_run(trained_run).widget()
    assert widget.embedding_view["method"] == resolve_method(None) and widget.embedding_view["reason"] == ""
    assert len(np.frombuffer(widget.points["projection_x"], "<f4")) == 64


class FakeTrainingWithEmbeddings(FakeTraining):
    def __call__(self, texts, labels, ids, **settings):
        run = super().__call__(texts, labels, ids, **settings)
        if settings.get("embeddings", True):
            run.datamap.embeddings = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float16)
        return run


def test_train_makes_the_asked_projection_says_its_time_and_none_skips_it(tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTrainingWithEmbeddings())
    data = str(_data(tmp_path, [f"d{i}" for i in range(20)]))
    assert main(["train", data, "--out", str(tmp_path / "pca"), "--projection", "pca"]) == 0
    out = capsys.readouterr().out
    assert "made the pca projection of the embeddings in" in out
    _no_projection_code(monkeypatch)
    assert DataMap.read_parquet(tmp_path / "pca").projection_method == "pca"
    monkeypatch.undo()
    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTrainingWithEmbeddings())
    assert main(["train", data, "--out", str(tmp_path / "none"), "--projection", "none"]) == 0
    assert "projection" not in capsys.readouterr().out
    assert DataMap.read_parquet(tmp_path / "none").projection_method is None
    assert json.loads((tmp_path / "none" / "run.json").read_text())["settings"]["projection"] is None


def test_a_projection_that_cannot_be_made_is_refused_before_training(tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    fake = FakeTraining()
    monkeypatch.setattr(datamap_widget.train, "fine_tune", fake)
    data = str(_data(tmp_path, [f"d{i}" for i in range(8)]))
    line = _one_line_error(*run_cli(["train", data, "--out", str(tmp_path / "o"), "--projection", "umap", "--no-embeddings"], capsys))
    assert "--projection umap needs the embeddings" in line
    assert fake.calls == 0


def test_quiet_train_prints_only_where_the_run_went(tmp_path, capsys, monkeypatch):
    import datamap_widget.train

    monkeypatch.setattr(datamap_widget.train, "fine_tune", FakeTraining())
    data = str(_data(tmp_path, [f"d{i}" for i in range(8)]))
    assert main(["train", data, "--out", str(tmp_path / "q"), "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wrote {tmp_path / 'q' / 'datamap.parquet'}"), captured.out
    assert f"{tmp_path / 'q' / 'texts.parquet'}" in lines[0]  # every file of the run is named (api-user finding 8)
    assert "suspects" not in captured.out and "rank" not in captured.out
    assert captured.err == ""  # not even the "training on …" line
    # Without --quiet the table is there.
    assert main(["train", data, "--out", str(tmp_path / "loud")]) == 0
    captured = capsys.readouterr()
    assert "Top 20 suspects" in captured.out and "training on 8 examples" in captured.err
