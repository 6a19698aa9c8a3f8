import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { besideLine, cursorRing, leastCovered, MapView } from "./mapview";
import { pointSize } from "./scatter";

/** A 2D context that records what is drawn, with the style in force at each call. */
function recorder() {
  const calls: Array<{ op: string; args: any[]; fill: string; alpha: number }> = [];
  const ctx: any = { fillStyle: "#000", strokeStyle: "#000", globalAlpha: 1, font: "", textAlign: "left", textBaseline: "top", lineWidth: 1 };
  const log = (op: string) => (...args: any[]) => calls.push({ op, args, fill: String(ctx.fillStyle), alpha: ctx.globalAlpha });
  for (const op of ["fillRect", "fillText", "strokeRect", "clearRect", "beginPath", "moveTo", "lineTo", "arc", "rect", "clip", "fill", "closePath"]) ctx[op] = log(op);
  ctx.stroke = (...args: any[]) => calls.push({ op: "stroke", args: [...args, String(ctx.strokeStyle), ctx.lineWidth], fill: String(ctx.fillStyle), alpha: ctx.globalAlpha });
  for (const op of ["setTransform", "save", "restore", "translate", "rotate", "setLineDash"]) ctx[op] = () => {};
  ctx.measureText = (t: string) => ({ width: t.length * 6 });
  return { ctx, calls };
}

describe("map overlay: region names", () => {
  let rec: ReturnType<typeof recorder>;
  let spy: any;
  beforeEach(() => {
    rec = recorder();
    spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(((kind: string) => (kind === "2d" ? rec.ctx : null)) as any);
  });
  afterEach(() => spy.mockRestore());

  for (const [theme, bg, fg] of [["light", "#ffffff", "#1f1f1f"], ["dark", "#111111", "#e0e0e0"]]) {
    it(`sit on a plate of the map background, above the points, in the full text colour (${theme})`, () => {
      const parent = document.createElement("div");
      document.body.appendChild(parent);
      const map = new MapView(parent, () => null, { onPolygon() {}, onClick() {}, onHover() {}, onLeave() {} });
      map.el.style.setProperty("--dmw-map-bg", bg);
      map.el.style.setProperty("--dmw-map-text", fg);
      map.resize(560, 460, 1);
      rec.calls.length = 0;
      map.drawOverlay();
      // The overlay canvas is stacked after (above) the canvas the points are drawn in.
      expect([...map.el.children].indexOf(map.overlay)).toBeGreaterThan([...map.el.children].indexOf(map.canvas));
      for (const name of ["easy-to-learn", "hard-to-learn", "ambiguous"]) {
        const at = rec.calls.findIndex((c) => c.op === "fillText" && c.args[0] === name);
        expect(at, name).toBeGreaterThan(0);
        const text = rec.calls[at];
        expect(text.fill).toBe(fg);
        const plate = rec.calls[at - 1];
        expect(plate.op).toBe("fillRect");
        expect(plate.fill).toBe(bg);
        expect(plate.alpha).toBeGreaterThanOrEqual(0.8);
        const [x, y, w, h] = plate.args;
        expect(w).toBeGreaterThanOrEqual(name.length * 6); // the whole name is on it
        expect(h).toBeGreaterThanOrEqual(11);
        expect(x).toBeLessThanOrEqual(text.args[1]);
        expect(x + w).toBeGreaterThanOrEqual(text.args[1]);
        expect(y).toBeLessThanOrEqual(text.args[2] + 11);
      }
      map.destroy();
      parent.remove();
    });
  }
});

