"""The data map as inline SVG built from numpy, for reports written without the ``[export]`` extra.

:mod:`datamap_widget.report` draws its figure with Altair + vl-convert when they are
installed; the base install lacks them, yet a report must still open with its map. This
module draws the same figure by hand: x = variability, y = confidence, colour =
correctness (plasma, fixed [0, 1]), the region guides as :mod:`datamap_widget.chart` draws
them, axes with ticks, marginal histograms, and above ``max_points`` examples the same
binned heatmap, so the file stays small at any data size.

Ids and label names are untrusted: every string that reaches the SVG goes through
:func:`html.escape`. The SVG has no script, no link and no external reference.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from . import metrics
from .chart import HEATMAP_BINS, HISTOGRAM_BINS, MAX_POINTS, fit_map, heatmap_cells

if TYPE_CHECKING:  # pragma: no cover
    from .datamap import DataMap

__all__ = ["datamap_svg", "escape_html"]

# Matplotlib's "plasma" at nine even stops: the scheme chart.py asks Vega for.
_PLASMA = np.array(
    [
        [13, 8, 135], [76, 2, 161], [126, 3, 168], [169, 35, 149], [204, 71, 120],
        [229, 107, 93], [248, 149, 64], [253, 197, 39], [240, 249, 33],
    ],
    dtype=np.float64,
)
_GUIDE_COLOR = "#555555"
_BAR_COLOR = "#6b7a8f"
_GRID_COLOR = "#eeeeee"
_FONT = 'font-family="system-ui, sans-serif"'
#: Characters of an id or a label name shown (in the report's tables and the figure's tooltips) before it is cut.
MAX_NAME_CHARS = 200


def escape_html(value: Any) -> str:
    """HTML-escape any value shown in the report or its figure (ids, labels, texts and settings are untrusted)."""
    return html.escape(str(value), quote=True)


_e = escape_html


def _escape_all(values: pd.Series) -> pd.Series:
    """Vectorised :func:`html.escape` (quote=True) of a Series of strings, cut to a sane length."""
    text = pd.Series(values.to_numpy(), dtype=object).astype(str).str.slice(0, MAX_NAME_CHARS)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace(char, entity, regex=False)
    return text


def _colors(values: np.ndarray) -> np.ndarray:
    """Hex colours of ``values`` in [0, 1] on the plasma scale."""
    t = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(_PLASMA) - 1)
    lo = np.minimum(t.astype(int), len(_PLASMA) - 2)
    frac = (t - lo)[:, None]
    rgb = np.rint(_PLASMA[lo] * (1 - frac) + _PLASMA[lo + 1] * frac).astype(int)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return np.char.add("#", np.char.zfill(np.char.mod("%x", packed), 6))


def _fmt(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.1f", np.asarray(values, dtype=np.float64))


def _ticks(hi: float) -> np.ndarray:
    step = 0.1 if hi > 0.3 else 0.05
    return np.round(np.arange(0.0, hi + step / 2, step), 4)


def datamap_svg(
    dmap: "DataMap",
    *,
    max_points: int = MAX_POINTS,
    bins: int = HEATMAP_BINS,
    width: int = 420,
    height: int = 420,
    title: str | None = None,
) -> str:
    """The data map of ``dmap`` as an SVG string; takes the options of :func:`chart.datamap_chart`."""
    # The same checks and axis fit as the Altair chart (chart.fit_map).
    frame, seen, max_points, bins, width, height, conf, var, corr, n_seen, limits, x_max = fit_map(
        dmap, max_points, bins, width, height, title
    )

    margin = max(60, min(width, height) // 4)
    gap = 8
    left, top = 56, 56 + margin + gap  # room for the title, then the variability histogram
    plot_right = left + width
    total_w = plot_right + gap + margin + 24
    total_h = top + height + 92  # axis title and legend below

    def sx(v: np.ndarray | float) -> Any:
        return left + np.asarray(v, dtype=np.float64) / x_max * width

    def sy(c: np.ndarray | float) -> Any:
        return top + (1.0 - np.asarray(c, dtype=np.float64)) * height

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
        f'viewBox="0 0 {total_w} {total_h}" role="img" class="datamap-svg" {_FONT}>',
        f'<rect width="{total_w}" height="{total_h}" fill="white"/>',
    ]
    heading = title if title is not None else "Data map"
    mode = f"{n_seen:,} examples" if n_seen <= max_points else f"{n_seen:,} examples, binned {bins}x{bins}"
    out.append(f'<text x="8" y="20" font-size="13" font-weight="bold">{_e(heading)}</text>')
    out.append(f'<text x="8" y="36" font-size="11" fill="#555">{_e(mode)} · {dmap.n_passes} passes · colour = correctness</text>')

    # Grid and axes.
    x_ticks, y_ticks = _ticks(x_max), _ticks(1.0)
    grid = [f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + height}"/>' for x in sx(x_ticks)]
    grid += [f'<line x1="{left}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}"/>' for y in sy(y_ticks)]
    out.append(f'<g class="grid" stroke="{_GRID_COLOR}">{"".join(grid)}</g>')

    # The marks: one circle per example, or one rect per non-empty bin.
    if n_seen <= max_points:
        radius = np.sqrt((30 if n_seen <= 1000 else 14 if n_seen <= 3000 else 8) / np.pi)
        ids = _escape_all(pd.Series(frame.index[seen], dtype=object))
        labels = _escape_all(frame.loc[seen, "label"].astype(object))
        tips = ids + " · " + labels + " · confidence " + pd.Series(np.char.mod("%.3f", conf)) \
            + " · variability " + pd.Series(np.char.mod("%.3f", var))
        marks = (f'<circle r="{radius:.2f}" cx="' + pd.Series(_fmt(sx(var))) + '" cy="' + pd.Series(_fmt(sy(conf)))
                 + '" fill="' + pd.Series(_colors(corr)) + '"><title>' + tips + "</title></circle>")
        out.append(f'<g class="marks points" fill-opacity="0.75">'
                   + "".join(marks.tolist()) + "</g>")
    else:
        cells = heatmap_cells(var, conf, corr, x_max, bins)
        counts = cells["count"].to_numpy(dtype=np.float64)
        # Density as opacity on a log scale in [0.25, 1], as the Altair heatmap does.
        span = np.log(counts.max()) if counts.max() > 1 else 1.0
        opacity = 0.25 + 0.75 * np.log(counts) / span
        x0, x1 = sx(cells["variability"].to_numpy()), sx(cells["variability_end"].to_numpy())
        y0, y1 = sy(cells["confidence_end"].to_numpy()), sy(cells["confidence"].to_numpy())
        marks = ('<rect x="' + pd.Series(_fmt(x0)) + '" y="' + pd.Series(_fmt(y0))
                 + '" width="' + pd.Series(np.char.mod("%.2f", x1 - x0)) + '" height="' + pd.Series(np.char.mod("%.2f", y1 - y0))
                 + '" fill="' + pd.Series(_colors(cells["correctness"].to_numpy())) + '" fill-opacity="'
                 + pd.Series(np.char.mod("%.2f", opacity)) + '"><title>' + pd.Series(np.char.mod("%d", counts)) + " examples</title></rect>")
        out.append('<g class="marks bins">' + "".join(marks.tolist()) + "</g>")

    out.append(_guides(dmap, limits, x_max, sx, sy))
    out.append(f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#dddddd"/>')

    # Tick labels and axis titles.
    axis = [f'<text x="{x:.1f}" y="{top + height + 16}" text-anchor="middle">{t:g}</text>' for x, t in zip(sx(x_ticks), x_ticks)]
    axis += [f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>' for y, t in zip(sy(y_ticks), y_ticks)]
    axis += [f'<line x1="{x:.1f}" y1="{top + height}" x2="{x:.1f}" y2="{top + height + 5}" stroke="#888"/>' for x in sx(x_ticks)]
    axis += [f'<line x1="{left - 5}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#888"/>' for y in sy(y_ticks)]
    out.append(f'<g class="axis" font-size="11" fill="#333">{"".join(axis)}</g>')
    out.append(f'<text class="axis-title" x="{left + width / 2:.1f}" y="{top + height + 34}" font-size="12" '
               f'font-weight="bold" text-anchor="middle">variability</text>')
    out.append(f'<text class="axis-title" transform="translate(16 {top + height / 2:.1f}) rotate(-90)" font-size="12" '
               f'font-weight="bold" text-anchor="middle">confidence</text>')

    out.append(_histograms(var, conf, x_max, sx, sy, left, top, width, height, margin, gap))

    # Colour legend: the plasma gradient over [0, 1].
    lx, ly = left, top + height + 52
    stops = "".join(f'<stop offset="{i / (len(_PLASMA) - 1):.3f}" stop-color="{c}"/>'
                    for i, c in enumerate(_colors(np.linspace(0, 1, len(_PLASMA)))))
    legend_title = "correctness" if n_seen <= max_points else "mean correctness"
    out.append(
        f'<defs><linearGradient id="datamap-plasma">{stops}</linearGradient></defs>'
        f'<g class="legend" font-size="11" fill="#333"><text x="{lx}" y="{ly}" font-weight="bold">{legend_title}</text>'
        f'<rect x="{lx}" y="{ly + 6}" width="200" height="10" fill="url(#datamap-plasma)"/>'
        f'<text x="{lx}" y="{ly + 30}">0</text><text x="{lx + 100}" y="{ly + 30}" text-anchor="middle">0.5</text>'
        f'<text x="{lx + 200}" y="{ly + 30}" text-anchor="end">1</text></g>'
    )
    out.append("</svg>")
    return "".join(out)


def _guides(dmap: "DataMap", limits: Mapping[str, float], x_max: float, sx: Any, sy: Any) -> str:
    """Threshold rules and region labels, placed as chart._region_guides places them."""
    v, c = limits["variability"], limits["confidence"]
    counts = dmap.frame["category"].value_counts()
    easy, ambiguous, hard = metrics.CATEGORIES

    def label(name: str) -> str:
        return _e(f"{name} ({int(counts.get(name, 0)):,})")

    dash = f'stroke="{_GUIDE_COLOR}" stroke-dasharray="5 4" stroke-width="1.2"'
    lines = [f'<line class="guide" x1="{sx(0.0):.1f}" y1="{sy(c):.1f}" x2="{sx(min(v, x_max)):.1f}" y2="{sy(c):.1f}" {dash}/>']
    if v <= x_max:
        lines.append(f'<line class="guide" x1="{sx(v):.1f}" y1="{sy(0.0):.1f}" x2="{sx(v):.1f}" y2="{sy(1.0):.1f}" {dash}/>')
    amb_x, amb_anchor = min(v, x_max) + 0.01 * x_max, "start"
    if v > 0.6 * x_max:
        amb_x, amb_anchor = 0.99 * x_max, "end"
    texts = [
        (0.01 * x_max, 0.985, label(easy), "start", "hanging"),
        (0.01 * x_max, 0.015, label(hard), "start", "auto"),
        (amb_x, 0.985, label(ambiguous), amb_anchor, "hanging"),
    ]
    # A white halo under each label (paint-order), so it stays legible over dense points.
    style = 'font-size="11" font-weight="bold" fill="#222222" stroke="white" stroke-width="3" stroke-opacity="0.8" paint-order="stroke"'
    labels = [f'<text class="region" x="{sx(x):.1f}" y="{sy(y):.1f}" text-anchor="{anchor}" dominant-baseline="{base}" {style}>{text}</text>'
              for x, y, text, anchor, base in texts]
    return "".join(lines + labels)


def _histograms(var: np.ndarray, conf: np.ndarray, x_max: float, sx: Any, sy: Any,
                left: int, top: int, width: int, height: int, margin: int, gap: int) -> str:
    """Marginal histograms: variability above the map, confidence to its right."""
    out = []
    var_counts, var_edges = np.histogram(np.clip(var, 0.0, x_max), bins=np.linspace(0.0, x_max, HISTOGRAM_BINS + 1))
    conf_counts, conf_edges = np.histogram(np.clip(conf, 0.0, 1.0), bins=np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1))
    base_y = top - gap
    peak = max(int(var_counts.max()) if len(var) else 0, 1)
    hs = var_counts / peak * (margin - 16)
    xs = sx(var_edges)
    bars = [f'<rect x="{x0:.1f}" y="{base_y - h:.1f}" width="{x1 - x0:.2f}" height="{h:.1f}"/>'
            for x0, x1, h in zip(xs[:-1], xs[1:], hs) if h > 0]
    out.append(f'<g class="histogram" fill="{_BAR_COLOR}">{"".join(bars)}</g>')
    out.append(f'<text x="{left}" y="{base_y - margin + 10}" font-size="11" font-weight="bold">variability</text>')
    base_x = left + width + gap
    peak = max(int(conf_counts.max()) if len(conf) else 0, 1)
    ws = conf_counts / peak * (margin - 4)
    ys = sy(conf_edges)
    bars = [f'<rect x="{base_x}" y="{y1:.1f}" width="{w:.1f}" height="{y0 - y1:.2f}"/>'
            for y0, y1, w in zip(ys[:-1], ys[1:], ws) if w > 0]
    out.append(f'<g class="histogram" fill="{_BAR_COLOR}">{"".join(bars)}</g>')
    out.append(f'<text x="{base_x}" y="{top - gap - 4}" font-size="11" font-weight="bold">confidence</text>')
    return "".join(out)
