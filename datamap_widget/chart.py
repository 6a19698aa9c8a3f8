"""The cartography figure as an Altair chart, and its export to SVG/PNG/PDF.

The figure follows Swayamdipta et al. (2020): x = variability, y = confidence, colour =
correctness, with guides for the three regions of :func:`datamap_widget.metrics.categorize`
and marginal histograms of the three metrics.

Every data set in the chart is aggregated here, in numpy, before Altair sees it, so the
spec stays small at any data size: up to ``max_points`` examples are drawn one point each;
above that the map becomes a 2-D binned heatmap (colour = mean correctness of the bin,
opacity = how many examples fall in it). Nothing relies on lifting Altair's row limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

import numpy as np
import pandas as pd

from . import metrics
from .atomic import atomic_open
from .dependencies import require

if TYPE_CHECKING:  # pragma: no cover
    import altair as alt

    from .chart_display import DataMapChart
    from .datamap import DataMap

__all__ = ["MAX_POINTS", "datamap_chart", "save_chart", "chart_to_svg", "EXPORT_FORMATS", "heatmap_cells"]

#: Above this many examples the map is drawn as a binned heatmap instead of points. Altair's
#: default row limit is 5,000, so a points chart never trips it.
MAX_POINTS = 5000

#: Bins per axis of the heatmap drawn above :data:`MAX_POINTS` (at most BINS**2 rows).
HEATMAP_BINS = 60

#: Bins of each marginal histogram.
HISTOGRAM_BINS = 30

#: File suffixes :func:`save_chart` writes, and what each is.
EXPORT_FORMATS = {".svg": "SVG vector image", ".png": "PNG raster image", ".pdf": "PDF document"}

# Correctness is a share of passes, so a fixed [0, 1] domain keeps colours comparable across
# maps; "plasma" stays readable for colour-blind readers and on white paper.
_COLOR_SCHEME = "plasma"
_GUIDE_COLOR = "#555555"


# ------------------------------------------------------------------------------ aggregation


def _histogram(values: np.ndarray, field: str, lo: float, hi: float, bins: int) -> pd.DataFrame:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi], as rows bin_start/bin_end/count."""
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
    return pd.DataFrame({"metric": field, "bin_start": edges[:-1], "bin_end": edges[1:], "count": counts})


def heatmap_cells(var: np.ndarray, conf: np.ndarray, corr: np.ndarray, x_max: float, bins: int) -> pd.DataFrame:
    """Non-empty 2-D bins of (variability, confidence): count and mean correctness.

    The drawing helper the Altair chart and the report's SVG share, so a large map is binned alike in both."""
    x_edges = np.linspace(0.0, x_max, bins + 1)
    y_edges = np.linspace(0.0, 1.0, bins + 1)
    # digitize against the inner edges puts the top edge (e.g. confidence 1.0) in the last bin.
    xi = np.clip(np.searchsorted(x_edges[1:-1], var, side="right"), 0, bins - 1)
    yi = np.clip(np.searchsorted(y_edges[1:-1], conf, side="right"), 0, bins - 1)
    flat = xi * bins + yi
    counts = np.bincount(flat, minlength=bins * bins)
    sums = np.bincount(flat, weights=corr, minlength=bins * bins)
    cells = np.flatnonzero(counts)
    cx, cy = np.divmod(cells, bins)
    return pd.DataFrame(
        {
            "variability": x_edges[cx],
            "variability_end": x_edges[cx + 1],
            "confidence": y_edges[cy],
            "confidence_end": y_edges[cy + 1],
            "count": counts[cells],
            "correctness": sums[cells] / counts[cells],
        }
    )


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------ the chart



class MapFit(NamedTuple):
    """Checked figure options and the seen examples' values: what every drawing of the map starts from."""

    frame: pd.DataFrame
    seen: np.ndarray
    max_points: int
    bins: int
    width: int
    height: int
    conf: np.ndarray
    var: np.ndarray
    corr: np.ndarray
    n_seen: int
    limits: dict
    x_max: float


def fit_map(dmap: "DataMap", max_points: Any, bins: Any, width: Any, height: Any, title: Any) -> MapFit:
    """Validate the figure options and fit the axes, once for the Altair chart and the report's SVG."""
    max_points = _check_positive_int("max_points", max_points)
    bins = _check_positive_int("bins", bins)
    width = _check_positive_int("width", width)
    height = _check_positive_int("height", height)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    frame = dmap.frame
    seen = frame["confidence"].notna().to_numpy()
    conf = frame["confidence"].to_numpy(dtype=np.float64)[seen]
    var = frame["variability"].to_numpy(dtype=np.float64)[seen]
    corr = frame["correctness"].to_numpy(dtype=np.float64)[seen]
    n_seen = int(seen.sum())
    limits = dmap.thresholds
    # Variability is a std of values in [0, 1], so at most 0.5; most maps stay well below.
    # Fit the axis to the data (in steps of 0.05) but show the ambiguous threshold too.
    data_max = float(var.max()) if n_seen else 0.0
    x_max = min(0.5, float(np.ceil(max(data_max, limits["variability"] * 1.25, 0.05) * 20) / 20))
    return MapFit(frame, seen, max_points, bins, width, height, conf, var, corr, n_seen, limits, x_max)


