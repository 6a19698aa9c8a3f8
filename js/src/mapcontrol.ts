/**
 * The map of one view, wired to the review: which view it draws (data map or embedding, each
 * keeping its own zoom), the points' positions and colours, the current and hovered documents'
 * markers, the hover tooltip, and the lasso, box and clicks turned into a selection or a current
 * document. The tool and view buttons of the toolbar act here. Reads the view's state
 * (viewstate.ts); what a gesture means for the rest of the view goes out through `MapHooks`.
 */
import { pointColors } from "./colors";
import { config } from "./config";
import { PointGrid, indicesInPolygon, toggle, union, type Polygon } from "./lasso";
import { MapView, type Tool } from "./mapview";
import type { RowTexts } from "./paging";
import type { ScatterFactory, View } from "./scatter";
import type { MapViewName, Sync } from "./sync";
import { isDark } from "./theme";
import { placeTooltip } from "./tooltip";
import { h, methodName, type Listen, type StatusLine, type Toolbar } from "./toolbar";
import type { ViewState } from "./viewstate";

/** The embedding view's name, as Python calls it (config.map_views: [data map, embedding]). */
const EMBEDDING = () => config().map_views[1];

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "–");

export interface MapHooks {
  /** The lasso, the box or a click picked these rows (empty: cleared). */
  select(rows: Uint32Array): void;
  /** A click opened this row: it becomes the current document. */
  focus(row: number): void;
}

export interface MapParts {
  state: ViewState;
  /** This view's traits. */
  sync: Sync;
  /** The model's request client (the projection is asked for there). */
  client: Sync;
  texts: RowTexts;
  toolbar: Toolbar;
  status: StatusLine;
  scatterFactory: ScatterFactory;
  listen: Listen;
}

export class MapControl {
  readonly map: MapView;
  readonly tooltip = h("div", "dmw-tooltip");
  /** The row under the pointer, or -1. */
  hovered = -1;
  private hoverPos: [number, number] = [0, 0];
  private colorBuf: Uint8Array | undefined;
  private grid: PointGrid | null = null; // built on the first hover/click after the points or the view change
  /** Zoom and pan of the view not shown, so switching back returns to where the user was. */
  private savedViews = new Map<MapViewName, View>();
  private shownView: MapViewName = config().map_views[0];
  private projecting = false;
  private state: ViewState;
  private sync: Sync;

  constructor(pane: HTMLElement, private parts: MapParts, private hooks: MapHooks) {
    this.state = parts.state;
    this.sync = parts.sync;
    this.tooltip.style.display = "none";
    const { toolbar, listen } = parts;
    for (const [tool, b] of toolbar.toolButtons) listen(b, "click", () => this.setTool(tool));
    listen(toolbar.homeButton, "click", () => this.map.home());
    for (const [view, b] of toolbar.views.buttons) {
      listen(b, "click", () => {
        if (b.disabled) return;
        this.sync.write("mapView", view); // our own write echoes back as no change event: apply it here
        this.applyView();
        const pending = this.sync.get("embeddingView")?.pending;
        if (view === EMBEDDING() && !this.state.points.px && pending) this.makeProjection(pending);
      });
    }
    this.map = new MapView(pane, parts.scatterFactory, {
      onPolygon: (poly, additive) => this.selectPolygon(poly, additive),
      onClick: (x, y, sx, sy, additive) => this.clickAt(x, y, sx, sy, additive),
      onHover: (x, y, sx, sy, cx, cy) => this.hoverAt(x, y, sx, sy, cx, cy),
      onLeave: () => this.setHovered(-1),
    });
  }

  setTool(tool: Tool): void {
    this.map.tool = tool;
    this.parts.toolbar.setTool(tool);
  }

  /** The view the map draws: the embedding view only when the points carry a projection. */
  mapView(): MapViewName {
    const [dataMap, embedding] = config().map_views;
    return this.sync.get("mapView") === embedding && this.state.points.px ? embedding : dataMap;
  }

  /** Positions of the points in the view shown: every lasso, click, hover and marker goes through these. */
  positions(): [Float32Array, Float32Array] {
    const p = this.state.points;
    return this.mapView() === EMBEDDING() && p.px && p.py ? [p.px, p.py] : [p.x, p.y];
  }

  /** Draw the view the trait asks for (or the data map when there is no projection); `reset`: new points. */
  applyView(reset = false): void {
    const map = this.map;
    const view = this.mapView();
    if (reset) this.savedViews.clear();
    else if (view !== this.shownView) this.savedViews.set(this.shownView, { ...map.view });
    const switched = view !== this.shownView;
    this.shownView = view;
    const method = methodName(this.sync.get("embeddingView")?.method ?? "");
    if (view === EMBEDDING()) {
      map.setAxes(`${method} 1`, `${method} 2`, false,
        `Embedding view: a ${method} projection of the model's sentence embeddings; near points are alike to the model.`);
    } else {
      map.setAxes("variability", "confidence", true, "Data map: variability (x) against confidence (y).");
    }
    const [x, y] = this.positions();
    const saved = this.savedViews.get(view);
    map.setPositions(x, y, reset || (switched && !saved), view === EMBEDDING());
    if (switched && saved && !reset) {
      map.view = saved;
      map.redraw();
    }
    this.grid = null;
    this.renderViewSwitch();
    this.updateMarkers();
  }