describe("map wheel: zooms only when asked, within bounds (issue 29, item 7)", () => {
  let parent: HTMLElement;
  let map: MapView;
  beforeEach(() => {
    parent = document.createElement("div");
    document.body.appendChild(parent);
    map = new MapView(parent, () => null, { onPolygon() {}, onClick() {}, onHover() {}, onLeave() {} });
    map.resize(560, 460, 1);
    map.setPositions(Float32Array.of(0, 0.4), Float32Array.of(0, 1), true);
  });
  afterEach(() => {
    map.destroy();
    parent.remove();
  });
  const wheel = (deltaY: number, init: WheelEventInit = {}) => {
    const e = new WheelEvent("wheel", { deltaY, clientX: 280, clientY: 200, bubbles: true, cancelable: true, ...init });
    map.overlay.dispatchEvent(e);
    return e;
  };
  const span = () => [map.view.x1 - map.view.x0, map.view.y1 - map.view.y0];

  it("a plain wheel scrolls the page, leaves the view alone and hints Ctrl + wheel", () => {
    const home = { ...map.view };
    const e = wheel(-200);
    expect(e.defaultPrevented).toBe(false);
    expect(map.view).toEqual(home);
    const hint = map.el.querySelector<HTMLElement>(".dmw-wheel-hint")!;
    expect(hint.textContent).toBe("Ctrl + wheel to zoom (or click the map first)");
    expect(hint.style.display).not.toBe("none");
    expect(parseFloat(hint.style.top)).toBe(200 - 12); // by the pointer, not at the map's top (maybe scrolled off)
  });

  it("Ctrl/⌘ + wheel zooms; after a click into the map a plain wheel zooms too", () => {
    const home = span();
    expect(wheel(-200, { ctrlKey: true }).defaultPrevented).toBe(true);
    expect(span()[1]).toBeLessThan(home[1]);
    map.home();
    expect(wheel(-200, { metaKey: true }).defaultPrevented).toBe(true);
    map.home();
    map.overlay.dispatchEvent(new MouseEvent("mousedown", { clientX: 100, clientY: 100, button: 0, bubbles: true }));
    window.dispatchEvent(new MouseEvent("mouseup", { clientX: 100, clientY: 100, button: 0, bubbles: true }));
    expect(wheel(-200).defaultPrevented).toBe(true);
    expect(span()[1]).toBeLessThan(home[1]);
    // A click elsewhere on the page gives the wheel back to the page.
    document.body.dispatchEvent(new MouseEvent("mousedown", { bubbles: true }));
    const before = { ...map.view };
    expect(wheel(-200).defaultPrevented).toBe(false);
    expect(map.view).toEqual(before);
  });

  it("never zooms out past the home view, and stops at a minimum span zooming in", () => {
    const home = { ...map.view };
    for (let i = 0; i < 20; i++) wheel(500, { ctrlKey: true });
    expect(map.view).toEqual(home);
    wheel(-300, { ctrlKey: true });
    wheel(500, { ctrlKey: true, clientX: 500, clientY: 50 }); // out again, off centre: back inside home
    expect(map.view.x0).toBeGreaterThanOrEqual(home.x0 - 1e-9);
    expect(map.view.x1).toBeLessThanOrEqual(home.x1 + 1e-9);
    expect(map.view.y0).toBeGreaterThanOrEqual(home.y0 - 1e-9);
    expect(map.view.y1).toBeLessThanOrEqual(home.y1 + 1e-9);
    for (let i = 0; i < 200; i++) wheel(-500, { ctrlKey: true });
    const [sx, sy] = span();
    expect(sx).toBeGreaterThanOrEqual((home.x1 - home.x0) / 100 - 1e-9);
    expect(sy).toBeGreaterThanOrEqual((home.y1 - home.y0) / 100 - 1e-9);
  });
});

describe("map guides say what they are (issue 29, item 8)", () => {
  let rec: ReturnType<typeof recorder>;
  let spy: any;
  beforeEach(() => {
    rec = recorder();
    spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(((kind: string) => (kind === "2d" ? rec.ctx : null)) as any);
  });
  afterEach(() => spy.mockRestore());

  it("each dashed line is labelled with its threshold and what it divides, from the thresholds given", () => {
    const parent = document.createElement("div");
    document.body.appendChild(parent);
    const map = new MapView(parent, () => null, { onPolygon() {}, onClick() {}, onHover() {}, onLeave() {} });
    map.resize(560, 460, 1);
    map.thresholds = { confidence: 0.62, variability: 0.17 };
    rec.calls.length = 0;
    map.drawOverlay();
    const texts = rec.calls.filter((c) => c.op === "fillText").map((c) => c.args[0]);
    expect(texts).toContain("confidence 0.62: easy-to-learn above, hard-to-learn below");
    expect(texts).toContain("variability 0.17: ambiguous to the right");
    map.axes = { x: "UMAP 1", y: "UMAP 2", guides: false };
    rec.calls.length = 0;
    map.drawOverlay();
    expect(rec.calls.filter((c) => c.op === "fillText").map((c) => String(c.args[0])).some((t) => t.includes("0.62"))).toBe(false);
    map.destroy();
    parent.remove();
  });
});