def datamap_chart(
    dmap: "DataMap",
    *,
    max_points: int = MAX_POINTS,
    bins: int = HEATMAP_BINS,
    width: int = 420,
    height: int = 420,
    title: str | None = None,
) -> "DataMapChart":
    """The data map of ``dmap`` as an Altair chart with marginal histograms.

    Parameters
    ----------
    dmap : the :class:`~datamap_widget.DataMap` to draw; examples never seen are left out.
    max_points : draw one point per example up to this many seen examples (default
        :data:`MAX_POINTS`, 5,000); above it, draw a ``bins`` x ``bins`` heatmap whose
        colour is the bin's mean correctness and whose opacity is its count. Above 5,000,
        Altair's own row limit applies (``MaxRowsError``) unless you lift it yourself.
    bins : bins per axis of that heatmap (default 60).
    width, height : size of the map in pixels; the histograms take their size from it.
    title : chart title (default: "Data map" with the example count).

    Returns
    -------
    A :class:`~datamap_widget.chart_display.DataMapChart` (an ``altair.ConcatChart`` that
    displays offline in a notebook and escapes ids and labels in its HTML, see that module):
    ``chart.save("map.png")`` / ``.svg`` export it through
    vl-convert, as does :func:`save_chart`. Its inline data is bounded (at most
    ``max(max_points, bins**2)`` rows plus the histograms) whatever the size of ``dmap``.
    """
    alt = require("altair", "the data map chart (dmap.chart(), datamap report --png/--svg)")

    from .chart_display import DataMapChart

    frame, seen, max_points, bins, width, height, conf, var, corr, n_seen, limits, x_max = fit_map(
        dmap, max_points, bins, width, height, title
    )

    x_scale = alt.Scale(domain=[0, x_max], nice=False, zero=True)
    y_scale = alt.Scale(domain=[0, 1], nice=False)
    color_scale = alt.Scale(domain=[0, 1], scheme=_COLOR_SCHEME)
    x_title = "variability"
    y_title = "confidence"

    if n_seen <= max_points:
        points = frame.loc[seen, ["label", "suggested_label", "confidence", "variability", "correctness", "mislabel_score"]]
        points = points.reset_index()
        points["id"] = points["id"].astype(str)
        for name in ("label", "suggested_label"):
            points[name] = points[name].astype(str)
        size = 30 if n_seen <= 1000 else 14 if n_seen <= 3000 else 8
        body = (
            alt.Chart(points)
            .mark_circle(size=size, opacity=0.75, stroke=None)
            .encode(
                x=alt.X("variability:Q", scale=x_scale, title=x_title),
                y=alt.Y("confidence:Q", scale=y_scale, title=y_title),
                color=alt.Color("correctness:Q", scale=color_scale, title="correctness"),
                tooltip=[
                    alt.Tooltip("id:N"),
                    alt.Tooltip("label:N"),
                    alt.Tooltip("suggested_label:N", title="suggested"),
                    alt.Tooltip("confidence:Q", format=".3f"),
                    alt.Tooltip("variability:Q", format=".3f"),
                    alt.Tooltip("correctness:Q", format=".2f"),
                    alt.Tooltip("mislabel_score:Q", title="mislabel score", format=".3f"),
                ],
            )
        )
        mode = f"{n_seen:,} examples"
    else:
        cells = heatmap_cells(var, conf, corr, x_max, bins)
        body = (
            alt.Chart(cells)
            .mark_rect()
            .encode(
                x=alt.X("variability:Q", scale=x_scale, title=x_title),
                x2="variability_end:Q",
                y=alt.Y("confidence:Q", scale=y_scale, title=y_title),
                y2="confidence_end:Q",
                color=alt.Color("correctness:Q", scale=color_scale, title="mean correctness"),
                # Density as opacity on a log scale, so sparse bins stay visible beside dense ones.
                opacity=alt.Opacity(
                    "count:Q",
                    scale=alt.Scale(type="log", range=[0.25, 1.0]),
                    title="examples per bin",
                ),
                tooltip=[
                    alt.Tooltip("count:Q", title="examples"),
                    alt.Tooltip("correctness:Q", title="mean correctness", format=".2f"),
                    alt.Tooltip("variability:Q", title="variability from", format=".3f"),
                    alt.Tooltip("confidence:Q", title="confidence from", format=".3f"),
                ],
            )
        )
        mode = f"{n_seen:,} examples, binned {bins}x{bins}"

    guides = _region_guides(alt, dmap, limits, x_max, x_scale, y_scale)
    main = alt.layer(body, *guides).properties(width=width, height=height)

    margin = max(60, min(width, height) // 4)
    hist_var = _histogram(var, "variability", 0.0, x_max, HISTOGRAM_BINS)
    hist_conf = _histogram(conf, "confidence", 0.0, 1.0, HISTOGRAM_BINS)
    # Correctness takes the values k / T for T passes: one bar per value, centred on it.
    t = max(dmap.n_passes, 1)
    corr_bins, half = (t + 1, 0.5 / t) if t <= HISTOGRAM_BINS else (HISTOGRAM_BINS, 0.0)
    corr_domain = [-half, 1.0 + half]
    hist_corr = _histogram(corr, "correctness", corr_domain[0], corr_domain[1], corr_bins)
    bar_color = "#6b7a8f"
    top = (
        alt.Chart(hist_var)
        .mark_bar(color=bar_color, binSpacing=0)
        .encode(
            x=alt.X("bin_start:Q", scale=x_scale, axis=None),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="count", axis=alt.Axis(tickCount=3)),
            y2=alt.datum(0),
            tooltip=[alt.Tooltip("bin_start:Q", title="variability from", format=".3f"), "count:Q"],
        )
        .properties(width=width, height=margin, title=alt.TitleParams("variability", fontSize=11, anchor="start"))
    )
    right = (
        alt.Chart(hist_conf)
        .mark_bar(color=bar_color, binSpacing=0)
        .encode(
            y=alt.Y("bin_start:Q", scale=y_scale, axis=None),
            y2="bin_end:Q",
            x=alt.X("count:Q", title="count", axis=alt.Axis(tickCount=3)),
            x2=alt.datum(0),
            tooltip=[alt.Tooltip("bin_start:Q", title="confidence from", format=".3f"), "count:Q"],
        )
        .properties(width=margin, height=height, title=alt.TitleParams("confidence", fontSize=11, anchor="start"))
    )
    corner = (
        alt.Chart(hist_corr)
        .transform_calculate(center="(datum.bin_start + datum.bin_end) / 2")
        .mark_bar(binSpacing=1)
        .encode(
            x=alt.X(
                "bin_start:Q",
                scale=alt.Scale(domain=corr_domain, nice=False, zero=False),
                title=None,
                axis=alt.Axis(values=[0, 0.5, 1], format=".1f"),
            ),
            x2="bin_end:Q",
            y=alt.Y("count:Q", axis=None),
            y2=alt.datum(0),
            color=alt.Color("center:Q", scale=color_scale, legend=None),
            tooltip=[alt.Tooltip("bin_start:Q", title="correctness from", format=".2f"), "count:Q"],
        )
        .properties(width=margin, height=margin, title=alt.TitleParams("correctness", fontSize=11, anchor="start"))
    )
    chart = (
        # DataMapChart is alt.concat's ConcatChart, shown offline and safe with untrusted strings.
        DataMapChart(concat=[top, corner, main, right], columns=2, spacing=8)
        .resolve_scale(color="independent", opacity="independent")
        .properties(
            title=alt.TitleParams(
                title if title is not None else "Data map",
                subtitle=f"{mode} · {dmap.n_passes} passes · colour = correctness",
                anchor="start",
            )
        )
        .configure_view(stroke="#dddddd")
        # Legends below the map keep the confidence histogram right beside it.
        .configure_legend(orient="bottom", direction="horizontal", gradientLength=200, titleLimit=300)
        .configure_axis(gridColor="#eeeeee", labelFontSize=11, titleFontSize=12)
    )
    return chart