  /** The view buttons show the view drawn and whether a projection exists. */
  renderViewSwitch(): void {
    this.parts.toolbar.views.render(this.mapView(), this.sync.get("embeddingView"));
  }

  /** A big map makes its projection on first use: ask for it; it arrives as new points. */
  private makeProjection(method: string): void {
    if (this.projecting) return;
    this.projecting = true;
    const { status } = this.parts;
    status.show(`Making the ${methodName(method)} projection of ${this.state.points.n.toLocaleString()} embeddings (once; it is kept with the map)…`, "sticky");
    this.parts.client
      .request("projection", {})
      .then(() => status.clear())
      .catch((err: Error) => status.show(`Could not make the projection: ${err.message}`, "error"))
      .finally(() => (this.projecting = false));
  }

  /** Colour the points (by the colouring chosen, dimming what the filters and the selection leave out). */
  recolor(): void {
    const { sel } = this.state;
    this.colorBuf = pointColors(this.state.points, this.state.colorBy(), sel.visible, sel.mask, this.colorBuf, isDark(this.map.el));
    this.map.scatter?.setColors(this.colorBuf);
    this.map.colors = this.colorBuf; // the current document's point keeps its colour inside its ring
    this.map.redraw();
  }

  /** Ring the selected points. */
  highlight(rows: Uint32Array): void {
    this.map.scatter?.setHighlighted(rows);
  }

  /** Mark the current document and the hovered one. */
  updateMarkers(): void {
    const m: number[] = [];
    const focused = this.state.ctl.current;
    const n = this.state.points.n;
    const [x, y] = this.positions();
    for (const r of [focused, this.hovered]) if (r >= 0 && r < n) m.push(x[r], y[r]);
    if (focused < 0 && m.length) m.unshift(NaN, NaN);
    this.map.markers = m;
    this.map.markerRows = [focused, this.hovered];
    this.map.drawOverlay();
  }

  private nearest(x: number, y: number, sx: number, sy: number): number {
    return (this.grid ??= new PointGrid(...this.positions())).nearest(x, y, sx, sy, 8);
  }

  private selectPolygon(poly: Polygon, additive: boolean): void {
    const [x, y] = this.positions();
    const rows = indicesInPolygon(x, y, poly);
    this.hooks.select(additive ? union(this.state.sel.rows, rows) : rows);
  }

  private clickAt(x: number, y: number, sx: number, sy: number, additive: boolean): void {
    const r = this.nearest(x, y, sx, sy);
    if (r < 0) {
      if (!additive) this.hooks.select(new Uint32Array(0));
      return;
    }
    // One rule for points and rows: a click opens the document (keys act on it) and leaves the
    // selection alone; shift+click also adds it to the selection or takes it out.
    this.state.ctl.current = r; // before the table is rebuilt around a new selection
    if (additive) this.hooks.select(toggle(this.state.sel.rows, r));
    this.hooks.focus(r);
  }

  private hoverAt(x: number, y: number, sx: number, sy: number, cx: number, cy: number): void {
    this.hoverPos = [cx, cy];
    this.setHovered(this.nearest(x, y, sx, sy));
  }

  private setHovered(r: number): void {
    if (r === this.hovered && r < 0) return;
    this.hovered = r;
    this.updateMarkers();
    if (r < 0) {
      this.tooltip.style.display = "none";
      return;
    }
    this.parts.texts.want([r]);
    this.showTooltip();
  }

  /** Fill the hovered point's tooltip (again: its texts or label may have changed). */
  showTooltip(): void {
    const r = this.hovered;
    const { state, texts } = this.parts;
    const points = state.points;
    const tooltip = this.tooltip;
    if (r < 0 || r >= points.n) return;
    const doc = texts.previewOf(r);
    tooltip.replaceChildren();
    const lines: Array<[string, string]> = [
      ["id", texts.idOf(r, "…")],
      ["label", state.labelName(points.labels[r])],
      ["suggested", state.suggestionName(r)],
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
    const rect = this.map.el.getBoundingClientRect();
    const [left, top] = placeTooltip(this.hoverPos[0] - rect.left, this.hoverPos[1] - rect.top,
      tooltip.offsetWidth, tooltip.offsetHeight, rect.width, rect.height);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }

  destroy(): void {
    this.map.destroy();
  }
}
