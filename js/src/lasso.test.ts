import { describe, expect, it } from "vitest";
import { PointGrid, indicesInBox, indicesInPolygon, nearestPoint, pointInPolygon, toggle, union } from "./lasso";

describe("lasso geometry", () => {
  const square: Array<[number, number]> = [[0, 0], [1, 0], [1, 1], [0, 1]];

  it("tells inside from outside, also for a concave polygon", () => {
    expect(pointInPolygon(0.5, 0.5, square)).toBe(true);
    expect(pointInPolygon(1.5, 0.5, square)).toBe(false);
    const u: Array<[number, number]> = [[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]];
    expect(pointInPolygon(1.5, 2, u)).toBe(false); // in the notch
    expect(pointInPolygon(0.5, 2, u)).toBe(true);
    expect(pointInPolygon(2.5, 2, u)).toBe(true);
  });

  it("returns ascending indices of points inside, never NaN points", () => {
    const xs = Float32Array.from([0.5, 2, 0.2, NaN, 0.9]);
    const ys = Float32Array.from([0.5, 0.5, 0.8, 0.5, 0.1]);
    expect([...indicesInPolygon(xs, ys, square)]).toEqual([0, 2, 4]);
    expect([...indicesInPolygon(xs, ys, square.slice(0, 2))]).toEqual([]);
    expect([...indicesInBox(xs, ys, 1, 1, 0, 0.3)]).toEqual([0, 2]);
  });

  it("selects among a million points quickly", () => {
    const n = 1_000_000;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = (i % 1000) / 1000;
      ys[i] = Math.floor(i / 1000) / 1000;
    }
    const t0 = performance.now();
    const got = indicesInPolygon(xs, ys, [[0.1, 0.1], [0.5, 0.1], [0.3, 0.6]]);
    const ms = performance.now() - t0;
    expect(got.length).toBeGreaterThan(90000);
    expect(got.length).toBeLessThan(110000); // triangle area 0.1
    expect(ms).toBeLessThan(1500);
  });

  it("finds the nearest point within a pixel radius", () => {
    const xs = Float32Array.from([0, 1, 2]);
    const ys = Float32Array.from([0, 0, 0]);
    expect(nearestPoint(xs, ys, 1.04, 0, 100, 100, 8)).toBe(1);
    expect(nearestPoint(xs, ys, 1.5, 0, 100, 100, 8)).toBe(-1);
  });

  it("finds the same nearest point through the grid as by a full scan", () => {
    const n = 20000;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < n; i++) {
      xs[i] = rand() * 0.4;
      ys[i] = i === 5 ? NaN : rand();
    }
    const grid = new PointGrid(xs, ys, 64);
    for (let q = 0; q < 300; q++) {
      const px = rand() * 0.5 - 0.05, py = rand() * 1.1 - 0.05;
      const sx = 400 + rand() * 5000, sy = 400 + rand() * 5000;
      expect(grid.nearest(px, py, sx, sy, 8)).toBe(nearestPoint(xs, ys, px, py, sx, sy, 8));
    }
  });

  it("unions and toggles sorted sets", () => {
    expect([...union(Uint32Array.of(1, 3, 5), Uint32Array.of(2, 3, 9))]).toEqual([1, 2, 3, 5, 9]);
    expect([...toggle(Uint32Array.of(1, 3), 3)]).toEqual([1]);
    expect([...toggle(Uint32Array.of(1, 3), 2)]).toEqual([1, 2, 3]);
  });
});
