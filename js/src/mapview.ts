/**
 * The map pane: a WebGL canvas for points under a 2D overlay for axes, region
 * guides, the lasso being drawn and the hovered/focused point. Owns the view
 * (zoom, pan) and turns mouse gestures into data-space selections.
 */
import type { Polygon } from "./lasso";
import { fitView, homeView, panView, pointSize, zoomView, type Scatter, type ScatterFactory, type View } from "./scatter";
import { cssColor } from "./theme";

export type Tool = "lasso" | "box" | "pan";

export interface MapCallbacks {
  onPolygon: (poly: Polygon, additive: boolean) => void;
  onClick: (x: number, y: number, pxPerX: number, pxPerY: number, additive: boolean) => void;
  onHover: (x: number, y: number, pxPerX: number, pxPerY: number, clientX: number, clientY: number) => void;
  onLeave: () => void;
}

const MARGIN = { left: 46, right: 10, top: 10, bottom: 38 };

export class MapView {
  readonly el: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly overlay: HTMLCanvasElement;
  readonly message: HTMLElement;
  scatter: Scatter | null;
  tool: Tool = "lasso";
  view: View = { x0: 0, x1: 0.5, y0: 0, y1: 1 };
  thresholds = { confidence: 0.5, variability: 0.2 };
  markers: number[] = []; // [x, y] pairs in data space for hovered / focused points
  /** The rows the markers stand for ([focused, hovered], -1: none) and the points' RGBA colours:
   *  the current document's point is redrawn in its own colour inside its ring. */
  markerRows: number[] = [];
  colors: Uint8Array | undefined;
  /** Axis titles, and whether the region guides belong on these axes (only on the data map). */
  axes = { x: "variability", y: "confidence", guides: true };
  private width = 560;
  private height = 440;
  private dpr = 1;
  private drag: { x: number; y: number; path: Array<[number, number]>; moved: boolean; additive: boolean; view: View } | null = null;
  private raf = 0;
  private drawing = false;
  private sized = false;
  /** Runs at the start of each frame, before drawing: the widget re-measures its size there,
   *  so that a view built before it was attached draws once, at its real size, rather than
   *  drawing every point at a guessed size and again (a canvas resize clears it) one frame later. */
  beforeDraw: (() => void) | null = null;
  private hoverAt: [number, number, number, number] | null = null;
  private hoverRaf = 0;
  private disposers: Array<() => void> = [];

  constructor(parent: HTMLElement, factory: ScatterFactory, private cb: MapCallbacks) {
    this.el = document.createElement("div");
    this.el.className = "dmw-map";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "dmw-gl";
    this.overlay = document.createElement("canvas");
    this.overlay.className = "dmw-overlay";
    this.overlay.setAttribute("role", "img");
    this.overlay.setAttribute("aria-label", "Data map: variability (x) against confidence (y). Drag to select, Ctrl + wheel (or click, then wheel) to zoom, double-click to reset.");
    this.message = document.createElement("div");
    this.message.className = "dmw-message";
    this.el.append(this.canvas, this.overlay, this.message);
    parent.appendChild(this.el);
    let scatter: Scatter | null = null;
    try {
      scatter = factory(this.canvas);
    } catch (err) {
      console.warn("datamap_widget: WebGL setup failed", err);
      scatter = null;
    }
    this.scatter = scatter;
    if (!scatter) {
      this.message.textContent =
        "WebGL is not available in this browser, so the map cannot be drawn. The table, filters and actions still work.";
      this.message.style.display = "block";
    }
    this.listen(this.overlay, "mousedown", (e) => this.down(e as MouseEvent));
    this.listen(window, "mousemove", (e) => this.move(e as MouseEvent));
    this.listen(window, "mouseup", (e) => this.up(e as MouseEvent));
    this.listen(this.overlay, "mouseleave", () => this.cb.onLeave());
    this.listen(this.overlay, "wheel", (e) => this.wheel(e as WheelEvent), { passive: false });
    // The wheel belongs to the page (scrolling the notebook) until the map is clicked into; a
    // click anywhere else gives it back. Ctrl/⌘ + wheel zooms at any time, as on web maps.
    this.listen(window, "mousedown", (e) => {
      if (!this.el.contains(e.target as Node)) this.setEngaged(false);
    });
    this.wheelHint.className = "dmw-wheel-hint";
    this.wheelHint.textContent = "Ctrl + wheel to zoom (or click the map first)";
    this.wheelHint.style.display = "none";
    this.wheelHint.setAttribute("aria-live", "polite");
    this.el.appendChild(this.wheelHint);
    this.listen(this.overlay, "dblclick", () => this.home());
  }

