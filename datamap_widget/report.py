"""A shareable, self-contained HTML report of a data map.

For the people who look at a data map without a notebook: a labeling lead, a reviewer, a CI
artifact. The report is ONE HTML file that opens offline: the figure is inline SVG rendered
by vl-convert (the ``[export]`` extra) or, without it, drawn from numpy by
:mod:`report_svg`; the style is a few inline CSS lines, and there is no script and no URL.

Texts come from datasets and are untrusted: every data string (ids, labels, texts, run
settings) goes through :func:`html.escape`, so ``<img src=x onerror=…>`` is shown as text.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .atomic import atomic_open
from .dependencies import MissingExtraError, require
from .report_svg import MAX_NAME_CHARS, datamap_svg, escape_html

if TYPE_CHECKING:  # pragma: no cover
    from .datamap import DataMap

__all__ = ["REPORT_FILE", "DEFAULT_TOP", "REPORT_TEXT_CHARS", "write_report", "render_report", "align_texts"]

#: File name :func:`write_report` uses when given a folder.
REPORT_FILE = "report.html"

#: Suspects listed by default.
DEFAULT_TOP = 100

#: Characters of each suspect's text the report shows by default; the rest is cut with a note
#: saying how much. A page of 100 suspects stays a few hundred kB and opens at once whatever
#: the texts hold (one 1 MB text without spaces used to stall the page for minutes). Not the
#: widget's limit on one document's text (its MAX_TEXT_CHARS, 20,000: one text at a time).
REPORT_TEXT_CHARS = 2_000

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --band: #f6f8fa; --accent: #8250df; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p.lead, .muted { color: var(--muted); margin-top: 0; }
figure { margin: 16px 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.grid > div { min-width: 220px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.diag { background: #eef7ee !important; font-weight: 600; }
td.off { color: #b3261e; }
table.suspects { width: 100%; }
table.suspects { table-layout: fixed; }
table.suspects td { overflow-wrap: anywhere; }
table.suspects td.text { white-space: pre-wrap; width: 45%; }
.cut { color: var(--muted); font-style: italic; white-space: normal; }
code, td.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


_e = escape_html


def _clip(value: Any, limit: int) -> str:
    """Escaped ``value``, cut after ``limit`` characters with a note of how many were left out."""
    text = str(value)
    if len(text) <= limit:
        return _e(text)
    left = len(text) - limit
    return f'{_e(text[:limit])}<span class="cut"> … {left:,} more characters not shown ({len(text):,} in all)</span>'


def align_texts(dmap: "DataMap", texts: Any) -> pd.Series | None:
    """Texts as a Series indexed like ``dmap.ids`` (missing ones NaN), or None.

    ``texts`` may be a pandas Series indexed by id, a mapping id -> text, a DataFrame with
    ``id`` and ``text`` columns, or a sequence of texts in the map's order.
    """
    if texts is None:
        return None
    index = pd.Index(dmap.ids)
    if isinstance(texts, pd.DataFrame):
        missing = {"id", "text"} - set(texts.columns)
        if missing:
            raise ValueError(f"texts DataFrame must have columns 'id' and 'text', missing {sorted(missing)}")
        texts = pd.Series(texts["text"].to_numpy(), index=texts["id"].to_numpy())
    elif isinstance(texts, Mapping):
        texts = pd.Series(dict(texts), dtype=object)
    elif isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a Series, mapping, DataFrame or sequence of texts, got a single str")
    elif not isinstance(texts, pd.Series):
        try:
            values = list(texts)
        except TypeError:
            raise TypeError(
                f"texts must be a Series, mapping, DataFrame or sequence of texts, got {type(texts).__name__}"
            ) from None
        if len(values) != len(index):
            raise ValueError(f"texts has {len(values)} entries but the data map has {len(index)} examples")
        return pd.Series(values, index=index, dtype=object)
    if texts.index.has_duplicates:
        raise ValueError("texts has repeated ids in its index")
    # Ids read back from files may be str where the map holds str; match on the map's kind.
    if dmap.ids.dtype.kind in "OUS" and texts.index.dtype.kind not in "OUS":
        texts.index = texts.index.astype(str)
    return texts.reindex(index)


# ------------------------------------------------------------------------------ sections


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] | None = None, cls: str = "") -> str:
    """An HTML table from already-escaped cell strings."""
    numeric = numeric or [False] * len(header)
    head = "".join(f'<th class="num">{h}</th>' if n else f"<th>{h}</th>" for h, n in zip(header, numeric))
    body = []
    for row in rows:
        cells = []
        for cell, n in zip(row, numeric):
            cells.append(cell if cell.startswith("<td") else (f'<td class="num">{cell}</td>' if n else f"<td>{cell}</td>"))
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _share(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else "–"


def _region_section(frame: pd.DataFrame) -> str:
    total = len(frame)
    counts = frame["category"].value_counts()
    rows = [[_e(name), f"{int(counts.get(name, 0)):,}", _share(int(counts.get(name, 0)), total)] for name in metrics.CATEGORIES]
    unseen = int(frame["category"].isna().sum())
    if unseen:
        rows.append(["never seen", f"{unseen:,}", _share(unseen, total)])
    return "<h3>Examples per region</h3>" + _table(["region", "examples", "share"], rows, [False, True, True])


def _label_section(frame: pd.DataFrame, n_suspects: pd.Series) -> str:
    total = len(frame)
    grouped = frame.groupby("label", observed=False)
    counts = grouped.size()
    mean_score = grouped["mislabel_score"].mean()
    hard = frame["category"].eq(metrics.CATEGORIES[2]).groupby(frame["label"], observed=False).sum()
    changed = (frame["suggested_label"].astype(object) != frame["label"].astype(object)) & frame["suggested_label"].notna()
    disagree = changed.groupby(frame["label"], observed=False).sum()
    rows = []
    for name in counts.index:
        score = mean_score.get(name)
        rows.append(
            [
                _e(name),
                f"{int(counts[name]):,}",
                _share(int(counts[name]), total),
                f"{int(hard.get(name, 0)):,}",
                f"{int(disagree.get(name, 0)):,}",
                f"{int(n_suspects.get(name, 0)):,}",
                "–" if score is None or pd.isna(score) else f"{score:.3f}",
            ]
        )
    header = ["label", "examples", "share", "hard-to-learn", "suggested otherwise", "in top suspects", "mean score"]
    return "<h3>Examples per label</h3>" + _table(header, rows, [False] + [True] * 6)


def _confusion_section(frame: pd.DataFrame, label_names: Sequence[str]) -> str:
    seen = frame["suggested_label"].notna()
    table = pd.crosstab(
        pd.Categorical(frame.loc[seen, "label"], categories=label_names),
        pd.Categorical(frame.loc[seen, "suggested_label"], categories=label_names),
        dropna=False,
    )
    header = ["given ↓ / suggested →"] + [_e(name) for name in label_names] + ["agree"]
    rows = []
    matrix = table.to_numpy()
    for i, name in enumerate(label_names):
        row_total = int(matrix[i].sum())
        cells = [f"<td><b>{_e(name)}</b></td>"]
        for j in range(len(label_names)):
            value = int(matrix[i, j])
            cls = "num diag" if i == j else ("num off" if value else "num")
            cells.append(f'<td class="{cls}">{value:,}</td>')
        cells.append(f'<td class="num">{_share(int(matrix[i, i]), row_total)}</td>')
        rows.append(cells)
    note = (
        '<p class="muted">Rows: the label each example was given. Columns: the label the model most '
        "consistently preferred over training. Off-diagonal cells are the suggestions the map shows, worth a look; "
        "the diagonal holds the examples it suggests nothing else for (shown as “—” in the suspects' table).</p>"
    )
    return "<h3>Given label against suggested label</h3>" + note + _table(header, rows, [False] + [True] * (len(label_names) + 1))


def _json_text(value: Any) -> str:
    """A setting's value as JSON a person reads: label names as written ("négatif 👎"), not as
    ``\\u00e9`` escapes; a string no UTF-8 page can hold (a lone surrogate) keeps its escapes."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, default=str)
    return text


