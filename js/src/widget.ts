/**
 * The anywidget module. `initialize({model})` sets up what lives as long as the model: the
 * config (config.ts), the request client and the row texts (paging.ts), shared by every view
 * of the widget. `render({model, el})` builds one view from its parts and wires them: the
 * view's state (viewstate.ts: points, selection, filters, search), the map (mapcontrol.ts),
 * the table, pane and confusion table (sidepanel.ts), the controls drawn from the traits
 * (controls.ts), the review actions and their messages (actions.ts, through the review
 * controller of review.ts) and the keys (keys.ts). What stays here: the DOM, which trait
 * change redraws what, the search and the sizing. Every listener and timer of a view is
 * removed by the cleanup `render` returns.
 */
import { ReviewActions } from "./actions";
import { Controls } from "./controls";
import { FilterBar } from "./filters";
import { HelpOverlay, StartHint } from "./help";
import { onKey } from "./keys";
import { watchLayout } from "./layout";
import { MapControl } from "./mapcontrol";
import { initModel, modelState } from "./modelstate";
import { ReviewController, noLabel } from "./review";
import { createWebGLScatter, type ScatterFactory } from "./scatter";
import { Search } from "./search";
import { SidePanel } from "./sidepanel";
import { Sync, decode, decodePoints, encode, type Filters, type Model } from "./sync";
import { onThemeChange } from "./theme";
import { StatusLine, Toolbar, h, type Listen } from "./toolbar";
import { ViewState } from "./viewstate";

export interface Options {
  scatterFactory?: ScatterFactory;
  /** Wait before asking for texts of rows that came into view (ms). */
  pageDelayMs?: number;
  /** After how long an unanswered request means "the kernel is busy" (ms). */
  busyAfterMs?: number;
}

export { initModel };

