/**
 * Wiring of one view: builds the DOM from its parts (toolbar, filters, map, table, detail
 * pane), keeps UI-only state (view, hover, text caches), reacts to trait changes and hands
 * every review action to the review controller (review.ts), which owns the current
 * document, the queue and the optimistic state. Every listener and timer is removed by the
 * cleanup `render` returns.
 */
import { legend, pointColors } from "./colors";
import { isDark, onThemeChange } from "./theme";
import { placeTooltip } from "./tooltip";
import { PointGrid, indicesInPolygon, toggle, union, type Polygon } from "./lasso";
import { MapView, type Tool } from "./mapview";
import { ConfusionTable, EMPTY_FILTERS, FilterBar, confusionCounts, visibleMask, withPair, type LabelPair } from "./filters";
import { DetailPane, type DocDetail } from "./pane";
import { HelpOverlay, StartHint } from "./help";
import { Note, acceptUnlearnedText, acceptedText, hiddenCount, selectionHiddenText, unlearnedText } from "./notes";
import { CONFIRMED, NO_LABEL, RELABELED, ReviewController, shownSuggestion, shownSuggestions, suspectProgress, type Action } from "./review";
import { createWebGLScatter, type ScatterFactory } from "./scatter";
import { Sync, decode, decodePoints, encode, type Filters, type MapViewName, type Model, type Points } from "./sync";
import { VirtualTable } from "./table";
import { COMPACT_TOOLBAR_WIDTH, StatusLine, Toolbar, h, keyLegend, methodName, saveStateText } from "./toolbar";
import type { View } from "./scatter";

export interface Options {
  scatterFactory?: ScatterFactory;
  /** Wait before asking for texts of rows that came into view (ms). */
  pageDelayMs?: number;
  /** After how long an unanswered request means "the kernel is busy" (ms). */
  busyAfterMs?: number;
}

interface Preview {
  id: string;
  text: string;
}

const PAGE_ROWS = 200;
/** Suspects the progress line counts when no top-k filter is set. */
const PROGRESS_K = 50;

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "–");
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");