def _flatten(record: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and prefix.count(".") < 1:
            items.extend(_flatten(value, name + "."))
        else:
            items.append((name, value))
    return items


#: The run record's settings a reader looks for first, in this order: (label, where in the
#: record, how to show the value). The rest stays one click away, under "All settings".
_RUN_SUMMARY: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("Model", ("settings", "model"), None),
    ("Data", ("data",), None),
    ("Examples", ("settings", "n_examples"), lambda v: f"{v:,}"),
    ("Passes", ("settings", "epochs"), None),
    ("Batch size", ("settings", "batch_size"), None),
    ("Learning rate", ("settings", "lr"), lambda v: f"{v:g}"),
    ("Reading", ("settings", "long_text"), None),
    ("Tokens per read", ("settings", "max_length"), None),
    ("Precision", ("settings", "precision"), None),
    ("Seed", ("settings", "seed"), None),
    ("Score method", ("settings", "method"), None),
    ("Projection", ("settings", "projection"), None),
    ("Device", ("device",), None),
    ("Processes", ("world_size",), None),
    ("Training time", ("timings", "total_s"), lambda v: f"{v:,.0f} s"),
    ("Created", ("created_at",), None),
    ("datamap_widget", ("versions", "datamap_widget"), None),
)


def _lookup(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _run_section(run: Mapping[str, Any] | None) -> str:
    """The run's settings: a short summary a person reads, then every raw setting, folded away."""
    if not run:
        return ""
    summary = []
    for label, path, show in _RUN_SUMMARY:
        value = _lookup(run, path)
        if value is None or isinstance(value, (Mapping, list)):
            continue
        try:
            shown = show(value) if show is not None else str(value)
        except (TypeError, ValueError):  # a hand-edited record: show it as it is
            shown = str(value)
        # The record's own key beside each row, so the summary leads into the full list below.
        summary.append([_e(label), _e(shown), f'<td class="muted"><code>{_e(".".join(path))}</code></td>'])
    rows = []
    for key, value in _flatten(run):
        shown = value if isinstance(value, str) else _json_text(value)
        rows.append([f"<code>{_e(key)}</code>", _e(shown)])
    out = ["<h3>Run settings</h3>"]
    if summary:
        out.append(_table(["setting", "value", "in run.json"], summary, cls="settings run-summary"))
    out.append(
        f"<details><summary>All settings ({len(rows)})</summary>"
        + _table(["setting", "value"], rows, cls="settings")
        + "</details>"
    )
    return "".join(out)


def _suspects_section(dmap: "DataMap", rows: pd.DataFrame, texts: pd.Series | None, label: str, text_chars: int) -> str:
    out = [f"<h2>Top suspects</h2><p class=\"muted\">{_e(label)}, highest mislabel score first "
           f"(score method <code>{_e(dmap.method)}</code>: {_e(metrics.SCORE_METHODS[dmap.method])}).</p>"]
    if not len(rows):
        out.append("<p>No suspects to list.</p>")
        return "".join(out)
    header = ["#", "id", "label", "suggested", "score", "confidence", "variability", "correctness", "region"]
    numeric = [True, False, False, False, True, True, True, True, False]
    if texts is not None:
        header.append("text")
        numeric.append(False)
        shown = texts.reindex(rows.index)
    body = []
    for rank, (example_id, row) in enumerate(rows.iterrows(), start=1):
        suggested = row["suggested_label"]
        differs = pd.notna(suggested) and str(suggested) != str(row["label"])
        cells = [
            str(rank),
            f'<td class="id">{_clip(example_id, MAX_NAME_CHARS)}</td>',
            _clip(row["label"], MAX_NAME_CHARS),
            # The map shows no suggestion where it offers no other label: "—", never the label again.
            f'<td class="off">{_clip(suggested, MAX_NAME_CHARS)}</td>' if differs else _clip(metrics.NO_SUGGESTION, MAX_NAME_CHARS),
            f"{row['mislabel_score']:.3f}",
            f"{row['confidence']:.3f}",
            f"{row['variability']:.3f}",
            f"{row['correctness']:.2f}",
            _e("" if pd.isna(row["category"]) else row["category"]),
        ]
        if texts is not None:
            text = shown.get(example_id)
            missing = text is None or (isinstance(text, float) and np.isnan(text))
            cells.append(f'<td class="text">{"" if missing else _clip(text, text_chars)}</td>')
        body.append(cells)
    out.append(_table(header, body, numeric, cls="suspects"))
    return "".join(out)


# ------------------------------------------------------------------------------ the page


def _export_extra_installed() -> bool:
    """Whether Altair and vl-convert (the ``[export]`` extra) can be imported."""
    try:
        require("altair", "the report's Altair figure")
        require("vl_convert", "the report's Altair figure")
    except MissingExtraError:
        return False
    return True


def _figure(dmap: "DataMap", chart_options: Mapping[str, Any] | None) -> str:
    """The map as inline SVG: Altair's figure with the ``[export]`` extra, else drawn from numpy.

    The base install must still write a report, so without Altair/vl-convert the figure
    comes from :mod:`report_svg`, which takes the same options and draws the same map.
    """
    options = dict(chart_options or {})
    if not _export_extra_installed():
        return datamap_svg(dmap, **options)
    from .chart import chart_to_svg, datamap_chart

    svg = chart_to_svg(datamap_chart(dmap, **options))
    return re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg)  # inline SVG must not carry an XML prolog


