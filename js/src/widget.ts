/**
 * The anywidget module. `initialize({model})` sets up what lives as long as the model: the
 * config (config.ts), the request client and the row texts (paging.ts), shared by every view
 * of the widget. `render({model, el})` wires one view: builds the DOM from its parts
 * (toolbar, filters, map, table, detail pane), keeps UI-only state (view, hover), reacts to
 * trait changes and hands every review action to the review controller (review.ts: current
 * document, queue, optimistic state); the selection is selection.ts, the keys keys.ts. Every
 * listener and timer of a view is removed by the cleanup `render` returns.
 */
import { legend, pointColors } from "./colors";
import { isDark, onThemeChange } from "./theme";
import { placeTooltip } from "./tooltip";
import { PointGrid, indicesInPolygon, toggle, union, type Polygon } from "./lasso";
import { MapView, type Tool } from "./mapview";
import { ConfusionTable, FilterBar, emptyFilters, confusionCounts, visibleMask, withPair, type LabelPair } from "./filters";
import { DetailPane } from "./pane";
import { HelpOverlay, StartHint } from "./help";
import { ReviewController, marks, noLabel, shownSuggestion, shownSuggestions, suspectProgress, type Action } from "./review";
import { createWebGLScatter, type ScatterFactory } from "./scatter";
import { Sync, decode, decodePoints, encode, type Filters, type MapViewName, type Model, type Points } from "./sync";
import { VirtualTable } from "./table";
import { RowTexts } from "./paging";
import { Selection } from "./selection";
import { NOTHING_CHOSEN, onKey } from "./keys";
import { setConfig, config } from "./config";
import { COMPACT_TOOLBAR_WIDTH, StatusLine, Toolbar, h, keyLegend, methodName, saveStateText } from "./toolbar";
import { Note, acceptUnlearnedText, acceptedText, hiddenCount, selectionHiddenText, unlearnedText } from "./notes";
import type { View } from "./scatter";

export interface Options {
  scatterFactory?: ScatterFactory;
  /** Wait before asking for texts of rows that came into view (ms). */
  pageDelayMs?: number;
  /** After how long an unanswered request means "the kernel is busy" (ms). */
  busyAfterMs?: number;
}

/** The embedding view's name, as Python calls it (config.map_views: [data map, embedding]). */
const EMBEDDING = () => config().map_views[1];
/** Suspects the progress line counts when no top-k filter is set. */
const PROGRESS_K = 50;

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "–");
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");

/** What lives as long as the model, shared by its views. */
interface Shared {
  client: Sync;
  texts: RowTexts;
}
const shared = new WeakMap<object, Shared>();
/** anywidget hands `initialize` and each `render` a different proxy of one model, so the shared state
 * is found by a value of the model itself: the config trait's object, set once by Python. */
const modelKey = (model: Model): object => model.get("config");

/** anywidget's `initialize`: the config, the request client and the row texts of `model`; returns their cleanup. */
export function initModel(model: Model, opts: Pick<Options, "pageDelayMs"> = {}): () => void {
  setConfig(model.get("config"));
  const client = new Sync(model); // requests only: answers come by msg:custom to whichever view asked
  const texts = new RowTexts(client, decodePoints(model).n, opts.pageDelayMs);
  const onConfig = () => setConfig(model.get("config"));
  const onRowText = () => texts.reloadRowText();
  model.on("change:config", onConfig);
  model.on("change:row_text", onRowText);
  const key = modelKey(model);
  shared.set(key, { client, texts });
  return () => {
    model.off("change:config", onConfig);
    model.off("change:row_text", onRowText);
    texts.dispose();
    client.dispose();
    shared.delete(key);
  };
}