  private listen(target: EventTarget, type: string, fn: (e: Event) => void, opts?: AddEventListenerOptions): void {
    target.addEventListener(type, fn, opts);
    this.disposers.push(() => target.removeEventListener(type, fn, opts));
  }

  private homeV: View = { x0: 0, x1: 0.5, y0: 0, y1: 1 };
  private positions: [Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0)];
  /** Where the hard-to-learn name went, for the view, size and thresholds it was placed for. */
  private placed: { key: string; at: NameSpot } | null = null;
  /** `fit`: the home view holds every point (an embedding projection has no fixed range). */
  setPositions(x: Float32Array, y: Float32Array, resetView: boolean, fit = false): void {
    this.positions = [x, y];
    this.placed = null;
    this.homeV = fit ? fitView(x, y) : homeView(x);
    if (resetView) this.view = { ...this.homeV };
    this.scatter?.setPositions(x, y);
    this.redraw();
  }

  /** Switch the axis titles (and the region guides with them) and say so to screen readers. */
  setAxes(x: string, y: string, guides: boolean, description: string): void {
    this.axes = { x, y, guides };
    this.overlay.setAttribute("aria-label", `${description} Drag to select, Ctrl + wheel (or click, then wheel) to zoom, double-click to reset.`);
    this.redraw();
  }

  home(): void {
    this.view = { ...this.homeV };
    this.redraw();
  }

  resize(width: number, height: number, dpr: number): void {
    width = Math.max(120, width);
    height = Math.max(120, height);
    // Resizing a canvas clears it: only when the size really changes (a ResizeObserver also
    // reports the size the view already has).
    if (this.sized && width === this.width && height === this.height && dpr === this.dpr) return;
    this.sized = true;
    this.width = width;
    this.height = height;
    this.dpr = dpr;
    this.el.style.width = `${this.width}px`;
    this.el.style.height = `${this.height}px`;
    this.overlay.width = Math.round(this.width * dpr);
    this.overlay.height = Math.round(this.height * dpr);
    this.overlay.style.width = `${this.width}px`;
    this.overlay.style.height = `${this.height}px`;
    const pw = this.width - MARGIN.left - MARGIN.right;
    const ph = this.height - MARGIN.top - MARGIN.bottom;
    this.canvas.style.left = `${MARGIN.left}px`;
    this.canvas.style.top = `${MARGIN.top}px`;
    this.scatter?.resize(pw, ph, dpr);
    this.redraw();
  }

  /** Plot-area pixel (relative to the overlay) -> data coordinates. */
  toData(px: number, py: number): [number, number] {
    const pw = this.width - MARGIN.left - MARGIN.right;
    const ph = this.height - MARGIN.top - MARGIN.bottom;
    const v = this.view;
    return [v.x0 + ((px - MARGIN.left) / pw) * (v.x1 - v.x0), v.y1 - ((py - MARGIN.top) / ph) * (v.y1 - v.y0)];
  }

  toPixel(x: number, y: number): [number, number] {
    const pw = this.width - MARGIN.left - MARGIN.right;
    const ph = this.height - MARGIN.top - MARGIN.bottom;
    const v = this.view;
    return [MARGIN.left + ((x - v.x0) / (v.x1 - v.x0)) * pw, MARGIN.top + ((v.y1 - y) / (v.y1 - v.y0)) * ph];
  }

  /** Pixels per data unit along x and y (for distance checks). */
  scale(): [number, number] {
    const pw = this.width - MARGIN.left - MARGIN.right;
    const ph = this.height - MARGIN.top - MARGIN.bottom;
    return [pw / (this.view.x1 - this.view.x0), ph / (this.view.y1 - this.view.y0)];
  }

  private local(e: MouseEvent): [number, number] {
    const r = this.overlay.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  /** Whether a plain wheel zooms the map: after a click into it, until a click elsewhere. */
  private engaged = false;
  private readonly wheelHint = document.createElement("div");
  private hintTimer: ReturnType<typeof setTimeout> | undefined;

  private setEngaged(on: boolean): void {
    this.engaged = on;
    this.el.classList.toggle("dmw-map-engaged", on);
  }

  private down(e: MouseEvent): void {
    if (e.button !== 0) return;
    this.setEngaged(true);
    e.preventDefault();
    const [x, y] = this.local(e);
    this.drag = { x, y, path: [[x, y]], moved: false, additive: e.shiftKey, view: { ...this.view } };
  }

  private move(e: MouseEvent): void {
    const [x, y] = this.local(e);
    const d = this.drag;
    if (!d) {
      if (e.target !== this.overlay) return;
      // One lookup per animation frame, for the latest position.
      const first = this.hoverAt === null;
      this.hoverAt = [x, y, e.clientX, e.clientY];
      if (first) this.hoverRaf = frame(() => this.flushHover());
      return;
    }
    if (Math.abs(x - d.x) + Math.abs(y - d.y) > 3) d.moved = true;
    if (!d.moved) return;
    if (this.tool === "pan") {
      const [sx, sy] = this.scale();
      this.view = panView(d.view, -(x - d.x) / sx, (y - d.y) / sy);
      this.redraw();
      return;
    }
    if (this.tool === "lasso") {
      const last = d.path[d.path.length - 1];
      if (Math.abs(x - last[0]) + Math.abs(y - last[1]) >= 2) d.path.push([x, y]);
    }
    else d.path = [[d.x, d.y], [x, y]];
    this.drawOverlay();
  }

  private flushHover(): void {
    const h = this.hoverAt;
    this.hoverAt = null;
    this.hoverRaf = 0;
    if (!h || this.drag) return;
    const [dx, dy] = this.toData(h[0], h[1]);
    const [sx, sy] = this.scale();
    this.cb.onHover(dx, dy, sx, sy, h[2], h[3]);
  }

  private up(e: MouseEvent): void {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    const [x, y] = this.local(e);
    if (!d.moved) {
      const [dx, dy] = this.toData(x, y);
      const [sx, sy] = this.scale();
      this.cb.onClick(dx, dy, sx, sy, d.additive || e.shiftKey);
    } else if (this.tool === "lasso" && d.path.length >= 3) {
      d.path.push([x, y]);
      this.cb.onPolygon(d.path.map(([px, py]) => this.toData(px, py)), d.additive || e.shiftKey);
    } else if (this.tool === "box") {
      const [ax, ay] = this.toData(d.x, d.y);
      const [bx, by] = this.toData(x, y);
      this.cb.onPolygon([[ax, ay], [bx, ay], [bx, by], [ax, by]], d.additive || e.shiftKey);
    }
    this.drawOverlay();
  }

  private wheel(e: WheelEvent): void {
    if (!this.engaged && !e.ctrlKey && !e.metaKey) {
      // The page scrolls on; say briefly, by the pointer (the map's top may be scrolled off), how to zoom.
      const [, py] = this.local(e);
      this.wheelHint.style.top = `${Math.round(Math.max(4, Math.min(this.height - 28, py - 12)))}px`;
      this.wheelHint.style.display = "block";
      if (this.hintTimer !== undefined) clearTimeout(this.hintTimer);
      this.hintTimer = setTimeout(() => (this.wheelHint.style.display = "none"), 1500);
      return;
    }
    e.preventDefault();
    this.wheelHint.style.display = "none";
    const [x, y] = this.local(e);
    const [cx, cy] = this.toData(x, y);
    this.view = boundedZoom(this.view, this.homeV, Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.002))), cx, cy);
    this.redraw();
  }

  redraw(): void {
    if (this.raf || this.drawing) return;
    const run = () => {
      this.drawing = true; // a resize in beforeDraw is drawn by this frame, not the next
      try {
        this.beforeDraw?.();
      } finally {
        this.drawing = false;
      }
      this.raf = 0;
      this.scatter?.draw(this.view, (this.homeV.x1 - this.homeV.x0) / (this.view.x1 - this.view.x0));
      this.drawOverlay();
    };
    if (typeof requestAnimationFrame === "function") this.raf = requestAnimationFrame(run);
    else run();
  }

  /** Axes, ticks, region guides and names, lasso path and markers. */
  drawOverlay(): void {
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      ctx = this.overlay.getContext("2d");
    } catch {
      ctx = null;
    }
    if (!ctx) return;
    const { width: w, height: h } = this;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const l = MARGIN.left, t = MARGIN.top, r = w - MARGIN.right, b = h - MARGIN.bottom;
    // Colours from the host theme (widget.css defines the --dmw-* names), read per frame so a
    // theme switch shows at the next redraw; the fallbacks are the light theme's.
    const color = (name: string, fallback: string) => cssColor(this.el, name, fallback);
    ctx.strokeStyle = color("--dmw-map-frame", "#888");
    ctx.lineWidth = 1;
    ctx.strokeRect(l + 0.5, t + 0.5, r - l, b - t);
    ctx.fillStyle = color("--dmw-map-text", "#444");
    ctx.font = "11px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of ticks(this.view.x0, this.view.x1)) {
      const [px] = this.toPixel(v, 0);
      if (px < l || px > r) continue;
      ctx.fillRect(px, b, 1, 4);
      ctx.fillText(fmt(v), px, b + 5);
    }
    ctx.fillText(this.axes.x, (l + r) / 2, b + 20);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of ticks(this.view.y0, this.view.y1)) {
      const [, py] = this.toPixel(0, v);
      if (py < t || py > b) continue;
      ctx.fillRect(l - 4, py, 4, 1);
      ctx.fillText(fmt(v), l - 6, py);
    }
    ctx.save();
    ctx.translate(11, (t + b) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(this.axes.y, 0, 0);
    ctx.restore();
    ctx.save();
    ctx.beginPath();
    ctx.rect(l, t, r - l, b - t);
    ctx.clip();
    // Region guides and names: the data map's regions mean nothing on the embedding view's axes.
    // (The block keeps its indentation so that it merges cleanly with edits to the region labels.)
    if (this.axes.guides) {
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = color("--dmw-map-guide", "rgba(80,80,80,0.7)");
    const [gx] = this.toPixel(this.thresholds.variability, 0);
    const [, gy] = this.toPixel(0, this.thresholds.confidence);
    ctx.beginPath();
    ctx.moveTo(l, gy);
    ctx.lineTo(gx, gy);
    ctx.moveTo(gx, t);
    ctx.lineTo(gx, b);
    ctx.stroke();
    ctx.setLineDash([]);
    // Region names sit in their regions, clamped to the plot, so they stay true when zoomed.
    const clampX = (v: number) => Math.min(r - 6, Math.max(l + 6, v));
    const clampY = (v: number) => Math.min(b - 4, Math.max(t + 4, v));
    const [ex, ey] = this.toPixel(0, 1);
    const [hx, hy] = this.toPixel(0, 0);
    // Each name sits on a plate of the map's background, above the points, so it reads over
    // dense colour in Light and Dark alike; the text takes the map's full text colour.
    ctx.font = "bold 11px sans-serif";
    const plate = color("--dmw-map-bg", "#fff");
    const ink = color("--dmw-map-text", "#1f1f1f");
    const label = (text: string, x: number, y: number, align: "left" | "right", baseline: "top" | "bottom" | "middle") => {
      const w = ctx!.measureText(text).width;
      const left = align === "left" ? x : x - w;
      const top = baseline === "top" ? y : baseline === "bottom" ? y - 13 : y - 6.5;
      ctx!.globalAlpha = 0.85;
      ctx!.fillStyle = plate;
      ctx!.fillRect(left - 3, top - 1, w + 6, 15);
      ctx!.globalAlpha = 1;
      ctx!.fillStyle = ink;
      ctx!.textAlign = align;
      ctx!.textBaseline = baseline;
      ctx!.fillText(text, x, y);
    };
    if (gx > l + 20 && gy > t + 10) label("easy-to-learn", clampX(ex + 6), clampY(Math.min(ey + 4, gy - 16)), "left", "top");
    if (gx > l + 20 && gy < b - 10) {
      // The region's corner at (0, 0) is where a class the model never learned piles up: the
      // name goes to whichever corner of its region covers the fewest points.
      const w = ctx.measureText("hard-to-learn").width + 6;
      const left = clampX(hx + 6), right = Math.max(left + w - 6, Math.min(gx, r) - 6);
      const bottom = clampY(Math.max(hy - 4, gy + 16)), top = Math.min(bottom, clampY(gy + 17));
      const spots: NameSpot[] = [
        { x: left, y: bottom, align: "left" }, { x: right, y: bottom, align: "right" },
        { x: left, y: top, align: "left" }, { x: right, y: top, align: "right" },
      ];
      const key = [this.view.x0, this.view.x1, this.view.y0, this.view.y1, w, h, gx, gy].join(",");
      if (this.placed?.key !== key) this.placed = { key, at: spots[leastCovered(spots, w, 15, this.pixelPositions())] };
      label("hard-to-learn", this.placed.at.x, this.placed.at.y, this.placed.at.align, "bottom");
    }
    if (gx < r - 40) {
      const mid = clampY((Math.max(t, this.toPixel(0, 1)[1]) + Math.min(b, this.toPixel(0, 0)[1])) / 2);
      label("ambiguous", r - 6, mid, "right", "middle");
    }
    // Each dashed line says which threshold it is and what it divides, where it is drawn.
    ctx.font = "10px sans-serif";
    const cText = `confidence ${fmt(this.thresholds.confidence)}: easy-to-learn above, hard-to-learn below`;
    const vText = `variability ${fmt(this.thresholds.variability)}: ambiguous to the right`;
    if (gy > t + 14 && gy < b - 2 && gx > l + 40) label(cText, clampX(l + 6), gy - 2, "left", "bottom");
    if (gx > l && gx < r - 40) {
      const place = besideLine(gx, ctx.measureText(vText).width, l, r);
      label(place.short ? `variability ${fmt(this.thresholds.variability)} →` : vText, place.x, b - 4, place.align, "bottom");
    }
    } // region guides
    // Markers: a ring outside the point, a gap of the map's background between, and the point
    // redrawn in its own colour, full strength (dimmed or covered by its neighbours otherwise), so
    // the colouring (suggested label, top 1%…) reads under the ring.
    const ring = cursorRing(pointSize(this.positions[0].length, (this.homeV.x1 - this.homeV.x0) / (this.view.x1 - this.view.x0)));
    for (let k = 0; k + 1 < this.markers.length; k += 2) {
      const [px, py] = this.toPixel(this.markers[k], this.markers[k + 1]);
      if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
      const fill = pointColor(this.colors, this.markerRows[k / 2] ?? -1);
      ctx.beginPath();
      ctx.arc(px, py, ring.gap, 0, Math.PI * 2);
      ctx.fillStyle = color("--dmw-map-bg", "#fff");
      ctx.fill();
      if (fill) {
        ctx.beginPath();
        ctx.arc(px, py, ring.point, 0, Math.PI * 2);
        ctx.fillStyle = fill;
        ctx.fill();
      }
      ctx.beginPath();
      ctx.arc(px, py, ring.ring, 0, Math.PI * 2);
      ctx.strokeStyle = k === 0 ? color("--dmw-map-hover", "#d62728") : color("--dmw-map-marker", "#111");
      ctx.lineWidth = ring.width;
      ctx.stroke();
    }
    ctx.restore();
    const d = this.drag;
    if (d && d.moved && this.tool !== "pan") {
      // A faint fill of the accent by globalAlpha: a canvas cannot parse color-mix(), which
      // custom properties hand over unevaluated.
      ctx.strokeStyle = color("--dmw-accent", "#1f77b4");
      ctx.fillStyle = ctx.strokeStyle;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      if (this.tool === "box") {
        const [a, c] = d.path;
        ctx.rect(a[0], a[1], c[0] - a[0], c[1] - a[1]);
      } else {
        d.path.forEach(([x, y], i) => (i ? ctx!.lineTo(x, y) : ctx!.moveTo(x, y)));
        ctx.closePath();
      }
      ctx.globalAlpha = 0.1;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.stroke();
    }
  }

  /** The points in overlay pixels (a sample of at most 50,000 on a big map), for placing names. */
  private pixelPositions(): [Float32Array, Float32Array] {
    const [x, y] = this.positions;
    const step = Math.max(1, Math.ceil(x.length / 50000));
    const n = Math.ceil(x.length / step);
    const px = new Float32Array(n);
    const py = new Float32Array(n);
    for (let i = 0, j = 0; i < x.length; i += step, j++) [px[j], py[j]] = this.toPixel(x[i], y[i]);
    return [px, py];
  }

  destroy(): void {
    if (this.hintTimer !== undefined) clearTimeout(this.hintTimer);
    for (const f of this.disposers) f();
    this.disposers = [];
    if (typeof cancelAnimationFrame === "function") {
      if (this.raf) cancelAnimationFrame(this.raf);
      if (this.hoverRaf) cancelAnimationFrame(this.hoverRaf);
    }
    this.scatter?.destroy();
    this.scatter = null;
    this.el.remove();
  }
}

