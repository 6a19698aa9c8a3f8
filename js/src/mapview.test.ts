import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MapView } from "./mapview";

/** A 2D context that records what is drawn, with the style in force at each call. */
function recorder() {
  const calls: Array<{ op: string; args: any[]; fill: string; alpha: number }> = [];
  const ctx: any = { fillStyle: "#000", strokeStyle: "#000", globalAlpha: 1, font: "", textAlign: "left", textBaseline: "top", lineWidth: 1 };
  const log = (op: string) => (...args: any[]) => calls.push({ op, args, fill: String(ctx.fillStyle), alpha: ctx.globalAlpha });
  for (const op of ["fillRect", "fillText", "strokeRect", "clearRect", "beginPath", "moveTo", "lineTo", "stroke", "arc", "rect", "clip", "fill", "closePath"]) ctx[op] = log(op);
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