describe("the variability guide's label", () => {
  it("sits right of the line when it fits, left of it when the right edge would clip it, short when neither fits", () => {
    expect(besideLine(100, 150, 46, 550)).toEqual({ x: 104, align: "left", short: false });
    // The user saw "variability 0.281: ambiguous to the" cut at the plot's edge.
    expect(besideLine(450, 150, 46, 550)).toEqual({ x: 446, align: "right", short: false });
    expect(besideLine(120, 300, 46, 320)).toEqual({ x: 124, align: "left", short: true });
  });
});


describe("reviewer findings 6 and 7: names and the cursor ring keep the points readable", () => {
  let rec: ReturnType<typeof recorder>;
  let spy: any;
  let parent: HTMLElement;
  let map: MapView;
  beforeEach(() => {
    rec = recorder();
    spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(((kind: string) => (kind === "2d" ? rec.ctx : null)) as any);
    parent = document.createElement("div");
    document.body.appendChild(parent);
    map = new MapView(parent, () => null, { onPolygon() {}, onClick() {}, onHover() {}, onLeave() {} });
    map.resize(560, 460, 1);
  });
  afterEach(() => {
    map.destroy();
    parent.remove();
    spy.mockRestore();
  });

  it("the hard-to-learn name moves off a cluster at the region's corner (a class never learned piles up at 0, 0)", () => {
    const n = 400;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // 60 points at (0, 0) and around it; the rest spread over the easy and ambiguous regions.
      x[i] = i < 60 ? 0.004 * (i % 6) : 0.05 + 0.35 * ((i * 37) % 100) / 100;
      y[i] = i < 60 ? 0.01 * Math.floor(i / 6) : 0.5 + 0.5 * ((i * 53) % 100) / 100;
    }
    map.setPositions(x, y, true);
    map.thresholds = { confidence: 0.4, variability: 0.25 };
    rec.calls.length = 0;
    map.drawOverlay();
    const text = rec.calls.find((c) => c.op === "fillText" && c.args[0] === "hard-to-learn")!;
    const plate = rec.calls[rec.calls.indexOf(text) - 1];
    const [px, py, pw, ph] = plate.args;
    let covered = 0;
    for (let i = 0; i < n; i++) {
      const [sx, sy] = map.toPixel(x[i], y[i]);
      if (sx >= px && sx <= px + pw && sy >= py && sy <= py + ph) covered++;
    }
    expect(covered).toBe(0);
  });

  it("leastCovered picks the spot over the fewest points, the first on a tie", () => {
    const spots = [{ x: 10, y: 100, align: "left" as const }, { x: 200, y: 100, align: "right" as const }];
    expect(leastCovered(spots, 80, 15, [Float32Array.of(20, 30), Float32Array.of(95, 95)])).toBe(1);
    expect(leastCovered(spots, 80, 15, [new Float32Array(0), new Float32Array(0)])).toBe(0);
  });

  it("the current document's ring sits outside its point, which keeps its own colour", () => {
    map.setPositions(Float32Array.of(0.1, 0.3), Float32Array.of(0.2, 0.8), true);
    map.colors = Uint8Array.of(204, 0, 153, 70, 10, 20, 30, 215); // row 0: top 1% magenta, dimmed
    map.markers = [0.1, 0.2];
    map.markerRows = [0, -1];
    rec.calls.length = 0;
    map.drawOverlay();
    const arcs = rec.calls.filter((c) => c.op === "arc");
    const fills = rec.calls.filter((c) => c.op === "fill");
    expect(fills.map((f) => f.fill)).toContain("rgb(204, 0, 153)"); // full strength, not the dimmed alpha
    const radius = pointSize(2) / 2;
    const pointArc = arcs[1];
    expect(pointArc.args[2]).toBeGreaterThanOrEqual(radius);
    const stroke = rec.calls.filter((c) => c.op === "stroke").pop()!;
    const ring = arcs[2].args[2];
    const width = stroke.args[stroke.args.length - 1];
    expect(ring - width / 2).toBeGreaterThan(pointArc.args[2]); // the ring's inner edge clears the point
    const geometry = cursorRing(7);
    expect(geometry.ring - geometry.width / 2).toBeGreaterThan(geometry.point);
  });
});
