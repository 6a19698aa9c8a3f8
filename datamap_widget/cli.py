"""The ``datamap`` command: train a data map, list suspects, write reports and exports.

A thin layer over the library: every subcommand parses its arguments, calls the same
functions a notebook uses (:mod:`datamap_widget.run` for the run folder and the training run
around ``fine_tune``, :mod:`datamap_widget.data` for the table's columns, the report, the
store) and prints, terminal-safe. Bad input ends with a
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
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .atomic import atomic_paths
from .dependencies import MissingExtraError
from .metrics import NO_SUGGESTION
from .parallel import launched_ranks
from .run import TEXTS_FILE
from .run import (
    CHECKPOINT_FILE, DATAMAP_FILE, RUN_FILE, RunFolderError, finish_checkpoint, prepare_out, read_run, remove_if_empty,
    run_record, save_run, train_and_score,
)

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


# ------------------------------------------------------------------------------ helpers


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
    from .projection import PROJECTION_METHODS
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
    p.add_argument(
        "--projection", choices=("auto", *PROJECTION_METHODS, "none"), default="auto",
        help="2-D projection of the embeddings made after training and saved in the run, so the widget's embedding "
        "view opens at once: auto is t-SNE when openTSNE is installed (the projection extra), else PCA; tsne takes "
        "seconds at 1,000 examples and minutes at 70,000 (benchmarks/results/projection.md); none skips it "
        "(the widget then makes it when first asked) (default: auto)",
    )
    p.add_argument("--top", type=int, default=20, help="suspects to print (default: 20)")
    p.add_argument(
        "--true-label-column",
        default=None,
        help="column of audited true labels, if you have one: prints the share of label errors found in the "
        "top 5%% (the sample's is true_label)",
    )
    p.add_argument(
        "--quiet", action="store_true",
        help="print only errors, warnings, where the run was written and, with true labels, the share of label errors "
        "found (no progress bar, no suspects table)",
    )
    _add_store_options(p, "also save the run to this store")
    p.set_defaults(handler=_cmd_train)


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
    from .data import labeled_examples
    from .parallel import Ranks, on_main
    from .train import check_device

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
    try:
        texts, labels, ids = labeled_examples(
            frame, text_column=args.text_column, label_column=args.label_column, id_column=args.id_column, source=str(path)
        )
        if args.true_label_column and args.true_label_column not in frame.columns:
            raise ValueError(f"{path} has no column {args.true_label_column!r} (--true-label-column)")
        check_device(args.device)
        _check_projection(args.projection, args.no_embeddings)
    except ValueError as error:
        raise UsageError(str(error)) from None

    # Every output is checked before training, so a bad one costs seconds, not a run.
    out = Path(args.out)

    def check_outputs() -> bool:
        try:
            created = prepare_out(out, overwrite=args.overwrite, resume=args.resume)
        except RunFolderError as error:
            raise UsageError(str(error)) from None
        if args.store:
            with _open_store(args.store) as store:
                _store_call(args.store, store.check_writable, args.dataset)
        return created

    created = on_main(check_outputs, ranks, (UsageError,))  # every rank stops alike on a bad --out
    processes = f" on {ranks.world_size} processes" if ranks.distributed else ""
    again = " (resuming)" if args.resume else ""
    if ranks.main and not args.quiet:
        _say(f"datamap: training on {len(texts)} examples from {path} ({len(set(map(str, labels)))} classes){processes}{again}", file=sys.stderr)
    try:
        scored = train_and_score(
            texts,
            labels,
            ids,
            true_labels=frame[args.true_label_column].astype(str).tolist() if args.true_label_column else None,
            projection=None if args.projection == "auto" else args.projection,
            score=ranks.main,
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
    return _report_training(args, scored, path, texts, out, created, ranks)


def _check_projection(method: str, no_embeddings: bool) -> None:
    """A named projection whose package is missing is refused before training, not after it."""
    import importlib.util

    from .dependencies import require
    from .projection import PROJECTION_METHODS

    if method in ("auto", "none"):
        return
    if no_embeddings:
        raise ValueError(f"--projection {method} needs the embeddings that --no-embeddings leaves out; drop one of them")
    module = PROJECTION_METHODS[method][1]
    if module is not None and importlib.util.find_spec(module) is None:  # found, not imported (umap takes seconds)
        require(module, f"--projection {method}", alternative="or use --projection pca (or auto)")


def _report_training(args: argparse.Namespace, scored: Any, path: Path, texts: list, out: Path, created: bool, ranks: Any) -> int:
    """Rank 0, after training: write the run (and the store's copy), then print what happened."""
    run, dmap = scored.training, scored.datamap
    processes = f" on {ranks.world_size} processes" if ranks.distributed else ""
    columns = {"text": args.text_column, "label": args.label_column, "id": args.id_column}
    record = run_record(
        scored, data=str(path), columns=columns, world_size=ranks.world_size,
        keep_checkpoint=args.keep_checkpoint, started=time.perf_counter(),
    )
    failures: list[str] = []
    saved = save_run(out, dmap, texts, record, overwrite=args.overwrite or args.resume, created=created)
    if saved.failure:
        failures.append(saved.failure)
    saved_line = None
    if args.store:
        try:
            with _open_store(args.store) as store:
                run_id = _store_call(
                    args.store, store.save_run, dmap, args.dataset, model=run.settings.get("model"),
                    settings=record["settings"], summary=scored.summary,
                )
            saved_line = f"saved run {run_id} of dataset {args.dataset!r} to {store.url}"
        except UsageError as error:
            failures.append(f"the run was not saved to the store ({error}); it is in {saved.folder}")

    from .long_text import describe_reading

    checkpoint_line = finish_checkpoint(out, run.settings.get("checkpoint_bytes"), args.keep_checkpoint) if not failures else None
    written = ", ".join(str(saved.folder / name) for name in (DATAMAP_FILE, RUN_FILE, TEXTS_FILE) if (saved.folder / name).is_file())
    wrote_line = f"wrote {written} in {run.timings['total_s']:.0f} s ({run.device}{processes})"
    lines: list[str] = []  # the result, in a few lines; --quiet keeps these and drops the table and the chatter
    if args.quiet:
        lines.append(wrote_line + (f"; {checkpoint_line}" if checkpoint_line else ""))
    else:
        texts_by_id = dict(zip(dmap.ids.tolist(), texts))
        print(f"Top {args.top} suspects (highest mislabel_score first; method {dmap.method}):")
        print(format_suspects(dmap.suspects(top=args.top), texts_by_id))
        print()
        lines += [wrote_line] + ([checkpoint_line] if checkpoint_line else [])
    if run.settings.get("read"):
        lines.append(describe_reading(run.settings["read"]))
    if not args.quiet and scored.projection_s is not None:
        lines.append(f"made the {dmap.projection_method} projection of the embeddings in {scored.projection_s:.1f} s "
                     "(the widget's embedding view opens at once)")
    elif not args.quiet and args.projection != "none" and scored.projection_skipped:
        lines.append(f"no projection of the embeddings: {scored.projection_skipped}")
    if scored.label_errors_found:
        found, errors, top = scored.label_errors_found
        lines.append(
            f"found {found} of {errors} label errors ({found / errors:.0%}) in the top 5% "
            f"({top} of {len(dmap)} examples) of the ranking"
        )
    if saved_line:
        lines.append(saved_line)
    for line in lines:
        _say(line)
    for failure in failures:
        _say(f"datamap: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


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
    from .report import REPORT_FILE, REPORT_TEXT_CHARS, write_report

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
    if args.output:
        _output_file(args.output, "--output", REPORT_FILE)
    title = args.title or f"Data map report: {Path(args.run).resolve().name}"
    try:
        written = [
            write_report(
                dmap, output, texts, run=run, top=args.top, frac=args.frac, title=title,
                max_text_chars=args.text_chars or REPORT_TEXT_CHARS,
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

    from .labels import label_names_of

    _check_store_options(args)
    if args.run is None and not args.store:
        raise UsageError("give RUN (a run folder) or --store URL --dataset NAME")
    original = None
    if args.run is not None:
        dmap, _, _ = _load_run(args.run)
        original = pd.Series(label_names_of(dmap.labels, dmap.label_names), index=dmap.ids)
    reviewed: set = set()
    if args.store:
        with _open_store(args.store) as store:
            if original is None:
                latest = _store_call(args.store, store.latest_run, args.dataset)
                if latest is None:
                    raise UsageError(f"dataset {args.dataset!r} has no runs in {store.url} (save one with `datamap train --store`)")
                base = _store_call(args.store, store.load_run, latest)
                original = pd.Series(label_names_of(base.labels, base.label_names), index=base.ids)
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
        out = _output_file(args.out, "--out", "labels.csv")
        with atomic_paths(out) as (temporary,):  # whole or not at all: an earlier export stays as it was
            _write_csv(table, temporary, args.excel_safe)
        _say(f"wrote {len(table)} labels ({int(table['changed'].sum())} changed) to {args.out}")
    return 0


def _output_file(path: str, flag: str, example: str) -> Path:
    """``path`` as a file the command can write, checked before any work: its folder exists and
    it is no folder itself (else the write fails with a bare ``[Errno 21] Is a directory``)."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name (e.g. {out / example})")
    if not out.parent.is_dir():
        raise UsageError(f"{flag}: the folder {out.parent} does not exist")
    return out


def _os_error_line(error: OSError) -> str:
    """An OSError in the command's words: ``PATH: reason``, not ``[Errno 2] reason: 'PATH'``."""
    if error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return error.strerror or str(error)


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
    args: argparse.Namespace | None = None
    try:
        if getattr(stdout, "isatty", lambda: False)():
            sys.stdout = _TerminalStream(stdout)
        parser = build_parser()
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _run(args)
    except KeyboardInterrupt:
        print(terminal_safe(f"datamap: interrupted{_resume_hint(args)}"), file=sys.stderr)
        return 130
    finally:
        sys.stdout = stdout


def _resume_hint(args: argparse.Namespace | None) -> str:
    """After Ctrl-C in ``train``: where the last complete pass is kept and how to go on from it."""
    out = getattr(args, "out", None) if getattr(args, "command", None) == "train" else None
    if not out or not (Path(out) / CHECKPOINT_FILE).is_file():
        return ""
    return (
        f"; the passes finished so far are kept in {Path(out) / CHECKPOINT_FILE}: run the same command "
        "with --resume to go on from there (the map will equal that of a run never interrupted)"
    )


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args) or 0)
    except (UsageError, OSError, MissingExtraError) as error:  # OSError: e.g. a report into a read-only folder
        ranks = launched_ranks()
        said = _os_error_line(error) if isinstance(error, OSError) else str(error)
        if ranks.main:  # under torchrun every rank meets the same bad input: rank 0 says it
            _say(f"datamap: error: {said}", file=sys.stderr)
        elif not isinstance(error, UsageError):
            _say(f"datamap: error: rank {ranks.rank}: {said}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
