"""One model across processes: the pass shared out among ranks, and `datamap train` under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap_widget.checkpoint import CHECKPOINT_FILE
from datamap_widget.parallel import Ranks, shard_steps
from datamap_widget.run import read_run, run_files

ROOT = Path(__file__).resolve().parent.parent
TREC = ROOT / "tests" / "data" / "trec.jsonl"


@pytest.mark.parametrize("n_batches, world", [(5, 2), (6, 2), (7, 3), (2, 4), (1, 1)])
def test_every_batch_of_a_pass_goes_to_exactly_one_rank_and_the_ranks_take_as_many_steps(n_batches, world):
    sizes = [4] * (n_batches - 1) + [3]
    starts = np.cumsum([0] + sizes)
    batches = [np.arange(starts[i], starts[i + 1]) for i in range(n_batches)]
    shares = [shard_steps(batches, Ranks(rank, world, rank)) for rank in range(world)]
    assert len({len(share) for share in shares}) == 1  # every rank joins every step's all-reduce
    trained = [rows for share in shares for rows, _ in share if rows is not None]
    assert sorted(np.concatenate(trained).tolist()) == list(range(sum(sizes)))  # once each, none padded
    for step in range(len(shares[0])):
        total = {share[step][1] for share in shares}
        in_step = sum(len(share[step][0]) for share in shares if share[step][0] is not None)
        assert total == {in_step}  # each rank weights its loss by the step's real rows


def torchrun(args: list[str], logs: Path, die_on_rank: int | None = None) -> subprocess.CompletedProcess:
    """`datamap train` as 2 gloo processes on the CPU, each rank's output in its own log files."""
    worker = [str(ROOT / "tests" / "ddp_cli_worker.py")]
    if die_on_rank is not None:
        worker += ["--die-on-rank", str(die_on_rank)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "--log-dir", str(logs), "--redirects", "3", *worker, "train", *args]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)


def rank_output(logs: Path, rank: int) -> str:
    return "".join(p.read_text() for p in sorted(logs.glob(f"*/attempt_0/{rank}/std*.log")))


@pytest.fixture(scope="module")
def data18(tmp_path_factory):
    """18 texts in batches of 4: 5 batches, so rank 1 has none in the last step of each pass."""
    rows = pd.read_json(TREC, lines=True)
    path = tmp_path_factory.mktemp("data") / "trec18.jsonl"
    rows[rows["split"] == "train"].head(18).to_json(path, orient="records", lines=True)
    return path


TRAIN = ["--epochs", "2", "--batch-size", "4", "--max-length", "32", "--top", "3"]


@pytest.fixture(scope="module")
def two_process_run(data18, tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    done = torchrun([str(data18), "--out", str(base / "run"), *TRAIN], base / "logs")
    assert done.returncode == 0, done.stdout + done.stderr
    return base


@pytest.mark.slow
def test_train_under_torchrun_trains_one_model_and_rank_0_alone_writes_one_run(two_process_run, data18):
    run = read_run(two_process_run / "run")
    assert run_files(two_process_run / "run") == ["datamap.parquet", "run.json", "texts.parquet"]  # checkpoint removed
    frame = run.datamap.frame
    assert len(frame) == 18 and (frame["n_passes"] == 2).all()  # every example in every pass
    assert np.isfinite(run.datamap.embeddings.astype(np.float32)).all()  # rank 1's examples' too
    assert run.record["world_size"] == 2 and run.record["settings"]["world_size"] == 2
    assert "Top 3 suspects" in rank_output(two_process_run / "logs", 0)
    assert rank_output(two_process_run / "logs", 1) == ""  # rank 1 prints nothing


@pytest.mark.slow
def test_a_rank_that_dies_fails_the_run_which_resumes_to_the_map_of_the_run_never_interrupted(two_process_run, data18, tmp_path):
    out = tmp_path / "run"
    died = torchrun([str(data18), "--out", str(out), *TRAIN], tmp_path / "logs", die_on_rank=1)
    assert died.returncode != 0
    assert run_files(out) == [CHECKPOINT_FILE]  # no run written, the first pass kept
    resumed = torchrun([str(data18), "--out", str(out), *TRAIN, "--resume"], tmp_path / "logs2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    whole, again = read_run(two_process_run / "run").datamap, read_run(out).datamap
    for name, values in whole.trajectories.items():  # bitwise: same ranks, same steps, restored RNG per rank
        np.testing.assert_array_equal(values, again.trajectories[name], err_msg=name)
    assert json.loads((out / "run.json").read_text())["checkpoint"]["resumed_after_pass"] == 1


@pytest.mark.slow
def test_windows_under_torchrun_pool_each_text_once_per_pass_wherever_its_windows_trained(data18, tmp_path):
    # 12 tokens a window: most questions are several windows, spread over both ranks.
    args = [str(data18), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4", "--max-length", "12",
            "--long-text", "windows", "--stride", "4", "--top", "3"]  # fmt: skip
    done = torchrun(args, tmp_path / "logs")
    assert done.returncode == 0, done.stdout + done.stderr
    run = read_run(tmp_path / "run")
    assert (run.datamap.frame["n_passes"] == 1).all() and np.isfinite(run.datamap.embeddings.astype(np.float32)).all()
    assert run.record["settings"]["read"]["units_per_text"] > 1.2 and run.record["world_size"] == 2
