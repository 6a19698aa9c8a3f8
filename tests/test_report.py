"""The HTML report and `datamap report`: self-contained, offline, untrusted text shown as text."""

from __future__ import annotations

import errno
import html
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap_widget import ReviewSession
from datamap_widget.cli import main
from datamap_widget.report import DEFAULT_TOP, align_texts, render_report

from tests.harness.maps import random_datamap

XSS = "<img src=x onerror=alert(1)>"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def dmap_and_texts():
    """A map whose top suspect's text is an XSS attempt, and one reviewed example."""
    dmap = random_datamap(300, seed=11, label_names=["DESC", "ENTY", "<b>HUM</b>"])
    ranked = dmap.suspects().index
    texts = pd.Series([f"question {i} & more" for i in range(len(dmap))], index=dmap.ids)
    texts[ranked[0]] = XSS
    review = ReviewSession.for_map(dmap)
    review.confirm(dmap.positions([ranked[1]]))
    return dmap.with_review(review), texts


class _Collector(HTMLParser):
    """Element names and attributes of a page, to check it refers to nothing outside."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(page: str) -> list[tuple[str, dict]]:
    parser = _Collector()
    parser.feed(page)
    return parser.tags


def test_report_is_one_file_with_no_script_and_no_link(dmap_and_texts, tmp_path):
    dmap, texts = dmap_and_texts
    path = dmap.report(tmp_path / "out", texts)
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text()
    tags = _parse(page)
    names = {tag for tag, _ in tags}
    assert "svg" in names and "table" in names
    assert not names & {"script", "link", "img", "iframe", "object", "embed"}
    for tag, attrs in tags:
        for key in ("src", "href", "xlink:href"):
            assert key not in attrs or attrs[key].startswith("#"), (tag, attrs)
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_report_summary_counts_regions_labels_and_confusion(dmap_and_texts):
    dmap, texts = dmap_and_texts
    page = render_report(dmap, texts, run={"settings": {"epochs": 3, "model": "<evil>"}})
    frame = dmap.frame
    for name, count in frame["category"].value_counts().items():
        assert f"<td>{name}</td><td class=\"num\">{count:,}</td>" in page
    assert "&lt;b&gt;HUM&lt;/b&gt;" in page and "<b>HUM</b>" not in page
    # The confusion table's diagonal holds the examples whose suggested label is their label.
    agree = frame[frame["label"].astype(str) == frame["suggested_label"].astype(str)]
    diag = [int(v.replace(",", "")) for v in pd.Series(page.split('class="num diag">')[1:]).str.split("<").str[0]]
    assert sum(diag) == len(agree)
    assert "settings.epochs" in page and "&lt;evil&gt;" in page


def test_report_lists_top_suspects_in_rank_order_without_reviewed_ones(dmap_and_texts):
    dmap, texts = dmap_and_texts
    page = render_report(dmap, texts, top=7)
    ids = [cell.split("<")[0] for cell in page.split('<td class="id">')[1:]]
    assert ids == dmap.suspects(top=7).index.tolist()
    reviewed = dmap.frame.index[dmap.frame["reviewed"]][0]
    assert reviewed not in ids
    page = render_report(dmap, texts, frac=0.1)
    assert page.count('<td class="id">') == 30
    assert render_report(dmap).count('<td class="id">') == DEFAULT_TOP


def test_texts_in_every_supported_form_and_bad_ones(dmap_and_texts):
    dmap, texts = dmap_and_texts
    expected = texts.reindex(dmap.ids).tolist()
    as_frame = pd.DataFrame({"id": texts.index, "text": texts.to_numpy()})
    for form in (texts, texts.to_dict(), list(texts.reindex(dmap.ids)), as_frame):
        assert align_texts(dmap, form).tolist() == expected
    partial = align_texts(dmap, {dmap.ids[0]: "only one"})
    assert partial.iloc[0] == "only one" and partial.iloc[1:].isna().all()
    with pytest.raises(ValueError, match="texts has 2 entries but the data map has 300"):
        align_texts(dmap, ["a", "b"])
    with pytest.raises(TypeError, match="texts must be .* got int"):
        align_texts(dmap, 5)
    with pytest.raises(ValueError, match="columns 'id' and 'text'"):
        align_texts(dmap, pd.DataFrame({"text": ["a"]}))
    with pytest.raises(TypeError, match="run must be a mapping"):
        render_report(dmap, run=["x"])


def test_report_at_100k_examples_stays_small(tmp_path):
    dmap = random_datamap(100_000, seed=12)
    path = dmap.report(tmp_path / "big.html")
    assert path.name == "big.html"
    assert path.stat().st_size < 3_000_000
    assert path.read_text().count('<td class="id">') == DEFAULT_TOP


def test_report_opens_offline_in_chromium_with_no_error_and_text_shown_as_text(dmap_and_texts, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh --test (installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run scripts/setup.sh --test")
    dmap, texts = dmap_and_texts
    path = dmap.report(tmp_path, texts, run={"command": "datamap train", "settings": {"epochs": 3}})
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # let any stray onerror handler fire
            body = page.inner_text("body")
            first_row = page.inner_text("table.suspects tbody tr:first-child")
            n_rows = page.locator("table.suspects tbody tr").count()
            has_img = page.locator("img").count()
            svg_box = page.locator("figure svg").bounding_box()
        finally:
            browser.close()
    assert errors == []
    assert outside == []
    assert XSS in body and XSS in first_row
    assert has_img == 0
    assert n_rows == DEFAULT_TOP
    assert svg_box is not None and svg_box["width"] > 300 and svg_box["height"] > 300
    assert "hard-to-learn" in body and "settings.epochs" in body


# ------------------------------------------------------------------------------ the command


class _HalfWrittenFile:
    """A file that takes half of each write, then reports a full disk."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_a_report_that_fails_halfway_leaves_the_earlier_report_whole(dmap_and_texts, tmp_path, monkeypatch):
    import datamap_widget.atomic

    dmap, texts = dmap_and_texts
    path = dmap.report(tmp_path / "report.html", texts)
    before = path.read_bytes()
    monkeypatch.setattr(datamap_widget.atomic, "open", lambda *a, **k: _HalfWrittenFile(open(*a, **k)), raising=False)
    with pytest.raises(OSError, match="No space left"):
        dmap.report(tmp_path / "report.html", texts, top=3)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_a_report_that_really_fills_the_disk_leaves_the_earlier_report_whole(tiny_disk):
    dmap = random_datamap(200)
    path = dmap.report(tiny_disk / "report.html", top=5)
    before = path.read_bytes()
    texts = pd.Series(["word " * 4_000] * 200, index=dmap.ids)
    with pytest.raises(OSError):
        dmap.report(tiny_disk / "report.html", texts, top=100, max_text_chars=20_000)  # about 2 MB, on a 512 KiB disk
    assert path.read_bytes() == before
    assert [p.name for p in tiny_disk.iterdir()] == ["report.html"]