def _region_guides(alt: Any, dmap: "DataMap", limits: Mapping[str, float], x_max: float, x_scale: Any, y_scale: Any) -> list[Any]:
    """Threshold rules and region labels following :func:`metrics.categorize`'s rules.

    Ambiguous is everything right of ``variability``; left of it, ``confidence`` splits
    easy-to-learn (above) from hard-to-learn (below), so that rule stops at the vertical one.
    """
    v, c = limits["variability"], limits["confidence"]
    counts = dmap.frame["category"].value_counts()
    easy, ambiguous, hard = metrics.CATEGORIES

    def label(name: str) -> str:
        return f"{name} ({int(counts.get(name, 0)):,})"

    rules = [{"x": 0.0, "x2": min(v, x_max), "y": c, "y2": c}]
    if v <= x_max:  # a threshold above every possible variability has no rule to draw
        rules.append({"x": v, "x2": v, "y": 0.0, "y2": 1.0})
    rules = pd.DataFrame(rules)
    lines = (
        alt.Chart(rules)
        .mark_rule(color=_GUIDE_COLOR, strokeDash=[5, 4], strokeWidth=1.2)
        .encode(x=alt.X("x:Q", scale=x_scale), x2="x2:Q", y=alt.Y("y:Q", scale=y_scale), y2="y2:Q")
    )
    # Labels sit inside their regions: easy top-left, hard bottom-left, ambiguous to the right
    # of the vertical rule (or at the right edge if the rule is off the axis).
    texts = pd.DataFrame(
        [
            {"x": 0.01 * x_max, "y": 0.985, "text": label(easy), "align": "left", "baseline": "top"},
            {"x": 0.01 * x_max, "y": 0.015, "text": label(hard), "align": "left", "baseline": "bottom"},
            {"x": min(v, x_max) + 0.01 * x_max, "y": 0.985, "text": label(ambiguous), "align": "left", "baseline": "top"},
        ]
    )
    if v > 0.6 * x_max:  # not enough room right of the rule: right-align against the edge
        texts.loc[2, ["x", "align"]] = [0.99 * x_max, "right"]
    marks = []
    for align in ("left", "right"):
        for baseline in ("top", "bottom"):
            part = texts[(texts["align"] == align) & (texts["baseline"] == baseline)]
            if not len(part):
                continue
            base = alt.Chart(part).encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), text="text:N")
            style = {"align": align, "baseline": baseline, "fontSize": 11, "fontWeight": "bold"}
            # A white halo first, so the label stays legible over dense points.
            marks.append(base.mark_text(**style, color="white", stroke="white", strokeWidth=3, strokeOpacity=0.8))
            marks.append(base.mark_text(**style, color="#222222"))
    return [lines, *marks]


