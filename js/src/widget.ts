/**
 * Wiring: builds the DOM, keeps UI-only state (view, cursor, hover, caches),
 * reacts to trait changes, and sends actions to Python. Every listener and
 * timer is removed by the cleanup `render` returns.
 */
import { legend, pointColors } from "./colors";
import { isDark, onThemeChange } from "./theme";
import { placeTooltip } from "./tooltip";
import { PointGrid, indicesInPolygon, toggle, union, type Polygon } from "./lasso";
import { MapView, type Tool } from "./mapview";
import { createWebGLScatter, type ScatterFactory } from "./scatter";
import { Sync, decode, decodePoints, encode, type Filters, type Model, type Points } from "./sync";
import { VirtualTable } from "./table";

export interface Options {
  scatterFactory?: ScatterFactory;
  /** Wait before asking for texts of rows that came into view (ms). */
  pageDelayMs?: number;
}

interface DocInfo {
  id: string;
  text: string;
  score: number | null;
}

const PAGE_ROWS = 200;
const EMPTY_FILTERS: Filters = { categories: [], labels: [], suspects_k: 0, reviewed: "all", search: "" };

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

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
  let points: Points = decodePoints(model);
  let selection: Uint32Array = decode(sync.get("selection"), Uint32Array).slice();
  let selMask: Uint8Array | null = null;
  let visible: Uint8Array | null = null;
  let searchHits: Uint8Array | null = null;
  let searchToken = 0;
  let lastQuery = "";
  let focused = -1; // row shown in the detail pane
  let hovered = -1;
  let advanceFrom = -1; // after a keyboard action on this row, move the cursor on
  const cache = new Map<number, DocInfo>();
  const fullTexts = new Map<number, string>();
  let wanted = new Set<number>();
  const inFlight = new Set<number>();
  let pageTimer: ReturnType<typeof setTimeout> | undefined;
  let colorBuf: Uint8Array | undefined;
  let grid: PointGrid | null = null; // built on the first hover/click after the points change
  const nearest = (x: number, y: number, sx: number, sy: number) =>
    (grid ??= new PointGrid(points.x, points.y)).nearest(x, y, sx, sy, 8);

  // ------------------------------------------------------------------ DOM
  const root = h("div", "dmw-root");
  root.tabIndex = 0;
  // Keys typed in the widget are ours: Lumino (JupyterLab, Notebook 7) skips shortcuts under this attribute.
  root.dataset.lmSuppressShortcuts = "true";
  el.appendChild(root);
  const toolbar = h("div", "dmw-toolbar");
  const filterBar = h("div", "dmw-filters");
  const main = h("div", "dmw-main");
  const status = h("div", "dmw-status");
  root.append(toolbar, filterBar, main, status);

  const colorSelect = h("select", "dmw-color-by");
  colorSelect.title = "Colour points by";
  for (const [v, t] of [["correctness", "colour: correctness"], ["category", "colour: category"], ["label", "colour: label"], ["suggested_label", "colour: suggested label"], ["reviewed", "colour: reviewed"]]) {
    const o = h("option", "", t);
    o.value = v;
    colorSelect.appendChild(o);
  }
  const toolButtons = new Map<Tool, HTMLButtonElement>();
  const toolGroup = h("span", "dmw-group");
  for (const [tool, text, tip] of [["lasso", "Lasso", "Drag a freeform lasso (shift adds)"], ["box", "Box", "Drag a box (shift adds)"], ["pan", "Pan", "Drag to pan; the wheel zooms"]] as const) {
    const b = h("button", `dmw-tool dmw-tool-${tool}`, text);
    b.title = tip;
    listen(b, "click", () => setTool(tool));
    toolButtons.set(tool, b);
    toolGroup.appendChild(b);
  }
  const homeButton = h("button", "dmw-home", "Reset view");
  const clearButton = h("button", "dmw-clear", "Clear selection");
  const relabelSelect = h("select", "dmw-relabel-select");
  const relabelButton = h("button", "dmw-relabel", "Relabel");
  const reviewButton = h("button", "dmw-review", "Mark reviewed");
  const undoButton = h("button", "dmw-undo", "Undo");
  const passes = h("span", "dmw-passes");
  toolbar.append(colorSelect, toolGroup, homeButton, clearButton, h("span", "dmw-sep"), relabelSelect, relabelButton, reviewButton, undoButton, passes);

  const catBox = h("span", "dmw-group dmw-filter-categories");
  const labelBox = h("span", "dmw-group dmw-filter-labels");
  const suspectsCheck = h("input", "dmw-suspects");
  suspectsCheck.type = "checkbox";
  const suspectsK = h("input", "dmw-suspects-k");
  suspectsK.type = "number";
  suspectsK.min = "1";
  suspectsK.value = "50";
  const suspectsLabel = h("label", "dmw-group");
  suspectsLabel.append(suspectsCheck, document.createTextNode(" possibly mislabeled: top "), suspectsK);
  const reviewedSelect = h("select", "dmw-filter-reviewed");
  for (const [v, t] of [["all", "reviewed or not"], ["unreviewed", "not reviewed"], ["reviewed", "reviewed"]]) {
    const o = h("option", "", t);
    o.value = v;
    reviewedSelect.appendChild(o);
  }
  const searchInput = h("input", "dmw-search");
  searchInput.type = "search";
  searchInput.placeholder = "search text or id";
  filterBar.append(catBox, labelBox, suspectsLabel, reviewedSelect, searchInput);

  const mapPane = h("div", "dmw-map-pane");
  const side = h("div", "dmw-side");
  main.append(mapPane, side);
  const legendEl = h("div", "dmw-legend");
  const tooltip = h("div", "dmw-tooltip");
  tooltip.style.display = "none";
  const tableTitle = h("div", "dmw-table-title");
  const detail = h("div", "dmw-detail");

  const map = new MapView(mapPane, opts.scatterFactory ?? createWebGLScatter, {
    onPolygon: (poly, additive) => selectPolygon(poly, additive),
    onClick: (x, y, sx, sy, additive) => clickAt(x, y, sx, sy, additive),
    onHover: (x, y, sx, sy, cx, cy) => hoverAt(x, y, sx, sy, cx, cy),
    onLeave: () => setHovered(-1),
  });
  mapPane.append(legendEl, tooltip);

  const names = () => sync.get("labelNames") ?? [];
  const labelName = (code: number) => names()[code] ?? "?";
  const table = new VirtualTable(side, {
    columns: [
      { key: "id", title: "id", width: "9em", get: (r) => cache.get(r)?.id ?? "…", className: "dmw-c-id" },
      { key: "text", title: "text", width: "minmax(8em, 1fr)", get: (r) => cache.get(r)?.text ?? "", className: "dmw-c-text" },
      { key: "label", title: "label", width: "5em", get: (r) => labelName(points.labels[r]) },
      { key: "suggested", title: "suggested", width: "5em", get: (r) => labelName(points.suggested[r]) },
      { key: "confidence", title: "conf", width: "3.4em", get: (r) => f2(points.y[r]) },
      { key: "variability", title: "var", width: "3.2em", get: (r) => f2(points.x[r]) },
      { key: "correctness", title: "corr", width: "3.4em", get: (r) => f2(points.correctness[r]) },
      { key: "reviewed", title: "✓", width: "1.6em", get: (r) => (points.reviewed[r] ? "✓" : ""), className: "dmw-c-reviewed" },
    ],
    onVisible: (rows) => want(rows),
    onRowClick: (row) => {
      focus(row);
      root.focus({ preventScroll: true });
    },
  });
  side.insertBefore(tableTitle, table.el);
  side.appendChild(detail);

  // -------------------------------------------------------------- helpers
  function setTool(tool: Tool): void {
    map.tool = tool;
    for (const [t, b] of toolButtons) b.classList.toggle("dmw-active", t === tool);
  }

  function setStatus(text: string, isError = false): void {
    status.textContent = text;
    status.classList.toggle("dmw-error", isError);
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
  }

  /** Which rows pass the filters (null = all). */
  function computeVisible(): Uint8Array | null {
    const f = filters();
    const cats = new Set(f.categories);
    const labs = new Set(f.labels);
    const useCat = cats.size > 0;
    const useLab = labs.size > 0;
    const catCodes = (sync.get("categories") ?? []).map((c) => cats.has(c));
    const labCodes = names().map((l) => labs.has(l));
    const rev = f.reviewed;
    const k = f.suspects_k > 0 ? f.suspects_k : 0;
    if (!useCat && !useLab && rev === "all" && !k && !searchHits) return null;
    const mask = new Uint8Array(points.n);
    for (let i = 0; i < points.n; i++) {
      let ok = 1;
      if (useCat && !catCodes[points.category[i]]) ok = 0;
      else if (useLab && !labCodes[points.labels[i]]) ok = 0;
      else if (rev === "reviewed" && !points.reviewed[i]) ok = 0;
      else if (rev === "unreviewed" && points.reviewed[i]) ok = 0;
      else if (searchHits && !searchHits[i]) ok = 0;
      mask[i] = ok;
    }
    if (k) {
      // Top k suspects not yet reviewed (as DataMap.suspects), walking the score order.
      const top = new Uint8Array(points.n);
      let taken = 0;
      for (let j = 0; j < points.order.length && taken < k; j++) {
        const r = points.order[j];
        if (points.reviewed[r]) continue;
        top[r] = 1;
        taken++;
      }
      for (let i = 0; i < points.n; i++) mask[i] &= top[i];
    }
    return mask;
  }

  function recompute(): void {
    visible = computeVisible();
    recolor();
    rebuildTable();
  }

  function recolor(): void {
    colorBuf = pointColors(points, sync.get("colorBy") ?? "correctness", visible, selMask, colorBuf, isDark(map.el));
    map.scatter?.setColors(colorBuf);
    map.redraw();
  }

  /** Table rows: the selection, or the rows passing the filters; most suspect first. */
  function rebuildTable(): void {
    const mask = selection.length ? selMask : visible;
    const out = new Uint32Array(mask ? selection.length || points.n : points.n);
    let m = 0;
    for (let j = 0; j < points.order.length; j++) {
      const r = points.order[j];
      if (!mask || mask[r]) out[m++] = r;
    }
    const rows = out.subarray(0, m);
    const before = table.cursor;
    table.setRows(rows);
    if (advanceFrom >= 0) {
      const at = table.positionOf(advanceFrom);
      table.setCursor(at >= 0 ? at + 1 : Math.min(before, rows.length - 1));
      advanceFrom = -1;
      const r = table.rowAt(table.cursor);
      if (r >= 0) focus(r, false);
    }
    const what = selection.length ? `${selection.length.toLocaleString()} selected` : `${rows.length.toLocaleString()} of ${points.n.toLocaleString()} shown`;
    tableTitle.textContent = `${what} · most suspect first · j/k move, 1–9 relabel, r reviewed, u undo`;
  }

  function want(rows: number[]): void {
    for (const r of rows) if (!cache.has(r) && !inFlight.has(r)) wanted.add(r);
    if (!wanted.size || pageTimer !== undefined) return;
    pageTimer = setTimeout(fetchPage, opts.pageDelayMs ?? 30);
  }

  function fetchPage(): void {
    pageTimer = undefined;
    const rows = Uint32Array.from([...wanted].slice(0, PAGE_ROWS));
    wanted = new Set([...wanted].slice(PAGE_ROWS));
    if (!rows.length) return;
    for (const r of rows) inFlight.add(r);
    sync
      .request("page", { full: false }, [rows])
      .then(([res]) => {
        if (cache.size > 50000) cache.clear();
        res.rows.forEach((r: number, i: number) => cache.set(r, { id: res.ids[i], text: res.texts[i], score: res.scores[i] }));
        table.render();
        if (hovered >= 0) showTooltip();
        if (focused >= 0) renderDetail();
      })
      .catch((err: Error) => setStatus(`Could not load texts: ${err.message}`, true))
      .finally(() => {
        for (const r of rows) inFlight.delete(r);
        if (wanted.size) want([]);
      });
  }

  function selectPolygon(poly: Polygon, additive: boolean): void {
    const rows = indicesInPolygon(points.x, points.y, poly);
    setSelection(additive ? union(selection, rows) : rows);
  }

  function clickAt(x: number, y: number, sx: number, sy: number, additive: boolean): void {
    const r = nearest(x, y, sx, sy);
    if (r < 0) {
      if (!additive) setSelection(new Uint32Array(0));
      return;
    }
    setSelection(additive ? toggle(selection, r) : Uint32Array.of(r));
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
    const doc = cache.get(r);
    tooltip.replaceChildren();
    const lines: Array<[string, string]> = [
      ["id", doc?.id ?? "…"],
      ["label", labelName(points.labels[r])],
      ["suggested", labelName(points.suggested[r])],
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
    for (const r of [focused, hovered]) if (r >= 0 && r < points.n) m.push(points.x[r], points.y[r]);
    if (focused < 0 && m.length) m.unshift(NaN, NaN);
    map.markers = m;
    map.drawOverlay();
  }

  /** Open a row in the detail pane, highlight its point and its table row. */
  function focus(r: number, moveCursor = true): void {
    focused = r;
    if (moveCursor) {
      const pos = table.positionOf(r);
      if (pos >= 0) table.setCursor(pos);
    }
    table.setHighlighted(r >= 0 ? [r] : []);
    updateMarkers();
    renderDetail();
    if (r >= 0 && !fullTexts.has(r)) {
      sync
        .request("page", { full: true }, [Uint32Array.of(r)])
        .then(([res]) => {
          fullTexts.set(r, res.texts[0]);
          cache.set(r, { id: res.ids[0], text: cache.get(r)?.text ?? res.texts[0], score: res.scores[0] });
          if (focused === r) renderDetail();
        })
        .catch((err: Error) => setStatus(`Could not load the document: ${err.message}`, true));
    }
  }

  function renderDetail(): void {
    detail.replaceChildren();
    const r = focused;
    if (r < 0 || r >= points.n) {
      detail.appendChild(h("div", "dmw-hint", "Click a point or a row to read its document here."));
      return;
    }
    const doc = cache.get(r);
    const head = h("div", "dmw-detail-head");
    head.append(
      h("b", "dmw-detail-id", doc?.id ?? "…"),
      h("span", "", ` label ${labelName(points.labels[r])} · suggested ${labelName(points.suggested[r])} · conf ${f3(points.y[r])} · var ${f3(points.x[r])} · corr ${f3(points.correctness[r])}${doc?.score != null ? ` · score ${f3(doc.score)}` : ""}${points.reviewed[r] ? " · reviewed" : ""}`),
    );
    const text = sync.get("hasText") ? fullTexts.get(r) ?? doc?.text ?? "loading…" : "No text: pass data= (a DataFrame with a text column) to DataMapWidget.";
    const body = h("div", sync.get("hasText") ? "dmw-detail-text" : "dmw-detail-text dmw-hint", text);
    detail.append(head, body);
  }

  // -------------------------------------------------------------- actions
  let busy = 0;
  function act(method: string, rows: Uint32Array, args: Record<string, unknown> = {}): Promise<void> {
    busy++;
    setStatus("saving…");
    return sync
      .request(method, args, rows.length ? [rows] : [])
      .then(() => showSaveStatus())
      .catch((err: Error) => setStatus(`${method} failed: ${err.message}`, true))
      .finally(() => {
        busy--;
      });
  }

  function targetRows(): Uint32Array {
    return selection.length ? selection : new Uint32Array(0);
  }

  function keyRows(): Uint32Array {
    const r = table.rowAt(table.cursor);
    if (r >= 0) return Uint32Array.of(r);
    return targetRows();
  }

  const retryButton = h("button", "dmw-retry", "Retry saving");
  listen(retryButton, "click", () => act("retry_save", new Uint32Array(0)));

  function showSaveStatus(): void {
    const s = sync.get("saveStatus") ?? "";
    if (busy > 1) return;
    const failed = s !== "" && s !== "saved";
    setStatus(s, failed);
    if (failed) status.append(" ", retryButton);
  }

  listen(relabelButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return setStatus("Select points first (lasso, box, click or a table row).", true);
    act("relabel", rows, { label: relabelSelect.value });
  });
  listen(reviewButton, "click", () => {
    const rows = targetRows();
    if (!rows.length) return setStatus("Select points first (lasso, box, click or a table row).", true);
    act("mark_reviewed", rows);
  });
  listen(undoButton, "click", () => act("undo", new Uint32Array(0)));
  listen(clearButton, "click", () => setSelection(new Uint32Array(0)));
  listen(homeButton, "click", () => map.home());
  listen(colorSelect, "change", () => sync.write("colorBy", colorSelect.value));
  listen(suspectsCheck, "change", () => writeFilters({ suspects_k: suspectsCheck.checked ? Math.max(1, Number(suspectsK.value) || 50) : 0 }));
  listen(suspectsK, "input", () => {
    if (suspectsCheck.checked) writeFilters({ suspects_k: Math.max(1, Number(suspectsK.value) || 1) }, 250);
  });
  listen(reviewedSelect, "change", () => writeFilters({ reviewed: reviewedSelect.value as Filters["reviewed"] }));
  listen(searchInput, "input", () => {
    sync.write("filters", { ...filters(), search: searchInput.value }, 250);
    runSearch(searchInput.value);
  });

  listen(root, "mousedown", (e: MouseEvent) => {
    const t = e.target as HTMLElement;
    if (t && !["INPUT", "SELECT", "TEXTAREA", "BUTTON", "OPTION"].includes(t.tagName)) root.focus({ preventScroll: true });
  });
  listen(root, "keydown", (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key;
    if (key === "j" || key === "ArrowDown" || key === "k" || key === "ArrowUp") {
      const step = key === "j" || key === "ArrowDown" ? 1 : -1;
      table.setCursor(Math.max(0, table.cursor + step));
      const r = table.rowAt(table.cursor);
      if (r >= 0) focus(r, false);
    } else if (/^[1-9]$/.test(key)) {
      const code = Number(key) - 1;
      if (code >= names().length) return setStatus(`There is no label ${key}: labels are 1–${names().length}.`, true);
      const rows = keyRows();
      if (!rows.length) return;
      if (rows.length === 1) advanceFrom = rows[0];
      act("relabel", rows, { label: names()[code] });
    } else if (key === "r" || key === "Enter") {
      const rows = keyRows();
      if (!rows.length) return;
      if (rows.length === 1) advanceFrom = rows[0];
      act("mark_reviewed", rows);
    } else if (key === "u") {
      act("undo", new Uint32Array(0));
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
      return;
    }
    sync
      .request("search", { query })
      .then(([res, buffers]) => {
        if (token !== searchToken) return;
        const hits = decode(buffers[0], Uint32Array);
        searchHits = new Uint8Array(points.n);
        for (const r of hits) if (r < points.n) searchHits[r] = 1;
        recompute();
        setStatus(`${res.count.toLocaleString()} documents match “${query}”`);
      })
      .catch((err: Error) => setStatus(`Search failed: ${err.message}`, true));
  }

  // ------------------------------------------------------- model -> view
  function renderControls(): void {
    const f = filters();
    colorSelect.value = sync.get("colorBy") ?? "correctness";
    relabelSelect.replaceChildren();
    names().forEach((n, i) => {
      const o = h("option", "", i < 9 ? `${i + 1}: ${n}` : n);
      o.value = n;
      relabelSelect.appendChild(o);
    });
    const chips = (box: HTMLElement, values: string[], chosen: string[], key: "categories" | "labels") => {
      box.replaceChildren();
      if (values.length > 12) {
        // Many labels: a compact multi-select instead of a wall of checkboxes.
        const sel = h("select", `dmw-multi dmw-multi-${key}`);
        sel.multiple = true;
        sel.size = 3;
        sel.title = `Filter by ${key} (ctrl/shift-click for several; none = all)`;
        for (const v of values) {
          const o = h("option", "", v);
          o.value = v;
          o.selected = chosen.includes(v);
          sel.appendChild(o);
        }
        sel.addEventListener("change", () => writeFilters({ [key]: [...sel.selectedOptions].map((o) => o.value) } as Partial<Filters>));
        box.appendChild(sel);
        return;
      }
      for (const v of values) {
        const lab = h("label", "dmw-chip");
        const cb = h("input");
        cb.type = "checkbox";
        cb.value = v;
        cb.checked = chosen.includes(v);
        cb.addEventListener("change", () => {
          const cur = new Set(filters()[key]);
          if (cb.checked) cur.add(v);
          else cur.delete(v);
          writeFilters({ [key]: values.filter((x) => cur.has(x)) } as Partial<Filters>);
        });
        lab.append(cb, document.createTextNode(` ${v}`));
        box.appendChild(lab);
      }
    };
    chips(catBox, sync.get("categories") ?? [], f.categories, "categories");
    chips(labelBox, names(), f.labels, "labels");
    suspectsCheck.checked = f.suspects_k > 0;
    if (f.suspects_k > 0) suspectsK.value = String(f.suspects_k);
    reviewedSelect.value = f.reviewed;
    if (searchInput.value !== f.search) searchInput.value = f.search;
    renderLegend();
    renderPasses();
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
    passes.textContent = `${sync.get("live") ? "live · " : ""}${n} pass${n === 1 ? "" : "es"}`;
    const th = sync.get("thresholds");
    if (th) map.thresholds = { confidence: th.confidence, variability: th.variability };
    undoButton.disabled = (sync.get("historySize") ?? 0) === 0;
  }

  function onPoints(resetView: boolean): void {
    const oldN = points.n;
    points = decodePoints(model);
    grid = null;
    cache.clear();
    if (points.n !== oldN) {
      selMask = null;
      searchHits = null;
    }
    map.setPositions(points.x, points.y, resetView || points.n !== oldN);
    selection = decode(sync.get("selection"), Uint32Array).slice();
    map.scatter?.setHighlighted(selection);
    selMask = null;
    if (selection.length) {
      selMask = new Uint8Array(points.n);
      for (const r of selection) if (r < points.n) selMask[r] = 1;
    }
    recompute();
    updateMarkers();
    if (focused >= 0) renderDetail();
  }

  function onColumns(): void {
    const p = decodePoints(model);
    points = { ...points, labels: p.labels, reviewed: p.reviewed };
    recompute();
    if (focused >= 0) renderDetail();
    if (hovered >= 0) showTooltip();
  }

  sync.on("points", () => onPoints(false));
  sync.on("labels", onColumns);
  sync.on("reviewed", onColumns);
  sync.on("selection", () => {
    selection = decode(sync.get("selection"), Uint32Array).slice();
    applySelection();
  });
  sync.on("colorBy", () => {
    colorSelect.value = sync.get("colorBy");
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
  sync.on("categories", renderControls);
  sync.on("nPasses", renderPasses);
  sync.on("live", renderPasses);
  sync.on("thresholds", () => {
    renderPasses();
    map.redraw();
  });
  sync.on("historySize", renderPasses);
  sync.on("saveStatus", showSaveStatus);

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