/** Build one view of the widget inside `el`; returns its cleanup. Initializes the model first if nobody did. */
export function createView(model: Model, el: HTMLElement, opts: Options = {}): () => void {
  const ownInit = modelState(model) ? null : initModel(model, opts);
  const { client, texts } = modelState(model)!;
  if (opts.pageDelayMs !== undefined) texts.pageDelayMs = opts.pageDelayMs;
  const sync = new Sync(model);
  const disposers: Array<() => void> = [];
  const listen: Listen = (t, type, fn) => {
    t.addEventListener(type, fn);
    disposers.push(() => t.removeEventListener(type, fn));
  };

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
  const state = new ViewState(sync, decodePoints(model), ctl);
  state.sel.rows = decode(sync.get("selection"), Uint32Array).slice();

  // ------------------------------------------------------------------ DOM
  const root = h("div", "dmw-root");
  root.tabIndex = 0;
  // Keys typed in the widget are ours: Lumino (JupyterLab, Notebook 7) skips shortcuts under this attribute.
  root.dataset.lmSuppressShortcuts = "true";
  el.appendChild(root);
  const refocus = () => root.focus({ preventScroll: true });
  const toolbar = new Toolbar();
  const filterBar = new FilterBar(
    {
      change: (patch, delayMs) => writeFilters(patch, delayMs),
      search: (query) => {
        sync.write("filters", { ...state.filters(), search: query }, 250);
        search.run(query);
      },
      current: () => state.filters(),
    },
    listen,
  );
  const main = h("div", "dmw-main");
  // The status line sits right under the toolbar, where the eye is after pressing a button: a
  // question such as the bulk accept's "Apply (12)" and every message appear by their cause.
  const status = new StatusLine();
  const startHint = new StartHint();
  // The keys work once the widget is clicked. After the click, not on pointerdown: nothing may
  // move between a press and its release (a shift+click in marimo missed its point).
  root.addEventListener("click", () => startHint.engage(), { once: true });
  const help = new HelpOverlay(refocus);
  const mapPane = h("div", "dmw-map-pane");
  const side = h("div", "dmw-side");
  main.append(mapPane, side);

  // ---------------------------------------------------------------- parts
  const mapc = new MapControl(
    mapPane,
    { state, sync, client, texts, toolbar, status, scatterFactory: opts.scatterFactory ?? createWebGLScatter, listen },
    { select: setSelection, focus },
  );
  const controls = new Controls({ state, sync, toolbar, filterBar, startHint, map: mapc.map });
  mapPane.append(controls.legend, mapc.tooltip);
  const sidePanel = new SidePanel(side, state, texts, filterBar.progress, {
    select: setSelection,
    open: (row) => {
      focus(row); // the neighbour becomes the current document: keys and buttons act on it
      refocus();
    },
    recompute,
    waiting: () => actions.kernelBusy(),
  });
  const actions = new ReviewActions(
    { state, sync, client, texts, status, toolbar, list: sidePanel.table, busyAfterMs: opts.busyAfterMs ?? 1500, listen },
    { showCurrent, focus, renderDetail: () => sidePanel.renderDetail() },
  );
  const search = new Search(state, texts, status, () => {
    recompute();
    sidePanel.renderDetail();
  });
  root.append(toolbar.el, status.el, startHint.el, controls.unlearnedNote.el, controls.keysLine, filterBar.el, main, help.el);

  listen(toolbar.helpButton, "click", () => help.show(state.names()));
  listen(toolbar.clearButton, "click", () => setSelection(new Uint32Array(0)));
  listen(toolbar.colorSelect, "change", () => {
    // Our own write echoes back as no change event: apply it here.
    sync.write("colorBy", toolbar.colorSelect.value);
    controls.renderLegend();
    mapc.recolor();
  });
  listen(root, "mousedown", (e: MouseEvent) => {
    const t = e.target as HTMLElement;
    if (t && !["INPUT", "SELECT", "TEXTAREA", "BUTTON", "OPTION"].includes(t.tagName)) refocus();
  });
  listen(root, "keydown", (e: KeyboardEvent) =>
    onKey(e, {
      current: () => ctl.current,
      move: (step) => {
        ctl.move(sidePanel.table, step);
        showCurrent();
      },
      labelNames: () => state.names(),
      suggestion: (r) => (state.suggestionOf(r) === noLabel() ? null : state.labelName(state.suggestionOf(r))),
      idOf: (r) => texts.idOf(r),
      relabel: (r, label) => actions.relabel(Uint32Array.of(r), label, true),
      confirm: (r) => actions.confirm(Uint32Array.of(r), true),
      undo: () => actions.undo(),
      clearSelection: () => setSelection(new Uint32Array(0)),
      error: (message) => status.show(message, "error"),
      help: { get open() { return help.open; }, show: () => help.show(state.names()), close: () => help.close() },
      searchInput: filterBar.searchInput,
      refocus,
    }),
  );

  // Texts arrived (for any view of this model): redraw what shows them.
  const stopTexts = texts.subscribe(({ error }) => {
    if (error) return status.show(error, "error");
    sidePanel.render();
    if (mapc.hovered >= 0) mapc.showTooltip();
    if (ctl.current >= 0) sidePanel.renderDetail();
  });

  // ------------------------------------------------- what a change redraws
  function writeFilters(patch: Partial<Filters>, delayMs = 0): void {
    sync.write("filters", { ...state.filters(), ...patch }, delayMs);
    recompute();
  }

  function setSelection(rows: Uint32Array): void {
    sync.write("selection", encode(rows), 0);
    applySelection(rows);
  }

  function applySelection(rows: Uint32Array): void {
    state.sel.set(rows, state.points.n);
    mapc.highlight(state.sel.rows);
    mapc.recolor();
    sidePanel.rebuild();
    sidePanel.scrollToCurrent();
    sidePanel.renderDetail(); // the "not in the selection" hint follows the selection
  }

  /** The filters, the search, the pair or the labels changed: what is shown, coloured and counted. */
  function recompute(): void {
    state.computeVisible();
    sidePanel.renderConfusion();
    mapc.recolor();
    sidePanel.rebuild();
    sidePanel.renderDetail(); // its note says when the filters hide the pane's document
  }

  /** Make `r` the current document: the pane shows it, the cursor and the map mark it, keys act on it. */
  function focus(r: number): void {
    ctl.current = r;
    showCurrent();
  }

  function showCurrent(): void {
    sidePanel.syncCursor();
    mapc.updateMarkers();
    sidePanel.renderDetail();
    if (ctl.current >= 0 && !texts.detail(ctl.current)) texts.fetchDetail(ctl.current);
  }

  /** The optimistic overlay or the queue changed: redraw labels, marks, colours, filters. */
  function onReviewChange(): void {
    state.showOverlay();
    recompute();
    showCurrent();
    if (mapc.hovered >= 0) mapc.showTooltip();
    actions.reviewChanged();
  }

  // ------------------------------------------------------- model -> view
  function onPoints(resetView: boolean): void {
    const otherRows = state.load(decodePoints(model));
    // Texts stay for a new pass (rows are fixed examples); another set of examples drops them (paging.ts).
    if (otherRows || !resetView) texts.setRows(state.points.n);
    mapc.applyView(resetView || otherRows);
    state.sel.set(decode(sync.get("selection"), Uint32Array).slice(), state.points.n);
    mapc.highlight(state.sel.rows);
    recompute();
    showCurrent();
  }

  function onColumns(): void {
    const p = decodePoints(model);
    state.base = { ...state.base, labels: p.labels, reviewed: p.reviewed };
    actions.applied();
    onReviewChange();
  }

  sync.on("points", () => onPoints(false));
  sync.on("labels", onColumns);
  sync.on("order", () => {
    // The kernel re-ranked the suspects from a review: only the table's order changes.
    state.base = { ...state.base, order: decodePoints(model).order };
    state.points = { ...state.points, order: state.base.order };
    sidePanel.rebuild();
  });
  sync.on("reviewed", onColumns);
  sync.on("rowText", () => sidePanel.render()); // the model's RowTexts reloaded it (initModel)
  sync.on("selection", () => applySelection(decode(sync.get("selection"), Uint32Array).slice()));
  sync.on("mapView", () => mapc.applyView());
  sync.on("embeddingView", () => mapc.renderViewSwitch());
  sync.on("colorBy", () => {
    toolbar.colorSelect.value = sync.get("colorBy");
    controls.renderLegend();
    mapc.recolor();
  });
  sync.on("filters", () => {
    controls.render();
    const q = state.filters().search;
    if (q !== state.lastQuery) search.run(q);
    recompute();
  });
  for (const name of ["labelNames", "unlearned", "categories"] as const) sync.on(name, () => controls.render());
  sync.on("nPasses", () => {
    controls.renderPasses();
    controls.renderLegend(); // correctness takes k / passes: its legend follows (colors.ts, correctnessStops)
  });
  for (const name of ["live", "progress", "historySize"] as const) sync.on(name, () => controls.renderPasses());
  sync.on("thresholds", () => {
    controls.renderPasses();
    mapc.map.redraw();
  });
  sync.on("saveStatus", () => {
    actions.showSaveStatus();
    controls.renderSaveState();
  });
  sync.on("reviewSummary", () => controls.renderSaveState());

  // ---------------------------------------------------------------- start
  const stopLayout = watchLayout({ root, main, side, mapPane, map: mapc.map, toolbar });
  mapc.setTool("lasso");
  controls.render();
  onPoints(true);
  sidePanel.renderDetail();
  if (state.filters().search) search.run(state.filters().search);
  actions.showSaveStatus();

  // The canvases take their colours from CSS when they draw: redraw when the host's theme changes.
  const stopThemeWatch = onThemeChange(() => {
    mapc.recolor();
    controls.renderLegend();
  });

  return () => {
    stopThemeWatch();
    stopLayout();
    stopTexts();
    for (const d of disposers) d();
    actions.dispose();
    status.dispose();
    sync.dispose();
    sidePanel.destroy();
    mapc.destroy();
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
