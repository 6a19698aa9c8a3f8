import { describe, expect, it } from "vitest";
import { legend, pointColors, scoreBands } from "./colors";
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
    expect(rgb(p.order[0])).toEqual([189, 0, 38]);
    expect(rgb(p.order[100])).toEqual([150, 170, 190]);
    expect(rgb(0)).toEqual([200, 200, 200]); // never seen: the missing grey
  });

  it("has a legend of its bands", () => {
    expect(legend("mislabel_score", [], []).map((e) => e.label)).toEqual(["top 1% suspects", "top 5%", "top 20%", "the rest"]);
  });
});