def render_report(
    dmap: "DataMap",
    texts: Any = None,
    *,
    run: Mapping[str, Any] | None = None,
    top: int | None = None,
    frac: float | None = None,
    title: str = "Data map report",
    chart_options: Mapping[str, Any] | None = None,
    max_text_chars: int = REPORT_TEXT_CHARS,
) -> str:
    """The report as an HTML string (see :func:`write_report` for the parameters)."""
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    if run is not None and not isinstance(run, Mapping):
        raise TypeError(f"run must be a mapping (the run.json record) or None, got {type(run).__name__}")
    if isinstance(max_text_chars, bool) or not isinstance(max_text_chars, (int, np.integer)) or max_text_chars < 1:
        raise ValueError(f"max_text_chars must be a positive int, got {max_text_chars!r}")
    if top is None and frac is None:
        top = DEFAULT_TOP
    rows = dmap.suspects(frac=frac, top=top)
    listed = f"the top {frac:.0%} ({len(rows):,} examples)" if frac is not None else f"{len(rows):,} examples"
    aligned = align_texts(dmap, texts)
    frame = dmap.frame

    svg = _figure(dmap, chart_options)

    n = len(frame)
    reviewed = int(frame["reviewed"].sum())
    facts = (
        f"{n:,} examples · {len(dmap.label_names)} classes · {dmap.n_passes} passes · "
        f"score <code>{_e(dmap.method)}</code> · thresholds confidence {dmap.thresholds['confidence']:g}, "
        f"variability {dmap.thresholds['variability']:g}"
        + (f" · {reviewed:,} reviewed (left out of the suspects)" if reviewed else "")
    )
    rules = (
        "Regions: <b>ambiguous</b> when variability ≥ "
        f"{dmap.thresholds['variability']:g}; otherwise <b>easy-to-learn</b> when confidence ≥ "
        f"{dmap.thresholds['confidence']:g}, else <b>hard-to-learn</b>. Hard-to-learn examples are the "
        "usual home of label errors."
    )
    read_line = ""
    if dmap.reading:
        from .long_text import describe_reading

        # What the model read of the texts: a head-only run on long texts ranks their openings.
        read_line = f'<p class="muted">{_e(describe_reading(dmap.reading))}.</p>'
    n_suspects = rows["label"].value_counts()
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No external resource may load: the page must open offline and leak nothing.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1><p class=\"lead\">{facts}</p>",
        read_line,
        f'<figure aria-label="data map">{svg}</figure>',
        f'<p class="muted">{rules}</p>',
        "<h2>Summary</h2>",
        '<div class="grid"><div>',
        _region_section(frame),
        "</div><div>",
        _label_section(frame, n_suspects),
        "</div></div>",
        _confusion_section(frame, dmap.label_names),
        _run_section(run),
        _suspects_section(dmap, rows, aligned, listed, int(max_text_chars)),
        f"<footer>Made by datamap_widget on {_e(generated)}. Texts are shown as plain text.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_report(
    dmap: "DataMap",
    path: str | Path,
    texts: Any = None,
    *,
    run: Mapping[str, Any] | None = None,
    top: int | None = None,
    frac: float | None = None,
    title: str = "Data map report",
    chart_options: Mapping[str, Any] | None = None,
    max_text_chars: int = REPORT_TEXT_CHARS,
) -> Path:
    """Write a self-contained HTML report of ``dmap`` and return its path.

    Parameters
    ----------
    dmap : the data map.
    path : a folder (``path/report.html`` is written; the folder is created) or a file
        name ending in ``.html``/``.htm``.
    texts : the examples' texts, to show beside the suspects: a Series indexed by id, a
        mapping id -> text, a DataFrame with ``id`` and ``text`` columns, or a sequence in
        the map's order. Shown as plain text (HTML-escaped).
    run : the run record (``run.json``) whose settings the report lists.
    top, frac : how many suspects to list, as in :meth:`DataMap.suspects` (default: the
        top :data:`DEFAULT_TOP`). Reviewed examples are left out.
    title : page title.
    chart_options : keyword arguments for :func:`datamap_widget.chart.datamap_chart` (also taken
        by the numpy-drawn figure used without the ``[export]`` extra).
    max_text_chars : characters of each text shown (default :data:`REPORT_TEXT_CHARS`); a
        longer text is cut with a note of how much was left out, so the page stays small
        and quick to open. Ids and label names are cut after :data:`MAX_NAME_CHARS`.

    The page has no script and loads nothing: the figure is inline SVG.
    """
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        target.mkdir(parents=True, exist_ok=True)
        target = target / REPORT_FILE
    page = render_report(
        dmap, texts, run=run, top=top, frac=frac, title=title, chart_options=chart_options, max_text_chars=max_text_chars
    )
    with atomic_open(target, "w", encoding="utf-8") as handle:  # whole or not at all: an earlier report stays readable
        handle.write(page)
    return target


def __getattr__(name: str) -> Any:
    if name == "MAX_TEXT_CHARS":  # renamed: the widget has a MAX_TEXT_CHARS that means 20,000
        import warnings

        warnings.warn("datamap_widget.report.MAX_TEXT_CHARS is now REPORT_TEXT_CHARS", DeprecationWarning, stacklevel=2)
        return REPORT_TEXT_CHARS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
