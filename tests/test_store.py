"""Store: runs, cartography and the review log, on SQLite and on a real PostgreSQL server.

Every behavioural test runs on both backends (the PostgreSQL server is started by the test
set-up, tests/harness/postgres.py). What they check is what a user would notice: a map saved comes
back equal, a reviewed suspect does not come back, an acknowledged review survives a
crash, a conflicting relabel is refused instead of overwriting, an old store still opens,
and a broken URL or server gives a clear error with the password masked.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import datamap_widget
from datamap_widget import DataMap, ReviewConflict, ReviewSession, Store, StoreError, Tracker
from datamap_widget import store as store_module

REPO = Path(__file__).parents[1]
LABELS = ["ABBR", "DESC", "ENTY"]


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url: str):
    with Store(url) as opened:
        yield opened


def make_map(n: int = 30, int_ids: bool = False, suspects: tuple[int, ...] = (3, 7, 11), labels=None, seed: int = 0) -> DataMap:
    """A map whose ``suspects`` positions are learned as another class (the top suspects)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(100, 100 + n) if int_ids else np.array([f"doc-{i}" for i in range(n)])
    codes = np.arange(n) % len(LABELS) if labels is None else np.asarray(labels)
    tracker = Tracker(ids, np.asarray(LABELS, dtype=object)[codes].astype(str), label_names=LABELS)
    for _ in range(3):
        logits = rng.normal(scale=0.3, size=(n, len(LABELS)))
        logits[np.arange(n), codes] += 3.0
        for rank, pos in enumerate(suspects):  # more suspect first
            logits[pos, codes[pos]] -= 3.0
            logits[pos, (codes[pos] + 1) % len(LABELS)] += 4.0 + (len(suspects) - rank)
        tracker.record(ids, logits)
        tracker.end_epoch()
    return tracker.datamap()


def relabel(example_id, old, new, **extra) -> dict:
    return {"example_id": example_id, "action": "relabeled", "old_label": old, "new_label": new, **extra}


def confirm(example_id, label=None, **extra) -> dict:
    return {"example_id": example_id, "action": "confirmed", "old_label": label, **extra}


# ---------------------------------------------------------------------------------- runs


@pytest.mark.parametrize("int_ids", [False, True])
def test_saved_run_loads_back_equal_with_id_types(store: Store, int_ids: bool) -> None:
    dmap = make_map(int_ids=int_ids)
    run = store.save_run(dmap, "trec", model="minilm", settings={"epochs": np.int64(3)}, summary={"n": 30})
    back = store.load_run(run)
    assert back == dmap
    assert back.ids.dtype.kind == ("i" if int_ids else "O")  # str ids as Python str: memory follows their size
    pd.testing.assert_frame_equal(back.frame, dmap.frame)
    runs = store.runs()
    assert runs.loc[0, "settings"] == {"epochs": 3} and runs.loc[0, "summary"] == {"n": 30}
    assert runs.loc[0, "model"] == "minilm" and runs.loc[0, "n_examples"] == 30


def test_runs_latest_run_and_dataset_filter(store: Store) -> None:
    assert store.latest_run("trec") is None
    first = store.save_run(make_map(), "trec")
    other = store.save_run(make_map(), "sst2")
    second = store.save_run(make_map(seed=1), "trec")
    assert store.latest_run("trec") == second > first
    assert store.latest_run("sst2") == other
    assert store.runs("trec")["id"].tolist() == [first, second]
    assert store.runs()["dataset"].tolist() == ["trec", "sst2", "trec"]
    assert str(store.runs()["created_at"].dt.tz) == "UTC"


def test_load_unknown_run_and_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="run 42 is not in store"):
        store.load_run(42)
    with pytest.raises(TypeError, match="dmap must be a DataMap"):
        store.save_run(pd.DataFrame(), "trec")
    with pytest.raises(ValueError, match="dataset must be a non-empty str"):
        store.save_run(make_map(), "")
    with pytest.raises(ValueError, match="dataset 'trec' has no runs"):
        store.suspects("trec")


def test_bulk_write_of_100k_examples(store: Store) -> None:
    n, passes = 100_000, 4
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 1, (n, passes)).astype(np.float32)
    gold[5, 2] = np.nan  # a pass the example was not seen in
    trajectories = {
        "gold_prob": gold,
        "other_prob": (1 - gold) / 2,
        "margin": rng.normal(size=(n, passes)).astype(np.float32),
        "correct": (gold > 0.5).astype(np.float32),
        "argmax": rng.integers(0, 3, (n, passes)).astype(np.int16),
        "other_class": rng.integers(0, 3, (n, passes)).astype(np.int16),
    }
    trajectories["argmax"][5, 2] = -1
    dmap = DataMap(np.arange(n), rng.integers(0, 3, n), LABELS, trajectories)
    run = store.save_run(dmap, "big")
    back = store.load_run(run)
    assert back == dmap
    assert np.isnan(back.trajectories["gold_prob"][5, 2]) and back.trajectories["argmax"].dtype == np.int16
    assert len(store.suspects("big", frac=0.01)) == 1000


# ---------------------------------------------------------------------------------- reviews


