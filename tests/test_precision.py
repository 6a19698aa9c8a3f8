"""precision.py: the --precision choices, what auto means on each device, and refused pairs."""

from __future__ import annotations

import pytest

from datamap_widget.cli import main
from datamap_widget.data import load_sample
from datamap_widget.precision import PRECISIONS, check_precision, resolve_precision
from datamap_widget.train import fine_tune


def test_auto_is_fp32_on_a_cpu_and_the_named_precisions_are_kept():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert PRECISIONS == ("auto", "fp32", "bf16", "fp16")


@pytest.mark.parametrize("bad", ["fp8", "FP32", "", None, 16])
def test_an_unknown_precision_is_refused_naming_the_choices(bad):
    with pytest.raises(ValueError, match=r"precision must be one of auto, fp32, bf16, fp16"):
        check_precision(bad)


def test_fp16_needs_a_cuda_gpu():
    with pytest.raises(ValueError, match="fp16.*needs a CUDA GPU"):
        resolve_precision("fp16", "cpu")


def test_fine_tune_refuses_a_bad_precision_before_loading_a_model():
    frame = load_sample().head(8)
    with pytest.raises(ValueError, match="precision must be one of"):
        fine_tune(frame["text"].tolist(), frame["label"].tolist(), precision="half", progress=False)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        fine_tune(frame["text"].tolist(), frame["label"].tolist(), precision="fp16", device="cpu", progress=False)


def test_the_command_refuses_an_unknown_precision(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--sample", "--out", str(tmp_path / "o"), "--precision", "fp8"])
    assert stop.value.code == 2 and "argument --precision: invalid choice: 'fp8'" in capsys.readouterr().err


@pytest.mark.slow
def test_bf16_autocast_trains_on_a_cpu_and_records_float32_statistics():
    frame = load_sample().head(16)
    run = fine_tune(frame["text"].tolist(), frame["label"].tolist(), epochs=1, batch_size=8, max_length=32,
                    precision="bf16", progress=False)  # fmt: skip
    assert run.settings["precision"] == "bf16"
    frame = run.datamap.frame
    assert frame["confidence"].between(0, 1).all() and (frame["n_passes"] == 1).all()