/** Where a region's name may go: the text's anchor point (its baseline at the bottom). */
export interface NameSpot {
  x: number;
  y: number;
  align: "left" | "right";
}

/** Which of `spots` (a name `width` × `height` px, sitting on its anchor's bottom line) covers
 *  the fewest of the points at pixels (px, py); the first on a tie. */
export function leastCovered(spots: NameSpot[], width: number, height: number, [px, py]: [Float32Array, Float32Array]): number {
  let best = 0;
  let bestCount = Infinity;
  spots.forEach((s, i) => {
    const x0 = s.align === "left" ? s.x - 3 : s.x - width + 3;
    const y0 = s.y - height + 1;
    let count = 0;
    for (let j = 0; j < px.length && count < bestCount; j++) {
      if (px[j] >= x0 - 3 && px[j] <= x0 + width + 3 && py[j] >= y0 - 3 && py[j] <= y0 + height + 3) count++;
    }
    if (count < bestCount) [best, bestCount] = [i, count];
  });
  return best;
}

/** The current document's marker around a point `diameter` px wide: the point redrawn at
 *  `point` radius, a `gap` of background, the ring's line (`width`) centred on `ring`, whose
 *  inner edge stays clear of the point. */
export function cursorRing(diameter: number): { point: number; gap: number; ring: number; width: number } {
  const point = Math.max(3, diameter / 2 + 0.5);
  const width = 2;
  const gap = point + 1.5;
  return { point, gap, ring: gap + width / 2, width };
}

