"""benchmarks/projection.py's quality measures tell a faithful 2-D picture from a scrambled one (no timing checked)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import projection as bench  # noqa: E402


def test_quality_scores_a_faithful_projection_high_and_a_shuffled_one_low():
    rng = np.random.default_rng(0)
    classes = np.repeat(np.arange(4), 100)
    flat = np.zeros((400, 8), dtype=np.float32)
    flat[:, :2] = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])[classes] * 5 + rng.normal(0, 1, (400, 2))
    flat[:, 2] = 10.0  # all rows point the same way but for the 2-D part: cosine follows it
    high = bench.unit(flat)
    faithful = flat[:, :2]
    shuffled = faithful[rng.permutation(400)]
    good = bench.quality(high, faithful, classes, np.random.default_rng(1))
    bad = bench.quality(high, shuffled, classes, np.random.default_rng(1))
    assert good["trustworthiness"] > 0.9 > 0.6 > bad["trustworthiness"]
    assert good["neighbours_kept"] > 0.5 > 0.1 > bad["neighbours_kept"]
    assert good["label_agreement_2d"] > 0.9 and bad["label_agreement_2d"] < 0.4
    assert good["label_agreement_highd"] == bad["label_agreement_highd"] > 0.9


def test_knn_excludes_each_point_itself():
    points = bench.unit(np.random.default_rng(2).normal(size=(50, 3)))
    near = bench.knn(points, np.arange(50), 5, cosine=True)
    assert not (near == np.arange(50)[:, None]).any()
    assert (bench.knn(points, np.arange(50), 5, cosine=False) != np.arange(50)[:, None]).all()


def test_padded_corpus_rows_keep_the_label_of_the_row_they_copy(monkeypatch, tmp_path):
    import pandas as pd

    import embed_corpus

    texts = pd.DataFrame({"id": range(10), "text": [f"t{i}" for i in range(10)], "label": list("abcdeabcde"),
                          "source": ["s"] * 10})
    monkeypatch.setattr(embed_corpus, "corpus_texts", lambda n: texts.iloc[:n].reset_index(drop=True))
    monkeypatch.setattr(embed_corpus, "CACHE", tmp_path)
    real = np.eye(10, 16, dtype=np.float16) * 5  # ten orthogonal rows: each copy is nearest to its original
    np.save(tmp_path / "corpus-10.npy", real)
    values, frame = embed_corpus.load_corpus(400)
    assert values.shape == (400, 16) and len(frame) == 400
    original = np.argmax(values[10:].astype(np.float32) @ real.T.astype(np.float32), axis=1)
    assert (frame["label"].to_numpy()[10:] == texts["label"].to_numpy()[original]).all()
