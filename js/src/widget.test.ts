import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeModel, makeState } from "./fake-model";
import { indicesInPolygon } from "./lasso";
import type { Scatter } from "./scatter";
import { decode } from "./sync";
import { createView } from "./widget";

class FakeScatter implements Scatter {
  x: Float32Array = new Float32Array(0);
  colors: Uint8Array = new Uint8Array(0);
  highlighted: Uint32Array = new Uint32Array(0);
  draws = 0;
  sizes: number[][] = [];
  destroyed = false;
  setPositions(x: Float32Array) {
    this.x = x;
  }
  setColors(rgba: Uint8Array) {
    this.colors = rgba.slice();
  }
  setHighlighted(rows: Uint32Array) {
    this.highlighted = rows.slice();
  }
  resize(width: number, height: number) {
    this.sizes.push([width, height]);
  }
  draw() {
    this.draws++;
  }
  destroy() {
    this.destroyed = true;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const settle = async () => {
  for (let i = 0; i < 6; i++) await tick();
};

const INJECTION = "<img src=x onerror=alert(1)>";

/** A kernel like the Python side: ids "doc-i", texts, relabel/search bookkeeping. */
function pythonLike(model: FakeModel, n: number) {
  const calls: Array<{ method: string; args: any; rows: number[] }> = [];
  model.kernel = (method, args, buffers) => {
    const rows = buffers.length ? [...decode(buffers[0] as DataView, Uint32Array)] : [];
    calls.push({ method, args, rows });
    if (method === "page") {
      return [{ rows, ids: rows.map((r) => `doc-${r}`), texts: rows.map((r) => (r === 1 ? INJECTION : `text of ${r}${args.full ? " (full)" : ""}`)), scores: rows.map((r) => n - r) }, []];
    }
    if (method === "search") {
      const hits = Uint32Array.from([2, 5, 7].filter((r) => r < n));
      return [{ count: hits.length }, [hits]];
    }
    return [{}, []];
  };
  return calls;
}

describe("DataMapWidget view", () => {
  let el: HTMLElement;
  let cleanup: (() => void) | undefined;
  beforeEach(() => {
    el = document.createElement("div");
    document.body.appendChild(el);
  });
  afterEach(() => {
    cleanup?.();
    cleanup = undefined;
    el.remove();
  });

  function mount(n: number, patch: Partial<ReturnType<typeof makeState>> = {}) {
    const model = new FakeModel({ ...makeState(n), ...patch });
    const calls = pythonLike(model, n);
    const scatter = new FakeScatter();
    cleanup = createView(model, el, { scatterFactory: () => scatter, pageDelayMs: 0 });
    return { model, calls, scatter };
  }

  const rowsShown = () => [...el.querySelectorAll<HTMLElement>(".dmw-table-body .dmw-row")].filter((r) => r.style.display !== "none");
  const cellText = (row: HTMLElement, k: number) => (row.children[k] as HTMLElement).textContent;

  it("draws every point, a legend and the pass counter", async () => {
    const { scatter } = mount(50);
    await settle();
    expect(scatter.x.length).toBe(50);
    expect(scatter.colors.length).toBe(50 * 4);
    const legend = [...el.querySelectorAll(".dmw-legend-item")].map((e) => e.textContent);
    expect(legend[0]).toContain("correctness");
    expect(el.querySelector(".dmw-passes")!.textContent).toBe("3 passes");
  });

  it("draws the first frame once, at the size it has once attached", async () => {
    // A notebook renders the view before attaching it: its width is only known then.
    // jsdom has no layout (clientWidth is 0, on Element.prototype): shadow it on HTMLElement.
    Object.defineProperty(HTMLElement.prototype, "clientWidth", {
      configurable: true,
      get(this: HTMLElement) {
        return this.isConnected ? 1200 : 0;
      },
    });
    try {
      el.remove();
      const scatter = new FakeScatter();
      cleanup = createView(new FakeModel(makeState(50)), el, { scatterFactory: () => scatter, pageDelayMs: 0 });
      expect(scatter.draws).toBe(0);
      document.body.appendChild(el);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      await settle();
      expect(scatter.draws).toBe(1);
      // 0.48 of 1200 px for the map pane, less the axes' margins; no resize repeats a size.
      const sizes = scatter.sizes;
      expect(sizes[sizes.length - 1]).toEqual([576 - 56, 460 - 48]);
      expect(new Set(sizes.map((s) => s.join("x"))).size).toBe(sizes.length);
    } finally {
      delete (HTMLElement.prototype as { clientWidth?: number }).clientWidth;
    }
  });

  it("keeps the table virtual and asks for texts a page at a time", async () => {
    const { calls } = mount(10000);
    await settle();
    const rows = rowsShown();
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(100);
    const pages = calls.filter((c) => c.method === "page");
    expect(pages.length).toBeGreaterThan(0);
    expect(pages[0].rows.length).toBeLessThanOrEqual(200);
    expect(pages[0].rows[0]).toBe(0); // most suspect first
    expect(cellText(rows[0], 0)).toBe("doc-0");
    expect(cellText(rows[0], 1)).toBe("text of 0");
  });

  it("renders untrusted text as text", async () => {
    mount(20);
    await settle();
    const row = rowsShown().find((r) => r.dataset.row === "1")!;
    expect(cellText(row, 1)).toBe(INJECTION);
    expect(el.querySelector("img")).toBeNull();
    // and in the detail pane after a click on the row
    row.click();
    await settle();
    expect(el.querySelector(".dmw-detail-text")!.textContent).toBe(INJECTION);
    expect(el.querySelector("img")).toBeNull();
  });

  function drag(path: Array<[number, number]>, shift = false) {
    const overlay = el.querySelector<HTMLCanvasElement>(".dmw-overlay")!;
    const opt = (x: number, y: number) => ({ clientX: x, clientY: y, button: 0, bubbles: true, shiftKey: shift });
    overlay.dispatchEvent(new MouseEvent("mousedown", opt(...path[0])));
    for (const p of path.slice(1)) window.dispatchEvent(new MouseEvent("mousemove", opt(...p)));
    window.dispatchEvent(new MouseEvent("mouseup", opt(...path[path.length - 1])));
  }
  // jsdom lays nothing out: the map sits at (0, 0) with the size its overlay's style says; the plot area
  // starts at (46, 10) and shows x in [-0.02, 0.52] and y in [-0.04, 1.04] for these points.
  const plotWidth = () => parseFloat(el.querySelector<HTMLCanvasElement>(".dmw-overlay")!.style.width) - 56;
  const PH = 412;
  const toData = (px: number, py: number): [number, number] => [-0.02 + ((px - 46) / plotWidth()) * 0.54, 1.04 - ((py - 10) / PH) * 1.08];
  const toPixel = (x: number, y: number): [number, number] => [46 + ((x + 0.02) / 0.54) * plotWidth(), 10 + ((1.04 - y) / 1.08) * PH];

  it("writes a lasso selection to the selection trait as uint32 row indices", async () => {
    const n = 400;
    const { model, scatter } = mount(n);
    await settle();
    const path: Array<[number, number]> = [[60, 400], [300, 400], [300, 60], [200, 40], [100, 200]];
    drag(path);
    await settle();
    const st = makeState(n);
    const xs = decode(st.points.x, Float32Array);
    const ys = decode(st.points.y, Float32Array);
    const poly = [...path, path[path.length - 1]].map(([a, b]) => toData(a, b));
    const expected = [...indicesInPolygon(xs, ys, poly)];
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.length).toBeLessThan(n);
    const sent = model.saved.filter((s) => "selection" in s).pop()!;
    expect(sent.selection).toBeInstanceOf(DataView);
    expect([...decode(sent.selection!, Uint32Array)]).toEqual(expected);
    expect([...scatter.highlighted]).toEqual(expected);
    expect(el.querySelector(".dmw-table-title")!.textContent).toContain(`${expected.length} selected`);
  });

  it("box-selects, shift adds, Escape clears", async () => {
    const { model } = mount(100);
    await settle();
    (el.querySelector(".dmw-tool-box") as HTMLButtonElement).click();
    drag([toPixel(-0.02, 1.04), toPixel(0.25, 0.5)]);
    const sel1 = [...decode(model.get("selection"), Uint32Array)];
    const expected = Array.from({ length: 100 }, (_, i) => i).filter((i) => {
      const x = (0.4 * i) / 99, y = i / 99;
      return x <= 0.25 && y >= 0.5;
    });
    expect(sel1).toEqual(expected);
    drag([toPixel(0.3, 1.04), toPixel(0.42, 0.75)], true);
    const sel2 = [...decode(model.get("selection"), Uint32Array)];
    expect(sel2.length).toBeGreaterThan(sel1.length);
    expect(sel2).toEqual(expect.arrayContaining(sel1));
    (el.querySelector(".dmw-root") as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(decode(model.get("selection"), Uint32Array).length).toBe(0);
  });

  it("a click on a point selects it and opens its full document", async () => {
    const n = 11;
    const { model, calls } = mount(n);
    await settle();
    // point 5: x = 0.2, y = 0.5
    const [px, py] = toPixel(0.2, 0.5);
    drag([[px + 2, py]]);
    await settle();
    expect([...decode(model.get("selection"), Uint32Array)]).toEqual([5]);
    expect(calls.some((c) => c.method === "page" && c.args.full && c.rows[0] === 5)).toBe(true);
    expect(el.querySelector(".dmw-detail-text")!.textContent).toBe("text of 5 (full)");
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-5");
    expect(el.querySelector(".dmw-row.dmw-highlight")!.getAttribute("data-row")).toBe("5");
  });

  it("hover shows id, labels, the three metrics and the start of the text, as text", async () => {
    mount(11);
    await settle();
    const [px, py] = toPixel(0.04, 0.1); // row 1: x = 0.04, y = 0.1; its text is the HTML injection
    const overlay = el.querySelector<HTMLCanvasElement>(".dmw-overlay")!;
    overlay.dispatchEvent(new MouseEvent("mousemove", { clientX: px + 1, clientY: py, bubbles: true }));
    await new Promise((r) => setTimeout(r, 60));
    await settle();
    const tip = el.querySelector<HTMLElement>(".dmw-tooltip")!;
    expect(tip.style.display).toBe("block");
    const text = tip.textContent!;
    for (const part of ["id: doc-1", "label: pos", "suggested: neg", "confidence: 0.100", "variability: 0.040", "correctness: 0.100"]) {
      expect(text).toContain(part);
    }
    expect(tip.querySelector(".dmw-tip-text")!.textContent).toBe(INJECTION);
    expect(el.querySelector("img")).toBeNull();
    overlay.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.style.display).toBe("none");
  });

  it("follows a selection set from Python without echoing it back", async () => {
    const { model, scatter } = mount(30);
    await settle();
    const before = model.saved.length;
    model.pythonSets("selection", new DataView(Uint32Array.of(3, 9).buffer));
    await settle();
    expect(model.saved.length).toBe(before);
    expect([...scatter.highlighted]).toEqual([3, 9]);
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["3", "9"]);
  });

  it("relabels the selection through a request and recolours when labels change", async () => {
    const { model, calls, scatter } = mount(30, { color_by: "label" });
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(4, 6).buffer));
    const select = el.querySelector<HTMLSelectElement>(".dmw-relabel-select")!;
    select.value = "pos";
    (el.querySelector(".dmw-relabel") as HTMLButtonElement).click();
    await settle();
    const req = calls.find((c) => c.method === "relabel")!;
    expect(req.args.label).toBe("pos");
    expect(req.rows).toEqual([4, 6]);
    const colorOf = (r: number) => [...scatter.colors.slice(r * 4, r * 4 + 3)];
    const before = colorOf(4);
    const labels = Uint16Array.from({ length: 30 }, (_, i) => i % 2);
    labels[4] = 1;
    model.pythonSets("labels", new DataView(labels.buffer));
    await settle();
    expect(colorOf(4)).not.toEqual(before);
    expect(colorOf(4)).toEqual(colorOf(1)); // row 1 has label "pos" too
  });

  it("reviews with the keyboard: j/k move, a number relabels the cursor row, u undoes", async () => {
    const { calls } = mount(30);
    await settle();
    const root = el.querySelector(".dmw-root") as HTMLElement;
    const key = (k: string) => root.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("j");
    key("j");
    key("j");
    key("k");
    key("2");
    await settle();
    const req = calls.find((c) => c.method === "relabel")!;
    expect(req.rows).toEqual([1]);
    expect(req.args.label).toBe("pos");
    key("r");
    key("u");
    await settle();
    expect(calls.filter((c) => c.method === "mark_reviewed").length).toBe(1);
    expect(calls.filter((c) => c.method === "undo").length).toBe(1);
  });

  it("filters by category, top-k suspects and search", async () => {
    const { model, calls } = mount(30);
    await settle();
    const chip = [...el.querySelectorAll<HTMLInputElement>(".dmw-filter-categories input")].find((c) => c.value === "ambiguous")!;
    chip.checked = true;
    chip.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("filters").categories).toEqual(["ambiguous"]);
    expect(rowsShown().map((r) => Number(r.dataset.row)).every((r) => r % 3 === 1)).toBe(true);
    chip.checked = false;
    chip.dispatchEvent(new Event("change"));
    const k = el.querySelector<HTMLInputElement>(".dmw-suspects-k")!;
    k.value = "4";
    const check = el.querySelector<HTMLInputElement>(".dmw-suspects")!;
    check.checked = true;
    check.dispatchEvent(new Event("change"));
    await settle();
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["0", "1", "2", "3"]);
    check.checked = false;
    check.dispatchEvent(new Event("change"));
    const search = el.querySelector<HTMLInputElement>(".dmw-search")!;
    search.value = "needle";
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(calls.find((c) => c.method === "search")!.args.query).toBe("needle");
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["2", "5", "7"]);
  });

  it("redraws when Python sends a new pass, keeping the selection", async () => {
    const { model, scatter } = mount(20, { live: true });
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 3).buffer));
    const next = makeState(20).points;
    const y = new Float32Array(20).fill(0.25);
    model.pythonSets("points", { ...next, y: new DataView(y.buffer) });
    model.pythonSets("n_passes", 4);
    await settle();
    expect(el.querySelector(".dmw-passes")!.textContent).toBe("live · 4 passes");
    expect(scatter.x.length).toBe(20);
    expect([...scatter.highlighted]).toEqual([2, 3]);
    const row = rowsShown().find((r) => r.dataset.row === "2")!;
    expect(row.children[4].textContent).toBe("0.25"); // confidence column follows the new pass
  });

  it("offers a compact multi-select when there are many labels", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `class-${i}`);
    const { model } = mount(60, { label_names: names, labels: makeState(60, names).labels }); // row i has label i % 30
    await settle();
    const sel = el.querySelector<HTMLSelectElement>(".dmw-multi-labels")!;
    expect(sel.options.length).toBe(30);
    expect(el.querySelectorAll(".dmw-filter-labels input").length).toBe(0);
    sel.options[1].selected = true;
    sel.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("filters").labels).toEqual(["class-1"]);
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["1", "31"]);
  });

  it("says so when WebGL is missing, and the table still works", async () => {
    const model = new FakeModel(makeState(10));
    pythonLike(model, 10);
    cleanup = createView(model, el, { scatterFactory: () => null, pageDelayMs: 0 });
    await settle();
    expect(el.querySelector(".dmw-message")!.textContent).toContain("WebGL is not available");
    expect(rowsShown().length).toBe(10);
  });

  it("removes every listener and element on cleanup", async () => {
    const { model, scatter } = mount(10);
    await settle();
    cleanup!();
    cleanup = undefined;
    expect(model.listenerCount()).toBe(0);
    expect(scatter.destroyed).toBe(true);
    expect(el.children.length).toBe(0);
  });
});