/** Build one view of the widget inside `el`; returns its cleanup. Initializes the model first if nobody did. */
export function createView(model: Model, el: HTMLElement, opts: Options = {}): () => void {
  const ownInit = shared.has(modelKey(model)) ? null : initModel(model, opts);
  const { client, texts } = shared.get(modelKey(model))!;
  if (opts.pageDelayMs !== undefined) texts.pageDelayMs = opts.pageDelayMs;
  const sync = new Sync(model);
  const disposers: Array<() => void> = [];
  const listen = (t: EventTarget, type: string, fn: (e: any) => void) => {
    t.addEventListener(type, fn);
    disposers.push(() => t.removeEventListener(type, fn));
  };

  // ---------------------------------------------------------------- state
  let base: Points = decodePoints(model); // as the kernel last said
  let points: Points = base; // what the screen shows: base with the optimistic changes
  const sel = new Selection();
  sel.rows = decode(sync.get("selection"), Uint32Array).slice();
  let searchHits: Uint8Array | null = null;
  let searchToken = 0;
  let lastQuery = "";
  let hovered = -1;
  let colorBuf: Uint8Array | undefined;
  let grid: PointGrid | null = null; // built on the first hover/click after the points or the view change
  const nearest = (x: number, y: number, sx: number, sy: number) =>
    (grid ??= new PointGrid(...positions())).nearest(x, y, sx, sy, 8);
  /** Zoom and pan of the view not shown, so switching back returns to where the user was. */
  const savedViews = new Map<MapViewName, View>();
  let shownView: MapViewName = config().map_views[0];
  const ctl = new ReviewController(
    // `current` (the document the pane shows once the action moved on) keeps its place if the kernel re-ranks.
    (method, args, rows) => client.request(method, { ...args, current: ctl.current }, rows.length ? [rows] : []),
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
  // The keys work once the widget is clicked. After the click, not on pointerdown: nothing may
  // move between a press and its release (a shift+click in marimo missed its point).
  root.addEventListener("click", () => startHint.engage(), { once: true });
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
      if (view === EMBEDDING() && !points.px && pending) makeProjection(pending);
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
  const suggestionName = (r: number) => (suggestionOf(r) === noLabel() ? "—" : labelName(suggestionOf(r)));
  const markText = (mark: number) => (mark === marks().relabeled ? "✎" : mark === marks().confirmed ? "✓" : "");
  const table = new VirtualTable(side, {
    columns: [
      { key: "id", title: "id", width: "9em", get: (r) => texts.idOf(r, "…"), className: "dmw-c-id" },
      { key: "text", title: "text", width: "minmax(var(--dmw-text-min, 16em), 1fr)", get: (r) => texts.previewOf(r)?.text ?? "", className: "dmw-c-text" },
      { key: "label", title: "label", width: "5em", get: (r) => labelName(points.labels[r]), className: "dmw-c-label" },
      { key: "suggested", title: "suggested", width: "6.2em", get: (r) => suggestionName(r) },
      { key: "confidence", title: "conf", width: "3.4em", get: (r) => f2(points.y[r]) },
      { key: "variability", title: "var", width: "3.2em", get: (r) => f2(points.x[r]) },
      { key: "correctness", title: "corr", width: "3.4em", get: (r) => f2(points.correctness[r]) },
      { key: "reviewed", title: "✓", width: "1.6em", get: (r) => markText(points.reviewed[r]), className: "dmw-c-reviewed" },
    ],
    rowClass: (r) => (points.reviewed[r] === marks().relabeled ? "dmw-relabeled" : points.reviewed[r] === marks().confirmed ? "dmw-confirmed" : ""),
    onVisible: (rows) => texts.want(rows),
    onRowClick: (row, _position, event) => {
      ctl.current = row;
      if (event.shiftKey) setSelection(toggle(sel.rows, row)); // as shift+click on its point
      focus(row);
      root.focus({ preventScroll: true });
    },
  });
  side.insertBefore(tableTitle, table.el);
  const selectionNote = new Note("dmw-selection-hidden");
  side.insertBefore(selectionNote.el, table.el);
  const pane = new DetailPane(
    side,
    (row) => texts.fetchDetail(row, true),
    (row) => {
      focus(row); // the neighbour becomes the current document: keys and buttons act on it
      root.focus({ preventScroll: true });
    },
  );

  // Texts arrived (for any view of this model): redraw what shows them.
  const stopTexts = texts.subscribe(({ error }) => {
    if (error) return status.show(error, "error");
    table.render();
    if (hovered >= 0) showTooltip();
    if (ctl.current >= 0) renderDetail();
  });

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
    const [dataMap, embedding] = config().map_views;
    return sync.get("mapView") === embedding && points.px ? embedding : dataMap;
  }

  /** Positions of the points in the view shown: every lasso, click, hover and marker goes through these. */
  function positions(): [Float32Array, Float32Array] {
    return mapView() === EMBEDDING() && points.px && points.py ? [points.px, points.py] : [points.x, points.y];
  }

  /** Draw the view the trait asks for (or the data map when there is no projection); `reset`: new points. */
  function applyView(reset = false): void {
    const view = mapView();
    if (reset) savedViews.clear();
    else if (view !== shownView) savedViews.set(shownView, { ...map.view });
    const switched = view !== shownView;
    shownView = view;
    const method = methodName(sync.get("embeddingView")?.method ?? "");
    if (view === EMBEDDING()) {
      map.setAxes(`${method} 1`, `${method} 2`, false,
        `Embedding view: a ${method} projection of the model's sentence embeddings; near points are alike to the model.`);
    } else {
      map.setAxes("variability", "confidence", true, "Data map: variability (x) against confidence (y).");
    }
    const [x, y] = positions();
    const saved = savedViews.get(view);
    map.setPositions(x, y, reset || (switched && !saved), view === EMBEDDING());
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
    client
      .request("projection", {})
      .then(() => status.clear())
      .catch((err: Error) => status.show(`Could not make the projection: ${err.message}`, "error"))
      .finally(() => (projecting = false));
  }

  function filters(): Filters {
    return { ...emptyFilters(), ...(sync.get("filters") ?? {}) };
  }

  function writeFilters(patch: Partial<Filters>, delayMs = 0): void {
    sync.write("filters", { ...filters(), ...patch }, delayMs);
    recompute();
  }

  function setSelection(rows: Uint32Array): void {
    sync.write("selection", encode(rows), 0);
    applySelection(rows);
  }

  function applySelection(rows: Uint32Array): void {
    sel.set(rows, points.n);
    map.scatter?.setHighlighted(sel.rows);
    recolor();
    rebuildTable();
    // A new list opens at its top, or where the current document is.
    if (table.positionOf(ctl.current) < 0) table.scrollToTop();
    renderDetail(); // the "not in the selection" hint follows the selection
  }

  function recompute(): void {
    sel.visible = withPair(visibleMask(points, filters(), sync.get("categories") ?? [], names(), searchHits), points, pair);
    confusion.render(confusionCounts(points.labels, shownSuggestions(points.suggested, points.labels), names().length), names(), pair);
    recolor();
    rebuildTable();
  }

  function recolor(): void {
    colorBuf = pointColors(points, sync.get("colorBy") ?? config().color_by[0], sel.visible, sel.mask, colorBuf, isDark(map.el));
    map.scatter?.setColors(colorBuf);
    map.colors = colorBuf; // the current document's point keeps its colour inside its ring
    map.redraw();
  }

  /** What narrows a selection, in words: "“query”" for a search alone, else "the filters". */
  const narrowedBy = () => {
    const f = filters();
    const other = f.categories.length > 0 || f.labels.length > 0 || f.suspects_k > 0 || f.reviewed !== emptyFilters().reviewed || pair !== null;
    return lastQuery && !other ? `“${lastQuery}”` : "the filters";
  };

  /** Table rows: the shown rows (selection.ts), most suspect first. The cursor follows the
   * current document. */
  function rebuildTable(): void {
    const selection = sel.rows;
    const narrow = sel.narrowed;
    const rows = sel.tableRows(points.order, points.n);
    table.setRows(rows, ctl.current); // a re-ranked order keeps the current document where it is on screen
    syncCursor();
    const picked = selection.length.toLocaleString();
    const what = !selection.length
      ? `${rows.length.toLocaleString()} of ${points.n.toLocaleString()} shown`
      : narrow ? `${rows.length.toLocaleString()} of ${picked} selected match ${narrowedBy()}` : `${picked} selected`;
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

  function selectPolygon(poly: Polygon, additive: boolean): void {
    const [x, y] = positions();
    const rows = indicesInPolygon(x, y, poly);
    setSelection(additive ? union(sel.rows, rows) : rows);
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
    if (additive) setSelection(toggle(sel.rows, r));
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
    texts.want([r]);
    showTooltip();
  }

  function showTooltip(): void {
    const r = hovered;
    if (r < 0 || r >= points.n) return;
    const doc = texts.previewOf(r);
    tooltip.replaceChildren();
    const lines: Array<[string, string]> = [
      ["id", texts.idOf(r, "…")],
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
    if (ctl.current >= 0 && !texts.detail(ctl.current)) texts.fetchDetail(ctl.current);
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
      preview: texts.previewOf(r),
      detail: texts.detail(r),
      // Labels from the points as shown now (optimistic relabels included), not from the cached reply.
      neighbours: texts.detail(r)?.neighbors?.items.map((nb) => ({ ...nb, label: nb.row < points.n ? labelName(points.labels[nb.row]) : nb.label })),
      waiting: kernelBusy(),
      outside: outsideHint(r),
    });
  }

  /** Keys act on the pane's document, buttons on the selection: say so when the two differ. */
  function outsideHint(r: number): string | undefined {
    if (!sel.rows.length || sel.inTargets(r)) return undefined;
    const n = targetRows().length;
    const where = sel.narrowed ? `selected documents that match ${narrowedBy()}` : "selected";
    return `This document is not in the selection: keys act on it, buttons on the ${n.toLocaleString()} ${where}.`;
  }

  // -------------------------------------------------------------- actions
  const busyAfter = opts.busyAfterMs ?? 1500;
  function kernelBusy(): boolean {
    return ctl.waitingFor() > busyAfter || texts.waitingFor() > busyAfter;
  }

  const BUSY = "Waiting for the kernel: a cell is running.";
  const showingBusy = () => status.kind === "sticky" && status.text.startsWith(BUSY);
  /** While the kernel keeps a request waiting, the status line says so, and how many actions wait with it. */
  function showBusy(): void {
    if (kernelBusy()) {
      const n = ctl.queued;
      const msg = n
        ? `${BUSY} ${n.toLocaleString()} action${n === 1 ? "" : "s"} queued; ${n === 1 ? "it applies" : "they apply"} when it finishes.`
        : `${BUSY} Texts load when it finishes.`;
      // A question (e.g. the bulk accept's) stays until answered; any other message gives way.
      if (status.text !== msg && !(status.kind === "sticky" && status.el.querySelector("button") && !showingBusy())) status.show(msg, "sticky");
      if (ctl.current >= 0 && !texts.detail(ctl.current)) renderDetail();
    } else if (showingBusy()) {
      status.clear();
      showSaveStatus();
    }
  }

  /** The optimistic overlay or the queue changed: redraw labels, marks, colours, filters. */
  function onReviewChange(): void {
    const eff = ctl.effective(base.labels, base.reviewed);
    points = { ...base, labels: eff.labels, reviewed: eff.reviewed };
    recompute();
    showCurrent();
    if (hovered >= 0) showTooltip();
    if (!ctl.queued) showSaveStatus();
    else showBusy(); // a key pressed while the kernel is known to be busy: said at once
  }

  /** Send a review action; once the kernel took it, say `done` (a key press otherwise changes only a mark). */
  function submit(action: Action, advance = false, done = ""): void {
    void ctl.submit(action, advance ? table : undefined).then((reply) => {
      // undefined: it failed and was rolled back (that message stands); a question or an error stays too.
      if (done && reply !== undefined && status.kind !== "sticky" && status.kind !== "error") status.show(done, "info");
    });
  }

  /** Undo the last action, then show the document it was about (the pane, cursor and point move there). */
  function undo(): void {
    // A line about the action being undone ("Changed 3 labels …") would be wrong once it is
    // undone; a question or a busy kernel (sticky) still stands.
    if (status.kind === "info") status.clear();
    void ctl.submit({ method: "undo", rows: new Uint32Array(0), describe: "undo" }).then((reply) => {
      const buffers = (reply as [unknown, DataView[]] | undefined)?.[1];
      const rows = buffers?.length ? decode(buffers[0], Uint32Array) : new Uint32Array(0);
      if (rows.length && status.kind !== "sticky") status.show(`Undid the last action on ${what(rows)}.`, "info");
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
    return sel.targets(ctl.current, points.n);
  }

  const idOf = (r: number) => texts.idOf(r);
  const what = (rows: Uint32Array) => (rows.length === 1 ? idOf(rows[0]) : `${rows.length.toLocaleString()} documents`);

  function relabel(rows: Uint32Array, label: string, advance: boolean): void {
    const code = names().indexOf(label);
    submit({ method: "relabel", rows, args: { label }, optimistic: ReviewController.relabeling(rows, code, points.labels, points.reviewed), describe: `relabel ${what(rows)} to “${label}”` }, advance, `Relabeled ${what(rows)} as “${label}” · u undoes`);
  }

  function confirm(rows: Uint32Array, advance: boolean): void {
    submit({ method: "confirm", rows, optimistic: ReviewController.confirming(rows, points.labels, points.reviewed), describe: `mark ${what(rows)} reviewed` }, advance, `Confirmed ${what(rows)} · u undoes`);
  }

  const retryButton = h("button", "dmw-retry", "Retry saving");
  retryButton.title = "Write the pending actions to the store again";
  listen(retryButton, "click", () => {
    status.show("saving…", "sticky");
    client.request("retry_save", {}).then(() => showSaveStatus(), (err: Error) => status.show(`Retry failed: ${err.message}`, "error"));
  });

  function showSaveStatus(): void {
    const s = sync.get("saveStatus") ?? "";
    if (ctl.queued || (showingBusy() && kernelBusy())) return; // the busy line says more
    if (s !== "" && s !== "saved") return status.show(s, "sticky", retryButton);
    if (status.kind === "sticky") status.clear(); // "saving…" or "kernel busy" are over
    if (s === "saved" && lastActionDone) status.show("saved", "info");
    lastActionDone = false;
  }
  let lastActionDone = false;

  const nothingChosen = NOTHING_CHOSEN;
  const noneMatch = () => `None of the ${sel.rows.length.toLocaleString()} selected documents match ${narrowedBy()}.`;
  listen(toolbar.relabelButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return status.show(sel.rows.length ? noneMatch() : nothingChosen, "error");
    relabel(rows, toolbar.relabelSelect.value, false);
  });
  listen(toolbar.reviewButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return status.show(sel.rows.length ? noneMatch() : nothingChosen, "error");
    confirm(rows, false);
  });
  listen(toolbar.acceptButton, "click", () => previewAccept());
  listen(toolbar.undoButton, "click", () => undo());
  listen(toolbar.saveButton, "click", () => {
    status.show("writing the labels…", "sticky");
    client
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
    if (!rows.length) return status.show(sel.rows.length ? noneMatch() : nothingChosen, "error");
    client
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
            if (s !== noLabel() && (includeReviewed || !points.reviewed[r])) optimistic.push([r, s, marks().relabeled]);
          }
          const args = includeReviewed ? { include_reviewed: true } : {};
          void ctl.submit({ method: "accept_suggestions", rows, args, optimistic, describe: `accept the suggestions for ${what(rows)}` }).then((reply) => {
            const changed = (reply as [{ changed?: number }, unknown] | undefined)?.[0]?.changed;
            if (typeof changed === "number") status.show(acceptedText(changed, hiddenCount(optimistic.map(([r]) => r), sel.visible), filters().labels.length > 0), "info");
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
  listen(root, "keydown", (e: KeyboardEvent) =>
    onKey(e, {
      current: () => ctl.current,
      move: (step) => {
        ctl.move(table, step);
        showCurrent();
      },
      labelNames: names,
      suggestion: (r) => (suggestionOf(r) === noLabel() ? null : labelName(suggestionOf(r))),
      idOf,
      relabel: (r, label) => relabel(Uint32Array.of(r), label, true),
      confirm: (r) => confirm(Uint32Array.of(r), true),
      undo,
      clearSelection: () => setSelection(new Uint32Array(0)),
      error: (message) => status.show(message, "error"),
      help: { get open() { return help.open; }, show: () => help.show(names()), close: () => help.close() },
      searchInput: filterBar.searchInput,
      refocus: () => root.focus({ preventScroll: true }),
    }),
  );

  function runSearch(query: string): void {
    const token = ++searchToken;
    lastQuery = query;
    if (!query) {
      searchHits = null;
      recompute();
      renderDetail();
      return;
    }
    texts.ask("search", { query })
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
  const busyTimer = setInterval(() => showBusy(), 250);
  disposers.push(() => clearInterval(busyTimer));

  // ------------------------------------------------------- model -> view
  function renderControls(): void {
    const f = filters();
    toolbar.colorSelect.value = sync.get("colorBy") ?? config().color_by[0];
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
    for (const e of legend(sync.get("colorBy") ?? config().color_by[0], names(), sync.get("categories") ?? [], isDark(map.el), sync.get("nPasses") ?? 0)) {
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
    // Texts stay for a new pass (rows are fixed examples); another set of examples drops them (paging.ts).
    if (points.n !== oldN || !resetView) texts.setRows(points.n);
    if (points.n !== oldN) {
      searchHits = null;
      ctl.current = -1;
    }
    applyView(resetView || points.n !== oldN);
    sel.set(decode(sync.get("selection"), Uint32Array).slice(), points.n);
    map.scatter?.setHighlighted(sel.rows);
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
  sync.on("rowText", () => table.render()); // the model's RowTexts reloaded it (initModel)
  sync.on("selection", () => applySelection(decode(sync.get("selection"), Uint32Array).slice()));
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
  sync.on("nPasses", () => {
    renderPasses();
    renderLegend(); // correctness takes k / passes: its legend follows (colors.ts, correctnessStops)
  });
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
    stopTexts();
    for (const d of disposers) d();
    status.dispose();
    sync.dispose();
    table.destroy();
    map.destroy();
    root.remove();
    ownInit?.();
  };
}

// anywidget wants only a default export holding `render` (a named `render` export is deprecated).
export default {
  initialize({ model }: { model: Model }): () => void {
    return initModel(model);
  },
  render({ model, el }: { model: Model; el: HTMLElement }): () => void {
    return createView(model, el);
  },
};
