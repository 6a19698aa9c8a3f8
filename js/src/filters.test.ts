import { describe, expect, it } from "vitest";
import { ConfusionTable, confusionCounts, withPair, type LabelPair } from "./filters";
import type { Points } from "./sync";

const NONE = 65535;

function points(labels: number[], suggested: number[]): Points {
  const n = labels.length;
  return {
    n,
    x: new Float32Array(n),
    y: new Float32Array(n),
    correctness: new Float32Array(n),
    order: Uint32Array.from(labels.map((_, i) => i)),
    suggested: Uint16Array.from(suggested),
    category: new Uint8Array(n),
    labels: Uint16Array.from(labels),
    reviewed: new Uint8Array(n),
    px: null,
    py: null,
  };
}

describe("given × suggested confusion", () => {
  it("counts every point once by (given, suggested); points without a suggestion count nowhere", () => {
    const c = confusionCounts(Uint16Array.from([0, 0, 1, 2, 2, 2, 1]), Uint16Array.from([0, 1, 1, 0, 0, NONE, 0]), 3);
    expect([...c]).toEqual([1, 1, 0, 1, 1, 0, 2, 0, 0]);
    expect(c.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it("a cell narrows the rows to exactly that pair, within the other filters", () => {
    const p = points([0, 0, 1, 2, 2, 1], [0, 1, 1, 0, 0, 0]);
    expect(withPair(null, p, null)).toBeNull();
    expect([...withPair(null, p, { given: 2, suggested: 0 })!]).toEqual([0, 0, 0, 1, 1, 0]);
    expect([...withPair(Uint8Array.from([1, 1, 1, 1, 0, 1]), p, { given: 2, suggested: 0 })!]).toEqual([0, 0, 0, 1, 0, 0]);
    const unfiltered = Uint8Array.from([1, 0, 1, 1, 1, 1]);
    expect(withPair(unfiltered, p, null)).toBe(unfiltered);
  });

  it("renders counts and label names as text; a click picks the pair, a second click on it clears", () => {
    const picked: Array<LabelPair | null> = [];
    const t = new ConfusionTable((pair) => picked.push(pair));
    const names = ["<img src=x onerror=alert(1)>", "pos", "neutral"];
    const counts = confusionCounts(Uint16Array.from([0, 0, 1, 2, 2]), Uint16Array.from([0, 1, 1, 0, 0]), 3);
    t.render(counts, names, null);
    expect(t.el.querySelector("img")).toBeNull();
    const heads = [...t.el.querySelectorAll("tr:first-of-type th")].map((e) => e.textContent);
    expect(heads).toEqual(["given \\ suggested", names[0], "pos"]); // the unused "neutral" column is left out
    const rowHeads = [...t.el.querySelectorAll("tr th:first-child")].slice(1).map((e) => e.textContent);
    expect(rowHeads).toEqual([names[0], "pos", "neutral"]);
    const cell = t.el.querySelector<HTMLButtonElement>("button[data-given='2'][data-suggested='0']")!;
    expect(cell.textContent).toBe("2");
    cell.click();
    expect(picked).toEqual([{ given: 2, suggested: 0 }]);
    t.render(counts, names, { given: 2, suggested: 0 });
    const active = t.el.querySelector<HTMLButtonElement>("button.dmw-active")!;
    expect(active.dataset.given).toBe("2");
    active.click();
    expect(picked[1]).toBeNull();
  });

  it("the diagonal says 'no other label suggested', greyed and not a count (reviewer finding 5)", () => {
    const t = new ConfusionTable(() => {});
    const names = ["neg", "pos"];
    t.render(confusionCounts(Uint16Array.from([0, 1, 1]), Uint16Array.from([1, 0, 0]), 2), names, null);
    const diagonal = [...t.el.querySelectorAll<HTMLElement>("td.dmw-confusion-diagonal")];
    expect(diagonal.length).toBe(2);
    for (const [i, td] of diagonal.entries()) {
      expect(td.textContent).toBe("—");
      expect(td.querySelector("button")).toBeNull();
      expect(td.title).toBe(`${names[i]}: no other label suggested (documents the map agrees with are not counted in this table)`);
    }
    expect(t.el.querySelector(".dmw-confusion-title")!.textContent).toContain("The diagonal (—) means no other label suggested, not agreement.");
  });
});
