"""What the model reads of each text: the long-document modes of fine-tuning.

A transformer reads at most ``max_length`` tokens. Texts longer than that used to be cut to
their beginning, so on reviews whose verdict comes last the map flagged exactly the texts
whose opening disagrees with their label. The modes here decide which tokens of a text become
the model's inputs (*units*); :func:`plan_units` is pure Python/numpy on token ids, so it is
tested without a model and :mod:`datamap_widget.train` only feeds its units to the network.

``head``       the first ``max_length`` tokens (what every tokenizer's truncation does).
``head_tail``  half of the budget from the start of the text and half from its end
               (``HEAD_SHARE``), at the cost of ``head`` (Sun et al. 2019, "How to Fine-Tune BERT
               for Text Classification?": head+tail beat head-only, tail-only and hierarchical
               pooling on IMDb and Yelp).
``windows``    every ``max_length`` window, consecutive windows sharing ``stride`` tokens
               (the Hugging Face tokenizers' ``stride``), each trained with its document's
               label; a pass's statistics of the document come from its windows' mean class
               probabilities (see ``train.WINDOW_POOL``). Costs about ``tokens / step``
               forward passes per text, so several times ``head`` on long texts.

A text that fits in one unit is read whole and identically by every mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "LONG_TEXT_MODES",
    "DEFAULT_STRIDE",
    "DEFAULT_MAX_WINDOWS",
    "HEAD_SHARE",
    "MAX_CHARS_PER_TOKEN",
    "Units",
    "check_long_text_options",
    "describe_reading",
    "cut_for_tokenizer",
    "plan_units",
]

LONG_TEXT_MODES = ("head", "head_tail", "windows")

#: Share of the token budget that ``head_tail`` takes from the start of a text (the rest comes
#: from its end). Sun et al. (2019) kept 128 head + 382 tail tokens of 510 (a quarter) on
#: reviews; on BBC News (400 articles, 3% flips, seeds 0-1) half from the start found more of the
#: flips than a quarter (AP 0.966/0.908 against 0.788/0.891) and than the head alone
#: (0.807/0.895): a title and lead, and a conclusion or verdict (benchmarks/results/long_documents.md).
HEAD_SHARE = 0.5

#: Tokens two consecutive windows share (HF tokenizers' ``stride``): a sentence cut at one
#: window's edge is read whole by the next, at ``max_length / (max_length - stride)`` times the
#: tokens of non-overlapping windows.
DEFAULT_STRIDE = 32

#: At most this many windows per text. A text past ``max_windows`` windows (a log file, a
#: book) is read through that many windows spread evenly over it, first and last included, so
#: one huge text costs what a long one does; the training warning counts the texts so capped.
DEFAULT_MAX_WINDOWS = 32

#: Characters one token can cover at most, for cutting a text before tokenizing. WordPiece
#: tokenizers turn a word longer than 100 characters into one unknown token and BPE tokens are
#: shorter still, so ``tokens x 128`` characters always hold ``tokens`` tokens (whitespace
#: included); a 50 MB text then costs what a text of that many characters does.
MAX_CHARS_PER_TOKEN = 128


def check_long_text_options(mode: Any, max_length: int, stride: Any, max_windows: Any, model_limit: int | None = None, n_special: int = 2) -> None:
    """Refuse a mode, stride or window cap that cannot work, naming it and what is allowed."""
    if mode not in LONG_TEXT_MODES:
        raise ValueError(f"long_text must be one of {list(LONG_TEXT_MODES)}, got {mode!r}")
    content = int(max_length) - n_special
    if content < 2:
        raise ValueError(f"max_length={max_length} leaves {content} token(s) after the model's {n_special} special tokens; pass max_length >= {n_special + 2}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 0:
        raise ValueError(f"stride must be an int >= 0 (tokens consecutive windows share), got {stride!r}")
    if mode == "windows" and stride >= content:
        raise ValueError(
            f"stride={stride} is not smaller than a window's {content} text tokens (max_length={max_length} minus "
            f"{n_special} special tokens): windows would never advance; pass stride < {content}, e.g. {min(DEFAULT_STRIDE, content // 4)}"
        )
    if isinstance(max_windows, bool) or not isinstance(max_windows, (int, np.integer)) or max_windows < 1:
        raise ValueError(f"max_windows must be an int >= 1, got {max_windows!r}")
    if model_limit and max_length > model_limit:
        raise ValueError(
            f"max_length={max_length} is more than this model reads ({model_limit} tokens, max_position_embeddings): "
            f"pass max_length <= {model_limit}"
        )


def cut_for_tokenizer(text: str, mode: str, content: int, max_windows: int) -> tuple[str, float]:
    """``text`` cut to the characters that can hold what a mode reads, before tokenizing, and
    the share of the characters kept (1.0 when nothing was cut).

    ``content`` is a unit's text tokens. ``head`` keeps the start; ``head_tail`` both ends;
    ``windows`` ``max_windows`` evenly spaced slices, first and last included (its windows are
    spread evenly over a capped text too). A 50 MB text then costs what a long one does.
    """
    piece = content * MAX_CHARS_PER_TOKEN
    if mode == "windows":
        if len(text) <= piece * max_windows:
            return text, 1.0
        starts = np.round(np.linspace(0, len(text) - piece, max_windows)).astype(np.int64)
        kept = " ".join(text[s : s + piece] for s in starts)
        return kept, piece * max_windows / len(text)
    if len(text) <= piece:
        return text, 1.0
    if mode == "head":
        return text[:piece], piece / len(text)
    return text[:piece] + " " + text[-piece:], 2 * piece / len(text)


@dataclass
class Units:
    """The model inputs a mode makes of a set of texts.

    ``input_ids`` : one list of token ids per unit, special tokens included, each at most
        ``max_length`` long.
    ``doc`` : ``(U,)`` int64, the text each unit belongs to, non-decreasing.
    ``tokens`` : ``(N,)`` int64, each text's length in tokens (without special tokens; for a
        text cut before tokenizing, its whole length estimated from the share kept).
    ``covered`` : ``(N,)`` float64, share of each text's tokens that some unit reads.
    ``capped`` : ``(N,)`` bool, texts that had more windows than ``max_windows``.
    ``cut`` : ``(N,)`` bool, texts cut before tokenizing (see :func:`cut_for_tokenizer`).
    """

    input_ids: list[list[int]]
    doc: np.ndarray
    tokens: np.ndarray
    covered: np.ndarray
    capped: np.ndarray
    cut: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.input_ids)

    def summary(self, mode: str, max_length: int, stride: int, max_windows: int, n_special: int = 2) -> dict[str, Any]:
        """What was read, for ``run.json``, the CLI, the report and the training warning."""
        n = len(self.tokens)
        content = max_length - n_special
        # Windows a text would need to be read whole (what the warning quotes for other modes).
        step = content - min(stride, content // 2)
        needed = 1 + np.ceil(np.maximum(self.tokens - content, 0) / step)
        return {
            "mode": mode,
            "max_length": int(max_length),
            "stride": int(stride) if mode == "windows" else None,
            "max_windows": int(max_windows),
            "texts": n,
            "units": self.n_units,
            "units_per_text": round(self.n_units / max(1, n), 3),
            "texts_longer_than_max_length": int((self.tokens > content).sum()),
            "texts_not_read_whole": int((self.covered < 1.0).sum()),
            "texts_cut_before_tokenizing": int(self.cut.sum()),
            "mean_share_read": round(float(self.covered.mean()) if n else 1.0, 4),
            "min_share_read": round(float(self.covered.min()) if n else 1.0, 4),
            "texts_capped": int(self.capped.sum()),
            "windows_needed": round(float(needed.mean()) if n else 1.0, 2),
            "median_tokens": int(np.median(self.tokens)) if n else 0,
            "p95_tokens": int(np.ceil(np.percentile(self.tokens, 95))) if n else 0,
        }


def _window_starts(length: int, content: int, step: int, max_windows: int) -> tuple[np.ndarray, bool]:
    """Start offsets of the windows over ``length`` tokens; whether the count was capped."""
    if length <= content:
        return np.zeros(1, dtype=np.int64), False
    needed = 1 + math.ceil((length - content) / step)
    last = length - content  # the last window ends at the text's end
    if needed <= max_windows:
        starts = np.minimum(np.arange(needed, dtype=np.int64) * step, last)
        return starts, False
    if max_windows == 1:
        return np.zeros(1, dtype=np.int64), True
    # Capped: max_windows windows spread evenly from the start to the end.
    return np.round(np.linspace(0, last, max_windows)).astype(np.int64), True


def plan_units(
    token_ids: Sequence[Sequence[int]],
    mode: str,
    max_length: int,
    *,
    stride: int = DEFAULT_STRIDE,
    max_windows: int = DEFAULT_MAX_WINDOWS,
    add_special_tokens: Callable[[list[int]], list[int]] | None = None,
    n_special: int = 2,
    kept_share: Sequence[float] | None = None,
) -> Units:
    """Make a mode's units from each text's token ids (tokenized without special tokens).

    ``add_special_tokens`` wraps a unit's text tokens as the model expects (a tokenizer's
    ``build_inputs_with_special_tokens``); ``n_special`` is how many it adds. ``kept_share``
    is, per text, the share of its characters :func:`cut_for_tokenizer` kept, so ``covered``
    stays a share of the whole text. Memory is the units themselves: at most ``max_windows``
    per text, each at most ``max_length`` ids.
    """
    check_long_text_options(mode, max_length, stride, max_windows, n_special=n_special)
    wrap = add_special_tokens or (lambda ids: list(ids))
    content = max_length - n_special
    step = content - stride
    head = max(1, int(round(content * HEAD_SHARE)))
    units: list[list[int]] = []
    doc: list[int] = []
    n = len(token_ids)
    lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=n)
    covered = np.ones(n, dtype=np.float64)
    capped = np.zeros(n, dtype=bool)
    for i, ids in enumerate(token_ids):
        length = int(lengths[i])
        if length <= content and (kept_share is None or kept_share[i] >= 1.0):
            units.append(wrap(list(ids)))
            doc.append(i)
            continue
        if mode == "head":
            units.append(wrap(list(ids[:content])))
            covered[i] = content / length
            doc.append(i)
        elif mode == "head_tail":
            tail = content - head
            units.append(wrap(list(ids[:head]) + list(ids[length - tail :])))
            covered[i] = content / length
            doc.append(i)
        else:
            starts, capped[i] = _window_starts(length, content, step, max_windows)
            read = np.zeros(length, dtype=bool)
            for start in starts:
                units.append(wrap(list(ids[start : start + content])))
                doc.append(i)
                read[start : start + content] = True
            covered[i] = read.mean()
    cut = np.zeros(n, dtype=bool)
    if kept_share is not None:
        kept = np.asarray(kept_share, dtype=np.float64)
        covered *= kept
        cut = kept < 1.0
        lengths = np.round(lengths / np.maximum(kept, 1e-12)).astype(np.int64)
    return Units(units, np.asarray(doc, dtype=np.int64), lengths, covered, capped, cut)


def describe_reading(read: dict[str, Any]) -> str:
    """One line saying what the model read of the texts (the CLI, the report, the widget)."""
    n, longer = read["texts"], read.get("texts_longer_than_max_length", 0)
    mode, length = read["mode"], read["max_length"]
    if not longer:
        return f"read: every text whole (all {n:,} fit in max_length={length} tokens; mode {mode})"
    share = f"{read['mean_share_read']:.0%} of all tokens"
    if mode == "head":
        how = "only the beginning of each"
    elif mode == "head_tail":
        how = "the beginning and the end of each"
    elif read.get("texts_capped"):
        how = (f"windows sharing {read['stride']} tokens, {read['units_per_text']:.1f} per text on average; "
               f"{read['texts_capped']:,} texts past max_windows={read.get('max_windows')} read through that many windows spread over them")
    else:
        how = f"every token, in windows sharing {read['stride']} tokens ({read['units_per_text']:.1f} per text on average)"
    return f"read: mode {mode}, max_length={length}: {longer:,} of {n:,} texts are longer; the model read {how} ({share})"