def _run_folder(tmp_path: Path, dmap, texts: pd.Series, with_run: bool = True) -> Path:
    """A run folder as `datamap train --out` writes it, without training."""
    folder = tmp_path / "run"
    folder.mkdir()
    dmap.to_parquet(str(folder / "datamap.parquet"))
    pd.DataFrame({"id": dmap.ids, "text": texts.reindex(dmap.ids).to_numpy()}).to_parquet(folder / "texts.parquet", index=False)
    if with_run:
        record = {"command": "datamap train", "settings": {"epochs": 4, "lr": 3e-5, "model": "tiny"}, "device": "cpu"}
        (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_cli_report_writes_the_report_and_figures(dmap_and_texts, tmp_path, capsys):
    dmap, texts = dmap_and_texts
    folder = _run_folder(tmp_path, dmap, texts)
    assert main(["report", str(folder), "--top", "12", "--png", "--svg"]) == 0
    out = capsys.readouterr().out
    for name in ("report.html", "datamap.png", "datamap.svg"):
        assert f"wrote {folder / name}" in out
    page = (folder / "report.html").read_text()
    assert page.count('<td class="id">') == 12
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and XSS not in page
    assert "settings.lr" in page and "Data map report: run" in page
    assert (folder / "datamap.png").read_bytes()[:4] == b"\x89PNG"
    assert (folder / "datamap.svg").read_text().lstrip().startswith("<svg")


def test_cli_report_method_and_output(dmap_and_texts, tmp_path, capsys):
    dmap, texts = dmap_and_texts
    folder = _run_folder(tmp_path, dmap, texts, with_run=False)
    target = tmp_path / "elsewhere.html"
    assert main(["report", str(folder), "--method", "loss", "--top", "5", "--output", str(target)]) == 0
    page = target.read_text()
    ids = [cell.split("<")[0] for cell in page.split('<td class="id">')[1:]]
    assert ids == dmap.rescore("loss").suspects(top=5).index.tolist()
    assert "Run settings" not in page  # no run.json, no section
    assert not (folder / "report.html").exists()


def test_cli_report_bad_input_is_one_line_and_exit_2(dmap_and_texts, tmp_path, capsys):
    dmap, texts = dmap_and_texts
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run folder: datamap.parquet is missing" in capsys.readouterr().err
    folder = _run_folder(tmp_path, dmap, texts)
    assert main(["report", str(folder), "--method", "nope"]) == 2
    assert "--method must be one of" in capsys.readouterr().err
    assert main(["report", str(folder), "--frac", "1.5"]) == 2
    assert "--frac must be in (0, 1], got 1.5" in capsys.readouterr().err
    assert main(["report", str(folder), "--output", str(tmp_path / "r.txt")]) == 2
    assert "--output must end in .html" in capsys.readouterr().err


def test_report_handles_int_ids_and_missing_texts(tmp_path):
    dmap = random_datamap(50, seed=13, ids=np.arange(1000, 1050))
    folder = _run_folder(tmp_path, dmap, pd.Series({1000: "first"}, dtype=object), with_run=False)
    assert main(["report", str(folder), "--top", "50"]) == 0
    page = (folder / "report.html").read_text()
    assert page.count('<td class="id">') == 50 and "first" in page


# ------------------------------------------------------------------------------ huge texts

MB = 1_000_000


def _huge_texts(dmap, n_huge: int) -> pd.Series:
    """The top ``n_huge`` suspects get 1 MB texts without a single space; the rest short ones."""
    texts = pd.Series([f"short text {i}" for i in range(len(dmap))], index=dmap.ids, dtype=object)
    for rank, example_id in enumerate(dmap.suspects(top=n_huge).index):
        texts[example_id] = (f"{rank}-" + "unbroken" * (MB // 8))[:MB]
    return texts


def test_cli_report_of_100_suspects_with_1mb_texts_stays_small_and_says_what_was_cut(tmp_path, capsys):
    dmap = random_datamap(150, seed=14)
    folder = _run_folder(tmp_path, dmap, _huge_texts(dmap, 100))
    assert main(["report", str(folder), "--top", "100"]) == 0
    page = (folder / "report.html").read_text()
    assert len(page.encode()) < 1_500_000  # was 100 MB: every text in full
    assert page.count("998,000 more characters not shown (1,000,000 in all)") == 100
    assert main(["report", str(folder), "--top", "100", "--text-chars", "50", "--output", str(tmp_path / "short.html")]) == 0
    short = (tmp_path / "short.html").read_text()
    assert short.count("999,950 more characters not shown") == 100 and len(short) < len(page)
    assert main(["report", str(folder), "--text-chars", "0"]) == 2
    assert "--text-chars must be >= 1, got 0" in capsys.readouterr().err


def test_short_texts_ids_and_labels_are_shown_whole():
    dmap = random_datamap(30, seed=15, label_names=["a" * 200, "b", "c"])
    texts = pd.Series(["t" * 2_000] * 30, index=dmap.ids)
    page = render_report(dmap, texts, top=30)
    assert "more characters not shown" not in page and "t" * 2_000 in page
    with pytest.raises(ValueError, match="max_text_chars must be a positive int, got 0"):
        render_report(dmap, texts, max_text_chars=0)


def test_report_with_eight_1mb_texts_opens_wrapped_in_chromium_and_runs_no_payload(tmp_path):
    from playwright.sync_api import sync_playwright

    ids = np.array([f"ex{i}" for i in range(60)], dtype=object)
    ids[5] = "<img src=x onerror=window.__xss=1;alert(1)>"
    dmap = random_datamap(60, seed=16, ids=ids, label_names=["</table><script>window.__xss=2</script>", "b", "c"])
    texts = _huge_texts(dmap, 8)
    path = dmap.report(tmp_path, texts, top=60)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri(), wait_until="load", timeout=60_000)  # minutes before the cap
            page.wait_for_timeout(300)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            cut_notes = page.locator("table.suspects .cut").count()
            body = page.inner_text("body")
            xss = page.evaluate("() => window.__xss === undefined")
        finally:
            browser.close()
    assert overflow <= 0, f"unbroken text widens the page by {overflow}px"
    assert cut_notes == 8
    assert dialogs == [] and xss
    assert ids[5] in body and "</table><script>window.__xss=2</script>" in body


# ------------------------------------------------------------------------------ base install (no [export])

HOSTILE = "</svg><script>alert(1)</script>"


def _hide_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import altair`` / ``import vl_convert`` fail, as in an install without [export]."""
    import sys

    for name in list(sys.modules):
        if name.split(".")[0] in ("altair", "vl_convert"):
            monkeypatch.delitem(sys.modules, name)
    for name in ("altair", "vl_convert"):
        monkeypatch.setitem(sys.modules, name, None)


def _figure_svg(page: str) -> str:
    start = page.index('<figure aria-label="data map">')
    return page[start:page.index("</figure>", start)]


def test_report_without_the_export_extra_draws_the_map_as_inline_svg(monkeypatch, tmp_path):
    ids = np.array([f"ex{i}" for i in range(300)], dtype=object)
    ids[3] = HOSTILE
    dmap = random_datamap(300, seed=21, ids=ids, label_names=[HOSTILE, "<b>b</b>", "c"])
    _hide_export(monkeypatch)
    path = dmap.report(tmp_path, pd.Series({HOSTILE: "a text"}),
                       chart_options={"title": "<i>map</i> " + HOSTILE})
    page = path.read_text()
    tags = _parse(page)
    assert not {tag for tag, _ in tags} & {"script", "link", "img", "iframe", "object", "embed", "foreignobject"}
    for tag, attrs in tags:
        for key in ("src", "href", "xlink:href"):
            assert key not in attrs or attrs[key].startswith("#"), (tag, attrs)
        assert not any(key.startswith("on") for key in attrs), (tag, attrs)
    assert "<script" not in page and HOSTILE not in page and "<i>map</i>" not in page
    svg = _figure_svg(page)
    assert svg.count("<svg") == 1 and svg.count("</svg>") == 1
    # One mark per example, each titled with its (escaped) id and label.
    assert svg.count("<circle") == 300
    escaped = "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<title>{escaped} · " in svg and f" · {escaped} · confidence" in svg
    assert "&lt;i&gt;map&lt;/i&gt;" in svg
    # The region guides: the two threshold rules and the three region names with their counts.
    assert svg.count('class="guide"') == 2
    counts = dmap.frame["category"].value_counts()
    for name in ("easy-to-learn", "ambiguous", "hard-to-learn"):
        assert f"{name} ({int(counts.get(name, 0)):,})" in svg
    # Axes: both titles and tick labels from 0 to 1 on confidence.
    assert ">variability</text>" in svg and ">confidence</text>" in svg
    assert ">0.5</text>" in svg and ">1</text>" in svg


def test_report_without_the_export_extra_bins_above_5000_examples(monkeypatch, tmp_path):
    dmap = random_datamap(20_000, seed=22)
    _hide_export(monkeypatch)
    page = dmap.report(tmp_path / "big.html").read_text()
    svg = _figure_svg(page)
    assert "<circle" not in svg
    bins = svg.split('<g class="marks bins">')[1].split("</g>")[0]
    n_bins = bins.count("<rect")
    assert 100 < n_bins <= 60 * 60
    # Every example is in exactly one bin.
    assert sum(int(t.split(" ")[0]) for t in bins.split("<title>")[1:]) == 20_000
    assert "20,000 examples, binned 60x60" in svg
    assert len(page.encode()) < 1_000_000


def test_cli_report_without_the_export_extra_writes_the_report(monkeypatch, dmap_and_texts, tmp_path, capsys):
    dmap, texts = dmap_and_texts
    folder = _run_folder(tmp_path, dmap, texts)
    _hide_export(monkeypatch)
    assert main(["report", str(folder), "--top", "5"]) == 0
    page = (folder / "report.html").read_text()
    assert _figure_svg(page).count("<circle") == len(dmap) and page.count('<td class="id">') == 5
    # The figure files still need vl-convert: a one-line error naming the extra.
    assert main(["report", str(folder), "--svg"]) == 2
    assert "pip install 'datamap_widget[export]'" in capsys.readouterr().err


def test_report_without_the_export_extra_opens_in_chromium_with_the_map_drawn(monkeypatch, tmp_path):
    from playwright.sync_api import sync_playwright

    dmap = random_datamap(200, seed=23, label_names=[HOSTILE, "b", "c"])
    _hide_export(monkeypatch)
    path = dmap.report(tmp_path, top=10)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            svg_box = page.locator("figure svg").bounding_box()
            circles = page.locator("figure svg circle").count()
            dot = page.locator("figure svg circle").first.bounding_box()
            body = page.inner_text("body")
        finally:
            browser.close()
    assert errors == []
    assert svg_box is not None and svg_box["width"] > 300 and svg_box["height"] > 300
    assert circles == 200 and dot is not None and dot["width"] > 2  # drawn, not zero-sized
    assert HOSTILE in body  # the hostile label shown as text in the tables


def test_report_with_the_export_extra_keeps_the_altair_figure(dmap_and_texts):
    dmap, texts = dmap_and_texts
    svg = _figure_svg(render_report(dmap, texts, top=3))
    assert 'class="datamap-svg"' not in svg and 'class="marks"' in svg  # vl-convert's SVG, not the numpy one


def test_the_suspects_table_shows_no_suggestion_where_the_map_shows_none(dmap_and_texts):
    """Issue 29.2: the report listed the given label as the suggestion where the map offers none."""
    dmap, texts = dmap_and_texts
    page = render_report(dmap, texts, top=40)
    frame = dmap.frame
    cells = {}
    for chunk in page.split('<td class="id">')[1:]:
        parts = chunk.split("<td")
        example_id = chunk.split("<")[0]
        cells[example_id] = parts[2].split(">", 1)[1].split("<")[0]  # the suggested cell
    assert len(cells) == 40
    for example_id, shown in cells.items():
        row = frame.loc[example_id]
        assert shown == (html.escape(str(row["suggested_label"]), quote=False) if row["suggestion_confident"] else "—"), example_id
    assert "—" in cells.values() and any(v != "—" for v in cells.values())


def test_run_settings_are_a_short_summary_with_every_raw_setting_folded_away(dmap_and_texts):
    import re

    dmap, texts = dmap_and_texts
    record = {
        "command": "datamap train", "data": "<b>data.jsonl</b>", "device": "cpu (x86_64)", "world_size": 1,
        "settings": {"model": "<script>alert(1)</script>", "epochs": 3, "batch_size": 32, "lr": 5e-05, "long_text": "head",
                     "max_length": 128, "precision": "fp32", "seed": 0, "label_names": ["a", "b"],
                     "read": {"texts_read_whole": 10}, **{f"knob_{i}": i for i in range(50)}},
        "timings": {"total_s": 61.4, "epoch_s": [20.0, 20.0, 21.4]},
        "versions": {"datamap_widget": "9.9", "torch": "2.x"},
    }
    page = render_report(dmap, texts, run=record)
    section = page.split("<h3>Run settings</h3>")[1].split("<h2>")[0]
    summary, raw = section.split("<details>")
    # What a person looks for first, in words, in a dozen rows or so.
    shown = dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", summary))
    assert shown["Passes"] == "3" and shown["Batch size"] == "32" and shown["Learning rate"] == "5e-05"
    assert shown["Reading"] == "head" and shown["Precision"] == "fp32" and shown["Seed"] == "0"
    assert shown["Training time"] == "61 s" and shown["datamap_widget"] == "9.9"
    assert len(shown) <= 20 and "knob_7" not in summary
    # Every raw setting is still there, one click away (a collapsed <details>), escaped.
    assert "<summary>All settings (" in raw and "settings.knob_49" in raw and "settings.epochs" in raw
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in summary
    assert "&lt;b&gt;data.jsonl&lt;/b&gt;" in summary



def test_all_settings_show_unicode_label_names_as_written(dmap_and_texts):
    # run.json's label_names ["négatif 👎", …] read "n\u00e9gatif \ud83d\udc4e" in the report.
    dmap, texts = dmap_and_texts
    record = {"settings": {"label_names": ["négatif 👎", "very positive"], "odd": ["\ud800"]}}
    raw = render_report(dmap, texts, run=record).split("<details>")[1]
    assert "[&quot;négatif 👎&quot;, &quot;very positive&quot;]" in raw and "\\u00e9" not in raw
    assert "\\ud800" in raw  # a lone surrogate stays escaped: the page is UTF-8
