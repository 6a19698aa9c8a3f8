"""The cartography chart: right encodings, region guides, bounded data at any size, export."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from datamap_widget import DataMap, metrics
from datamap_widget.chart import HEATMAP_BINS, MAX_POINTS, datamap_chart, save_chart

from tests.harness.maps import random_datamap


def _layers(spec: dict) -> list[dict]:
    """Every single-view spec of a (concat / layer) chart dict, depth first."""
    out = []
    for key in ("concat", "hconcat", "vconcat", "layer"):
        for child in spec.get(key, []):
            out.extend(_layers(child))
    if "mark" in spec:
        out.append(spec)
    return out


def _rows(spec: dict, view: dict) -> list[dict]:
    return spec["datasets"][view["data"]["name"]]


def _mark(view: dict) -> str:
    mark = view["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def _total_rows(spec: dict) -> int:
    return sum(len(rows) for rows in spec["datasets"].values())


def _main_view(spec: dict) -> dict:
    views = [v for v in _layers(spec) if _mark(v) in ("circle", "rect") and v["encoding"]["y"]["field"] == "confidence"]
    assert len(views) == 1, views
    return views[0]


def test_small_map_draws_one_point_per_example_coloured_by_correctness():
    dmap = random_datamap(10)
    spec = dmap.chart().to_dict()
    main = _main_view(spec)
    assert _mark(main) == "circle"
    enc = main["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"]) == ("variability", "confidence", "correctness")
    rows = _rows(spec, main)
    assert sorted(r["id"] for r in rows) == sorted(dmap.ids.tolist())
    by_id = {r["id"]: r for r in rows}
    frame = dmap.frame
    for example_id in dmap.ids[:3]:
        assert by_id[example_id]["confidence"] == pytest.approx(frame.loc[example_id, "confidence"])
        assert by_id[example_id]["variability"] == pytest.approx(frame.loc[example_id, "variability"])


def test_100k_map_is_a_heatmap_with_bounded_data_and_no_example_lost():
    n = 100_000
    dmap = random_datamap(n, seed=1)
    chart = dmap.chart()
    spec = chart.to_dict()  # raises MaxRowsError if any inline data set passed Altair's limit
    main = _main_view(spec)
    assert _mark(main) == "rect"
    cells = _rows(spec, main)
    assert len(cells) <= HEATMAP_BINS**2
    assert sum(c["count"] for c in cells) == n
    # Mean correctness per bin, weighted by count, is the overall mean correctness.
    weighted = sum(c["count"] * c["correctness"] for c in cells) / n
    assert weighted == pytest.approx(dmap.frame["correctness"].mean())
    assert _total_rows(spec) < 5_000
    assert len(chart.to_json()) < 1_000_000


def test_marginal_histograms_cover_every_metric_and_every_example():
    dmap = random_datamap(2_000, seed=2)
    spec = dmap.chart().to_dict()
    hists = {}
    for view in _layers(spec):
        rows = _rows(spec, view)
        if rows and "metric" in rows[0]:
            hists[rows[0]["metric"]] = rows
    assert set(hists) == {"confidence", "variability", "correctness"}
    for rows in hists.values():
        assert sum(r["count"] for r in rows) == 2_000


def test_points_up_to_max_points_then_heatmap():
    dmap = random_datamap(51, seed=3)
    assert _mark(_main_view(dmap.chart(max_points=51).to_dict())) == "circle"
    assert _mark(_main_view(dmap.chart(max_points=50).to_dict())) == "rect"
    assert MAX_POINTS == 5_000


def test_region_guides_follow_the_maps_thresholds_and_counts():
    base = random_datamap(400, seed=4)
    dmap = DataMap(base.ids, base.labels, base.label_names, base.trajectories, thresholds={"confidence": 0.7, "variability": 0.15})
    spec = dmap.chart().to_dict()
    rules = [v for v in _layers(spec) if _mark(v) == "rule"]
    assert len(rules) == 1
    segments = _rows(spec, rules[0])
    vertical = [s for s in segments if s["x"] == s["x2"]]
    horizontal = [s for s in segments if s["y"] == s["y2"]]
    assert vertical[0]["x"] == pytest.approx(0.15) and (vertical[0]["y"], vertical[0]["y2"]) == (0, 1)
    # Left of the variability threshold only: right of it everything is ambiguous.
    assert horizontal[0]["y"] == pytest.approx(0.7) and horizontal[0]["x2"] == pytest.approx(0.15)
    labels = {r["text"] for v in _layers(spec) if _mark(v) == "text" for r in _rows(spec, v)}
    counts = dmap.frame["category"].value_counts()
    assert labels == {f"{name} ({int(counts[name]):,})" for name in metrics.CATEGORIES}


def test_examples_never_seen_are_left_out():
    base = random_datamap(30, seed=5)
    traj = {k: v.copy() for k, v in base.trajectories.items()}
    for name in ("gold_prob", "other_prob", "margin", "correct"):
        traj[name][:4] = np.nan
    traj["argmax"][:4] = -1
    traj["other_class"][:4] = -1
    dmap = DataMap(base.ids, base.labels, base.label_names, traj)
    spec = dmap.chart().to_dict()
    assert len(_rows(spec, _main_view(spec))) == 26


def test_save_chart_writes_svg_png_and_pdf(tmp_path):
    chart = random_datamap(200, seed=6).chart()
    svg = save_chart(chart, tmp_path / "map.svg")
    assert svg.read_text().lstrip().startswith("<svg")
    assert "hard-to-learn" in svg.read_text()
    assert save_chart(chart, tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert save_chart(chart, tmp_path / "map.pdf").read_bytes()[:5] == b"%PDF-"
    # The documented Altair route works too (it goes through vl-convert).
    chart.save(tmp_path / "altair.png")
    assert (tmp_path / "altair.png").read_bytes()[:4] == b"\x89PNG"


def test_a_chart_saved_over_an_earlier_file_that_fails_halfway_leaves_that_file_whole(tmp_path, monkeypatch):
    import altair as alt

    chart = random_datamap(50, seed=6).chart()
    chart.save(tmp_path / "map.html")
    before = (tmp_path / "map.html").read_bytes()

    def altair_writes_half(self, fp, *args, **kwargs):  # Altair's own save, cut short by a full disk
        with open(fp, "w") as handle:
            handle.write("<html>half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(alt.ConcatChart, "save", altair_writes_half)
    with pytest.raises(OSError, match="No space left"):
        chart.save(tmp_path / "map.html")
    assert (tmp_path / "map.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # no temporary file left


def test_100k_map_renders_to_a_modest_svg(tmp_path):
    path = save_chart(random_datamap(100_000, seed=7).chart(), tmp_path / "big.svg")
    assert path.stat().st_size < 3_000_000


def test_bad_arguments_name_the_argument(tmp_path):
    dmap = random_datamap(10)
    chart = dmap.chart()
    with pytest.raises(ValueError, match=r"path must end in one of .*'\.png'.*map\.gif"):
        save_chart(chart, tmp_path / "map.gif")
    with pytest.raises(ValueError, match="scale must be a positive number"):
        save_chart(chart, tmp_path / "map.png", scale=0)
    with pytest.raises(TypeError, match="chart must be an Altair chart"):
        save_chart({"mark": "point"}, tmp_path / "map.svg")
    with pytest.raises(ValueError, match="max_points must be a positive int, got 0"):
        dmap.chart(max_points=0)
    with pytest.raises(ValueError, match="bins must be a positive int"):
        datamap_chart(dmap, bins=2.5)
    with pytest.raises(TypeError, match="title must be a str"):
        dmap.chart(title=3)
    with pytest.raises(TypeError, match="colour"):
        dmap.chart(colour="label")


# ------------------------------------------------------------------ untrusted strings, offline display
# (the browser half of these checks is tests/e2e/test_chart_browser.py)

PAYLOAD = "</script><img src=x onerror=alert(document.domain)><!--&amp;"


def _payload_map():
    ids = np.array([f"{PAYLOAD}{i}" for i in range(20)], dtype=object)
    return random_datamap(20, ids=ids, label_names=[f"{PAYLOAD}neg", "pos", "neu"])


def test_chart_html_never_holds_markup_from_ids_or_labels_and_keeps_them_exact(tmp_path):
    import json
    import re

    chart = _payload_map().chart(title=PAYLOAD)
    chart.save(tmp_path / "map.html")
    for html in (chart.to_html(), (tmp_path / "map.html").read_text(encoding="utf-8")):
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
        data_script = [s for s in scripts if "const spec" in s]
        assert len(data_script) == 1, "the spec must stay inside one script element"
        assert "<" not in data_script[0] and "&" not in data_script[0] and PAYLOAD not in html
        # The escaped JSON still reads back as the exact strings.
        spec = json.loads(re.search(r"const spec = (\{.*?\});\n", data_script[0], flags=re.S).group(1))
        rows = next(rows for rows in spec["datasets"].values() if rows and "id" in rows[0])
        assert {r["id"] for r in rows} == {f"{PAYLOAD}{i}" for i in range(20)}
        assert f"{PAYLOAD}neg" in {r["label"] for r in rows}
        # Offline: the Vega bundle is inlined, nothing is loaded from a CDN.
        assert "cdn.jsdelivr" not in html and "<script src" not in html


def test_chart_in_a_notebook_is_an_offline_widget_without_inline_script(monkeypatch):
    import altair as alt

    chart = _payload_map().chart()
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" not in bundle
    view = _offline_view()
    assert "https://" not in view._esm.split("\n", 3)[0] and "esm.sh" not in view._esm
    # Altair's own JupyterChart is left as the user had it (online by default).
    assert "esm.sh" in alt.JupyterChart._esm
    # A renderer the user chose that keeps data out of scripts is respected.
    with alt.renderers.enable("json"):
        assert "application/json" in chart._repr_mimebundle_()[0]


def _offline_view():
    from datamap_widget.chart_display import _offline_view_class

    return _offline_view_class()


def test_without_vl_convert_the_chart_still_shows_and_saves_safely_and_says_it_needs_network(monkeypatch, tmp_path):
    from datamap_widget import chart_display

    monkeypatch.setattr(chart_display, "_has_bundle", lambda: False)
    chart_display._offline_view_class.cache_clear()
    try:
        chart = _payload_map().chart()
        with pytest.warns(UserWarning, match=r"pip install 'datamap_widget\[export\]'"):
            bundle = chart._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in (bundle[0] if isinstance(bundle, tuple) else bundle)
        with pytest.warns(UserWarning, match="needs network"):
            chart.save(tmp_path / "map.html")
        html = (tmp_path / "map.html").read_text()
        assert "cdn.jsdelivr" in html and PAYLOAD not in html and "\\u003c/script\\u003e" in html
    finally:
        chart_display._offline_view_class.cache_clear()
