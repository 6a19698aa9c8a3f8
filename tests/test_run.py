"""The run folder (run.py): written whole or not at all, never over another run unless asked, read back with its texts."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.harness.maps import random_datamap

from datamap_widget import DataMap
from datamap_widget.run import RUN_FILES, RunFolderError, read_run, run_files, write_run


def _write(folder, n=20, seed=0, **kwargs):
    dmap = random_datamap(n, seed=seed)
    write_run(folder, dmap, [f"text {i} of run {seed}" for i in range(n)], {"settings": {"seed": seed}}, **kwargs)
    return dmap


def _contents(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_written_run_reads_back_with_its_texts_and_record(tmp_path):
    dmap = _write(tmp_path / "run")
    run = read_run(tmp_path / "run")
    assert run.datamap == dmap and run.record == {"settings": {"seed": 0}}
    assert run.texts["ex3"] == "text 3 of run 0" and run.texts.index.name == "id"
    dmap_again, texts, record = read_run(str(tmp_path / "run"))  # also a plain (map, texts, record) tuple
    assert dmap_again == dmap and texts.equals(run.texts) and record == run.record
    assert sorted(run_files(tmp_path / "run")) == sorted(RUN_FILES)


def test_a_run_folder_opens_in_the_widget_with_its_texts(tmp_path):
    pytest.importorskip("anywidget")
    _write(tmp_path / "run")
    widget = read_run(tmp_path / "run").widget(color_by="category")
    assert widget.has_text and widget.color_by == "category"
    assert widget._texts_series[3] == "text 3 of run 0"  # row 3 of the map is ex3


def test_a_run_trained_from_renamed_columns_applies_to_the_users_own_frame(tmp_path):
    # `datamap train reviews.csv --text-column review --label-column sentiment --id-column doc_id`:
    # the run knows its columns, so read_run(folder).widget().apply(df) on that same file
    # needs no id_column= / label_column= (it used to look for 'id' and 'label').
    pytest.importorskip("anywidget")
    n = 20
    dmap = random_datamap(n, ids=[1000 + i for i in range(n)], label_names=["neg 👎", "very positive", "meh"])
    columns = {"text": "review", "label": "sentiment", "id": "doc_id"}
    write_run(tmp_path / "run", dmap, [f"review {i}" for i in range(n)], {"columns": columns})
    widget = read_run(tmp_path / "run").widget()
    widget.relabel([1003], "very positive")
    names = list(dmap.label_names)
    df = pd.DataFrame({"doc_id": range(1000, 1000 + n), "review": [f"review {i}" for i in range(n)],
                       "sentiment": [names[c] for c in dmap.labels]})
    fixed = widget.apply(df)
    assert fixed.loc[fixed.doc_id == 1003, "sentiment"].item() == "very positive"
    assert (fixed.sentiment != df.sentiment).sum() == (0 if names[dmap.labels[3]] == "very positive" else 1)
    assert widget.has_text and widget._texts_series[3] == "review 3"
    # A run without a record keeps the defaults; explicit keywords still win.
    explicit = read_run(tmp_path / "run").widget(id_column="key")
    with pytest.raises(ValueError, match="no column 'key'"):
        explicit.apply(df.assign(sentiment=df.sentiment), label_column="sentiment")


def test_a_second_run_is_refused_unless_overwrite_and_then_replaces_the_first(tmp_path):
    folder = tmp_path / "run"
    _write(folder)
    before = _contents(folder)
    with pytest.raises(FileExistsError, match="already holds a run .*overwrite=True"):
        _write(folder, seed=1)
    assert _contents(folder) == before
    second = _write(folder, seed=1, overwrite=True)
    assert read_run(folder).datamap == second and read_run(folder).record["settings"]["seed"] == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)  # no temporary file left


@pytest.mark.parametrize("fails_at", [1, 2], ids=["texts", "map"])
def test_a_run_that_fails_halfway_leaves_the_earlier_run_byte_identical(tmp_path, disk_fills, fails_at):
    folder = tmp_path / "run"
    _write(folder)
    before = _contents(folder)
    fake = disk_fills(at=fails_at)  # the texts are written first, then the map
    with pytest.raises(OSError, match="No space left"):
        _write(folder, n=30, seed=1, overwrite=True)
    assert fake.calls == fails_at
    assert _contents(folder) == before
    assert read_run(folder).datamap == random_datamap(20)


def test_a_run_that_fails_into_a_new_folder_leaves_no_run_files(tmp_path, disk_fills):
    folder = tmp_path / "run"
    disk_fills(at=2)
    with pytest.raises(OSError, match="No space left"):
        _write(folder)
    assert list(folder.iterdir()) == []  # not a truncated datamap.parquet that reads as "damaged"
    with pytest.raises(RunFolderError, match="not a run folder: datamap.parquet is missing"):
        read_run(folder)


def test_a_run_folder_may_hold_other_files_and_they_are_kept(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert run_files(folder) == []
    _write(folder)
    _write(folder, seed=1, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"


def test_texts_must_be_one_per_example():
    with pytest.raises(ValueError, match="texts has 2 entries but the map has 20 examples"):
        write_run("unused", random_datamap(20), ["a", "b"], {})


def test_read_run_names_what_is_wrong(tmp_path):
    with pytest.raises(RunFolderError, match="is not a run folder: it does not exist"):
        read_run(tmp_path / "nope")
    _write(tmp_path / "run")
    (tmp_path / "run" / "run.json").write_text(json.dumps([1]))
    with pytest.raises(RunFolderError, match="run.json holds a JSON list"):
        read_run(tmp_path / "run")


def test_a_run_folder_written_on_a_disk_that_really_fills_keeps_the_earlier_run(tiny_disk):
    folder = tiny_disk / "run"
    first = _write(folder)
    before = _contents(folder)
    with pytest.raises(OSError):
        _write(folder, n=20_000, seed=1, overwrite=True)  # megabytes, on a 512 KiB disk
    assert _contents(folder) == before and read_run(folder).datamap == first
    assert isinstance(DataMap.read_parquet(folder), DataMap)