/** "rgb(r, g, b)" of row `r` in an RGBA buffer, opaque; "" when there is none. */
export function pointColor(colors: Uint8Array | undefined, r: number): string {
  if (!colors || r < 0 || 4 * r + 3 >= colors.length) return "";
  return `rgb(${colors[4 * r]}, ${colors[4 * r + 1]}, ${colors[4 * r + 2]})`;
}

/** The smallest span a zoom reaches, as a share of the home view's span (per axis). */
export const MIN_ZOOM_SPAN = 0.01;

/**
 * Where a vertical guide's label goes so it is never clipped: right of the line when it fits
 * before the plot's right edge `r`, else left of it, else (a narrow plot) a short form right of it.
 */
export function besideLine(gx: number, width: number, l: number, r: number): { x: number; align: "left" | "right"; short: boolean } {
  if (gx + 4 + width <= r - 2) return { x: gx + 4, align: "left", short: false };
  if (gx - 4 - width >= l + 2) return { x: gx - 4, align: "right", short: false };
  return { x: gx + 4, align: "left", short: true };
}

/**
 * `zoomView` kept sensible: never wider than `home` (zooming out stops at the home view and
 * slides the view back inside it), never narrower than MIN_ZOOM_SPAN of it.
 */
export function boundedZoom(view: View, home: View, factor: number, cx: number, cy: number): View {
  const hw = home.x1 - home.x0;
  const hh = home.y1 - home.y0;
  const w = view.x1 - view.x0;
  const hgt = view.y1 - view.y0;
  // One factor for both axes (the aspect stays), limited so neither span leaves its bounds.
  const lo = Math.max((hw * MIN_ZOOM_SPAN) / w, (hh * MIN_ZOOM_SPAN) / hgt);
  const hi = Math.min(hw / w, hh / hgt);
  const f = Math.min(Math.max(factor, Math.min(lo, 1)), Math.max(hi, 1));
  if (f >= hi) return { ...home };
  const z = zoomView(view, f, cx, cy);
  const slide = (a: number, b: number, min: number, max: number): [number, number] =>
    a < min ? [min, min + (b - a)] : b > max ? [max - (b - a), max] : [a, b];
  // A view already panned outside home stays where the user put it; zooming out pulls it back.
  if (f > 1) {
    [z.x0, z.x1] = slide(z.x0, z.x1, home.x0, home.x1);
    [z.y0, z.y1] = slide(z.y0, z.y1, home.y0, home.y1);
  }
  return z;
}

/** requestAnimationFrame, or a microtask where there is none (tests). */
function frame(fn: () => void): number {
  if (typeof requestAnimationFrame === "function") return requestAnimationFrame(fn);
  queueMicrotask(fn);
  return 0;
}

function ticks(a: number, b: number): number[] {
  const span = b - a;
  if (!(span > 0)) return [];
  const step0 = Math.pow(10, Math.floor(Math.log10(span / 5)));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= 7) ?? step0 * 10;
  const out: number[] = [];
  for (let v = Math.ceil(a / step) * step; v <= b + 1e-12; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) < 1e-9 ? "0" : String(Number(v.toPrecision(3)));
}