# ------------------------------------------------------------------------------ export


def _vl_convert() -> Any:
    return require("vl_convert", "rendering the data map (SVG/PNG/PDF export, datamap report --png/--svg)")


def _spec(chart: Any) -> tuple[dict[str, Any], str | None]:
    """The chart's Vega-Lite dict and the vl-convert version string that matches Altair's."""
    alt = require("altair", "rendering the data map (SVG/PNG/PDF export, datamap report --png/--svg)")

    if not hasattr(chart, "to_dict"):
        raise TypeError(f"chart must be an Altair chart, got {type(chart).__name__}")
    wanted = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    # Render with the Vega-Lite that Altair wrote the spec for; an older vl-convert that
    # lacks it falls back to its newest one rather than failing.
    known = {f"v{v}" for v in _vl_convert().get_vegalite_versions()}
    return chart.to_dict(), wanted if wanted in known else None


def chart_to_svg(chart: "alt.TopLevelMixin") -> str:
    """Render an Altair chart to an SVG string, offline (vl-convert; no data URLs are fetched)."""
    vl_convert = _vl_convert()
    spec, vl_version = _spec(chart)
    # allowed_base_urls=[]: our charts inline their data, so any URL would be a mistake.
    return vl_convert.vegalite_to_svg(spec, vl_version=vl_version, allowed_base_urls=[])


def save_chart(chart: "alt.TopLevelMixin", path: str | Path, scale: float = 2.0) -> Path:
    """Write an Altair chart to ``path`` as SVG, PNG or PDF, chosen by the suffix.

    Parameters
    ----------
    chart : e.g. ``dmap.chart()``.
    path : file to write; its suffix picks the format (see :data:`EXPORT_FORMATS`).
    scale : pixel density of a PNG (2 = sharp on high-DPI screens); ignored otherwise.

    Returns
    -------
    The path written. ``chart.save(path)`` in Altair does the same through vl-convert.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"path must end in one of {sorted(EXPORT_FORMATS)}, got {str(path)!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    vl_convert = _vl_convert()
    spec, vl_version = _spec(chart)
    if suffix == ".svg":
        content: bytes = vl_convert.vegalite_to_svg(spec, vl_version=vl_version, allowed_base_urls=[]).encode("utf-8")
    elif suffix == ".png":
        content = vl_convert.vegalite_to_png(spec, vl_version=vl_version, scale=scale, allowed_base_urls=[])
    else:
        content = vl_convert.vegalite_to_pdf(spec, vl_version=vl_version, allowed_base_urls=[])
    with atomic_open(target, "wb") as handle:  # whole or not at all: an earlier figure stays readable
        handle.write(content)
    return target
