"""Shared fixtures: thin wrappers over tests/harness (the PostgreSQL server: tests/harness/postgres.py)."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import subprocess

from pathlib import Path

import numpy as np
import pytest

from tests.harness import HarnessError
from tests.harness.postgres import PostgresServer, postgres_server as start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """A PostgreSQL server started for this test session (see tests/harness/postgres.py).
    Missing binaries fail the tests, never skip them."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_postgres())
        except HarnessError as error:
            pytest.fail(str(error), pytrace=False)
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A URL to a fresh, empty database on the session's server, dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


class DiskFills:
    """Stands in for ``pyarrow.parquet.write_table`` (which DataMap.to_parquet and pandas call).

    Parquet writes number ``at`` to ``at + times - 1`` fail as on a full disk: half the file
    reaches the disk, then OSError ENOSPC. The others are written as usual.
    """

    def __init__(self, real, at: int = 1, times: int = 1):
        self.real, self.at, self.times, self.calls = real, at, times, 0

    def __call__(self, table, where, *args, **kwargs):
        self.calls += 1
        if not self.at <= self.calls < self.at + self.times:
            return self.real(table, where, *args, **kwargs)
        buffer = io.BytesIO()
        self.real(table, buffer, *args, **kwargs)
        data = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        if hasattr(where, "write"):
            where.write(data)
            where.flush()
        else:
            with open(where, "wb") as handle:
                handle.write(data)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def disk_fills(monkeypatch):
    """``disk_fills(at=1, times=1)``: that parquet write (and ``times - 1`` more) fails halfway, disk full."""
    import pyarrow.parquet as pq

    def arm(at: int = 1, times: int = 1) -> DiskFills:
        fake = DiskFills(pq.write_table, at, times)
        monkeypatch.setattr(pq, "write_table", fake)
        return fake

    return arm


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 512 KiB file system (tmpfs) mounted for one test, so a write can really fill it.

    Skipped where mounting is not allowed (not root, no ``mount``, a container without the right).
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount command on this machine")
    folder = tmp_path / "tiny_disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _verdict_last(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """Long texts whose label is only in their last sentence, after 150 words that do not
    tell the classes apart: a reader of the beginning cannot learn them (a review whose
    verdict comes last, in miniature)."""
    rng = np.random.default_rng(seed)
    filler = "the plot follows a family across three summers by the sea and the cast is large".split()
    texts, labels = [], []
    for i in range(n):
        label = ("positive", "negative")[i % 2]
        opening = " ".join(rng.choice(filler, size=150))
        verdict = "all in all wonderful, I loved it" if label == "positive" else "all in all dreadful, I hated it"
        texts.append(f"{opening}. {verdict}.")
        labels.append(label)
    return texts, labels, [f"doc-{i}" for i in range(n)]


@pytest.fixture
def verdict_last():
    """Make ``n`` synthetic long texts whose label only their end carries: ``(texts, labels, ids)``."""
    return _verdict_last


TREC_JSONL = Path(__file__).resolve().parent / "data" / "trec.jsonl"


@pytest.fixture(scope="session")
def trec_jsonl(tmp_path_factory):
    """Write rows ``start:stop`` of the committed TREC train split as a JSONL file; returns its path."""

    def write(stop: int, start: int = 0) -> Path:
        import pandas as pd

        rows = pd.read_json(TREC_JSONL, lines=True)
        path = tmp_path_factory.mktemp("data") / f"trec{start}-{stop}.jsonl"
        rows[rows["split"] == "train"].iloc[start:stop].to_json(path, orient="records", lines=True)
        return path

    return write
