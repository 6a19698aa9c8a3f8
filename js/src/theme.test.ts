import { describe, expect, it } from "vitest";
import { legend, ramp } from "./colors";
import { backgroundOf, isDark, luminance, parseColor } from "./theme";

const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

describe("theme", () => {
  it("parses the colour forms getComputedStyle returns", () => {
    expect(parseColor("rgb(17, 17, 17)")).toEqual([17, 17, 17, 1]);
    expect(parseColor(" rgba(255, 255, 255, 0.87) ")).toEqual([255, 255, 255, 0.87]);
    expect(parseColor("#fff")).toEqual([255, 255, 255, 1]);
    expect(parseColor("#1976d2")).toEqual([25, 118, 210, 1]);
    expect(parseColor("color(srgb 0.2 0.4 1)")).toEqual([51, 102, 255, 1]);
    expect(parseColor("color(srgb 1 1 1 / 0.5)")).toEqual([255, 255, 255, 0.5]);
    expect(parseColor("var(--x)")).toBeNull();
  });

  it("finds the painted background up the tree and calls a dark one dark", () => {
    const outer = document.createElement("div");
    const inner = document.createElement("div");
    outer.appendChild(inner);
    document.body.appendChild(outer);
    outer.style.backgroundColor = "rgb(17, 17, 17)";
    expect(backgroundOf(inner)).toEqual([17, 17, 17, 1]);
    expect(isDark(inner)).toBe(true);
    outer.style.backgroundColor = "rgb(255, 255, 255)";
    expect(isDark(inner)).toBe(false);
    outer.remove();
  });

  it("keeps the hard-to-learn end of the correctness ramp visible on a dark map", () => {
    const dark = luminance([17, 17, 17, 1]); // JupyterLab Dark's --jp-layout-color0
    const low = (isDarkMap: boolean) => luminance([...ramp(0, isDarkMap), 1] as [number, number, number, number]);
    expect(contrast(low(false), dark)).toBeLessThan(1.5); // viridis' end vanishes on #111 ...
    for (let t = 0; t <= 1; t += 0.125) {
      expect(contrast(luminance([...ramp(t, true), 1] as [number, number, number, number]), dark)).toBeGreaterThanOrEqual(3);
    }
    expect(contrast(low(false), luminance([255, 255, 255, 1]))).toBeGreaterThanOrEqual(3); // ... and shows on white
    expect(legend("correctness", [], [], true)[0].color).toBe("rgb(160, 110, 230)");
  });
});
