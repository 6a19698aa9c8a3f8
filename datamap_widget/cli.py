"""The ``datamap`` command: train a data map, list suspects, write reports and exports.

A thin layer over the library (``fine_tune``, ``DataMap``): every subcommand parses its
arguments, calls the same classes a notebook uses, and prints. Bad input ends with a
one-line ``datamap: error: …`` and exit status 2, never a traceback.

A run folder (``--out DIR``) holds:

- ``datamap.parquet``: id, label, confidence, variability, correctness, category,
  mislabel_score, suggested_label (+ n_passes, reviewed and the per-pass trajectories);
- ``run.json``: every setting, package versions, timings and a summary;
- ``texts.parquet``: id and text, so reports can show documents without the source file;
- ``checkpoint.pt`` while the run is unfinished (``--resume`` continues it).

Under ``torchrun`` (or ``accelerate launch``) ``datamap train`` trains one model on all the
processes; rank 0 alone prints and writes (see :mod:`datamap_widget.parallel`).

Writing and reading it is :mod:`datamap_widget.run`; every file written here is written
whole or not at all (:mod:`datamap_widget.atomic`).
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .atomic import atomic_paths
from .dependencies import MissingExtraError
from .metrics import NO_SUGGESTION
from .run import TEXTS_FILE  # noqa: F401  (the run folder's file names stay importable from here)
from .parallel import launched_ranks
from .run import CHECKPOINT_FILE, DATAMAP_FILE, RUN_FILE, RunFolderError, prepare_folder, read_run, remove_if_empty, run_files, write_run

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


# ------------------------------------------------------------------------------ helpers


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("datamap_widget", "torch", "transformers", "numpy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


#: What a terminal may act on rather than show: C0 controls (ESC starts the sequences that
#: retitle a terminal or rewrite the screen), DEL, C1 controls (0x9b is a one-byte CSI), the
#: Unicode line and paragraph separators, bidirectional overrides (they reorder what is shown)
#: and lone surrogates (which cannot even be encoded for output).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: Any) -> str:
    """``text`` with every control character shown escaped (``\\x1b``, ``\\t``, ``\\n``, ``\\u202e``…).

    The one helper for data the CLI shows a person: ids, labels and texts are untrusted, and
    ``\\x1b]0;TITLE\\x07`` in one would retitle the terminal. It also keeps a message on one line.
    """
    return _CONTROL.sub(_escape, str(text))


def _say(message: Any, file: Any = None) -> None:
    """Print one line of the command's own output or messages, control characters escaped."""
    print(terminal_safe(message), file=sys.stdout if file is None else file)


