"""How the data map chart reaches a screen: safe with untrusted strings, and offline.

Altair's default notebook renderer (and ``chart.save("map.html")``) writes the spec as JSON
inside an inline ``<script>`` and loads Vega from a CDN. Both break for us: an id or label
holding ``</script><img onerror=...>`` closes that script and runs with the notebook's
origin, and a notebook without network draws nothing. :class:`DataMapChart` is the Altair
chart :func:`datamap_widget.chart.datamap_chart` returns; it changes only those two paths:

- in a notebook it is shown through Altair's own anywidget (``JupyterChart``) with the
  Vega bundle that vl-convert ships inlined, so the spec travels as widget state (JSON
  over the comm, never inside a script) and no network is needed;
- its HTML (``to_html``, ``save("*.html")``) writes ``<``, ``>`` and ``&`` inside the JSON
  as ``\\u003c``-style escapes, which JavaScript reads back as the same characters but an
  HTML parser never sees as markup; the Vega bundle is inlined by default (offline).

Everything else (``to_dict``, PNG/SVG/PDF export, composition) is Altair's, unchanged.
This module imports Altair at import time, so it is loaded only when a chart is made.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Any

import altair as alt

from .atomic import atomic_paths

__all__ = ["DataMapChart", "ScriptSafeJSONEncoder", "script_safe_json"]

# Renderers whose output keeps the spec out of inline scripts (a JSON mime type, an image,
# or Altair's widget): a user who picked one of these gets it. Every other renderer
# ("default", "html", "colab", ...) embeds the spec in a script and loads Vega from a CDN.
_RENDERERS_KEPT = frozenset({"mimetype", "jupyterlab", "nteract", "json", "png", "svg", "jupyter"})

# Characters an HTML parser acts on inside <script> ("</script>", "<!--") or that end a
# JavaScript line (U+2028/U+2029 when ensure_ascii=False), as JSON string escapes.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_safe_json(text: str) -> str:
    """``text`` (JSON) with ``<``, ``>``, ``&``, U+2028/9 escaped, so it can sit in ``<script>``.

    Outside strings JSON never contains these characters, so escaping every occurrence
    changes no value: ``JSON.parse`` and JavaScript both read the same data back.
    """
    return text.translate(_SCRIPT_ESCAPES)


class ScriptSafeJSONEncoder(json.JSONEncoder):
    """A ``json.JSONEncoder`` whose output is safe inside an HTML ``<script>`` element."""

    def encode(self, o: Any) -> str:
        return script_safe_json(super().encode(o))

    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        for chunk in super().iterencode(o, _one_shot):
            yield script_safe_json(chunk)


def _safe_json_kwds(json_kwds: dict[str, Any] | None) -> dict[str, Any]:
    kwds = dict(json_kwds or {})
    if kwds.get("cls") not in (None, ScriptSafeJSONEncoder):
        raise TypeError("json_kwds['cls'] cannot be set: the chart's HTML always uses ScriptSafeJSONEncoder")
    kwds["cls"] = ScriptSafeJSONEncoder
    return kwds


_NO_BUNDLE = (
    "vl-convert-python is not installed, so the chart loads Vega from a CDN and needs network; "
    "for offline charts: pip install 'datamap_widget[export]'"
)


def _has_bundle() -> bool:
    """Whether vl-convert (which carries the Vega bundle) is installed."""
    return importlib.util.find_spec("vl_convert") is not None


@functools.cache
def _offline_view_class() -> type:
    """Altair's JupyterChart widget with the Vega bundle inlined, built once per process.

    A subclass, so Altair's own ``JupyterChart`` (and whatever the user configured for it)
    is left as it was. Without vl-convert it is Altair's widget as is: still no data in a
    script, but Vega comes from a CDN (a warning says so).
    """

    class OfflineJupyterChart(alt.JupyterChart):
        pass

    if _has_bundle():
        OfflineJupyterChart.enable_offline(True)
    else:
        warnings.warn(_NO_BUNDLE, stacklevel=3)
    return OfflineJupyterChart


def _inline(inline: bool | None) -> bool:
    if inline is None:
        if not _has_bundle():
            warnings.warn(_NO_BUNDLE, stacklevel=3)
            return False
        return True
    return bool(inline)


class DataMapChart(alt.ConcatChart):
    """An Altair ``ConcatChart`` that displays offline and is safe with untrusted strings.

    Shown in a notebook, it renders through an anywidget carrying its own Vega bundle (no CDN,
    no inline script holding data). Its HTML escapes markup characters inside the spec and
    inlines the Vega bundle unless ``inline=False``. Combining it with other charts
    (``|``, ``&``, ``alt.concat``) gives a plain Altair chart, which has neither property.
    """

    def _repr_mimebundle_(self, *args: Any, **kwds: Any) -> Any:
        if alt.renderers.active in _RENDERERS_KEPT:
            return super()._repr_mimebundle_(*args, **kwds)
        return _offline_view_class()(self)._repr_mimebundle_(*args, **kwds)

    def to_html(self, *args: Any, json_kwds: dict[str, Any] | None = None, inline: bool | None = None, **kwds: Any) -> str:
        """Altair's ``to_html`` with script-safe JSON; the Vega bundle inlined unless ``inline=False`` (offline)."""
        return super().to_html(*args, json_kwds=_safe_json_kwds(json_kwds), inline=_inline(inline), **kwds)

    def save(self, fp: Any, format: str | None = None, *args: Any, json_kwds: dict[str, Any] | None = None, inline: bool | None = None, **kwds: Any) -> None:
        """Altair's ``save``; HTML gets script-safe JSON and, unless ``inline=False``, the Vega bundle inlined.

        A file path is written whole or not at all (see :mod:`datamap_widget.atomic`): an
        earlier file there stays as it was if the export fails.
        """
        if isinstance(fp, (str, os.PathLike)):
            suffix = Path(fp).suffix.lstrip(".").lower()
            if format is not None or suffix:  # else Altair says a format is needed
                with atomic_paths(fp) as (temporary,):
                    self._save(str(temporary), format or ("html" if suffix == "htm" else suffix), *args, json_kwds=json_kwds, inline=inline, **kwds)
                return
        self._save(fp, format, *args, json_kwds=json_kwds, inline=inline, **kwds)

    def _save(self, fp: Any, format: str | None, *args: Any, json_kwds: dict[str, Any] | None, inline: bool | None, **kwds: Any) -> None:
        is_html = format == "html" or (format is None and str(getattr(fp, "name", fp)).lower().endswith((".html", ".htm")))
        if is_html:
            super().save(fp, "html", *args, json_kwds=_safe_json_kwds(json_kwds), inline=_inline(inline), **kwds)
        else:
            super().save(fp, format, *args, json_kwds=json_kwds, inline=bool(inline), **kwds)
