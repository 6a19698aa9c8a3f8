import { describe, expect, it } from "vitest";
import { correctnessStops, legend, pointColors, scoreBands } from "./colors";
import type { Points } from "./sync";

function ranked(n: number, unseen: number): Points {
  // Row i is the (n - 1 - i)-th most suspect: order lists rows from the last; the last `unseen` rows were never seen.
  const order = Uint32Array.from({ length: n }, (_, j) => n - 1 - j);
  const correctness = new Float32Array(n).fill(0.5);
  for (let j = 0; j < unseen; j++) {
    correctness[j] = NaN; // rows 0..unseen-1: no score, and order puts them last
  }
  return {
    n, x: new Float32Array(n), y: new Float32Array(n), correctness, order, suggested: new Uint16Array(n),
    category: new Uint8Array(n), labels: new Uint16Array(n), reviewed: new Uint8Array(n), px: null, py: null,
  };
}

const parse = (css: string) => css.match(/\d+/g)!.slice(0, 3).map(Number);
const luminance = (c: number[]) => {
  const [r, g, b] = c.map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a: number[], b: number[]) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const hue = ([r, g, b]: number[]) => {
  const max = Math.max(r, g, b), min = Math.min(r, g, b), d = max - min;
  if (!d) return 0;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
};
const hueGap = (a: number[], b: number[]) => {
  const d = Math.abs(hue(a) - hue(b));
  return Math.min(d, 360 - d);
};

describe("colour by mislabel score", () => {
  it("bands the scored points by rank: top 1%, 5%, 20%, the rest; unscored ones get none", () => {
    const p = ranked(210, 10); // 200 scored
    const band = scoreBands(p);
    const byRank = [...p.order].map((r) => band[r]);
    expect(byRank.slice(0, 2)).toEqual([0, 0]);
    expect(byRank.slice(2, 10).every((b) => b === 1)).toBe(true);
    expect(byRank.slice(10, 40).every((b) => b === 2)).toBe(true);
    expect(byRank.slice(40, 200).every((b) => b === 3)).toBe(true);
    expect(byRank.slice(200).every((b) => b === 255)).toBe(true);
    const rgba = pointColors(p, "mislabel_score", null, null);
    const rgb = (r: number) => [...rgba.slice(r * 4, r * 4 + 3)];
    expect(rgb(p.order[0])).toEqual(parse(legend("mislabel_score", [], [])[0].color));
    expect(rgb(p.order[100])).toEqual([150, 170, 190]);
    expect(rgb(0)).toEqual([200, 200, 200]); // never seen: the missing grey
  });

  it("tells the top 1% from the top 5% apart by lightness and hue, so colour-blind eyes do too", () => {
    const [top1, top5, top20, rest] = legend("mislabel_score", [], []).map((e) => parse(e.color));
    // Colour-vision deficiencies keep luminance: adjacent top bands differ by >= 2:1 in it.
    expect(contrast(top1, top5)).toBeGreaterThanOrEqual(2);
    expect(contrast(top5, top20)).toBeGreaterThanOrEqual(1.5);
    // The most suspect points stand out on the light and the dark map alike.
    expect(contrast(top1, [255, 255, 255])).toBeGreaterThanOrEqual(3);
    expect(contrast(top1, [17, 17, 17])).toBeGreaterThanOrEqual(3);
    // And not two reds: their hues lie >= 60 degrees apart.
    expect(hueGap(top1, top5)).toBeGreaterThanOrEqual(60);
    expect(rest).not.toEqual(top20);
  });

  it("has a legend of its bands", () => {
    expect(legend("mislabel_score", [], []).map((e) => e.label)).toEqual(["top 1% suspects", "top 5%", "top 20%", "the rest"]);
  });
});

describe("the correctness legend", () => {
  it("has a swatch per value correctness takes with a few passes, quarters otherwise", () => {
    expect(correctnessStops(6)).toEqual([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1]);
    expect(legend("correctness", [], [], false, 6).map((e) => e.label)).toContain("correctness 0.17");
    expect(legend("correctness", [], [], false, 6).map((e) => e.label)).not.toContain("correctness 0.25");
    expect(correctnessStops(0)).toEqual([0, 0.25, 0.5, 0.75, 1]); // passes unknown
    expect(correctnessStops(40)).toEqual([0, 0.25, 0.5, 0.75, 1]); // too many to list
  });
});

describe("the suggested-label legend", () => {
  it("names the grey of the points without a suggestion (reviewer pass 2)", () => {
    const entries = legend("suggested_label", ["a", "b"], []);
    expect(entries.map((e) => e.label)).toEqual(["a", "b", "no suggestion"]);
    expect(new Set(entries.map((e) => e.color)).size).toBe(3);
  });
});
