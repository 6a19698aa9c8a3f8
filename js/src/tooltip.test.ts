import { describe, expect, it } from "vitest";
import { placeTooltip } from "./tooltip";

describe("placeTooltip", () => {
  const W = 560, H = 460, w = 200, h = 120;
  const inside = ([l, t]: [number, number]) => l >= 0 && t >= 0 && l + w <= W && t + h <= H;

  it("sits below-right of the pointer when there is room", () => {
    expect(placeTooltip(100, 100, w, h, W, H)).toEqual([114, 114]);
  });

  it("flips above the pointer near the bottom-left corner, where the suspects are", () => {
    const [l, t] = placeTooltip(50, 440, w, h, W, H);
    expect(inside([l, t])).toBe(true);
    expect(t + h).toBeLessThanOrEqual(440); // above the pointer, so it does not cover the point
    expect(l).toBe(64);
  });

  it("flips left near the right edge and up near the bottom-right corner", () => {
    expect(placeTooltip(500, 100, w, h, W, H)).toEqual([286, 114]);
    expect(placeTooltip(500, 420, w, h, W, H)).toEqual([286, 286]);
  });

  it("stays inside everywhere on the plot", () => {
    for (let x = 0; x <= W; x += 20) for (let y = 0; y <= H; y += 20) expect(inside(placeTooltip(x, y, w, h, W, H))).toBe(true);
  });

  it("pins to the top-left when the plot is smaller than the tooltip", () => {
    expect(placeTooltip(10, 10, 300, 200, 250, 150)).toEqual([0, 0]);
  });
});