/** Build one view of the widget inside `el`; returns its cleanup. */
export function createView(model: Model, el: HTMLElement, opts: Options = {}): () => void {
  const sync = new Sync(model);
  const disposers: Array<() => void> = [];
  const listen = (t: EventTarget, type: string, fn: (e: any) => void) => {
    t.addEventListener(type, fn);
    disposers.push(() => t.removeEventListener(type, fn));
  };

  // ---------------------------------------------------------------- state
  let base: Points = decodePoints(model); // as the kernel last said
  let points: Points = base; // what the screen shows: base with the optimistic changes
  let selection: Uint32Array = decode(sync.get("selection"), Uint32Array).slice();
  let selMask: Uint8Array | null = null;
  let visible: Uint8Array | null = null;
  let searchHits: Uint8Array | null = null;
  let searchToken = 0;
  let lastQuery = "";
  let hovered = -1;
  // Texts by row: a row is one fixed example of the map, so they survive re-sorting and new passes.
  const previews = new Map<number, Preview>();
  const details = new Map<number, DocDetail>();
  const detailWanted = new Set<number>();
  let wanted = new Set<number>();
  const inFlight = new Set<number>();
  let pageTimer: ReturnType<typeof setTimeout> | undefined;
  let colorBuf: Uint8Array | undefined;
  let grid: PointGrid | null = null; // built on the first hover/click after the points or the view change
  const nearest = (x: number, y: number, sx: number, sy: number) =>
    (grid ??= new PointGrid(...positions())).nearest(x, y, sx, sy, 8);
  /** Zoom and pan of the view not shown, so switching back returns to where the user was. */
  const savedViews = new Map<MapViewName, View>();
  let shownView: MapViewName = "data_map";
  /** Requests for texts waiting on the kernel, with when they were sent. */
  const asking = new Set<number>();
  const ask = (method: string, args: Record<string, unknown>, buffers: ArrayBufferView[] = []) => {
    const at = Date.now();
    asking.add(at);
    return sync.request(method, args, buffers).finally(() => asking.delete(at));
  };

  const ctl = new ReviewController(
    // `current` (the document the pane shows once the action moved on) keeps its place if the kernel re-ranks.
    (method, args, rows) => sync.request(method, { ...args, current: ctl.current }, rows.length ? [rows] : []),
    {
      onChange: () => onReviewChange(),
      onRollback: (message) => status.show(message, "error"),
      // A DOM event for whoever measures or automates the widget (the latency benchmark listens).
      onSettled: (action, ms, error) =>
        root.dispatchEvent(new CustomEvent("dmw:settled", { detail: { method: action.method, rows: [...action.rows], ms, error } })),
    },
  );
  // ------------------------------------------------------------------ DOM
  const root = h("div", "dmw-root");
  root.tabIndex = 0;
  // Keys typed in the widget are ours: Lumino (JupyterLab, Notebook 7) skips shortcuts under this attribute.
  root.dataset.lmSuppressShortcuts = "true";
  el.appendChild(root);
  const toolbar = new Toolbar();
  const keysLine = h("div", "dmw-keys");
  const filterBar = new FilterBar(
    {
      change: (patch, delayMs) => writeFilters(patch, delayMs),
      search: (query) => {
        sync.write("filters", { ...filters(), search: query }, 250);
        runSearch(query);
      },
      current: () => filters(),
    },
    listen,
  );
  const progressLine = filterBar.progress;
  const main = h("div", "dmw-main");
  const status = new StatusLine();
  // The status line sits right under the toolbar, where the eye is after pressing a button: a
  // question such as the bulk accept's "Apply (12)" and every message appear by their cause.
  const startHint = new StartHint();
  const help = new HelpOverlay(() => root.focus({ preventScroll: true }));
  const unlearnedNote = new Note("dmw-unlearned-note");
  root.append(toolbar.el, status.el, startHint.el, unlearnedNote.el, keysLine, filterBar.el, main, help.el);
  listen(toolbar.helpButton, "click", () => help.show(names()));
  for (const [tool, b] of toolbar.toolButtons) listen(b, "click", () => setTool(tool));
  for (const [view, b] of toolbar.views.buttons) {
    listen(b, "click", () => {
      if (b.disabled) return;
      sync.write("mapView", view); // our own write echoes back as no change event: apply it here
      applyView();
      const pending = sync.get("embeddingView")?.pending;
      if (view === "embedding" && !points.px && pending) makeProjection(pending);
    });
  }

  const mapPane = h("div", "dmw-map-pane");
  const side = h("div", "dmw-side");
  main.append(mapPane, side);
  const legendEl = h("div", "dmw-legend");
  const tooltip = h("div", "dmw-tooltip");
  tooltip.style.display = "none";
  const tableTitle = h("div", "dmw-table-title");

  const map = new MapView(mapPane, opts.scatterFactory ?? createWebGLScatter, {
    onPolygon: (poly, additive) => selectPolygon(poly, additive),
    onClick: (x, y, sx, sy, additive) => clickAt(x, y, sx, sy, additive),
    onHover: (x, y, sx, sy, cx, cy) => hoverAt(x, y, sx, sy, cx, cy),
    onLeave: () => setHovered(-1),
  });
  mapPane.append(legendEl, tooltip);

  const names = () => sync.get("labelNames") ?? [];
  const labelName = (code: number) => names()[code] ?? "?";
  /** The suggestion shown for row `r` ("—": none, never the label itself). */
  const suggestionOf = (r: number) => shownSuggestion(points.suggested, points.labels, r);
  const suggestionName = (r: number) => (suggestionOf(r) === NO_LABEL ? "—" : labelName(suggestionOf(r)));
  const markText = (mark: number) => (mark === RELABELED ? "✎" : mark === CONFIRMED ? "✓" : "");
  const table = new VirtualTable(side, {
    columns: [
      { key: "id", title: "id", width: "9em", get: (r) => previews.get(r)?.id ?? "…", className: "dmw-c-id" },
      { key: "text", title: "text", width: "minmax(var(--dmw-text-min, 16em), 1fr)", get: (r) => previews.get(r)?.text ?? "", className: "dmw-c-text" },
      { key: "label", title: "label", width: "5em", get: (r) => labelName(points.labels[r]), className: "dmw-c-label" },
      { key: "suggested", title: "suggested", width: "6.2em", get: (r) => suggestionName(r) },
      { key: "confidence", title: "conf", width: "3.4em", get: (r) => f2(points.y[r]) },
      { key: "variability", title: "var", width: "3.2em", get: (r) => f2(points.x[r]) },
      { key: "correctness", title: "corr", width: "3.4em", get: (r) => f2(points.correctness[r]) },
      { key: "reviewed", title: "✓", width: "1.6em", get: (r) => markText(points.reviewed[r]), className: "dmw-c-reviewed" },
    ],
    rowClass: (r) => (points.reviewed[r] === RELABELED ? "dmw-relabeled" : points.reviewed[r] === CONFIRMED ? "dmw-confirmed" : ""),
    onVisible: (rows) => want(rows),
    onRowClick: (row, _position, event) => {
      ctl.current = row;
      if (event.shiftKey) setSelection(toggle(selection, row)); // as shift+click on its point
      focus(row);
      root.focus({ preventScroll: true });
    },
  });
  side.insertBefore(tableTitle, table.el);
  const selectionNote = new Note("dmw-selection-hidden");
  side.insertBefore(selectionNote.el, table.el);
  const pane = new DetailPane(
    side,
    (row) => fetchDetail(row, true),
    (row) => {
      focus(row); // the neighbour becomes the current document: keys and buttons act on it
      root.focus({ preventScroll: true });
    },
  );

  // Given × suggested counts; a clicked cell narrows the table and the map to that pair (UI-only state).
  let pair: LabelPair | null = null;
  const confusion = new ConfusionTable((p) => {
    pair = p;
    recompute();
    if (table.positionOf(ctl.current) < 0) table.scrollToTop();
  });
  side.appendChild(confusion.el);

  // -------------------------------------------------------------- helpers
  function setTool(tool: Tool): void {
    map.tool = tool;
    toolbar.setTool(tool);
  }

  /** The view the map draws: the embedding view only when the points carry a projection. */
  function mapView(): MapViewName {
    return sync.get("mapView") === "embedding" && points.px ? "embedding" : "data_map";
  }

  /** Positions of the points in the view shown: every lasso, click, hover and marker goes through these. */
  function positions(): [Float32Array, Float32Array] {
    return mapView() === "embedding" && points.px && points.py ? [points.px, points.py] : [points.x, points.y];
  }

  /** Draw the view the trait asks for (or the data map when there is no projection); `reset`: new points. */
  function applyView(reset = false): void {
    const view = mapView();
    if (reset) savedViews.clear();
    else if (view !== shownView) savedViews.set(shownView, { ...map.view });
    const switched = view !== shownView;
    shownView = view;
    const method = methodName(sync.get("embeddingView")?.method ?? "");
    if (view === "embedding") {
      map.setAxes(`${method} 1`, `${method} 2`, false,
        `Embedding view: a ${method} projection of the model's sentence embeddings; near points are alike to the model.`);
    } else {
      map.setAxes("variability", "confidence", true, "Data map: variability (x) against confidence (y).");
    }
    const [x, y] = positions();
    const saved = savedViews.get(view);
    map.setPositions(x, y, reset || (switched && !saved), view === "embedding");
    if (switched && saved && !reset) {
      map.view = saved;
      map.redraw();
    }
    grid = null;
    toolbar.views.render(view, sync.get("embeddingView"));
    updateMarkers();
  }

  /** A big map makes its projection on first use: ask for it; it arrives as new points. */
  let projecting = false;
  function makeProjection(method: string): void {
    if (projecting) return;
    projecting = true;
    status.show(`Making the ${methodName(method)} projection of ${points.n.toLocaleString()} embeddings (once; it is kept with the map)…`, "sticky");
    sync
      .request("projection", {})
      .then(() => status.clear())
      .catch((err: Error) => status.show(`Could not make the projection: ${err.message}`, "error"))
      .finally(() => (projecting = false));
  }

  function filters(): Filters {
    return { ...EMPTY_FILTERS, ...(sync.get("filters") ?? {}) };
  }

  function writeFilters(patch: Partial<Filters>, delayMs = 0): void {
    sync.write("filters", { ...filters(), ...patch }, delayMs);
    recompute();
  }

  function setSelection(rows: Uint32Array): void {
    selection = rows;
    sync.write("selection", encode(rows), 0);
    applySelection();
  }

  function applySelection(): void {
    selMask = null;
    if (selection.length) {
      selMask = new Uint8Array(points.n);
      for (const r of selection) if (r < points.n) selMask[r] = 1;
    }
    map.scatter?.setHighlighted(selection);
    recolor();
    rebuildTable();
    // A new list opens at its top, or where the current document is.
    if (table.positionOf(ctl.current) < 0) table.scrollToTop();
    renderDetail(); // the "not in the selection" hint follows the selection
  }

  function recompute(): void {
    visible = withPair(visibleMask(points, filters(), sync.get("categories") ?? [], names(), searchHits), points, pair);
    confusion.render(confusionCounts(points.labels, shownSuggestions(points.suggested, points.labels), names().length), names(), pair);
    recolor();
    rebuildTable();
  }

  function recolor(): void {
    colorBuf = pointColors(points, sync.get("colorBy") ?? "correctness", visible, selMask, colorBuf, isDark(map.el));
    map.scatter?.setColors(colorBuf);
    map.colors = colorBuf; // the current document's point keeps its colour inside its ring
    map.redraw();
  }

  /** One meaning of "shown" for the table, the map and the buttons: the rows passing the filters
   * (search and confusion pair included), and of those only the selected ones when there is a
   * selection. The map draws the rest dimmed; the table lists exactly these; buttons act on them. */
  const filtersNarrow = () => selection.length > 0 && visible !== null;
  const inTargets = (r: number) => !!selMask?.[r] && (!visible || !!visible[r]);
  /** What narrows a selection, in words: "“query”" for a search alone, else "the filters". */
  const narrowedBy = () => {
    const f = filters();
    const other = f.categories.length > 0 || f.labels.length > 0 || f.suspects_k > 0 || f.reviewed !== "all" || pair !== null;
    return lastQuery && !other ? `“${lastQuery}”` : "the filters";
  };

  /** Table rows: the shown rows (see filtersNarrow), most suspect first. The cursor follows the
   * current document. */
  function rebuildTable(): void {
    const mask = selection.length ? selMask : visible;
    const narrow = filtersNarrow() ? visible : null;
    const out = new Uint32Array(mask ? selection.length || points.n : points.n);
    let m = 0;
    for (let j = 0; j < points.order.length; j++) {
      const r = points.order[j];
      if ((!mask || mask[r]) && (!narrow || narrow[r])) out[m++] = r;
    }
    const rows = out.subarray(0, m);
    table.setRows(rows, ctl.current); // a re-ranked order keeps the current document where it is on screen
    syncCursor();
    const sel = selection.length.toLocaleString();
    const what = !selection.length
      ? `${rows.length.toLocaleString()} of ${points.n.toLocaleString()} shown`
      : narrow ? `${rows.length.toLocaleString()} of ${sel} selected match ${narrowedBy()}` : `${sel} selected`;
    const narrowed = pair && !selection.length ? ` · labelled ${labelName(pair.given)}, suggested ${labelName(pair.suggested)}` : "";
    tableTitle.textContent = `${what}${narrowed} · most suspect first`;
    selectionNote.show(narrow ? selectionHiddenText(selection.length, rows.length, narrowedBy()) : "");
    renderProgress();
  }

  function renderProgress(): void {
    const k = filters().suspects_k > 0 ? filters().suspects_k : PROGRESS_K;
    const p = suspectProgress(points.order, points.reviewed, k);
    progressLine.textContent = `reviewed ${p.reviewed.toLocaleString()} of the top ${p.of.toLocaleString()} suspects`;
  }

  /** The table cursor and the highlighted row and point show the current document. */
  function syncCursor(): void {
    const r = ctl.current;
    const pos = r >= 0 ? table.positionOf(r) : -1;
    if (pos !== table.cursor) table.setCursor(pos);
    table.setHighlighted(r >= 0 ? [r] : []);
  }

  function want(rows: number[]): void {
    for (const r of rows) if (!previews.has(r) && !inFlight.has(r)) wanted.add(r);
    if (!wanted.size || pageTimer !== undefined) return;
    pageTimer = setTimeout(fetchPage, opts.pageDelayMs ?? 30);
  }

  function fetchPage(): void {
    pageTimer = undefined;
    const rows = Uint32Array.from([...wanted].slice(0, PAGE_ROWS));
    wanted = new Set([...wanted].slice(PAGE_ROWS));
    if (!rows.length) return;
    for (const r of rows) inFlight.add(r);
    ask("page", { full: false }, [rows])
      .then(([res]) => {
        if (previews.size > 50000) previews.clear();
        res.rows.forEach((r: number, i: number) => previews.set(r, { id: res.ids[i], text: res.texts[i] }));
        table.render();
        if (hovered >= 0) showTooltip();
        if (ctl.current >= 0) renderDetail();
      })
      .catch((err: Error) => status.show(`Could not load texts: ${err.message}`, "error"))
      .finally(() => {
        for (const r of rows) inFlight.delete(r);
        if (wanted.size) want([]);
      });
  }

  /** The pane's document: bounded text, the per-pass gold probability, the model's classes; `all` for the whole text. */
  function fetchDetail(r: number, all = false): void {
    if (r < 0 || detailWanted.has(r)) return;
    detailWanted.add(r);
    ask("document", { row: r, all })
      .then(([res]) => {
        details.set(r, res as DocDetail);
        previews.set(r, { id: res.id, text: previews.get(r)?.text ?? res.text.slice(0, 240) });
        if (ctl.current === r) renderDetail();
        table.render();
      })
      .catch((err: Error) => status.show(`Could not load the document: ${err.message}`, "error"))
      .finally(() => detailWanted.delete(r));
  }

  function selectPolygon(poly: Polygon, additive: boolean): void {
    const [x, y] = positions();
    const rows = indicesInPolygon(x, y, poly);
    setSelection(additive ? union(selection, rows) : rows);
  }

  function clickAt(x: number, y: number, sx: number, sy: number, additive: boolean): void {
    const r = nearest(x, y, sx, sy);
    if (r < 0) {
      if (!additive) setSelection(new Uint32Array(0));
      return;
    }
    // One rule for points and rows: a click opens the document (keys act on it) and leaves the
    // selection alone; shift+click also adds it to the selection or takes it out.
    ctl.current = r; // before the table is rebuilt around a new selection
    if (additive) setSelection(toggle(selection, r));
    focus(r);
  }

  let hoverPos: [number, number] = [0, 0];
  function hoverAt(x: number, y: number, sx: number, sy: number, cx: number, cy: number): void {
    hoverPos = [cx, cy];
    setHovered(nearest(x, y, sx, sy));
  }

  function setHovered(r: number): void {
    if (r === hovered && r < 0) return;
    hovered = r;
    updateMarkers();
    if (r < 0) {
      tooltip.style.display = "none";
      return;
    }
    want([r]);
    showTooltip();
  }

  function showTooltip(): void {
    const r = hovered;
    if (r < 0 || r >= points.n) return;
    const doc = previews.get(r);
    tooltip.replaceChildren();
    const lines: Array<[string, string]> = [
      ["id", doc?.id ?? "…"],
      ["label", labelName(points.labels[r])],
      ["suggested", suggestionName(r)],
      ["confidence", f3(points.y[r])],
      ["variability", f3(points.x[r])],
      ["correctness", f3(points.correctness[r])],
    ];
    for (const [k, v] of lines) {
      const line = h("div", "dmw-tip-line");
      line.append(h("b", "", `${k}: `), document.createTextNode(v));
      tooltip.appendChild(line);
    }
    if (doc?.text) tooltip.appendChild(h("div", "dmw-tip-text", doc.text.length > 140 ? `${doc.text.slice(0, 140)}…` : doc.text));
    // Shown first so it can be measured, then placed inside the plot (flipped near its edges).
    tooltip.style.display = "block";
    const rect = map.el.getBoundingClientRect();
    const [left, top] = placeTooltip(hoverPos[0] - rect.left, hoverPos[1] - rect.top,
      tooltip.offsetWidth, tooltip.offsetHeight, rect.width, rect.height);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }

  function updateMarkers(): void {
    const m: number[] = [];
    const focused = ctl.current;
    const [x, y] = positions();
    for (const r of [focused, hovered]) if (r >= 0 && r < points.n) m.push(x[r], y[r]);
    if (focused < 0 && m.length) m.unshift(NaN, NaN);
    map.markers = m;
    map.markerRows = [focused, hovered];
    map.drawOverlay();
  }

  /** Make `r` the current document: the pane shows it, the cursor and the map mark it, keys act on it. */
  function focus(r: number): void {
    ctl.current = r;
    showCurrent();
  }

  function showCurrent(): void {
    syncCursor();
    updateMarkers();
    renderDetail();
    if (ctl.current >= 0 && !details.has(ctl.current)) fetchDetail(ctl.current);
  }

  function renderDetail(): void {
    const r = ctl.current;
    if (r < 0 || r >= points.n) return pane.render(null);
    pane.render({
      row: r,
      label: labelName(points.labels[r]),
      suggested: suggestionName(r),
      confidence: points.y[r],
      variability: points.x[r],
      correctness: points.correctness[r],
      mark: points.reviewed[r],
      hasText: !!sync.get("hasText"),
      preview: previews.get(r),
      detail: details.get(r),
      // Labels from the points as shown now (optimistic relabels included), not from the cached reply.
      neighbours: details.get(r)?.neighbors?.items.map((nb) => ({ ...nb, label: nb.row < points.n ? labelName(points.labels[nb.row]) : nb.label })),
      waiting: kernelBusy(),
      outside: outsideHint(r),
    });
  }

  /** Keys act on the pane's document, buttons on the selection: say so when the two differ. */
  function outsideHint(r: number): string | undefined {
    if (!selection.length || inTargets(r)) return undefined;
    const n = targetRows().length;
    const where = filtersNarrow() ? `selected documents that match ${narrowedBy()}` : "selected";
    return `This document is not in the selection: keys act on it, buttons on the ${n.toLocaleString()} ${where}.`;
  }

  // -------------------------------------------------------------- actions
  const busyAfter = opts.busyAfterMs ?? 1500;
  function kernelBusy(): boolean {
    const now = Date.now();
    return ctl.waitingFor() > busyAfter || [...asking].some((t) => now - t > busyAfter);
  }

  /** The optimistic overlay or the queue changed: redraw labels, marks, colours, filters. */
  function onReviewChange(): void {
    const eff = ctl.effective(base.labels, base.reviewed);
    points = { ...base, labels: eff.labels, reviewed: eff.reviewed };
    recompute();
    showCurrent();
    if (hovered >= 0) showTooltip();
    if (!ctl.queued) showSaveStatus();
  }

  function submit(action: Action, advance = false): void {
    void ctl.submit(action, advance ? table : undefined);
  }

  /** Undo the last action, then show the document it was about (the pane, cursor and point move there). */
  function undo(): void {
    void ctl.submit({ method: "undo", rows: new Uint32Array(0), describe: "undo" }).then((reply) => {
      const buffers = (reply as [unknown, DataView[]] | undefined)?.[1];
      const rows = buffers?.length ? decode(buffers[0], Uint32Array) : new Uint32Array(0);
      if (!rows.length || rows.includes(ctl.current)) return showCurrent();
      // Of several rows (a bulk action), the first the table lists, else the first one.
      let best = -1;
      let bestPos = Infinity;
      for (const r of rows) {
        const pos = table.positionOf(r);
        if (pos >= 0 && pos < bestPos) [best, bestPos] = [r, pos];
      }
      focus(best >= 0 ? best : rows[0]);
    });
  }

  /** Buttons act on the selection narrowed by the filters, exactly as the table lists it, or on
   * the current document when nothing is selected. */
  function targetRows(): Uint32Array {
    if (filtersNarrow()) return selection.filter((r) => r < points.n && !!visible![r]);
    if (selection.length) return selection;
    return ctl.current >= 0 ? Uint32Array.of(ctl.current) : new Uint32Array(0);
  }

  const idOf = (r: number) => previews.get(r)?.id ?? details.get(r)?.id ?? `row ${r}`;
  const what = (rows: Uint32Array) => (rows.length === 1 ? idOf(rows[0]) : `${rows.length.toLocaleString()} documents`);

  function relabel(rows: Uint32Array, label: string, advance: boolean): void {
    const code = names().indexOf(label);
    submit({ method: "relabel", rows, args: { label }, optimistic: ReviewController.relabeling(rows, code, points.labels, points.reviewed), describe: `relabel ${what(rows)} to “${label}”` }, advance);
  }

  function confirm(rows: Uint32Array, advance: boolean): void {
    submit({ method: "mark_reviewed", rows, optimistic: ReviewController.confirming(rows, points.labels, points.reviewed), describe: `mark ${what(rows)} reviewed` }, advance);
  }

  const retryButton = h("button", "dmw-retry", "Retry saving");
  retryButton.title = "Write the pending actions to the store again";
  listen(retryButton, "click", () => {
    status.show("saving…", "sticky");
    sync.request("retry_save", {}).then(() => showSaveStatus(), (err: Error) => status.show(`Retry failed: ${err.message}`, "error"));
  });

  function showSaveStatus(): void {
    const s = sync.get("saveStatus") ?? "";
    if (ctl.queued) return;
    if (s !== "" && s !== "saved") return status.show(s, "sticky", retryButton);
    if (status.kind === "sticky") status.clear(); // "saving…" or "kernel busy" are over
    if (s === "saved" && lastActionDone) status.show("saved", "info");
    lastActionDone = false;
  }
  let lastActionDone = false;

  const nothingChosen = "Nothing to act on: click a row or a point, or select points (lasso, box).";
  const noneMatch = () => `None of the ${selection.length.toLocaleString()} selected documents match ${narrowedBy()}.`;
  listen(toolbar.relabelButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return status.show(selection.length ? noneMatch() : nothingChosen, "error");
    relabel(rows, toolbar.relabelSelect.value, false);
  });
  listen(toolbar.reviewButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return status.show(selection.length ? noneMatch() : nothingChosen, "error");
    confirm(rows, false);
  });
  listen(toolbar.acceptButton, "click", () => previewAccept());
  listen(toolbar.undoButton, "click", () => undo());
  listen(toolbar.saveButton, "click", () => {
    status.show("writing the labels…", "sticky");
    sync
      .request("save_labels", {})
      .then(([res]) => status.show(`Saved ${res.rows.toLocaleString()} labels (${res.changed.toLocaleString()} changed) to ${res.path}`, "info"))
      .catch((err: Error) => status.show(`Could not save the labels: ${err.message}`, "error"));
  });
  listen(toolbar.clearButton, "click", () => setSelection(new Uint32Array(0)));
  listen(toolbar.homeButton, "click", () => map.home());
  listen(toolbar.colorSelect, "change", () => {
    // Our own write echoes back as no change event: apply it here.
    sync.write("colorBy", toolbar.colorSelect.value);
    renderLegend();
    recolor();
  });

  /** Bulk accept: first say how many labels change, then apply exactly those on "Apply". A person's
   * decisions (confirmed or relabeled) are kept unless "Include the N reviewed" is pressed. */
  function previewAccept(): void {
    const rows = targetRows().slice();
    if (!rows.length) return status.show(selection.length ? noneMatch() : nothingChosen, "error");
    sync
      .request("accept_preview", {}, [rows])
      .then(([res]) => {
        const kept = res.reviewed ?? 0;
        const none = res.no_suggestion ?? 0;
        const noneText = none ? `${none.toLocaleString()} ha${none === 1 ? "s" : "ve"} no suggestion` : "";
        const keptText = `${kept.toLocaleString()} already reviewed by a person ${kept === 1 ? "keeps its" : "keep their"} label`;
        if (!res.change && !kept) {
          return status.show(`No label would change: ${rows.length === 1 ? `${what(rows)} has` : `the ${what(rows)} have`} no suggestion to accept.`, "info");
        }
        const accept = (includeReviewed: boolean) => {
          status.clear();
          const optimistic: Array<[number, number, number]> = [];
          for (const r of rows) {
            const s = suggestionOf(r);
            if (s !== NO_LABEL && (includeReviewed || !points.reviewed[r])) optimistic.push([r, s, RELABELED]);
          }
          const args = includeReviewed ? { include_reviewed: true } : {};
          void ctl.submit({ method: "accept_suggestions", rows, args, optimistic, describe: `accept the suggestions for ${what(rows)}` }).then((reply) => {
            const changed = (reply as [{ changed?: number }, unknown] | undefined)?.[0]?.changed;
            if (typeof changed === "number") status.show(acceptedText(changed, hiddenCount(optimistic.map(([r]) => r), visible), filters().labels.length > 0), "info");
          });
        };
        const buttons: HTMLElement[] = [];
        if (res.change) {
          const apply = h("button", "dmw-accept-apply", `Apply (${res.change})`);
          apply.title = "Apply exactly these changes, keeping what a person decided (undo takes them back in one step)";
          apply.addEventListener("click", () => accept(false));
          buttons.push(apply);
        }
        if (kept) {
          const include = h("button", "dmw-accept-include", `Include the ${kept.toLocaleString()} reviewed (${(res.change + kept).toLocaleString()})`);
          include.title = "Also overwrite what a person confirmed or relabeled with the model's suggestion";
          include.addEventListener("click", () => accept(true));
          buttons.push(include);
        }
        const cancel = h("button", "dmw-accept-cancel", "Cancel");
        cancel.title = "Change nothing (Escape)";
        cancel.addEventListener("click", () => status.clear());
        buttons.push(cancel);
        const parts = [`Accept suggestions for ${what(rows)}: ${res.change.toLocaleString()} label${res.change === 1 ? "" : "s"} will change`];
        if (kept) parts.push(keptText);
        if (noneText) parts.push(noneText);
        const unlearnedPart = acceptUnlearnedText(res.unlearned ?? 0, sync.get("unlearned") ?? []);
        if (unlearnedPart) parts.push(unlearnedPart);
        status.show(`${parts.join(", ")}.`, "sticky", ...buttons);
      })
      .catch((err: Error) => status.show(`Could not preview: ${err.message}`, "error"));
  }

  listen(root, "mousedown", (e: MouseEvent) => {
    const t = e.target as HTMLElement;
    if (t && !["INPUT", "SELECT", "TEXTAREA", "BUTTON", "OPTION"].includes(t.tagName)) root.focus({ preventScroll: true });
  });
  listen(root, "keydown", (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (help.open && e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      return help.close();
    }
    if (t === filterBar.searchInput && e.key === "Escape") {
      // Leave the box (keeping the query, which Chromium would clear) and give the keys back.
      e.preventDefault();
      e.stopPropagation();
      root.focus({ preventScroll: true });
      return;
    }
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key;
    if (t?.tagName === "BUTTON" && (key === "Enter" || key === " ")) return; // the button's own click
    const current = ctl.current;
    if (key === "j" || key === "ArrowDown" || key === "k" || key === "ArrowUp") {
      ctl.move(table, key === "j" || key === "ArrowDown" ? 1 : -1);
      showCurrent();
    } else if (/^[1-9]$/.test(key)) {
      const code = Number(key) - 1;
      if (code >= names().length) status.show(`There is no label ${key}: labels are 1–${names().length}.`, "error");
      else if (current < 0) status.show(nothingChosen, "error");
      else relabel(Uint32Array.of(current), names()[code], true);
    } else if (key === "r" || key === "Enter") {
      if (current < 0) status.show(nothingChosen, "error");
      else confirm(Uint32Array.of(current), true);
    } else if (key === "a") {
      if (current < 0) status.show(nothingChosen, "error");
      else if (suggestionOf(current) === NO_LABEL) status.show(`${idOf(current)}: no suggestion for this document.`, "error");
      else relabel(Uint32Array.of(current), labelName(suggestionOf(current)), true);
    } else if (key === "u") {
      undo();
    } else if (key === "?") {
      help.show(names());
    } else if (key === "Escape") {
      setSelection(new Uint32Array(0));
    } else return;
    e.preventDefault();
    e.stopPropagation();
  });

  function runSearch(query: string): void {
    const token = ++searchToken;
    lastQuery = query;
    if (!query) {
      searchHits = null;
      recompute();
      renderDetail();
      return;
    }
    ask("search", { query })
      .then(([res, buffers]) => {
        if (token !== searchToken) return;
        const hits = decode(buffers[0], Uint32Array);
        searchHits = new Uint8Array(points.n);
        for (const r of hits) if (r < points.n) searchHits[r] = 1;
        recompute();
        renderDetail();
        status.show(`${res.count.toLocaleString()} documents match “${query}”`, "info");
      })
      .catch((err: Error) => status.show(`Search failed: ${err.message}`, "error"));
  }

  // A cell running in the kernel holds every answer back: say so plainly, and that nothing is lost.
  const busyTimer = setInterval(() => {
    if (kernelBusy()) {
      const n = ctl.queued;
      const msg = n
        ? `The kernel is busy (a cell is running): ${n} action${n === 1 ? " is" : "s are"} queued and will be applied once each, in order, when it finishes.`
        : "The kernel is busy (a cell is running): texts load when it finishes.";
      if (status.text !== msg) status.show(msg, "sticky");
      if (ctl.current >= 0 && !details.has(ctl.current)) renderDetail();
    } else if (status.kind === "sticky" && status.text.startsWith("The kernel is busy")) {
      status.clear();
      showSaveStatus();
    }
  }, 250);
  disposers.push(() => clearInterval(busyTimer));

  // ------------------------------------------------------- model -> view
  function renderControls(): void {
    const f = filters();
    toolbar.colorSelect.value = sync.get("colorBy") ?? "correctness";
    toolbar.setLabels(names());
    keysLine.textContent = keyLegend(names());
    unlearnedNote.show(unlearnedText(sync.get("unlearned") ?? []));
    filterBar.render(f, sync.get("categories") ?? [], names());
    renderLegend();
    renderPasses();
    renderSaveState();
  }

  function renderSaveState(): void {
    const summary = sync.get("reviewSummary");
    if (!summary) return;
    const { text, title } = saveStateText(summary, sync.get("saveStatus") ?? "");
    toolbar.saveState.textContent = text;
    toolbar.saveState.title = title;
  }

  function renderLegend(): void {
    legendEl.replaceChildren();
    for (const e of legend(sync.get("colorBy") ?? "correctness", names(), sync.get("categories") ?? [], isDark(map.el))) {
      const item = h("div", "dmw-legend-item");
      const sw = h("span", "dmw-swatch");
      sw.style.background = e.color;
      item.append(sw, document.createTextNode(e.label));
      legendEl.appendChild(item);
    }
  }

  function renderPasses(): void {
    const n = sync.get("nPasses") ?? 0;
    toolbar.passes.textContent = `${sync.get("live") ? "live · " : ""}${n} pass${n === 1 ? "" : "es"}`;
    const th = sync.get("thresholds");
    if (th) map.thresholds = { confidence: th.confidence, variability: th.variability };
    toolbar.undoButton.disabled = (sync.get("historySize") ?? 0) === 0 && !ctl.queued;
    startHint.update(sync.get("historySize") ?? 0);
    toolbar.setProgress(sync.get("progress"));
  }

  function onPoints(resetView: boolean): void {
    const oldN = base.n;
    base = decodePoints(model);
    const eff = ctl.effective(base.labels, base.reviewed);
    points = { ...base, labels: eff.labels, reviewed: eff.reviewed };
    grid = null;
    if (points.n !== oldN) {
      // Another set of examples: nothing cached belongs to it.
      previews.clear();
      details.clear();
      selMask = null;
      searchHits = null;
      ctl.current = -1;
    } else {
      // A new pass: texts stay (rows are fixed examples); the training history of each document changed.
      details.clear();
    }
    applyView(resetView || points.n !== oldN);
    selection = decode(sync.get("selection"), Uint32Array).slice();
    map.scatter?.setHighlighted(selection);
    selMask = null;
    if (selection.length) {
      selMask = new Uint8Array(points.n);
      for (const r of selection) if (r < points.n) selMask[r] = 1;
    }
    recompute();
    showCurrent();
  }

  function onColumns(): void {
    const p = decodePoints(model);
    base = { ...base, labels: p.labels, reviewed: p.reviewed };
    lastActionDone = true;
    onReviewChange();
  }

  sync.on("points", () => onPoints(false));
  sync.on("labels", onColumns);
  sync.on("order", () => {
    // The kernel re-ranked the suspects from a review: only the table's order changes.
    base = { ...base, order: decodePoints(model).order };
    points = { ...points, order: base.order };
    rebuildTable();
  });
  sync.on("reviewed", onColumns);
  sync.on("selection", () => {
    selection = decode(sync.get("selection"), Uint32Array).slice();
    applySelection();
  });
  sync.on("mapView", () => applyView());
  sync.on("embeddingView", () => toolbar.views.render(mapView(), sync.get("embeddingView")));
  sync.on("colorBy", () => {
    toolbar.colorSelect.value = sync.get("colorBy");
    renderLegend();
    recolor();
  });
  sync.on("filters", () => {
    renderControls();
    const q = filters().search;
    if (q !== lastQuery) runSearch(q);
    recompute();
  });
  sync.on("labelNames", renderControls);
  sync.on("unlearned", renderControls);
  sync.on("categories", renderControls);
  sync.on("nPasses", renderPasses);
  sync.on("live", renderPasses);
  sync.on("progress", renderPasses);
  sync.on("thresholds", () => {
    renderPasses();
    map.redraw();
  });
  sync.on("historySize", renderPasses);
  sync.on("saveStatus", () => {
    showSaveStatus();
    renderSaveState();
  });
  sync.on("reviewSummary", renderSaveState);

  // --------------------------------------------------------------- sizing
  let ro: ResizeObserver | undefined;
  const fit = () => {
    const width = root.clientWidth || 1000;
    // widget.css decides the layout (a container query): stacked, the map takes the full width;
    // side by side, it leaves the table its minimum width.
    const stacked = getComputedStyle(main).flexDirection === "column";
    const sideMin = parseFloat(getComputedStyle(side).minWidth) || 0;
    const w = stacked
      ? Math.max(240, Math.min(720, width))
      : Math.max(320, Math.min(720, Math.round(width * 0.48), width - 8 - sideMin));
    map.resize(w, 460, window.devicePixelRatio || 1);
    toolbar.setCompact(width < COMPACT_TOOLBAR_WIDTH);
    if (mapPane.style.width !== `${w}px`) mapPane.style.width = `${w}px`;
  };
  if (typeof ResizeObserver === "function") {
    ro = new ResizeObserver(() => fit());
    ro.observe(root);
  }
  fit();
  map.beforeDraw = fit; // the view may not be attached yet: measure again when the frame draws
  setTool("lasso");
  renderControls();
  onPoints(true);
  renderDetail();
  if (filters().search) runSearch(filters().search);
  showSaveStatus();

  // The canvases take their colours from CSS when they draw: redraw when the host's theme changes.
  const stopThemeWatch = onThemeChange(() => {
    recolor();
    renderLegend();
  });

  return () => {
    stopThemeWatch();
    ro?.disconnect();
    if (pageTimer !== undefined) clearTimeout(pageTimer);
    for (const d of disposers) d();
    status.dispose();
    sync.dispose();
    table.destroy();
    map.destroy();
    root.remove();
  };
}

// anywidget wants only a default export holding `render` (a named `render` export is deprecated).
export default {
  render({ model, el }: { model: Model; el: HTMLElement }): () => void {
    return createView(model, el);
  },
};
