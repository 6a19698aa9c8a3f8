import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeModel, makeState, withProjection, withRowText } from "./fake-model";
import { indicesInPolygon } from "./lasso";
import { fitView, type Scatter } from "./scatter";
import { decode } from "./sync";
import { createView, initModel } from "./widget";

class FakeScatter implements Scatter {
  x: Float32Array = new Float32Array(0);
  y: Float32Array = new Float32Array(0);
  colors: Uint8Array = new Uint8Array(0);
  highlighted: Uint32Array = new Uint32Array(0);
  draws = 0;
  sizes: number[][] = [];
  destroyed = false;
  setPositions(x: Float32Array, y: Float32Array) {
    this.x = x;
    this.y = y;
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
    if (method === "document") {
      const r = args.row as number;
      const text = r === 1 ? INJECTION : `text of ${r} (full)`;
      return [{ row: r, id: `doc-${r}`, text, truncated: false, length: text.length, score: n - r, gold_prob: [0.2, null, 0.7], classes: [["pos", 0.6], ["neg", 0.3]] }, []];
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

  function mount(n: number, patch: Partial<ReturnType<typeof makeState>> = {}, busyAfterMs?: number) {
    const model = new FakeModel({ ...makeState(n), ...patch });
    const calls = pythonLike(model, n);
    const scatter = new FakeScatter();
    cleanup = createView(model, el, { scatterFactory: () => scatter, pageDelayMs: 0, busyAfterMs });
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

  it("the correctness legend shows the values correctness takes: k / passes (reviewer pass, finding 2)", async () => {
    const { model } = mount(20);
    await settle();
    const legend = () => [...el.querySelectorAll(".dmw-legend-item")].map((e) => e.textContent);
    expect(legend()).toEqual(["correctness 0", "correctness 0.33", "correctness 0.67", "correctness 1"]);
    model.pythonSets("n_passes", 6); // a pass more during live training: the legend follows
    expect(legend()).toEqual(["0", "0.17", "0.33", "0.5", "0.67", "0.83", "1"].map((t) => `correctness ${t}`));
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

  it("a click on a point opens its full document without selecting it; shift+click selects, again deselects", async () => {
    const n = 11;
    const { model, calls } = mount(n);
    await settle();
    const selected = () => [...decode(model.get("selection"), Uint32Array)];
    // point 5: x = 0.2, y = 0.5
    const [px, py] = toPixel(0.2, 0.5);
    drag([[px + 2, py]]);
    await settle();
    expect(selected()).toEqual([]);
    expect(calls.some((c) => c.method === "document" && c.args.row === 5 && !c.args.all)).toBe(true);
    expect(el.querySelector(".dmw-detail-text")!.textContent).toBe("text of 5 (full)");
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-5");
    expect(el.querySelector(".dmw-row.dmw-highlight")!.getAttribute("data-row")).toBe("5");
    drag([[px + 2, py]], true);
    await settle();
    expect(selected()).toEqual([5]);
    drag([[px + 2, py]], true);
    await settle();
    expect(selected()).toEqual([]);
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
    expect(calls.filter((c) => c.method === "confirm").length).toBe(1);
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
  // ------------------------------------------------------------- the review loop (issue 14)
  const press = (k: string) => (el.querySelector(".dmw-root") as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
  const rowEl = (r: number) => rowsShown().find((e) => e.dataset.row === String(r))!;
  const labelCell = (r: number) => cellText(rowEl(r), 2);

  it("keys act on the document the pane shows, whatever the lasso selected", async () => {
    const { calls } = mount(60);
    await settle();
    rowEl(3).click();
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    drag([toPixel(0.3, 1.04), toPixel(0.42, 1.04), toPixel(0.42, 0.75), toPixel(0.3, 0.75)]); // far from row 3
    await settle();
    expect(rowsShown().some((e) => e.dataset.row === "3")).toBe(false);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    press("2");
    await settle();
    expect(calls.filter((c) => c.method === "relabel").map((c) => c.rows)).toEqual([[3]]);
  });

  it("a relabel or confirm by key says what it did once the kernel took it (reviewer pass, finding 6)", async () => {
    mount(30);
    await settle();
    rowEl(3).click();
    await settle();
    const status = () => el.querySelector(".dmw-status")!.textContent;
    press("2");
    await settle();
    expect(status()).toBe("Relabeled doc-3 as “pos” · u undoes");
    press("r");
    await settle();
    expect(status()).toBe("Confirmed doc-4 · u undoes");
  });

  it("five keys faster than the kernel relabel five documents once each, shown at once", async () => {
    const { model, calls } = mount(30);
    await settle();
    rowEl(0).click();
    await settle();
    model.hold = true;
    for (let i = 0; i < 5; i++) press("2");
    await settle();
    const sent = calls.filter((c) => c.method === "relabel");
    expect(sent.map((c) => c.rows)).toEqual([[0], [1], [2], [3], [4]]);
    expect([0, 2, 4].map(labelCell)).toEqual(["pos", "pos", "pos"]); // optimistic, before any answer
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-5");
    expect(rowEl(5).classList.contains("dmw-cursor")).toBe(true);
    model.release();
    await settle();
    expect(calls.filter((c) => c.method === "relabel").length).toBe(5);
  });

  it("a re-ranked order from the kernel reorders the table and keeps the current document and its place", async () => {
    const { model, calls } = mount(40);
    await settle();
    rowEl(0).click();
    await settle();
    press("2"); // relabel row 0; the pane moves on to row 1
    await settle();
    expect(calls.filter((c) => c.method === "relabel").map((c) => [c.rows, c.args.current])).toEqual([[[0], 1]]);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-1");
    const body = el.querySelector<HTMLElement>(".dmw-table-body")!;
    const offset = Number(rowEl(1).dataset.pos) * 26 - body.scrollTop;
    const details = model.requests("document").length;
    // The kernel re-ranked: rows 0 and 1 keep their places (reviewed, current), row 30 rose to the third.
    const order = [0, 1, 30, ...Array.from({ length: 40 }, (_, i) => i).filter((r) => r > 1 && r !== 30)];
    model.pythonSets("order", new DataView(Uint32Array.from(order).buffer));
    await settle();
    expect(rowsShown().map((e) => Number(e.dataset.row)).slice(0, 4)).toEqual([0, 1, 30, 2]);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-1");
    expect(rowEl(1).classList.contains("dmw-cursor")).toBe(true);
    expect(Number(rowEl(1).dataset.pos) * 26 - body.scrollTop).toBe(offset);
    expect(model.requests("document").length).toBe(details); // the pane did not reload
    press("j"); // the next document is the one the re-ranking put next
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-30");
  });

  it("a failed relabel is rolled back visibly", async () => {
    const { model } = mount(10);
    await settle();
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => {
      if (method === "relabel") throw new Error("ValueError: the store refused it");
      return kernel(method, args, buffers);
    };
    rowEl(0).click();
    model.hold = true;
    press("2");
    await settle();
    expect(labelCell(0)).toBe("pos");
    model.release();
    await settle();
    expect(labelCell(0)).toBe("neg");
    expect(el.querySelector(".dmw-status")!.textContent).toContain("rolled back");
    expect(el.querySelector(".dmw-status")!.classList.contains("dmw-error")).toBe(true);
  });

  it("the colour menu recolours the points and the legend", async () => {
    const { model, scatter } = mount(30);
    await settle();
    const before = scatter.colors.slice();
    const select = el.querySelector<HTMLSelectElement>(".dmw-color-by")!;
    select.value = "label";
    select.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("color_by")).toBe("label");
    expect([...scatter.colors]).not.toEqual([...before]);
    expect([...el.querySelectorAll(".dmw-legend-item")].map((e) => e.textContent)).toEqual(["neg", "pos"]);
  });

  it("buttons act on the document shown when nothing is selected", async () => {
    const { calls } = mount(20);
    await settle();
    rowEl(4).click();
    (el.querySelector(".dmw-review") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.method === "confirm").map((c) => c.rows)).toEqual([[4]]);
    expect(el.querySelector(".dmw-status")!.textContent).not.toContain("Select points first");
  });

  it("bulk accept says how many labels change, then applies to exactly those rows", async () => {
    const { model, calls } = mount(20);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "accept_preview" ? [{ change: 2, reviewed: 0, no_suggestion: 1, unknown: 0 }, []] : kernel(method, args, buffers));
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 5, 9).buffer));
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    expect(el.querySelector(".dmw-status")!.textContent).toContain("2 labels will change, 1 has no suggestion");
    expect(calls.some((c) => c.method === "accept_suggestions")).toBe(false);
    (el.querySelector(".dmw-accept-apply") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.method === "accept_suggestions").map((c) => c.rows)).toEqual([[2, 5, 9]]);
  });

  it("names a class the map never learned and counts the accept's moves out of it (reviewer finding 1)", async () => {
    const { model } = mount(20, { unlearned: [{ label: "neg", code: 0, count: 10 }] });
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "accept_preview" ? [{ change: 3, reviewed: 0, no_suggestion: 0, unknown: 0, unlearned: 2 }, []] : kernel(method, args, buffers));
    await settle();
    const note = el.querySelector<HTMLElement>(".dmw-unlearned-note")!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe(
      "The model never learned class neg (10 examples): its suspects mean the class is too small, not that the labels are wrong; suggestions for it are unreliable.",
    );
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 4, 5).buffer));
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    expect(el.querySelector(".dmw-status")!.textContent).toContain("2 of the 3 changes move documents out of neg, which the model never learned");
    model.pythonSets("unlearned", []);
    expect(note.hidden).toBe(true);
  });

  it("after a bulk accept says how many labels changed and how many the label filter now hides (reviewer finding 3)", async () => {
    const { model } = mount(20);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => {
      if (method === "accept_preview") return [{ change: 2, reviewed: 0, no_suggestion: 0, unknown: 0 }, []];
      if (method === "accept_suggestions") {
        const labels = new Uint16Array(20).map((_, i) => i % 2);
        labels[2] = labels[4] = 1; // neg -> pos, as the kernel does before it answers
        model.pythonSets("labels", new DataView(labels.buffer));
        return [{ changed: 2, history_size: 1, save_status: "" }, []];
      }
      return kernel(method, args, buffers);
    };
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 4).buffer));
    model.pythonSets("filters", { categories: [], labels: ["neg"], suspects_k: 0, reviewed: "all", search: "" });
    await settle();
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    (el.querySelector(".dmw-accept-apply") as HTMLButtonElement).click();
    await settle();
    expect(el.querySelector(".dmw-status")!.textContent).toBe("Changed 2 labels (2 now hidden by the label filter).");
    // Undo right after: the line must not go on saying "Changed 2 labels" (reviewer pass, finding 1).
    model.kernel = (method, args, buffers) => (method === "undo" ? [{ undone: true }, [Uint32Array.of(2, 4)]] : kernel(method, args, buffers));
    press("u");
    expect(el.querySelector(".dmw-status")!.textContent).not.toContain("Changed 2 labels");
    await settle();
    expect(el.querySelector(".dmw-status")!.textContent).toBe("Undid the last action on 2 documents.");
  });

  it("says where the table is when the filters hide some or all of the selection (reviewer finding 4)", async () => {
    const { model } = mount(20);
    await settle();
    const note = () => el.querySelector<HTMLElement>(".dmw-selection-hidden")!;
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 4, 5).buffer));
    expect(note().hidden).toBe(true);
    model.pythonSets("filters", { categories: [], labels: ["neg"], suspects_k: 0, reviewed: "all", search: "" });
    await settle();
    expect(note().hidden).toBe(false);
    expect(note().textContent).toBe("1 of the 3 selected documents is hidden by the filters: the table and the buttons show and act on the other 2.");
    // It sits with the table: right after the table's title.
    expect(note().previousElementSibling!.classList.contains("dmw-table-title")).toBe(true);
    model.pythonSets("selection", new DataView(Uint32Array.of(5, 7).buffer));
    await settle();
    expect(note().textContent).toContain("All 2 selected documents are hidden by the filters");
  });

  it("the a key gives the current document its suggested label", async () => {
    const { calls } = mount(10);
    await settle();
    rowEl(2).click();
    press("a");
    await settle();
    const req = calls.find((c) => c.method === "relabel")!;
    expect(req.rows).toEqual([2]);
    expect(req.args.label).toBe("pos"); // row 2's suggestion: (2 + 1) % 2
  });

  it("bulk accept keeps a person's decisions, says how many and why, and offers to include them (issue 29.3)", async () => {
    const { model, calls } = mount(20);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "accept_preview" ? [{ change: 1, reviewed: 2, no_suggestion: 0, unknown: 0 }, []] : kernel(method, args, buffers));
    await settle();
    const marks = new Uint8Array(20);
    marks[5] = 2;
    marks[9] = 1;
    model.pythonSets("reviewed", new DataView(marks.buffer));
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 5, 9).buffer));
    const status = el.querySelector<HTMLElement>(".dmw-status")!;
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    expect(status.textContent).toContain("1 label will change, 2 already reviewed by a person keep their label");
    expect(status.querySelector(".dmw-accept-apply")!.textContent).toBe("Apply (1)");
    (status.querySelector(".dmw-accept-apply") as HTMLButtonElement).click();
    await settle();
    const sent = () => calls.filter((c) => c.method === "accept_suggestions");
    expect(sent().map((c) => [c.rows, c.args.include_reviewed])).toEqual([[[2, 5, 9], undefined]]);
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    const include = status.querySelector<HTMLButtonElement>(".dmw-accept-include")!;
    expect(include.textContent).toBe("Include the 2 reviewed (3)");
    include.click();
    await settle();
    expect(sent()[1].args.include_reviewed).toBe(true);
  });

  it("shows no suggestion where the map has none or the label already is it, and a says so (issue 29.2)", async () => {
    const state = makeState(10);
    const suggested = new Uint16Array(10).map((_, i) => (i + 1) % 2);
    suggested[3] = 65535; // the map offers nothing else for row 3
    const { model, calls } = mount(10, { points: { ...state.points, suggested: new DataView(suggested.buffer) } });
    await settle();
    const row = (r: number) => rowsShown().find((e) => e.dataset.row === String(r))!;
    expect(cellText(row(3), 3)).toBe("—");
    expect(cellText(row(2), 3)).toBe("pos");
    row(3).click();
    press("a");
    await settle();
    expect(calls.some((c) => c.method === "relabel")).toBe(false);
    expect(el.querySelector(".dmw-status")!.textContent).toContain("doc-3: no suggestion for this document");
    // Row 1 (pos, suggested neg) relabeled to its suggestion: nothing is left to suggest, in the
    // table, the tooltip and the pane.
    const labels = new Uint16Array(10).map((_, i) => i % 2);
    labels[1] = 0;
    model.pythonSets("labels", new DataView(labels.buffer));
    await settle();
    expect(cellText(row(1), 3)).toBe("—");
    const [px, py] = toPixel(0.4 / 9, 1 / 9); // row 1
    const overlay = el.querySelector<HTMLCanvasElement>(".dmw-overlay")!;
    overlay.dispatchEvent(new MouseEvent("mousemove", { clientX: px + 1, clientY: py, bubbles: true }));
    await new Promise((r) => setTimeout(r, 60));
    await settle();
    expect(el.querySelector(".dmw-tooltip")!.textContent).toContain("suggested: —");
    row(1).click();
    await settle();
    expect(el.querySelector(".dmw-detail")!.textContent).toContain("suggested —");
  });

  it("shows the key legend, review progress, and relabeled and confirmed rows differently", async () => {
    const { model } = mount(60);
    await settle();
    expect(el.querySelector(".dmw-keys")!.textContent).toContain("1 neg · 2 pos · a accept suggestion");
    const marks = new Uint8Array(60);
    marks[0] = 2;
    marks[1] = 1;
    model.pythonSets("reviewed", new DataView(marks.buffer));
    await settle();
    expect(rowEl(0).classList.contains("dmw-relabeled")).toBe(true);
    expect(rowEl(1).classList.contains("dmw-confirmed")).toBe(true);
    expect([cellText(rowEl(0), 7), cellText(rowEl(1), 7), cellText(rowEl(2), 7)]).toEqual(["✎", "✓", ""]);
    expect(el.querySelector(".dmw-review-progress")!.textContent).toBe("reviewed 2 of the top 50 suspects");
  });

  it("the pane shows the model's classes, a per-pass sparkline and 'show all' for a cut text", async () => {
    const { model } = mount(10);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => {
      if (method === "document" && args.row === 3) {
        const text = args.all ? "z".repeat(50000) : "z".repeat(20000) + "…";
        return [{ row: 3, id: "doc-3", text, truncated: !args.all, length: 50000, score: 1, gold_prob: [0.1, 0.4, null, 0.9], classes: [["pos", 0.7], ["neg", 0.2]] }, []];
      }
      return kernel(method, args, buffers);
    };
    await settle();
    rowEl(3).click();
    await settle();
    expect(el.querySelector(".dmw-detail-classes")!.textContent).toBe("model, last pass: pos 0.70 · neg 0.20");
    expect(el.querySelectorAll(".dmw-spark-dot").length).toBe(3);
    expect(el.querySelectorAll(".dmw-spark-line").length).toBe(2); // the unseen pass leaves a gap
    const more = el.querySelector<HTMLButtonElement>(".dmw-show-all")!;
    expect(more.textContent).toBe("Show all 50,000 characters");
    more.click();
    await settle();
    expect(model.requests("document").some((r) => r.content.args.row === 3 && r.content.args.all)).toBe(true);
    expect(el.querySelector(".dmw-detail-text")!.textContent!.length).toBe(50000);
    expect(el.querySelector(".dmw-show-all")).toBeNull();
  });

  it("the pane lists the neighbours as text with their current labels; a click makes one the current document", async () => {
    const { model, calls } = mount(10);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => {
      if (method === "document") {
        const [res, out] = kernel(method, args, buffers) as [any, any];
        const near = [7, 1, 4].filter((r) => r !== args.row);
        // The reply's labels are stale on purpose: the pane shows the labels as they are now.
        const items = near.map((r, i) => ({ row: r, id: `doc-${r}`, label: "stale", text: r === 1 ? INJECTION : `text of ${r}`, similarity: 0.9 - i / 10 }));
        return [{ ...res, neighbors: { items, summary: "ignored" } }, out];
      }
      return kernel(method, args, buffers);
    };
    await settle();
    rowEl(3).click();
    await settle();
    const names = model.get("label_names") as string[];
    const buttons = [...el.querySelectorAll<HTMLButtonElement>(".dmw-neighbour")];
    expect(buttons.map((b) => b.dataset.row)).toEqual(["7", "1", "4"]);
    expect(buttons.map((b) => b.querySelector(".dmw-neighbour-label")!.textContent)).toEqual([7, 1, 4].map((r) => names[r % names.length]));
    expect(buttons[0].querySelector(".dmw-neighbour-sim")!.textContent).toBe("0.90");
    expect(buttons[1].querySelector(".dmw-neighbour-text")!.textContent).toBe(INJECTION);
    expect(el.querySelector(".dmw-neighbours img")).toBeNull();
    const counts = new Map<string, number>();
    for (const r of [7, 1, 4]) counts.set(names[r % names.length], (counts.get(names[r % names.length]) ?? 0) + 1);
    const [topName, topCount] = [...counts].sort((a, b) => b[1] - a[1])[0];
    expect(el.querySelector(".dmw-neighbours-summary")!.textContent).toBe(`Nearest in embedding space: ${topCount} of 3 neighbours are ${topName}`);
    buttons[0].click();
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-7");
    expect(el.querySelector(".dmw-row.dmw-highlight")!.getAttribute("data-row")).toBe("7");
    const root = el.querySelector(".dmw-root") as HTMLElement;
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "2", bubbles: true }));
    await settle();
    const req = calls.find((c) => c.method === "relabel")!;
    expect(req.rows).toEqual([7]);
  });

  it("the pane shows no neighbours when the map has none", async () => {
    mount(10);
    await settle();
    rowEl(3).click();
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    expect(el.querySelector(".dmw-neighbours")).toBeNull();
  });

  it("a click on a confusion cell narrows the table and the map to exactly that pair; again lifts it", async () => {
    const n = 12;
    const { scatter } = mount(n, makeState(n, ["neg", "pos", "neutral"]));
    await settle();
    // labels i % 3, suggested (i + 1) % 3: four of each (given, suggested) pair off the diagonal
    const cell = el.querySelector<HTMLButtonElement>(".dmw-confusion-cell[data-given='1'][data-suggested='2']")!;
    expect(cell.textContent).toBe("4");
    expect(el.querySelectorAll(".dmw-confusion-cell").length).toBe(3);
    const before = scatter.colors.slice();
    cell.click();
    await settle();
    expect(rowsShown().map((r) => Number(r.dataset.row)).sort((a, b) => a - b)).toEqual([1, 4, 7, 10]);
    expect(el.querySelector(".dmw-table-title")!.textContent).toBe("4 of 12 shown · labelled pos, suggested neutral · most suspect first");
    expect(scatter.colors).not.toEqual(before); // the other points are dimmed on the map
    el.querySelector<HTMLButtonElement>(".dmw-confusion-cell.dmw-active")!.click();
    await settle();
    expect(rowsShown().length).toBe(n);
    expect(el.querySelector(".dmw-confusion-cell.dmw-active")).toBeNull();
  });

  it("keeps fetched texts and the current document across a new pass", async () => {
    const { model, calls } = mount(20, { live: true });
    await settle();
    rowEl(2).click();
    await settle();
    const pagesBefore = calls.filter((c) => c.method === "page").length;
    const next = makeState(20).points;
    const order = Uint32Array.from({ length: 20 }, (_, i) => 19 - i); // the new pass re-sorts everything
    model.pythonSets("points", { ...next, order: new DataView(order.buffer) });
    await settle();
    expect(calls.filter((c) => c.method === "page").length).toBe(pagesBefore);
    expect(cellText(rowEl(2), 0)).toBe("doc-2");
    expect(rowEl(2).dataset.pos).toBe("17"); // re-sorted, and the cursor followed it
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-2");
    expect(rowEl(2).classList.contains("dmw-cursor")).toBe(true);
  });

  it("a busy kernel: actions are queued, said so plainly, applied once afterwards, never a time-out", async () => {
    const { model, calls } = mount(10, {}, 20);
    await settle();
    rowEl(0).click();
    await settle();
    model.hold = true;
    press("2");
    press("r");
    await new Promise((r) => setTimeout(r, 320));
    const text = el.querySelector(".dmw-status")!.textContent!;
    expect(text).toBe("Waiting for the kernel: a cell is running. 2 actions queued; they apply when it finishes.");
    expect(text).not.toContain("did not answer");
    model.release();
    await new Promise((r) => setTimeout(r, 320));
    expect(el.querySelector(".dmw-status")!.textContent).not.toContain("Waiting");
    expect(calls.filter((c) => c.method === "relabel" || c.method === "confirm").map((c) => [c.method, c.rows])).toEqual([
      ["relabel", [0]],
      ["confirm", [1]],
    ]);
  });

  it("row_text: every row shows its id and text at once, also after a pass re-sorts the table while the kernel is busy", async () => {
    const n = 2000;
    const { model, calls } = mount(n, withRowText(makeState(n)));
    model.hold = true; // a cell blocks the kernel from the start: no page is ever answered
    await settle();
    const check = () => {
      const rows = rowsShown();
      expect(rows.length).toBeGreaterThan(5);
      for (const row of rows) {
        expect(cellText(row, 0)).toBe(`doc-${row.dataset.row}`);
        expect(cellText(row, 1)).toBe(`text of ${row.dataset.row}`);
      }
    };
    check();
    const order = Uint32Array.from({ length: n }, (_, i) => n - 1 - i); // the next pass puts the other end on top
    model.pythonSets("points", { ...makeState(n).points, order: new DataView(order.buffer) });
    await settle();
    expect(rowsShown()[0].dataset.row).toBe(String(n - 1));
    check();
    expect(calls.filter((c) => c.method === "page")).toEqual([]); // nothing to ask the kernel for
    model.release();
  });

  it("row_text without previews (too many rows): ids at once, texts a page at a time", async () => {
    const { calls } = mount(300, withRowText(makeState(300), false), 20);
    const first = rowsShown()[0];
    expect(cellText(first, 0)).toBe("doc-0"); // before any answer
    await settle();
    expect(calls.filter((c) => c.method === "page").length).toBeGreaterThan(0);
    expect(cellText(rowsShown()[0], 1)).toBe("text of 0");
  });

  it("a key pressed while a page waits on a busy kernel says at once that the action waits for the cell", async () => {
    const n = 50;
    const { model } = mount(n, {}, 20);
    await settle();
    rowEl(0).click();
    await settle();
    model.hold = true;
    model.pythonSets("points", { ...makeState(n).points, order: new DataView(Uint32Array.from({ length: n }, (_, i) => n - 1 - i).buffer) });
    await new Promise((r) => setTimeout(r, 320));
    expect(el.querySelector(".dmw-status")!.textContent).toBe("Waiting for the kernel: a cell is running. Texts load when it finishes.");
    press("r");
    expect(el.querySelector(".dmw-status")!.textContent).toBe("Waiting for the kernel: a cell is running. 1 action queued; it applies when it finishes.");
    model.pythonSets("save_status", "saved"); // trait updates arrive while the cell runs: the line stays
    expect(el.querySelector(".dmw-status")!.textContent).toContain("1 action queued");
    model.release();
    await new Promise((r) => setTimeout(r, 320));
    expect(el.querySelector(".dmw-status")!.textContent).not.toContain("Waiting");
  });

  it("views of one model share what initialize keeps: a second view shows the texts without asking again", async () => {
    const model = new FakeModel(makeState(30));
    const calls = pythonLike(model, 30);
    const stopModel = initModel(model, { pageDelayMs: 0 });
    const first = createView(model, el, { scatterFactory: () => new FakeScatter() });
    await settle();
    const pages = calls.filter((c) => c.method === "page").length;
    expect(pages).toBeGreaterThan(0);
    const el2 = document.createElement("div");
    document.body.appendChild(el2);
    const second = createView(model, el2, { scatterFactory: () => new FakeScatter() });
    await settle();
    const row0 = el2.querySelector<HTMLElement>(".dmw-table-body .dmw-row[data-row='0']")!;
    expect(cellText(row0, 0)).toBe("doc-0");
    expect(cellText(row0, 1)).toBe("text of 0");
    expect(calls.filter((c) => c.method === "page").length).toBe(pages);
    first();
    second(); // closing the views leaves the model's listeners; the model's own cleanup removes them
    stopModel();
    expect(model.listenerCount()).toBe(0);
    el2.remove();
  });

  it("shows training progress from the progress trait, hidden when idle", async () => {
    const { model } = mount(10);
    await settle();
    const prog = el.querySelector<HTMLElement>(".dmw-progress")!;
    expect(prog.style.display).toBe("none");
    model.pythonSets("progress", { state: "running", epoch: 3, epochs: 6, step: 40, steps: 100, loss: 0.5, message: "" });
    expect(prog.textContent).toBe("epoch 3/6 · 40%");
    expect(prog.style.display).toBe("");
    model.pythonSets("progress", { state: "idle" });
    expect(prog.style.display).toBe("none");
  });

  it("a row click follows the point-click rule: it opens, shift+click also selects, again deselects", async () => {
    const { model } = mount(20);
    await settle();
    const selected = () => [...decode(model.get("selection"), Uint32Array)];
    rowEl(4).click();
    await settle();
    expect(selected()).toEqual([]);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-4");
    rowEl(6).dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    await settle();
    expect(selected()).toEqual([6]);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-6");
    rowEl(6).dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    await settle();
    expect(selected()).toEqual([]);
  });

  it("a search with one hit says “1 document matches”, not “1 documents match”", async () => {
    mount(3); // the kernel answers row 2 only
    await settle();
    const search = el.querySelector<HTMLInputElement>(".dmw-search")!;
    search.value = "needle";
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(el.querySelector(".dmw-status")!.textContent).toBe("1 document matches “needle”");
  });

  it("with a selection, a search narrows the table to the selected documents that match, and buttons act on those", async () => {
    const { model, calls } = mount(30);
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(1, 2, 3, 5, 9).buffer));
    await settle();
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["1", "2", "3", "5", "9"]);
    const search = el.querySelector<HTMLInputElement>(".dmw-search")!;
    search.value = "needle"; // the kernel answers rows 2, 5 and 7
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["2", "5"]);
    expect(el.querySelector(".dmw-table-title")!.textContent).toContain("2 of 5 selected match “needle”");
    (el.querySelector(".dmw-review") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.method === "confirm").map((c) => c.rows)).toEqual([[2, 5]]);
    search.value = "";
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["1", "2", "3", "5", "9"]);
    expect(el.querySelector(".dmw-table-title")!.textContent).toContain("5 selected");
  });

  it("says so in the pane when its document is not in the selection, and what keys and buttons act on", async () => {
    mount(60);
    await settle();
    rowEl(3).click();
    await settle();
    expect(el.querySelector(".dmw-outside-hint")).toBeNull(); // nothing selected: no hint
    drag([toPixel(0.3, 1.04), toPixel(0.42, 1.04), toPixel(0.42, 0.75), toPixel(0.3, 0.75)]); // far from row 3
    await settle();
    const count = rowsShown().length;
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    expect(el.querySelector(".dmw-outside-hint")!.textContent).toBe(
      `This document is not in the selection: keys act on it, buttons on the ${count} selected.`,
    );
    rowsShown()[0].click(); // a document of the selection: the hint goes
    await settle();
    expect(el.querySelector(".dmw-outside-hint")).toBeNull();
  });

  it("says so in the pane when nothing is selected and the filters hide its document: the buttons act on it, not on the table", async () => {
    // Reviewer pass 2: after clicking a given × suggested count, "Accept…" offered to change the
    // document still in the pane, which the table no longer listed.
    mount(60);
    await settle();
    rowEl(3).click();
    await settle();
    const search = el.querySelector<HTMLInputElement>(".dmw-search")!;
    search.value = "needle"; // the kernel answers rows 2, 5 and 7
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    expect(el.querySelector(".dmw-outside-hint")!.textContent).toBe(
      "This document is hidden from the table by the search: keys and buttons act on it; select rows for the buttons to act on those.",
    );
    search.value = "";
    search.dispatchEvent(new Event("input"));
    await settle();
    expect(el.querySelector(".dmw-outside-hint")).toBeNull();
    // A label filter that leaves the document out: the note comes with the click on the chip.
    const label = el.querySelector(".dmw-detail .dmw-detail-head")!.textContent!.match(/label (\S+)/)![1];
    const other = [...el.querySelectorAll<HTMLElement>(".dmw-filter-labels .dmw-chip")].find((c) => !c.textContent!.includes(label))!;
    other.querySelector("input")!.click();
    await settle();
    expect(el.querySelector(".dmw-outside-hint")!.textContent).toContain("hidden from the table by the filters");
    rowsShown()[0].click(); // a document the table lists: the hint goes
    await settle();
    expect(el.querySelector(".dmw-outside-hint")).toBeNull();
  });

  it("undo shows the document whose action was undone: pane, table cursor and highlighted point", async () => {
    const { model, calls } = mount(30);
    await settle();
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "undo" ? [{ undone: true }, [Uint32Array.of(1)]] : kernel(method, args, buffers));
    press("j"); // row 0
    press("j"); // row 1
    press("2"); // relabels row 1 and moves on to row 2
    await settle();
    press("j"); // row 3
    await settle();
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-3");
    press("u");
    await settle();
    expect(model.requests("undo").length).toBe(1);
    expect(el.querySelector(".dmw-detail-id")!.textContent).toBe("doc-1");
    expect(el.querySelector(".dmw-row.dmw-cursor")!.getAttribute("data-row")).toBe("1");
    expect(el.querySelector(".dmw-row.dmw-highlight")!.getAttribute("data-row")).toBe("1");
    press("2"); // and the next key acts on it
    await settle();
    expect(calls.filter((c) => c.method === "relabel").map((c) => c.rows)).toEqual([[1], [1]]);
  });

  it("after Clear selection the list opens at its top", async () => {
    mount(200);
    await settle();
    const body = el.querySelector<HTMLElement>(".dmw-table-body")!;
    body.scrollTop = 600;
    (el.querySelector(".dmw-clear") as HTMLButtonElement).click();
    expect(body.scrollTop).toBe(0);
  });
  // ------------------------------------------------------------ the embedding view (issue 16, item 2)
  const viewButton = (v: string) => el.querySelector<HTMLButtonElement>(`.dmw-view-${v}`)!;
  const overlayLabel = () => el.querySelector(".dmw-overlay")!.getAttribute("aria-label")!;

  it("switches the map to the embedding projection and back; the selection and the current document stay", async () => {
    const n = 40;
    const state = withProjection(makeState(n));
    const model = new FakeModel(state);
    pythonLike(model, n);
    const scatter = new FakeScatter();
    cleanup = createView(model, el, { scatterFactory: () => scatter, pageDelayMs: 0 });
    await settle();
    expect(viewButton("data_map").getAttribute("aria-pressed")).toBe("true");
    expect(viewButton("embedding").disabled).toBe(false);
    expect(viewButton("embedding").title).toContain("UMAP");
    expect(overlayLabel()).toContain("variability (x) against confidence (y)");
    const dataX = decode(state.points.x, Float32Array);
    expect([...scatter.x]).toEqual([...dataX]);
    // Select three points and open one, on the data map.
    model.pythonSets("selection", new DataView(Uint32Array.of(3, 7, 30).buffer));
    rowsShown().find((r) => r.dataset.row === "7")!.click();
    await settle();
    viewButton("embedding").click();
    await settle();
    expect([...scatter.x]).toEqual([...decode(state.points.projection_x!, Float32Array)]);
    expect([...scatter.y]).toEqual([...decode(state.points.projection_y!, Float32Array)]);
    expect(model.get("map_view")).toBe("embedding");
    expect(model.saved.some((s) => s.map_view === "embedding")).toBe(true);
    expect(viewButton("embedding").getAttribute("aria-pressed")).toBe("true");
    expect(viewButton("data_map").getAttribute("aria-pressed")).toBe("false");
    expect(overlayLabel()).toContain("Embedding view: a UMAP projection");
    // Same points, same selection, same current document, same colours.
    expect([...decode(model.get("selection"), Uint32Array)]).toEqual([3, 7, 30]);
    expect([...scatter.highlighted]).toEqual([3, 7, 30]);
    expect(el.querySelector(".dmw-table-title")!.textContent).toContain("3 selected");
    expect(el.querySelector(".dmw-detail")!.textContent).toContain("doc-7");
    viewButton("data_map").click();
    await settle();
    expect([...scatter.x]).toEqual([...dataX]);
    expect(model.get("map_view")).toBe("data_map");
    expect([...decode(model.get("selection"), Uint32Array)]).toEqual([3, 7, 30]);
  });

  it("a box in the embedding view selects the points inside it there, not on the data map", async () => {
    const n = 40;
    const state = withProjection({ ...makeState(n), map_view: "embedding" });
    const model = new FakeModel(state);
    pythonLike(model, n);
    cleanup = createView(model, el, { scatterFactory: () => new FakeScatter(), pageDelayMs: 0 });
    await settle();
    expect(viewButton("embedding").getAttribute("aria-pressed")).toBe("true");
    const px = decode(state.points.projection_x!, Float32Array);
    const py = decode(state.points.projection_y!, Float32Array);
    const v = fitView(px, py);
    const pixel = (x: number, y: number): [number, number] => [46 + ((x - v.x0) / (v.x1 - v.x0)) * plotWidth(), 10 + ((v.y1 - y) / (v.y1 - v.y0)) * PH];
    (el.querySelector(".dmw-tool-box") as HTMLButtonElement).click();
    drag([pixel(0, v.y1), pixel(v.x1, v.y0)]); // the right-hand cluster: rows 0..19 (x = 10 + i)
    const selected = [...decode(model.get("selection"), Uint32Array)];
    expect(selected).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("without embeddings the embedding view is off and says why; a request for it shows the data map", async () => {
    const { model, scatter } = mount(20);
    await settle();
    const button = viewButton("embedding");
    expect(button.disabled).toBe(true);
    expect(button.title).toContain("no embeddings");
    expect(el.querySelector(".dmw-views")!.getAttribute("title")).toContain("no embeddings");
    button.click();
    expect(model.get("map_view")).toBe("data_map");
    model.pythonSets("map_view", "embedding");
    await settle();
    expect(viewButton("data_map").getAttribute("aria-pressed")).toBe("true");
    expect([...scatter.x]).toEqual([...decode(makeState(20).points.x, Float32Array)]);
    // Live training: the projection arrives with a later pass, and the switch comes on.
    model.pythonSets("embedding_view", { method: "pca", reason: "" });
    model.pythonSets("points", withProjection(makeState(20), "pca").points);
    await settle();
    expect(button.disabled).toBe(false);
    expect(viewButton("embedding").getAttribute("aria-pressed")).toBe("true"); // the trait asked for it
    expect(overlayLabel()).toContain("PCA projection");
    expect([...scatter.x]).toEqual([...decode(withProjection(makeState(20)).points.projection_x!, Float32Array)]);
  });

  it("Python moves the view through map_view", async () => {
    const n = 30;
    const model = new FakeModel(withProjection(makeState(n)));
    pythonLike(model, n);
    const scatter = new FakeScatter();
    cleanup = createView(model, el, { scatterFactory: () => scatter, pageDelayMs: 0 });
    await settle();
    model.pythonSets("map_view", "embedding");
    expect(scatter.x[0]).toBe(10);
    expect(viewButton("embedding").classList.contains("dmw-active")).toBe(true);
  });
  it("a big map asks for its projection on the first switch, says so, and draws it when it arrives", async () => {
    const n = 30;
    const model = new FakeModel({ ...makeState(n), embedding_view: { method: "", reason: "", pending: "tsne", note: "made when first opened" } });
    pythonLike(model, n);
    const kernel = model.kernel;
    const projected = withProjection(makeState(n), "tsne");
    model.hold = true; // the kernel is busy making it
    model.kernel = (method, args, buffers) => (method === "projection" ? [{ method: "tsne" }, []] : kernel(method, args, buffers));
    const scatter = new FakeScatter();
    cleanup = createView(model, el, { scatterFactory: () => scatter, pageDelayMs: 0 });
    await settle();
    expect(viewButton("embedding").disabled).toBe(false);
    expect(viewButton("embedding").title).toContain("t-SNE");
    viewButton("embedding").click();
    await settle();
    expect(model.requests("projection").length).toBe(1);
    expect(el.querySelector(".dmw-status")!.textContent).toContain("Making the t-SNE projection of 30 embeddings");
    expect([...scatter.x]).toEqual([...decode(makeState(n).points.x, Float32Array)]); // the data map until it arrives
    viewButton("embedding").click(); // a second click asks nothing more
    expect(model.requests("projection").length).toBe(1);
    model.pythonSets("embedding_view", { method: "tsne", reason: "", note: "" });
    model.pythonSets("points", projected.points);
    model.release();
    await settle();
    expect([...scatter.x]).toEqual([...decode(projected.points.projection_x!, Float32Array)]);
    expect(overlayLabel()).toContain("t-SNE projection");
    expect(el.querySelector(".dmw-status")!.textContent).toBe("");
  });

  // ------------------------------------------------------------ the reviewer's session (issue 29)
  const labelChip = (name: string) => [...el.querySelectorAll<HTMLInputElement>(".dmw-filter-labels input")].find((c) => c.value === name)!;

  it("filters narrow a selection's table, and the buttons act on exactly the rows the table lists", async () => {
    const { model, calls } = mount(30);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "accept_preview" ? [{ change: 2, reviewed: 0, no_suggestion: 0, unknown: 0 }, []] : kernel(method, args, buffers));
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(1, 2, 3, 4, 5, 9).buffer));
    await settle();
    const chip = labelChip("neg"); // rows 0, 2, 4, ... are labelled neg
    chip.checked = true;
    chip.dispatchEvent(new Event("change"));
    await settle();
    expect(rowsShown().map((r) => r.dataset.row)).toEqual(["2", "4"]);
    expect(el.querySelector(".dmw-table-title")!.textContent).toContain("2 of 6 selected match the filters");
    (el.querySelector(".dmw-review") as HTMLButtonElement).click();
    (el.querySelector(".dmw-relabel") as HTMLButtonElement).click();
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    (el.querySelector(".dmw-accept-apply") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.method === "confirm").map((c) => c.rows)).toEqual([[2, 4]]);
    expect(calls.filter((c) => c.method === "relabel").map((c) => c.rows)).toEqual([[2, 4]]);
    expect(model.requests("accept_preview").map((s) => [...decode(s.buffers[0] as DataView, Uint32Array)])).toEqual([[2, 4]]);
    expect(calls.filter((c) => c.method === "accept_suggestions").map((c) => c.rows)).toEqual([[2, 4]]);
    // None shown: the buttons say why and send nothing.
    const pos = labelChip("pos");
    chip.checked = false;
    chip.dispatchEvent(new Event("change"));
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 4).buffer));
    pos.checked = true;
    pos.dispatchEvent(new Event("change"));
    await settle();
    expect(rowsShown().length).toBe(0);
    (el.querySelector(".dmw-review") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.method === "confirm").length).toBe(1);
    expect(el.querySelector(".dmw-status")!.textContent).toContain("None of the 2 selected documents match the filters");
  });

  it("the bulk-accept question and every message sit right under the toolbar, by the buttons", async () => {
    const { model } = mount(20);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) => (method === "accept_preview" ? [{ change: 2, reviewed: 0, no_suggestion: 1, unknown: 0 }, []] : kernel(method, args, buffers));
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 5, 9).buffer));
    (el.querySelector(".dmw-accept") as HTMLButtonElement).click();
    await settle();
    const status = el.querySelector<HTMLElement>(".dmw-status")!;
    expect(status.querySelector(".dmw-accept-apply")).not.toBeNull();
    expect(status.previousElementSibling!.classList.contains("dmw-toolbar")).toBe(true);
    // Before the map, the table and the pane (not ~700 px below the button).
    for (const later of [".dmw-main", ".dmw-filters"]) {
      expect(status.compareDocumentPosition(el.querySelector(later)!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    }
  });

  it("every control says what it does in a tooltip; 'possibly mislabeled: top k' is explained", async () => {
    mount(20, { label_names: ["neg", "pos", "neutral"] });
    await settle();
    const untitled = [...el.querySelectorAll<HTMLElement>(".dmw-toolbar button, .dmw-toolbar select, .dmw-filters input, .dmw-filters select, .dmw-status button")]
      .filter((c) => !(c.title || (c.closest("label") as HTMLElement | null)?.title || (c.closest(".dmw-group") as HTMLElement | null)?.title))
      .map((c) => c.className || c.tagName);
    expect(untitled).toEqual([]);
    const suspects = el.querySelector<HTMLInputElement>(".dmw-suspects")!.closest("label")!;
    expect(suspects.title).toContain("highest mislabel score");
    expect(el.querySelector<HTMLElement>(".dmw-search")!.title).toContain("Escape");
  });

  it("a first-step hint says where to start and goes once the reviewer has acted or dismissed it", async () => {
    const { model } = mount(20);
    await settle();
    const hint = () => el.querySelector<HTMLElement>(".dmw-start-hint");
    // The first key after running the cell goes to the notebook: the hint says to click into the widget first.
    expect(hint()!.textContent).toContain("Start here: click the map or the table first (then the keys work).");
    expect(hint()!.textContent).toContain("The table lists the most likely mislabeled documents first");
    expect(hint()!.textContent).toContain("? for help");
    expect(hint()!.style.display).not.toBe("none");
    // Once the reviewer clicked into the widget the advice to do so is done (reviewer pass, finding 7).
    el.querySelector<HTMLElement>(".dmw-root")!.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true }));
    expect(hint()!.textContent).toContain("click the map or the table first"); // nothing moves mid-click
    el.querySelector<HTMLElement>(".dmw-root")!.click();
    expect(hint()!.textContent).not.toContain("click the map or the table first");
    expect(hint()!.textContent).toContain("The keys work now.");
    expect(hint()!.textContent).toContain("? for help");
    model.pythonSets("history_size", 1);
    await settle();
    expect(hint()!.style.display).toBe("none");
    // A fresh view (another session) offers it again until dismissed.
    cleanup?.();
    mount(20);
    await settle();
    el.querySelector<HTMLButtonElement>(".dmw-start-hint button")!.click();
    expect(hint()!.style.display).toBe("none");
  });

  it("? opens the keyboard help; Escape or its Close button closes it and leaves the selection alone", async () => {
    const { model } = mount(20, { label_names: ["neg", "pos", "neutral"] });
    await settle();
    model.pythonSets("selection", new DataView(Uint32Array.of(2, 5).buffer));
    const help = () => el.querySelector<HTMLElement>(".dmw-help");
    expect(help() === null || help()!.hidden).toBe(true);
    press("?");
    expect(help()!.hidden).toBe(false);
    expect(help()!.getAttribute("role")).toBe("dialog");
    const text = help()!.textContent!;
    for (const k of ["j / ↓", "k / ↑", "1 neg", "3 neutral", "r / Enter", "a", "u", "Escape", "?"]) expect(text).toContain(k);
    press("Escape");
    expect(help()!.hidden).toBe(true);
    expect(decode(model.get("selection"), Uint32Array).length).toBe(2); // Escape closed the help only
    el.querySelector<HTMLButtonElement>(".dmw-help-button")!.click(); // the toolbar's "?" button
    expect(help()!.hidden).toBe(false);
    help()!.querySelector<HTMLButtonElement>(".dmw-help-close")!.click();
    expect(help()!.hidden).toBe(true);
  });

  it("Escape in the search box leaves it and gives the keys back to the widget", async () => {
    const { calls } = mount(20);
    await settle();
    const root = el.querySelector<HTMLElement>(".dmw-root")!;
    const search = el.querySelector<HTMLInputElement>(".dmw-search")!;
    search.focus();
    search.value = "needle";
    search.dispatchEvent(new Event("input"));
    await settle();
    const esc = new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true });
    search.dispatchEvent(esc);
    expect(document.activeElement).toBe(root);
    expect(search.value).toBe("needle"); // leaving is not clearing
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "j", bubbles: true }));
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "r", bubbles: true }));
    await settle();
    expect(calls.filter((c) => c.method === "confirm").map((c) => c.rows)).toEqual([[2]]);
  });

  it("says how many labels changed and that they are not saved; Save labels writes them and says where", async () => {
    const { model } = mount(20);
    const kernel = model.kernel;
    model.kernel = (method, args, buffers) =>
      method === "save_labels" ? [{ path: "/home/ann/notebooks/datamap-labels.csv", rows: 20, changed: 3 }, []] : kernel(method, args, buffers);
    await settle();
    const state = () => el.querySelector<HTMLElement>(".dmw-save-state")!;
    expect(state().textContent).toBe("0 labels changed · not saved");
    expect(state().title).toContain("only in this kernel");
    model.pythonSets("review_summary", { changed: 3, reviewed: 4, store: "", exported: "", exported_current: false });
    expect(state().textContent).toBe("3 labels changed · not saved");
    const save = el.querySelector<HTMLButtonElement>(".dmw-save-labels")!;
    expect(save.title).toContain("CSV");
    save.click();
    await settle();
    expect(model.requests("save_labels").length).toBe(1);
    expect(el.querySelector(".dmw-status")!.textContent).toContain("Saved 20 labels (3 changed) to /home/ann/notebooks/datamap-labels.csv");
    model.pythonSets("review_summary", { changed: 3, reviewed: 4, store: "", exported: "/home/ann/notebooks/datamap-labels.csv", exported_current: true });
    expect(state().textContent).toBe("3 labels changed · saved to datamap-labels.csv");
    expect(state().title).toContain("/home/ann/notebooks/datamap-labels.csv");
    model.pythonSets("review_summary", { changed: 4, reviewed: 5, store: "", exported: "/home/ann/notebooks/datamap-labels.csv", exported_current: false });
    expect(state().textContent).toBe("4 labels changed · not saved");
    expect(state().title).toContain("Changed since the last Save labels (/home/ann/notebooks/datamap-labels.csv)");
    model.pythonSets("review_summary", { changed: 1, reviewed: 1, store: "sqlite:///reviews.db", exported: "", exported_current: false });
    model.pythonSets("save_status", "saved");
    expect(state().textContent).toBe("1 label changed · saved to sqlite:///reviews.db");
    model.pythonSets("save_status", "1 action not saved: the store is unreachable");
    expect(state().textContent).toBe("1 label changed · not yet saved to sqlite:///reviews.db");
  });
});