def test_add_reviews_returns_ids_and_the_log_keeps_every_row(store: Store) -> None:
    run = store.save_run(make_map(int_ids=True), "trec")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    ids = store.add_reviews(
        "trec",
        [relabel(103, "ABBR", "DESC", reviewer="ana", at=at, run=run), confirm(np.int64(104), reviewer="bo")],
    )
    more = store.add_reviews("trec", [relabel(103, "DESC", "ENTY", at="2026-01-03T00:00:00Z")])
    assert len(ids) == 2 and ids[0] < ids[1] < more[0]
    log = store.reviews("trec")
    assert log["id"].tolist() == ids + more
    assert log["example_id"].tolist() == [103, 104, 103]
    assert log["example_id"].dtype == np.int64
    assert log["action"].tolist() == ["relabeled", "confirmed", "relabeled"]
    # a confirmation without labels records the label it confirmed
    assert log.loc[1, "old_label"] == "DESC" and log.loc[1, "new_label"] == "DESC"
    assert log.loc[0, "at"] == pd.Timestamp(at) and log.loc[0, "reviewer"] == "ana" and log.loc[0, "run"] == run
    assert log.loc[2, "run"] == run  # a row naming no run records the newest run when it was written
    assert store.reviews("other").empty
    store.add_reviews("fresh", [confirm("a", "x")])
    assert pd.isna(store.reviews("fresh").loc[0, "run"])  # a dataset without runs: none to record


def test_invalid_rows_are_refused_and_nothing_of_the_batch_is_written(store: Store) -> None:
    run = store.save_run(make_map(), "trec")
    store.save_run(make_map(), "sst2")
    good = relabel("doc-1", "DESC", "ENTY")
    cases = [
        ({"example_id": "doc-2", "action": "deleted"}, ValueError, r"rows\[1\]\['action'\] must be one of"),
        ({"example_id": "doc-2", "action": "relabeled"}, ValueError, "new_label'] is required"),
        ({"example_id": "doc-2", "action": "confirmed", "lable": "x"}, TypeError, "unknown key.*lable"),
        ({"example_id": 2.5, "action": "confirmed"}, TypeError, "example_id'] must be a str or int"),
        ({"example_id": "doc-2", "action": "confirmed", "at": "yesterday"}, ValueError, "ISO 8601"),
        ({"example_id": "doc-2", "action": "confirmed", "run": run + 1}, ValueError, "belongs to dataset 'sst2'"),
        ({"example_id": "doc-2", "action": "confirmed", "run": 999}, ValueError, "is not in the store"),
    ]
    for bad, kind, message in cases:
        with pytest.raises(kind, match=message):
            store.add_reviews("trec", [good, bad])
    with pytest.raises(TypeError, match="list of dicts"):
        store.add_reviews("trec", good)
    assert store.reviews("trec").empty
    assert store.add_reviews("trec", []) == []


def test_reviewed_suspects_do_not_resurface(store: Store) -> None:
    dmap = make_map()
    run = store.save_run(dmap, "trec")
    top = store.suspects("trec", top=3)
    assert top.index.tolist() == ["doc-3", "doc-7", "doc-11"]
    first, second, third = top.index
    store.add_reviews("trec", [confirm(first, run=run), relabel(second, top.loc[second, "label"], "ENTY", run=run)])
    store.add_reviews("trec", [{"example_id": third, "action": "skipped", "run": run}])
    assert store.reviewed_ids("trec") == {first, second}
    assert third in store.suspects("trec", top=3).index  # skipping is not reviewing
    assert store.suspects("trec", top=1).index.tolist() == [third]
    everything = store.suspects("trec", include_reviewed=True)
    assert everything.loc[[first, second], "reviewed"].all() and len(everything) == len(dmap)
    loaded = store.load_run(run)
    assert set(loaded.frame.index[loaded.frame["reviewed"]]) == {first, second}
    assert first not in loaded.suspects().index


def test_a_later_run_resurfaces_examples_whose_label_changed(store: Store) -> None:
    dmap = make_map()
    run = store.save_run(dmap, "trec")
    labels = dmap.frame["label"].astype(str)
    # doc-3 confirmed as is; doc-7 relabeled; doc-11 confirmed
    store.add_reviews("trec", [confirm("doc-3", run=run), relabel("doc-7", labels["doc-7"], "ABBR", run=run),
                               confirm("doc-11", run=run)])
    codes = dmap.labels.copy()
    codes[7] = LABELS.index("ABBR")  # retrained with the correction applied: stays reviewed
    codes[11] = (codes[11] + 1) % 3  # its label changed outside the review: resurfaces
    later = store.save_run(make_map(labels=codes), "trec")
    shown = store.suspects("trec", include_reviewed=True)
    assert shown.loc["doc-3", "reviewed"] and shown.loc["doc-7", "reviewed"]
    assert not shown.loc["doc-11", "reviewed"]
    assert "doc-11" in store.suspects("trec").index
    # the older run still hides all three
    assert store.suspects("trec", run=run, include_reviewed=True).loc[["doc-3", "doc-7", "doc-11"], "reviewed"].all()
    # a run saved later without the correction: doc-7's label differs from the one the review left
    uncorrected = store.save_run(make_map(labels=dmap.labels), "trec")
    shown = store.suspects("trec", run=uncorrected, include_reviewed=True)
    assert shown.loc["doc-3", "reviewed"] and not shown.loc["doc-7", "reviewed"]
    assert store.latest_run("trec") == uncorrected != later


def test_reviewed_in_names_the_reviewed_ids_of_a_datamap_and_leaves_it_as_it_was(store: Store) -> None:
    dmap = make_map()
    before = dmap.suspects()
    store.add_reviews("trec", [confirm("doc-3", "ABBR"), relabel("doc-7", "DESC", "ABBR"), confirm("doc-11", "ABBR")])
    marked = store.reviewed_in(dmap, "trec")
    # doc-11's given label is ENTY, not what its confirmation saw (ABBR): left unmarked
    assert dmap.frame["label"]["doc-11"] == "ENTY"
    assert marked == {"doc-3", "doc-7"}
    pd.testing.assert_frame_equal(dmap.suspects(), before)  # a review never changes a DataMap
    review = ReviewSession.for_map(dmap, reviewed=marked)
    assert dmap.suspects(top=1, review=review).index.tolist() == ["doc-11"]


