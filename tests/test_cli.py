"""The `datamap` command, run in-process: a real tiny training run and every bad-input path."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from datamap_widget import DataMap
from datamap_widget.cli import main
from datamap_widget.data import load_sample

# Committed with the tests (see tests/data/README.md), so a clone alone runs them.
TREC = Path(__file__).resolve().parent / "data" / "trec.jsonl"


@pytest.fixture(scope="module")
def trec_small(tmp_path_factory):
    """64 real TREC questions (train split) as JSONL."""
    rows = pd.read_json(TREC, lines=True)
    rows = rows[rows["split"] == "train"].head(64)
    path = tmp_path_factory.mktemp("data") / "trec64.jsonl"
    rows.to_json(path, orient="records", lines=True)
    return path


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