class _TerminalStream:
    """Standard output while it is a terminal: control characters in whatever is written
    (CSV or JSONL rows, paths) are shown escaped; line breaks stay. Piped output is untouched,
    so a CSV written to a pipe or file keeps every byte of the data."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_CONTROL_BUT_NEWLINE.sub(_escape, text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _shorten(text: Any, width: int) -> str:
    text = " ".join(terminal_safe(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _shown_suggestion(row: Any) -> str:
    """The suggestion the widget and the report show: another label, else "—" (never the label again)."""
    suggested = row["suggested_label"]
    if isinstance(suggested, float) and suggested != suggested or str(suggested) == str(row["label"]):
        return NO_SUGGESTION
    return str(suggested)


def format_suspects(rows: Any, texts: Any = None, width: int = 60) -> str:
    """A plain-text table of suspects: rank, id, label, suggested label, score, text start.

    Every cell is shown through :func:`terminal_safe`: control characters, tabs and line
    breaks in ids, labels and texts appear escaped (``\\t``, ``\\n``), never acted on."""
    lines = []
    header = f"{'rank':>4}  {'id':<20} {'label':<12} {'suggested':<12} {'score':>6}"
    if texts is not None:
        header += "  text"
    lines.append(header)
    for rank, (example_id, row) in enumerate(rows.iterrows(), start=1):
        line = (
            f"{rank:>4}  {_shorten(example_id, 20):<20} {_shorten(row['label'], 12):<12} "
            f"{_shorten(_shown_suggestion(row), 12):<12} {row['mislabel_score']:>6.3f}"
        )
        if texts is not None:
            line += "  " + _shorten(texts.get(example_id, ""), width)
        lines.append(line)
    return "\n".join(lines)


def _load_run(folder: str) -> tuple[Any, dict[str, Any], Any]:
    """The DataMap, run record and texts (a Series by id, or None) of a run folder.

    Not a run folder, or a damaged file in it: a one-line UsageError naming it (see
    :func:`datamap_widget.run.read_run`), never a traceback.
    """
    try:
        dmap, texts, record = read_run(folder)
    except RunFolderError as error:
        raise UsageError(str(error)) from error
    return dmap, record, texts


# ------------------------------------------------------------------------------ train


def _add_train(commands: Any) -> None:
    from .long_text import LONG_TEXT_MODES
    from .precision import PRECISIONS
    from .train import DEFAULTS

    p = commands.add_parser(
        "train",
        help="fine-tune a classifier on labeled texts and map its training dynamics",
        description="Fine-tune a transformer on DATA (JSONL, CSV or Parquet), record every example's "
        "training dynamics, write the data map to --out and print the top suspects.",
    )
    p.add_argument("data", nargs="?", help="a .jsonl, .csv or .parquet file of labeled texts")
    p.add_argument("--sample", action="store_true", help="use the sample shipped in the package (600 TREC questions, 18 flipped labels)")
    p.add_argument("--out", required=True, help="run folder to write (created if missing; one that holds a run needs --overwrite)")
    again = p.add_mutually_exclusive_group()
    again.add_argument(
        "--overwrite", action="store_true",
        help="replace the run already in --out; its files stay until the new run is written whole",
    )
    again.add_argument(
        "--resume", action="store_true",
        help="continue the unfinished run in --out from its last complete pass (same command, data and number of "
        "processes); the map equals that of a run never interrupted",
    )
    p.add_argument(
        "--keep-checkpoint", action="store_true",
        help=f"keep --out/{CHECKPOINT_FILE} (model, optimizer, random states after the last pass) when the run completes",
    )
    p.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    p.add_argument("--id-column", default="id", help="column holding unique ids (default: id; the row number if absent)")
    p.add_argument("--model", default=None, help="Hugging Face model path or name (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help=f"passes over the data (default: {DEFAULTS['epochs']})")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help=f"default: {DEFAULTS['batch_size']}")
    p.add_argument("--max-length", type=int, default=DEFAULTS["max_length"], help=f"tokens the model reads at a time (default: {DEFAULTS['max_length']})")
    p.add_argument(
        "--long-text", choices=LONG_TEXT_MODES, default=DEFAULTS["long_text"],
        help="what the model reads of a text longer than --max-length: head (its beginning), head_tail (beginning and "
        "end, same cost), windows (every token, in overlapping windows; several times the time per pass) "
        f"(default: {DEFAULTS['long_text']})",
    )
    p.add_argument("--stride", type=int, default=DEFAULTS["stride"], help=f"windows: tokens consecutive windows share (default: {DEFAULTS['stride']})")
    p.add_argument(
        "--text-view", choices=("auto", "on", "off"), default="off",
        help="also rank with a bag of words that reads every word (out-of-fold TF-IDF; seconds to a minute): "
        "helps when label errors are random, hurts when one class is often labelled as another; auto turns it "
        "on when more than 5%% of the texts are longer than --max-length (default: off)",
    )
    p.add_argument("--max-windows", type=int, default=DEFAULTS["max_windows"], help=f"windows: most windows per text, spread evenly over longer ones (default: {DEFAULTS['max_windows']})")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help=f"learning rate (default: {DEFAULTS['lr']})")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help=f"default: {DEFAULTS['seed']}")
    p.add_argument("--device", default=None, help="cpu, cuda, mps… (default: a GPU when there is one)")
    p.add_argument(
        "--precision", choices=PRECISIONS, default=DEFAULTS["precision"],
        help="auto: bf16 on a GPU that has it, fp32 otherwise; bf16/fp16 autocast (fp16 on CUDA, with a gradient scaler) "
        f"(default: {DEFAULTS['precision']})",
    )
    p.add_argument(
        "--no-embeddings", action="store_true",
        help="do not keep the last pass's sentence embeddings (saves N x 384 x 2 bytes; the knn scores need them)",
    )
    p.add_argument("--top", type=int, default=20, help="suspects to print (default: 20)")
    p.add_argument(
        "--true-label-column",
        default=None,
        help="column of audited true labels, if you have one: prints the share of label errors found in the "
        "top 5%% (the sample's is true_label)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_store_options(p, "also save the run to this store")
    p.set_defaults(handler=_cmd_train)


def _pick_columns(frame: Any, args: argparse.Namespace, source: str) -> tuple[Any, Any, Any]:
    columns = list(frame.columns)
    for flag, name in (("--text-column", args.text_column), ("--label-column", args.label_column)):
        if name not in frame.columns:
            raise UsageError(f"{source} has no column {name!r} ({flag}); its columns are {columns}")
    texts = frame[args.text_column]
    labels = frame[args.label_column]
    if args.id_column in frame.columns:
        ids = frame[args.id_column]
        if ids.isna().any():
            raise UsageError(f"{source}: column {args.id_column!r} has {int(ids.isna().sum())} missing id(s)")
        ids = _check_id_column(ids, args.id_column, source)
        if ids.duplicated().any():
            dupes = ids[ids.duplicated()].astype(str).unique()[:5].tolist()
            raise UsageError(f"{source}: column {args.id_column!r} has repeated ids, e.g. {dupes}")
        ids = ids.to_numpy()
    else:
        ids = None  # row numbers
    if labels.isna().any():
        raise UsageError(f"{source}: column {args.label_column!r} has {int(labels.isna().sum())} missing label(s)")
    _check_label_column(labels, args.label_column, source)
    if texts.isna().any():
        raise UsageError(f"{source}: column {args.text_column!r} has {int(texts.isna().sum())} missing text(s)")
    labels = labels.astype(str) if labels.dtype.kind not in "iu" else labels
    return texts.astype(str).tolist(), labels.tolist(), (list(range(len(frame))) if ids is None else ids.tolist())


def _check_label_column(labels: Any, column: str, source: str) -> None:
    """Refuse labels that would silently become other classes when read as names: True/False,
    and values of different types that print alike (JSON's 1 and "1" would merge into one class)."""
    import pandas as pd

    bools = "holds True/False; give the classes as names (e.g. 'yes'/'no') or whole numbers (0/1)"
    if labels.dtype.kind == "b":
        raise UsageError(f"{source}: column {column!r} {bools}")
    if labels.dtype.kind != "O":
        return
    kind = pd.api.types.infer_dtype(labels, skipna=True)  # one pass in C; the rest only on a mixed column
    if kind == "boolean":
        raise UsageError(f"{source}: column {column!r} {bools}")
    if not kind.startswith("mixed"):
        return
    types = labels.map(lambda v: type(v).__name__)
    if types.isin(["bool", "bool_"]).any():
        raise UsageError(f"{source}: column {column!r} mixes True/False with other labels; {bools.split('; ')[1]}")
    seen = pd.DataFrame({"text": labels.astype(str), "type": types, "value": labels}).drop_duplicates(["text", "type"])
    clash = seen[seen["text"].duplicated(keep=False)]
    if len(clash):
        same = clash[clash["text"] == clash["text"].iloc[0]]
        both = " and ".join(f"{v!r} ({t})" for v, t in zip(same["value"], same["type"]))
        raise UsageError(
            f"{source}: column {column!r} holds {both}, which would merge into one class "
            f"{clash['text'].iloc[0]!r}; write each label one way (all strings, or all numbers)"
        )


def _check_id_column(ids: Any, column: str, source: str) -> Any:
    """Ids as all ints or all strings; whole floats (a CSV's 1.0) become ints, others are refused."""
    import numpy as np
    import pandas as pd

    if ids.dtype.kind == "b":
        raise UsageError(f"{source}: column {column!r} holds True/False, not ids; ids must be whole numbers or strings")
    if ids.dtype.kind == "f":
        values = ids.to_numpy()
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            raise UsageError(
                f"{source}: column {column!r} holds fractional ids (e.g. {float(values[fractional][0])!r}); "
                "ids must be whole numbers or strings"
            )
        return ids.astype(np.int64)
    if ids.dtype.kind == "O":
        kind = pd.api.types.infer_dtype(ids, skipna=False)  # one pass in C, no Python loop
        if kind == "string":
            return ids
        if kind == "integer":
            return ids.astype(np.int64)
        # Error path only: name a value of each type found.
        kinds = ids.map(lambda v: type(v).__name__)
        examples = {name: ids[kinds == name].iloc[0] for name in kinds.unique()[:3]}
        if len(examples) > 1:
            raise UsageError(
                f"{source}: column {column!r} mixes id types ({', '.join(f'{k} e.g. {v!r}' for k, v in examples.items())}); "
                "use one kind: all whole numbers or all strings"
            )
        raise UsageError(f"{source}: column {column!r} holds {kinds.iloc[0]} values; ids must be whole numbers or strings")
    return ids


def _check_device(device: str | None) -> None:
    """Refuse a device torch does not know or this machine does not have, before any training."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UsageError(f"--device {device!r} is not a device torch knows ({error}); use cpu, cuda, cuda:0, mps…") from None
    if parsed.type == "cpu":
        return
    backend = getattr(torch, parsed.type, None) if parsed.type != "mps" else getattr(torch.backends, "mps", None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        raise UsageError(f"--device {device}: no {parsed.type} device is available on this machine; use --device cpu (or leave it out)")
    count = getattr(backend, "device_count", None)
    if parsed.index is not None and count is not None and parsed.index >= count():
        raise UsageError(f"--device {device}: this machine has {count()} {parsed.type} device(s) (0 to {count() - 1})")


def _prepare_out(out: Path, overwrite: bool, resume: bool = False) -> bool:
    """Make sure ``--out`` can take the run before training; returns whether it was created here.

    A folder that holds a run already (or an unfinished run's checkpoint) is refused without
    ``--overwrite`` or ``--resume``: a second ``train`` into it would otherwise replace the
    first run silently. ``--resume`` needs the checkpoint. Other files (a user's notes, a
    report) are no run and do not count.
    """
    existing = run_files(out) if out.is_dir() else []
    if resume and CHECKPOINT_FILE not in existing:
        finished = " (it holds a finished run; its checkpoint was removed when it completed)" if DATAMAP_FILE in existing else ""
        raise UsageError(f"--resume: {out} holds no checkpoint ({CHECKPOINT_FILE}) to continue{finished}; nothing was trained")
    if existing and not overwrite and not resume:
        unfinished = "pass --resume to continue it, " if CHECKPOINT_FILE in existing else ""
        raise UsageError(
            f"--out {out} already holds a run ({', '.join(existing)}); {unfinished}pass --overwrite to replace it "
            "(the old run stays until the new one is written whole) or give another folder; nothing was trained"
        )
    try:
        return prepare_folder(out)
    except RunFolderError as error:
        raise UsageError(f"--out {error}") from None
    except OSError as error:
        raise UsageError(f"--out {out} cannot be written ({error.strerror or error}); nothing was trained") from None


def _cmd_train(args: argparse.Namespace) -> int:
    """``datamap train``, in one process or as one rank of torchrun's: every rank trains, rank 0
    alone checks the outputs, prints and writes (the other ranks say nothing)."""
    if not launched_ranks().distributed:
        return _train(args, None)
    import contextlib
    import os

    from .parallel import join_ranks, leave_ranks

    ranks = join_ranks()
    try:
        if ranks.main:
            return _train(args, ranks)
        args.quiet = True
        with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _train(args, ranks)
    finally:
        leave_ranks()


def _train(args: argparse.Namespace, ranks: Any) -> int:
    from .data import read_table, sample_path
    from .parallel import Ranks, on_main
    from .train import fine_tune

    ranks = ranks or Ranks()

    if args.sample == bool(args.data):
        raise UsageError("give DATA (a file) or --sample, exactly one")
    path = sample_path() if args.sample else Path(args.data)
    if args.sample and args.true_label_column is None:
        args.true_label_column = "true_label"
    try:
        frame = read_table(path)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from error
    _check_store_options(args)
    if args.store:  # a bad URL or an unreachable server must not cost a training run first
        on_main(lambda: _open_store(args.store).close(), ranks, (UsageError,))
    texts, labels, ids = _pick_columns(frame, args, str(path))
    if args.true_label_column and args.true_label_column not in frame.columns:
        raise UsageError(f"{path} has no column {args.true_label_column!r} (--true-label-column)")
    _check_device(args.device)

    # Every output is checked before training, so a bad one costs seconds, not a run.
    out = Path(args.out)

    def check_outputs() -> bool:
        created = _prepare_out(out, args.overwrite, args.resume)
        if args.store:
            with _open_store(args.store) as store:
                _store_call(args.store, store.check_writable, args.dataset)
        return created

    created = on_main(check_outputs, ranks, (UsageError,))  # every rank stops alike on a bad --out
    processes = f" on {ranks.world_size} processes" if ranks.distributed else ""
    again = " (resuming)" if args.resume else ""
    if ranks.main:
        _say(f"datamap: training on {len(texts)} examples from {path} ({len(set(map(str, labels)))} classes){processes}{again}", file=sys.stderr)
    try:
        run = fine_tune(
            texts,
            labels,
            ids,
            model=args.model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            max_length=args.max_length,
            long_text=args.long_text,
            stride=args.stride,
            max_windows=args.max_windows,
            text_view={"auto": "auto", "on": True, "off": False}[args.text_view],
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
            embeddings=not args.no_embeddings,
            precision=args.precision,
            checkpoint_dir=out,
            resume=args.resume,
            keep_checkpoint=True,  # removed below, once the run is written
        )
    except (ValueError, TypeError) as error:
        if created and ranks.main:
            remove_if_empty(out)  # bad input leaves no empty --out folder behind
        raise UsageError(str(error)) from error
    except RuntimeError as error:
        if not ranks.distributed:
            raise
        # Another process died (or this one's collective failed): the checkpoint of the last
        # complete pass is untouched, so the same command with --resume continues the run.
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        _say(
            f"datamap: error: rank {ranks.rank}: training stopped ({type(error).__name__}: {first}); the run in {out} "
            "stays resumable from its last complete pass: rerun the same command with --resume",
            file=sys.stderr,
        )
        return 1
    except BaseException:
        if created and ranks.main:
            remove_if_empty(out)
        raise
    if not ranks.main:
        return 0
    dmap = run.datamap
    written = time.perf_counter()
    frame_out = dmap.frame
    summary: dict[str, Any] = {
        "categories": frame_out["category"].value_counts().to_dict(),
        "labels": frame_out["label"].value_counts().to_dict(),
        "final_train_accuracy": run.train_accuracy[-1] if run.train_accuracy else None,
    }
    found_line = None
    if args.true_label_column:
        truth = frame[args.true_label_column].astype(str).to_numpy()
        given = frame[args.label_column].astype(str).to_numpy()
        errors = {i for i, t, g in zip(ids, truth, given) if t != g}
        top = dmap.suspects(frac=0.05, include_reviewed=True)
        found = len(errors & set(top.index.tolist()))
        summary["label_errors"] = len(errors)
        summary["label_errors_in_top_5pct"] = found
        if errors:
            found_line = (
                f"found {found} of {len(errors)} label errors ({found / len(errors):.0%}) in the top 5% "
                f"({len(top)} of {len(dmap)} examples) of the ranking"
            )
    record = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "datamap train",
        "data": str(path),
        "columns": {"text": args.text_column, "label": args.label_column, "id": args.id_column if ids is not None else None},
        "settings": {**run.settings, "method": dmap.method, "thresholds": dmap.thresholds},
        "device": run.device,
        "versions": _versions(),
        "timings": {**run.timings, "write_s": round(time.perf_counter() - written, 3)},
        "summary": summary,
        "world_size": ranks.world_size,
        "checkpoint": {
            "bytes": run.settings.get("checkpoint_bytes"),
            "kept": bool(args.keep_checkpoint),
            "resumed_after_pass": run.settings.get("resumed_after_pass"),
        },
    }
    failures: list[str] = []
    # This run's own checkpoint (or, resuming, the run it continues) is no other run to protect.
    replace = args.overwrite or args.resume or set(run_files(out)) <= {CHECKPOINT_FILE}
    try:
        write_run(out, dmap, texts, record, overwrite=replace)
    except OSError as error:
        # A finished run is never thrown away: write it where we can, and say where. The files
        # it had begun in --out are gone (see write_run), and so is a folder made here for it.
        if created:
            remove_if_empty(out)
        fallback = Path(tempfile.mkdtemp(prefix="datamap-run-"))
        write_run(fallback, dmap, texts, record)
        failures.append(f"could not write the run to {out} ({error.strerror or error}); it was written to {fallback} instead")
        out = fallback
    saved_line = None
    if args.store:
        try:
            with _open_store(args.store) as store:
                run_id = _store_call(
                    args.store, store.save_run, dmap, args.dataset, model=run.settings.get("model"),
                    settings=record["settings"], summary=summary,
                )
            saved_line = f"saved run {run_id} of dataset {args.dataset!r} to {store.url}"
        except UsageError as error:
            failures.append(f"the run was not saved to the store ({error}); it is in {out}")

    texts_by_id = dict(zip(dmap.ids.tolist(), texts))
    print(f"Top {args.top} suspects (highest mislabel_score first; method {dmap.method}):")
    print(format_suspects(dmap.suspects(top=args.top), texts_by_id))
    print()
    print(f"wrote {out / DATAMAP_FILE}, {out / RUN_FILE} in {run.timings['total_s']:.0f} s ({run.device}{processes})")
    if not failures and Path(args.out) == out:
        print(_checkpoint_line(Path(args.out), run.settings.get("checkpoint_bytes"), args.keep_checkpoint))
    from .long_text import describe_reading

    if run.settings.get("read"):
        print(terminal_safe(describe_reading(run.settings["read"])))
    if found_line:
        print(found_line)
    if saved_line:
        print(saved_line)
    for failure in failures:
        _say(f"datamap: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _checkpoint_line(out: Path, size: int | None, keep: bool) -> str:
    """Say what became of the run's checkpoint (kept or removed), and its size."""
    from .checkpoint import remove_checkpoint

    if size is None:
        return "no checkpoint was written"
    if not keep:
        remove_checkpoint(out)
        return f"checkpoint ({size / 2**20:.1f} MiB, rewritten after every pass) removed: the run is complete"
    return f"kept {out / CHECKPOINT_FILE} ({size / 2**20:.1f} MiB)"


# ------------------------------------------------------------------------------ suspects


def _add_suspects(commands: Any) -> None:
    p = commands.add_parser("suspects", help="print the ranking of a saved run", description="Print the most likely mislabeled examples of a run folder.")
    p.add_argument("run", nargs="?", help="a run folder written by `datamap train --out` (optional with --store)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--frac", type=float, default=None, help="share of the data to list, e.g. 0.05")
    size.add_argument("--top", type=int, default=None, help="number of suspects to list (default: 20)")
    p.add_argument("--method", default=None, help="rank by another score (see `datamap_widget.metrics.SCORE_METHODS`)")
    p.add_argument("--include-reviewed", action="store_true", help="also list examples already reviewed")
    p.add_argument("--format", choices=("table", "csv", "jsonl"), default="table", help="output format (default: table)")
    _add_excel_safe(p)
    _add_store_options(p, "list the store's latest run of --dataset (or RUN), leaving reviewed examples out")
    p.set_defaults(handler=_cmd_suspects)


def _cmd_suspects(args: argparse.Namespace) -> int:
    from . import metrics

    _check_store_options(args)
    if args.run is None and not args.store:
        raise UsageError("give RUN (a run folder) or --store URL --dataset NAME")
    if args.run is not None:
        dmap, _, texts = _load_run(args.run)
    else:
        dmap, texts = None, None
    review = None  # the store's reviews of a run folder's map (a store's own run has them marked already)
    if args.store:
        with _open_store(args.store) as store:
            if dmap is None:
                latest = _store_call(args.store, store.latest_run, args.dataset)
                if latest is None:
                    raise UsageError(f"dataset {args.dataset!r} has no runs in {store.url} (save one with `datamap train --store`)")
                dmap = _store_call(args.store, store.load_run, latest)
            else:
                from .review import ReviewSession

                reviewed = _store_call(args.store, store.reviewed_in, dmap, args.dataset)
                review = ReviewSession.for_map(dmap, reviewed=reviewed)
    if args.method:
        if args.method not in metrics.SCORE_METHODS:
            raise UsageError(f"--method must be one of {sorted(metrics.SCORE_METHODS)}, got {args.method!r}")
        dmap = dmap.rescore(args.method)
    if args.frac is not None and not 0 < args.frac <= 1:
        raise UsageError(f"--frac must be in (0, 1], got {args.frac}")
    if args.top is not None and args.top < 0:
        raise UsageError(f"--top must be >= 0, got {args.top}")
    top = 20 if args.frac is None and args.top is None else args.top
    rows = dmap.suspects(frac=args.frac, top=top, include_reviewed=args.include_reviewed, review=review)
    if args.format == "table":
        print(format_suspects(rows, texts.to_dict() if texts is not None else None))
        return 0
    table = rows.reset_index()
    if texts is not None:
        table["text"] = texts.reindex(rows.index).to_numpy()
    if args.format == "csv":
        _write_csv(table, sys.stdout, args.excel_safe)
    else:
        table.to_json(sys.stdout, orient="records", lines=True, force_ascii=False)
    return 0


# ------------------------------------------------------------------------------ report


def _add_report(commands: Any) -> None:
    p = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write RUN/report.html: the data map, counts per region and label, given against "
        "suggested labels, the run's settings and the top suspects with their texts. One file that "
        "opens offline (no script, no network). --png/--svg also export the figure.",
    )
    p.add_argument("run", help="a run folder written by `datamap train --out`")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--top", type=int, default=None, help="number of suspects to list (default: 100)")
    size.add_argument("--frac", type=float, default=None, help="share of the data to list as suspects, e.g. 0.05")
    p.add_argument("--method", default=None, help="rank by another score (see `datamap_widget.metrics.SCORE_METHODS`)")
    p.add_argument("--title", default=None, help="page title (default: Data map report: RUN)")
    p.add_argument(
        "--text-chars", type=int, default=None, metavar="N",
        help="characters of each suspect's text to show; longer texts are cut with a note (default: 2000)",
    )
    p.add_argument("--output", default=None, help="HTML file to write (default: RUN/report.html)")
    p.add_argument("--png", action="store_true", help="also write the figure to RUN/datamap.png")
    p.add_argument("--svg", action="store_true", help="also write the figure to RUN/datamap.svg")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from . import metrics
    from .chart import save_chart
    from .report import MAX_TEXT_CHARS, REPORT_FILE, write_report

    dmap, run, texts = _load_run(args.run)
    if args.method:
        if args.method not in metrics.SCORE_METHODS:
            raise UsageError(f"--method must be one of {sorted(metrics.SCORE_METHODS)}, got {args.method!r}")
        dmap = dmap.rescore(args.method)
    if args.frac is not None and not 0 < args.frac <= 1:
        raise UsageError(f"--frac must be in (0, 1], got {args.frac}")
    if args.top is not None and args.top < 0:
        raise UsageError(f"--top must be >= 0, got {args.top}")
    if args.text_chars is not None and args.text_chars < 1:
        raise UsageError(f"--text-chars must be >= 1, got {args.text_chars}")
    output = Path(args.output) if args.output else Path(args.run) / REPORT_FILE
    if output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--output must end in .html, got {str(output)!r}")
    title = args.title or f"Data map report: {Path(args.run).resolve().name}"
    try:
        written = [
            write_report(
                dmap, output, texts, run=run, top=args.top, frac=args.frac, title=title,
                max_text_chars=args.text_chars or MAX_TEXT_CHARS,
            )
        ]
        for flag, suffix in ((args.png, ".png"), (args.svg, ".svg")):
            if flag:
                written.append(save_chart(dmap.chart(), Path(args.run) / f"datamap{suffix}"))
    except ImportError as error:  # vl-convert missing: say which package, not a traceback
        raise UsageError(str(error)) from error
    for path in written:
        _say(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------ store


def _add_store_options(p: Any, purpose: str) -> None:
    p.add_argument("--store", default=None, metavar="URL", help=f"{purpose}: a SQLAlchemy URL (sqlite:///maps.db, postgresql+psycopg://…) or a SQLite file")
    p.add_argument("--dataset", default=None, metavar="NAME", help="dataset name in the store (required with --store)")


def _check_store_options(args: argparse.Namespace) -> None:
    if args.store and not args.dataset:
        raise UsageError("--store needs --dataset NAME (the dataset the run and its reviews belong to)")
    if args.dataset and not args.store:
        raise UsageError("--dataset needs --store URL")
    if args.store is not None and not args.store.strip():
        raise UsageError("--store must be a URL or a file path, got an empty string")


def _open_store(url: str) -> Any:
    from .store import Store, StoreError

    try:
        return Store(url)
    except (StoreError, ValueError, TypeError) as error:
        raise UsageError(f"--store: {error}") from error


def _store_call(url: str, method: Any, *args: Any, **kwargs: Any) -> Any:
    from .store import StoreError

    try:
        return method(*args, **kwargs)
    except StoreError as error:
        raise UsageError(f"--store: {error}") from error


# ------------------------------------------------------------------------------ CSV

#: A str cell a spreadsheet would run as a formula: it starts with =, +, -, @ (or a tab or
#: carriage return, OWASP's list) and is not simply a number such as -1 or +2.5.
_FORMULA = re.compile(r"^(?![+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$)[=+\-@\t\r]")


def _write_csv(table: Any, target: Any, excel_safe: bool = False) -> None:
    """Write ``table`` as CSV that ``pd.read_csv`` reads back cell for cell.

    Every str cell is quoted (``QUOTE_NONNUMERIC``), so a carriage return, a NUL or a line
    break inside an id, label or text stays inside its cell: unquoted, a bare ``\\r`` started
    a new row for the reader. With ``excel_safe``, str cells a spreadsheet would run as a
    formula get a leading ``'`` (shown as text, not run); without it they are written as they
    are, and a warning says how many there are.
    """
    import csv

    import pandas as pd

    table = table.copy()
    text_columns = [c for c in table.columns if table[c].dtype == object or pd.api.types.is_string_dtype(table[c].dtype)]
    risky = 0
    for column in text_columns:
        values = table[column]
        is_str = values.map(type).eq(str)  # object columns may mix str with other values
        hit = is_str & values.where(is_str, "").astype(object).str.contains(_FORMULA).astype(bool)
        risky += int(hit.sum())
        if excel_safe and hit.any():
            table[column] = values.astype(object).mask(hit, "'" + values.where(hit, "").astype(str))
    if risky and not excel_safe:
        warnings.warn(
            f"{risky} cell(s) start with =, +, - or @ and a spreadsheet may run them as formulas; "
            "they are written unchanged, so the file reads back exactly: pass --excel-safe if it is for a spreadsheet",
            UserWarning,
        )
    table.to_csv(target, index=False, quoting=csv.QUOTE_NONNUMERIC)


def _add_excel_safe(p: Any) -> None:
    p.add_argument(
        "--excel-safe", action="store_true",
        help="prefix a ' to text cells a spreadsheet would run as formulas (starting with =, +, - or @); "
        "the file then no longer reads back exactly",
    )


# ------------------------------------------------------------------------------ export


def _add_export(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="write the corrected labels as CSV",
        description="Write one row per example: id, label (current, with the store's relabels applied), "
        "original_label (as trained), changed, reviewed. From a run folder, a store, or both (the folder's labels "
        "corrected by the store's reviews).",
    )
    p.add_argument("run", nargs="?", help="a run folder written by `datamap train --out` (optional with --store)")
    p.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    _add_store_options(p, "apply the reviews of --dataset in this store")
    _add_excel_safe(p)
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    import pandas as pd

    _check_store_options(args)
    if args.run is None and not args.store:
        raise UsageError("give RUN (a run folder) or --store URL --dataset NAME")
    original = None
    if args.run is not None:
        dmap, _, _ = _load_run(args.run)
        original = pd.Series(pd.Categorical.from_codes(dmap.labels, categories=dmap.label_names).astype(str), index=dmap.ids)
    reviewed: set = set()
    if args.store:
        with _open_store(args.store) as store:
            if original is None:
                latest = _store_call(args.store, store.latest_run, args.dataset)
                if latest is None:
                    raise UsageError(f"dataset {args.dataset!r} has no runs in {store.url} (save one with `datamap train --store`)")
                base = _store_call(args.store, store.load_run, latest)
                original = pd.Series(pd.Categorical.from_codes(base.labels, categories=base.label_names).astype(str), index=base.ids)
            current = _store_call(args.store, store.current_labels, args.dataset, base=original)
            reviewed = _store_call(args.store, store.reviewed_ids, args.dataset)
    else:
        current = original.rename("label")
    table = pd.DataFrame({"id": current.index.to_numpy(), "label": current.to_numpy()})
    table["original_label"] = original.reindex(current.index).to_numpy()
    table["changed"] = table["label"].astype(object) != table["original_label"].astype(object)
    table["reviewed"] = table["id"].isin(reviewed)
    if args.out == "-":
        _write_csv(table, sys.stdout, args.excel_safe)
    else:
        out = Path(args.out)
        if not out.parent.is_dir():
            raise UsageError(f"--out: the folder {out.parent} does not exist")
        with atomic_paths(out) as (temporary,):  # whole or not at all: an earlier export stays as it was
            _write_csv(table, temporary, args.excel_safe)
        _say(f"wrote {len(table)} labels ({int(table['changed'].sum())} changed) to {args.out}")
    return 0


# ------------------------------------------------------------------------------ entry point

#: Subcommand builders, in the order `datamap --help` lists them.
SUBCOMMANDS = [_add_train, _add_suspects, _add_report, _add_export]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="datamap",
        description="Find mislabeled examples from training dynamics (Dataset Cartography).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
    # The library's warnings (texts cut at max_length, an exact neighbour search at scale…)
    # speak to the user: one line in the command's own voice, not a Python source location.
    _say(f"datamap: warning: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with its error line (which quotes what was typed) shown terminal-safe."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, terminal_safe(f"{self.prog}: error: {message}") + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``datamap`` command; returns the exit status.

    Ctrl-C at any point (the imports of torch and transformers take seconds) ends with one
    line and status 130, never a traceback.
    """
    stdout = sys.stdout
    try:
        if getattr(stdout, "isatty", lambda: False)():
            sys.stdout = _TerminalStream(stdout)
        parser = build_parser()
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _run(args)
    except KeyboardInterrupt:
        print("datamap: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout = stdout


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args) or 0)
    except (UsageError, OSError, MissingExtraError) as error:  # OSError: e.g. a report into a read-only folder
        ranks = launched_ranks()
        if ranks.main:  # under torchrun every rank meets the same bad input: rank 0 says it
            _say(f"datamap: error: {error}", file=sys.stderr)
        elif not isinstance(error, UsageError):
            _say(f"datamap: error: rank {ranks.rank}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