def test_apply_reviews_is_deprecated_and_still_marks_a_datamap(store: Store) -> None:
    dmap = make_map()
    store.add_reviews("trec", [confirm("doc-3", "ABBR"), relabel("doc-7", "DESC", "ABBR"), confirm("doc-11", "ABBR")])
    with pytest.warns(DeprecationWarning, match=r"Store.apply_reviews is deprecated.*store.reviewed_in"):
        marked = store.apply_reviews(dmap, "trec")
    assert marked == {"doc-3", "doc-7"}
    assert dmap.suspects(top=1).index.tolist() == ["doc-11"]


def test_current_labels_follow_the_log_with_undo(store: Store) -> None:
    dmap = make_map(int_ids=True)
    store.save_run(dmap, "trec")
    base = dmap.frame["label"].astype(str)
    store.add_reviews("trec", [relabel(100, "ABBR", "DESC"), relabel(100, "DESC", "ENTY"), confirm(101, "DESC")])
    current = store.current_labels("trec")
    assert current.index.name == "id" and current.index.dtype == np.int64 and len(current) == len(dmap)
    assert current[100] == "ENTY" and current[101] == "DESC"
    assert (current.drop([100]) == base.drop([100])).all()
    store.add_reviews("trec", [{"example_id": 100, "action": "undo", "old_label": "ENTY", "new_label": "DESC"}])
    assert store.current_labels("trec")[100] == "DESC" and 100 in store.reviewed_ids("trec")
    store.add_reviews("trec", [{"example_id": 100, "action": "undo", "old_label": "DESC", "new_label": "ABBR"}])
    assert store.current_labels("trec")[100] == "ABBR" and 100 not in store.reviewed_ids("trec")
    # the first undo cancels 101's confirmation, the second has nothing left to undo and
    # does nothing: the confirmation after them counts
    store.add_reviews("trec", [{"example_id": 101, "action": "undo", "new_label": "DESC"},
                               {"example_id": 101, "action": "undo", "new_label": "DESC"}])
    assert 101 not in store.reviewed_ids("trec")
    store.add_reviews("trec", [confirm(101)])
    assert 101 in store.reviewed_ids("trec")
    # an explicit base, including ids the store never saw a run for
    explicit = store.current_labels("trec", base=pd.Series({100: "ABBR", 101: "ABBR", 555: "DESC"}))
    assert explicit.to_dict() == {100: "ABBR", 101: "DESC", 555: "DESC"}
    assert len(store.reviews("trec")) == 8  # append-only: every action is still in the log


def test_current_labels_without_a_run(store: Store) -> None:
    store.add_reviews("fresh", [relabel("a", "x", "y"), {"example_id": "b", "action": "skipped"}])
    assert store.current_labels("fresh").to_dict() == {"a": "y"}


# ---------------------------------------------------------------------------------- conflicts and crashes


def test_conflicting_relabel_is_reported_to_the_second_writer(url: str) -> None:
    with Store(url) as setup:
        setup.save_run(make_map(), "trec")
    ana, bo = Store(url), Store(url)
    try:
        seen = ana.current_labels("trec")["doc-4"]
        assert bo.current_labels("trec")["doc-4"] == seen
        ana.add_reviews("trec", [relabel("doc-4", seen, "ABBR", expected_label=seen)])
        with pytest.raises(ReviewConflict) as caught:
            bo.add_reviews("trec", [confirm("doc-5", expected_label="ENTY"),
                                    relabel("doc-4", seen, "ENTY", expected_label=seen)])
        assert isinstance(caught.value, ValueError)
        assert caught.value.ids == ["doc-4"] and caught.value.current == {"doc-4": "ABBR"}
        assert "doc-4" in str(caught.value)
        log = bo.reviews("trec")
        assert log["example_id"].tolist() == ["doc-4"]  # nothing of bo's batch was written
        assert bo.current_labels("trec")["doc-4"] == "ABBR"
        # with the current label, bo's write goes through
        bo.add_reviews("trec", [relabel("doc-4", "ABBR", "ENTY", expected_label="ABBR")])
        assert ana.current_labels("trec")["doc-4"] == "ENTY"
    finally:
        ana.close()
        bo.close()


def _python(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


WRITER = """
    import sys
    from datamap_widget import Store, ReviewConflict
    url, name, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store(url)
    done = 0
    i = 0
    while done < count:
        example = f"doc-{i % 10}"
        i += 1
        if mode == "checked":  # read-modify-write with the conflict check, retry on conflict
            current = store.current_labels("trec").get(example)
            new = name + str(i)
            try:
                ids = store.add_reviews("trec", [{"example_id": example, "action": "relabeled", "old_label": current,
                                                   "new_label": new, "expected_label": current, "reviewer": name}])
            except ReviewConflict:
                print("conflict", flush=True)
                continue
        else:
            ids = store.add_reviews("trec", [{"example_id": example, "action": "confirmed", "reviewer": name}])
        done += 1
        print(ids[0], flush=True)
"""


@pytest.mark.parametrize("mode", ["plain", "checked"])
def test_two_processes_reviewing_at_once_lose_no_action(url: str, mode: str) -> None:
    with Store(url) as setup:
        setup.save_run(make_map(), "trec")
    writers = [_python(WRITER, url, name, "40", mode) for name in ("ana", "bo")]
    acknowledged = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acknowledged += [int(line) for line in out.split() if line.isdigit()]
    assert len(acknowledged) == 80
    with Store(url) as store:
        log = store.reviews("trec")
        assert sorted(log["id"]) == sorted(acknowledged)
        assert log["reviewer"].value_counts().to_dict() == {"ana": 40, "bo": 40}
        if mode == "checked":
            # every relabel started from the label the previous one left: a chain, nothing overwritten
            for _, chain in log.groupby("example_id"):
                assert (chain["old_label"].iloc[1:].to_numpy() == chain["new_label"].iloc[:-1].to_numpy()).all()


KILLED = """
    import sys
    from datamap_widget import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        ids = store.add_reviews("trec", [{"example_id": f"doc-{i % 30}", "action": "confirmed", "reviewer": "ana"}])
        print(ids[0], flush=True)
        i += 1
"""


def test_writer_killed_mid_session_loses_nothing_it_acknowledged(url: str) -> None:
    with Store(url) as setup:
        setup.save_run(make_map(), "trec")
    proc = _python(KILLED, url)
    acknowledged = []
    try:
        while len(acknowledged) < 25:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            acknowledged.append(int(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(url) as store:
        stored = set(store.reviews("trec")["id"])
        assert set(acknowledged) <= stored
        store.add_reviews("trec", [confirm("doc-0")])  # the store is usable after the crash


# ---------------------------------------------------------------------------------- schema


def _v1_store(url: str) -> None:
    """A version-1 store written by hand (no datasets table, no reviews.id_type)."""
    from sqlalchemy import MetaData, create_engine, insert

    md = MetaData()
    tables = store_module._schema_v1(md)
    engine = create_engine(url)
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(insert(tables["meta"]).values(key="schema_version", value="1"))
        conn.execute(insert(tables["runs"]).values(
            id=1, dataset="old", created_at=datetime(2025, 1, 1, tzinfo=timezone.utc), model="m", settings={"epochs": 2},
            summary=None, id_type="int", label_names=["neg", "pos"], method="margin", thresholds={"confidence": 0.5,
            "variability": 0.2}, n_examples=2, n_passes=2,
            trajectory_layout=[[name, "<f4" if i < 4 else "<i2"] for i, name in enumerate(
                ["gold_prob", "other_prob", "margin", "correct", "argmax", "other_class"])],
        ))
        # per example: gold_prob, other_prob, margin, correct (2 passes, float32), argmax, other_class (int16)
        blobs = [np.array([0.9, 0.8, 0.1, 0.2, 2.0, 1.5, 1, 1], "<f4").tobytes() + np.array([1, 1, 0, 0], "<i2").tobytes(),
                 np.array([0.2, 0.3, 0.8, 0.7, -1.5, -1, 0, 0], "<f4").tobytes() + np.array([1, 1, 1, 1], "<i2").tobytes()]
        conn.execute(insert(tables["cartography"]), [
            {"run": 1, "example_id": "10", "position": 0, "label": "pos", "confidence": 0.9, "mislabel_score": 0.1,
             "n_passes": 2, "trajectories": blobs[0]},
            {"run": 1, "example_id": "11", "position": 1, "label": "neg", "confidence": 0.2, "mislabel_score": 0.8,
             "n_passes": 2, "trajectories": blobs[1]},
        ])
        conn.execute(insert(tables["reviews"]).values(
            dataset="old", example_id="11", action="relabeled", old_label="neg", new_label="pos", reviewer="ana",
            at=datetime(2025, 1, 2, tzinfo=timezone.utc), run=1))
    engine.dispose()


def test_a_store_of_an_older_schema_opens_and_migrates(url: str) -> None:
    _v1_store(url)
    with Store(url) as store:
        assert store.schema_version == store_module.SCHEMA_VERSION == 2
        dmap = store.load_run(1)
        assert dmap.ids.tolist() == [10, 11] and dmap.label_names == ["neg", "pos"]
        assert dmap.trajectories["gold_prob"].tolist() == [[pytest.approx(0.9), pytest.approx(0.8)],
                                                           [pytest.approx(0.2), pytest.approx(0.3)]]
        assert dmap.suspects(include_reviewed=True).index.tolist() == [11, 10]
        assert dmap.frame["reviewed"].tolist() == [False, True]
        assert store.reviews("old")["example_id"].tolist() == [11]  # old rows got their id type
        assert store.current_labels("old").to_dict() == {10: "pos", 11: "pos"}
        with pytest.raises(ReviewConflict):
            store.add_reviews("old", [relabel(11, "neg", "neg", expected_label="neg")])
        store.add_reviews("old", [relabel(11, "pos", "neg", expected_label="pos")])
        assert store.suspects("old", include_reviewed=True)["reviewed"].tolist() == [True, False]
    with Store(url) as again:  # opening a current store changes nothing
        assert len(again.reviews("old")) == 2


def test_a_store_of_a_newer_schema_is_refused(url: str) -> None:
    from sqlalchemy import create_engine, text

    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 99, written by a newer datamap_widget.*upgrade"):
        Store(url)


def test_a_database_that_is_not_a_store_is_refused(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE runs (name TEXT)"))
    engine.dispose()
    with pytest.raises(StoreError, match="not a datamap store"):
        Store(url)


# ---------------------------------------------------------------------------------- bad URLs and faults


def test_malformed_urls_give_a_store_error_with_the_password_masked() -> None:
    for bad, why in [
        ("postgresql+psycopg://ana:s3cret@localhost:notaport/db", "malformed store URL"),
        ("postgresql:/ana:s3cret@localhost/db", "malformed store URL"),
        ("nosuchdb://ana:s3cret@host/db", "unknown database kind"),
    ]:
        with pytest.raises(StoreError, match=why) as caught:
            Store(bad)
        assert "s3cret" not in str(caught.value)
    with pytest.raises(StoreError) as caught:
        Store("postgresql+psycopg://ana:s3cret@localhost:notaport/db")
    assert "ana:***@localhost" in str(caught.value)
    with pytest.raises(TypeError, match="url must be"):
        Store(42)


def test_unreachable_server_gives_a_store_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ana:s3cret@127.0.0.1:{port}/maps"
    with pytest.raises(StoreError, match="unreachable") as caught:
        Store(url)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "s3cret" not in message and "***" in message


def test_missing_database_on_a_running_server(postgres_server) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(postgres_server.url("no_such_database", password="s3cret"))


def test_read_only_store_reads_but_refuses_writes_clearly(tmp_path: Path) -> None:
    path = tmp_path / "maps.db"
    with Store(path) as store:
        store.save_run(make_map(), "trec")
        store.add_reviews("trec", [confirm("doc-3")])
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    with Store(read_only) as store:
        assert store.reviewed_ids("trec") == {"doc-3"}
        with pytest.raises(StoreError, match="read-only") as caught:
            store.add_reviews("trec", [confirm("doc-7")])
        assert str(path) in str(caught.value)
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    fresh.unlink()
    fresh.touch()
    with pytest.raises(StoreError, match="read-only"):
        Store(f"sqlite:///file:{fresh}?mode=ro&uri=true")  # needs to create tables, cannot
    # A file the OS will not let us write: permissions, or for root (who ignores them) the
    # immutable attribute where the file system and capabilities allow it.
    if os.geteuid() != 0:
        path.chmod(0o444)
        undo = None
    elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(path)]
    else:  # no way to protect a file from root here; mode=ro above covered the behaviour
        return
    try:
        with Store(path) as store:
            assert store.reviewed_ids("trec") == {"doc-3"}
            with pytest.raises(StoreError, match="read-only") as caught:
                store.add_reviews("trec", [confirm("doc-7")])
            assert str(path) in str(caught.value)
    finally:
        if undo:
            subprocess.run(undo, check=True)


def test_missing_folder_and_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nowhere" / "maps.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(junk)


def test_default_location_is_datamap_db_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAMAP_DB", raising=False)
    with Store() as store:
        store.save_run(make_map(), "trec")
    assert (tmp_path / "datamap.db").exists()
    monkeypatch.setenv("DATAMAP_DB", f"sqlite:///{tmp_path / 'env.db'}")
    with Store() as store:
        assert store.latest_run("trec") is None
    assert (tmp_path / "env.db").exists()


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.runs()


def test_public_names() -> None:
    for name in ("Store", "ReviewConflict", "StoreError"):
        assert name in datamap_widget.__all__
    assert issubclass(ReviewConflict, ValueError) and issubclass(StoreError, Exception)


# ---------------------------------------------------------------------------------- command line


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    from datamap_widget.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_suspects_from_the_store_leave_reviewed_out(url: str, tmp_path: Path, capsys) -> None:
    dmap = make_map()
    with Store(url) as store:
        store.save_run(dmap, "trec")
        store.add_reviews("trec", [confirm("doc-3")])
    code, out, err = _cli(capsys, "suspects", "--store", url, "--dataset", "trec", "--top", "2", "--format", "csv")
    assert code == 0, err
    assert pd.read_csv(io.StringIO(out))["id"].tolist() == ["doc-7", "doc-11"]
    code, out, _ = _cli(capsys, "suspects", "--store", url, "--dataset", "trec", "--top", "1", "--include-reviewed")
    assert code == 0 and "doc-3" in out
    # a run folder plus the store: the folder's map with the store's reviews applied
    folder = tmp_path / "run"
    folder.mkdir()
    dmap.to_parquet(str(folder / "datamap.parquet"))
    code, out, _ = _cli(capsys, "suspects", folder, "--store", url, "--dataset", "trec", "--top", "1", "--format", "csv")
    assert code == 0 and pd.read_csv(io.StringIO(out))["id"].tolist() == ["doc-7"]


def test_cli_export_writes_the_corrected_labels(url: str, tmp_path: Path, capsys) -> None:
    dmap = make_map(int_ids=True)
    with Store(url) as store:
        store.save_run(dmap, "trec")
        store.add_reviews("trec", [relabel(107, "DESC", "ABBR"), confirm(103)])
    out_csv = tmp_path / "labels.csv"
    code, out, err = _cli(capsys, "export", "--store", url, "--dataset", "trec", "--out", out_csv)
    assert code == 0, err
    assert "1 changed" in out
    table = pd.read_csv(out_csv)
    assert list(table.columns[:4]) == ["id", "label", "original_label", "changed"]
    assert table["id"].tolist() == dmap.ids.tolist()
    row = table.set_index("id").loc[107]
    assert (row["label"], row["original_label"], bool(row["changed"])) == ("ABBR", "DESC", True)
    assert table["changed"].sum() == 1 and set(table.loc[table["reviewed"], "id"]) == {103, 107}
    original = dmap.frame["label"].astype(str)
    assert (table.set_index("id").drop(107)["label"] == original.drop(107)).all()


def test_cli_export_from_a_run_folder_without_a_store(tmp_path: Path, capsys) -> None:
    dmap = make_map()
    folder = tmp_path / "run"
    folder.mkdir()
    dmap.to_parquet(str(folder / "datamap.parquet"))
    code, _, err = _cli(capsys, "export", folder, "--out", tmp_path / "labels.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "labels.csv")
    assert table["label"].tolist() == dmap.frame["label"].astype(str).tolist()
    assert not table["changed"].any() and table["id"].tolist() == dmap.ids.tolist()


def test_cli_store_errors_are_usage_errors(tmp_path: Path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'maps.db'}"
    cases = [
        (["suspects", "--store", db], "--store needs --dataset"),
        (["suspects"], "give RUN"),
        (["export", "--out", tmp_path / "x.csv"], "give RUN"),
        (["suspects", "--store", db, "--dataset", "none"], "dataset 'none' has no runs"),
        (["export", "--store", db, "--dataset", "none", "--out", tmp_path / "x.csv"], "dataset 'none' has no runs"),
        (["suspects", "--store", "postgresql:/ana:s3cret@host/db", "--dataset", "d"], "malformed store URL"),
        (["export", "--store", tmp_path / "no" / "such.db", "--dataset", "d", "--out", "-"], "does not exist"),
        # checked before training starts: this would otherwise fine-tune first
        (["train", "--sample", "--out", tmp_path / "run", "--store", "nosuchdb://x", "--dataset", "d"],
         "unknown database kind"),
    ]
    for argv, message in cases:
        code, _, err = _cli(capsys, *argv)
        assert code == 2 and message in err and err.startswith("datamap: error:"), (argv, err)
        assert "s3cret" not in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_train_saves_the_run_to_the_store(tmp_path: Path, capsys) -> None:
    data = Path(__file__).parent / "data" / "trec.jsonl"  # committed: see tests/data/README.md
    rows = pd.read_json(data, lines=True).head(40)
    rows[["id", "text", "label"]].to_json(tmp_path / "small.jsonl", orient="records", lines=True)
    db = f"sqlite:///{tmp_path / 'maps.db'}"
    code, out, err = _cli(capsys, "train", tmp_path / "small.jsonl", "--out", tmp_path / "run", "--epochs", "2",
                          "--quiet", "--store", db, "--dataset", "trec-small")
    assert code == 0, err
    assert "saved run 1 of dataset 'trec-small'" in out
    with Store(db) as store:
        assert store.latest_run("trec-small") == 1
        assert store.load_run(1) == DataMap.read_parquet(str(tmp_path / "run" / "datamap.parquet"))
        assert store.runs().loc[0, "settings"]["epochs"] == 2


def test_expected_label_of_an_example_the_store_knows_no_label_for_is_accepted(store: Store) -> None:
    # no run saved: nothing to conflict with, the widget's first write goes through
    assert store.add_reviews("fresh", [relabel("a", "x", "y", expected_label="x")])
    with pytest.raises(ReviewConflict):  # from now on the store knows "y"
        store.add_reviews("fresh", [relabel("a", "x", "z", expected_label="x")])


def test_missing_postgres_binaries_fail_the_tests_naming_the_setup_script(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.harness import HarnessError, postgres

    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    # the harness raises PostgresUnavailable; the postgres_server fixture (conftest.py) fails on it, never skips
    with pytest.raises(postgres.PostgresUnavailable, match=r"scripts/setup\.sh --test"):
        postgres.find_binaries()
    assert issubclass(postgres.PostgresUnavailable, HarnessError) and not issubclass(postgres.PostgresUnavailable, pytest.skip.Exception)


def test_string_ids_that_look_like_numbers_stay_strings(store: Store) -> None:
    ids = np.array(["007", "7", "0x1"])
    trajectories = {name: np.full((3, 2), 0.5, np.float32) for name in ("gold_prob", "other_prob", "margin", "correct")}
    trajectories.update({name: np.zeros((3, 2), np.int16) for name in ("argmax", "other_class")})
    dmap = DataMap(ids, [0, 1, 0], ["neg", "pos"], trajectories)
    run = store.save_run(dmap, "codes")
    assert store.load_run(run).ids.tolist() == ["007", "7", "0x1"]
    store.add_reviews("codes", [relabel("007", "neg", "pos")])
    assert store.reviews("codes")["example_id"].tolist() == ["007"]
    assert store.current_labels("codes").to_dict() == {"007": "pos", "7": "pos", "0x1": "neg"}
    assert store.reviewed_ids("codes") == {"007"}


# ---------------------------------------------------------------------------------- hostile text and credentials


@pytest.mark.parametrize("bad, why", [("a\x00b", "NUL character"), ("a\ud800b", "lone surrogate")])
def test_nul_and_lone_surrogates_are_refused_alike_on_both_backends(store: Store, bad: str, why: str) -> None:
    store.save_run(make_map(), "trec")
    before = store.reviews("trec")
    attempts = {
        "dataset": lambda: store.save_run(make_map(), bad),
        r"rows\[0\]\['example_id'\]": lambda: store.add_reviews("trec", [confirm(bad)]),
        r"rows\[0\]\['new_label'\]": lambda: store.add_reviews("trec", [relabel("doc-1", "DESC", bad)]),
        r"rows\[0\]\['reviewer'\]": lambda: store.add_reviews("trec", [confirm("doc-1", reviewer=bad)]),
        "model": lambda: store.save_run(make_map(), "trec", model=bad),
    }
    for where, attempt in attempts.items():
        with pytest.raises(ValueError, match=f"{where} holds a {why}"):
            attempt()
    ids = np.array([f"doc-{i}" for i in range(30)], dtype=object)
    ids[17] = bad
    dmap = make_map()
    if why == "lone surrogate":  # DataMap() itself refuses it now, naming it (issue 27), before any store
        with pytest.raises(ValueError, match=r"ids has an id that is not valid Unicode text: 'a\\ud800b'"):
            DataMap(ids, dmap.labels, dmap.label_names, dmap.trajectories)
    else:
        dmap = DataMap(ids, dmap.labels, dmap.label_names, dmap.trajectories)
        with pytest.raises(ValueError, match=rf"dmap.ids\[17\] holds a {why}"):
            store.save_run(dmap, "trec")
    # Nothing was written by any refused call; the store still works.
    assert len(store.runs("trec")) == 1 and len(store.reviews("trec")) == len(before)
    store.add_reviews("trec", [confirm("doc-1")])


def test_dataset_names_have_the_same_length_limit_on_both_backends(store: Store) -> None:
    longest = "d" * store_module.MAX_DATASET_LENGTH
    run = store.save_run(make_map(), longest)
    assert store.load_run(run) is not None and store.latest_run(longest) == run
    for call in (lambda: store.save_run(make_map(), longest + "x"), lambda: store.add_reviews(longest + "x", [confirm("doc-1")])):
        with pytest.raises(ValueError, match="dataset must be at most 255 characters, got 256"):
            call()


INJECTION_NAMES = ["trec'; DROP TABLE runs; --", 'quo"te', "back\\slash", "per%cent_under", "ünï ✓ 名前", " spaced "]


def test_injection_shaped_dataset_names_round_trip_exactly(store: Store) -> None:
    for name in INJECTION_NAMES:
        run = store.save_run(make_map(), name)
        store.add_reviews(name, [relabel("doc-3", None, "ABBR", reviewer=name)])
        assert store.latest_run(name) == run
        assert store.reviews(name)["reviewer"].tolist() == [name]
    assert sorted(store.runs()["dataset"]) == sorted(INJECTION_NAMES)
    assert store.runs("per_cent_under").empty  # LIKE-style wildcards match nothing else


def test_a_corrupted_schema_version_row_is_a_clear_store_error(url: str) -> None:
    from sqlalchemy import create_engine, text

    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = 'two' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version in table 'meta' is 'two', not a version number: the store is damaged"):
        Store(url)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://ana:p@ss@db.example:5432/maps", "postgresql://ana:***@db.example:5432/maps"),
        ("postgresql://ana:a@b@c:d@db.example/maps", "postgresql://ana:***@db.example/maps"),
        ("postgresql://ana:pa%40ss@db.example/maps", "postgresql://ana:***@db.example/maps"),
        ("sqlite:////tmp/a@b/maps.db", "sqlite:////tmp/a@b/maps.db"),
        ("postgresql://ana@db.example/maps", "postgresql://ana@db.example/maps"),
    ],
)
def test_masked_urls_show_no_part_of_a_password_holding_an_at_sign(url: str, shown: str) -> None:
    assert store_module._mask(url) == shown


@pytest.mark.postgres
def test_a_password_with_an_unencoded_at_sign_is_used_whole_and_never_shown(postgres_server) -> None:
    url = postgres_server.url("no_such_database", password="p@ss@word").replace("+psycopg", "")
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    # The server was reached with the whole password (a host 'ss@word@127.0.0.1' would be unreachable).
    assert "does not exist" in message and "unreachable" not in message
    for part in ("p@ss", "ss@word", "word@"):
        assert part not in message, message


@pytest.mark.postgres
def test_refused_credentials_are_named_not_called_unreachable(postgres_server) -> None:
    import psycopg

    admin = f"host=127.0.0.1 port={postgres_server.port} user={postgres_server.user} dbname=postgres"
    role = "pw_" + os.urandom(4).hex()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-one'")
    hba = Path(postgres_server.data_dir) / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        base = f"postgresql://{{}}@127.0.0.1:{postgres_server.port}/{{}}"
        cases = {
            base.format(f"{role}:wrong-one", "postgres"): "refused the user name or password",
            base.format("nobody_here:x", "postgres"): r"no such user \(role\)",
            base.format(f"{postgres_server.user}:x", "no_such_db"): "database does not exist on that server",
        }
        for url, cause in cases.items():
            with pytest.raises(StoreError, match=cause) as caught:
                Store(url)
            assert "unreachable" not in str(caught.value) and "wrong-one" not in str(caught.value)
        # The set-up really checks passwords for this role: the right one gets in.
        with psycopg.connect(f"host=127.0.0.1 port={postgres_server.port} user={role} password=right-one dbname=postgres"):
            pass
    finally:
        hba.write_text(original)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE {role}")


# ---------------------------------------------------------------------------------- probes that passed, kept under test

RACER = """
    import sys
    from datamap_widget import Store, ReviewConflict
    url, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(url)
    for r in range(rounds):
        seen = store.current_labels("trec")["doc-4"]
        print("ready", flush=True)
        sys.stdin.readline()  # the parent releases both writers at once
        try:
            store.add_reviews("trec", [{"example_id": "doc-4", "action": "relabeled", "old_label": seen,
                                        "new_label": f"{name}{r}", "expected_label": seen, "reviewer": name}])
            print("ok", flush=True)
        except ReviewConflict:
            print("conflict", flush=True)
"""


def test_two_writers_relabeling_one_example_get_one_success_and_one_conflict(url: str) -> None:
    with Store(url) as setup:
        setup.save_run(make_map(), "trec")
    rounds = 4
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RACER), url, name, str(rounds)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
             for name in ("ana", "bo")]
    try:
        for _ in range(rounds):
            for proc in procs:
                assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            outcomes = sorted(proc.stdout.readline().strip() for proc in procs)
            assert outcomes == ["conflict", "ok"], outcomes
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(timeout=60)
            proc.stdout.close()
            proc.stderr.close()
    with Store(url) as store:
        log = store.reviews("trec")
        assert len(log) == rounds  # one relabel per round, each from the label the previous one left
        assert (log["old_label"].iloc[1:].to_numpy() == log["new_label"].iloc[:-1].to_numpy()).all()


SAVER = """
    import sys
    import numpy as np
    from datamap_widget import DataMap, Store, metrics
    n = int(sys.argv[2])
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, n)
    steps = [metrics.batch_statistics(rng.normal(size=(n, 3)).astype(np.float32), labels) for _ in range(3)]
    traj = {k: np.stack([s[k] for s in steps], axis=1) for k in metrics.TRAJECTORY_FIELDS}
    dmap = DataMap(np.array([f"doc-{i}" for i in range(n)]), labels, ["a", "b", "c"], traj)
    store = Store(sys.argv[1])
    while True:
        print("saving", flush=True)
        print(store.save_run(dmap, "big"), flush=True)
"""


def test_a_writer_killed_during_save_run_leaves_no_half_written_run(url: str) -> None:
    n = 40_000
    acknowledged: list[int] = []
    rng = np.random.default_rng(1)
    for _ in range(3):
        proc = _python(SAVER, url, str(n))
        try:
            while True:  # wait until a save has started, then kill it part-way
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                if line.strip() == "saving":
                    break
            import time

            time.sleep(float(rng.uniform(0.05, 0.6)))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            acknowledged += [int(x) for x in proc.stdout.read().split() if x.isdigit()]
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
    with Store(url) as store:
        runs = store.runs("big")
        assert set(acknowledged) <= set(runs["id"])
        for run_id in runs["id"]:  # every run there is whole
            assert len(store.load_run(int(run_id))) == n
        store.save_run(make_map(), "big")  # and the store still takes writes


def test_a_mind_changed_twice_b_to_c_to_a_stays_reviewed(store: Store) -> None:
    """Issue 17.3: relabel b→c, then c→a; the run that had b must not rank it as unreviewed again."""
    dmap = make_map()
    run = store.save_run(dmap, "trec")
    given = dmap.frame["label"].astype(str)["doc-3"]
    others = [name for name in LABELS if name != given]
    store.add_reviews("trec", [relabel("doc-3", given, others[0], run=run)])
    store.add_reviews("trec", [relabel("doc-3", others[0], others[1], run=run)])
    assert "doc-3" in store.reviewed_ids("trec")
    assert "doc-3" not in store.suspects("trec").index
    assert store.suspects("trec", include_reviewed=True).loc["doc-3", "reviewed"]
    assert "doc-3" not in store.load_run(run).suspects().index
    fresh = make_map()
    assert "doc-3" in store.reviewed_in(fresh, "trec", run=run)
    # the same rule from a run saved later without the correction: it resurfaces (label differs from the review's)
    later = store.save_run(make_map(), "trec")
    assert "doc-3" in store.suspects("trec", run=later).index


def test_a_review_in_the_same_second_as_save_run_counts(store: Store) -> None:
    """Issue 17.4: review times cut to whole seconds must not make a review look older than the run."""
    dmap = make_map()
    run = store.save_run(dmap, "trec")
    created = store.runs("trec").set_index("id").loc[run, "created_at"]
    same_second = created.floor("s").to_pydatetime()  # what a clock with second resolution wrote
    given = dmap.frame["label"].astype(str)["doc-3"]
    new = next(name for name in LABELS if name != given)
    store.add_reviews("trec", [relabel("doc-3", given, new, at=same_second)])  # no run named
    assert "doc-3" not in store.suspects("trec").index
    assert store.reviews("trec")["run"].tolist() == [run]


def test_uint64_ids_from_2_63_and_nul_ended_str_ids_load_back_exactly(store: Store) -> None:
    """Issue 17.7 through the store: ids come back as the tracker kept them (no overflow, no lost NUL)."""
    from datamap_widget import Tracker

    nul = Tracker(["a", "a\x00"], [0, 1])
    for _ in range(2):
        nul.record(["a", "a\x00"], np.array([[2.0, 0.0], [0.0, 2.0]]))
        nul.end_epoch()
    with pytest.raises(ValueError, match="NUL"):  # PostgreSQL cannot hold it: refused alike, not a duplicate id
        store.save_run(nul.datamap(), "nul")
    for ids in (np.array([2**63, 2**64 - 1, 5], dtype=np.uint64), ["a", "b", "y" * 5_000]):
        tracker = Tracker(ids, [0, 1, 0])
        for _ in range(2):
            tracker.record(ids, np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]]))
            tracker.end_epoch()
        name = f"ids-{type(ids).__name__}"
        run = store.save_run(tracker.datamap(), name)
        back = store.load_run(run)
        assert list(back.ids) == list(tracker.datamap().ids)
        first = back.ids[0]
        store.add_reviews(name, [{"example_id": int(first) if not isinstance(first, str) else first, "action": "confirmed"}])
        assert store.reviewed_ids(name) == {first}
        assert first not in store.suspects(name, include_reviewed=False).index
