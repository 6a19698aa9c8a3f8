/** Point colours and the matching legend, per `color_by` mode. Pure. */
import type { Points } from "./sync";
import { config } from "./config";

export type Rgb = readonly [number, number, number];
export interface LegendEntry {
  label: string;
  color: string;
}

// Tableau-10 then a second set: label colours cycle after 20.
const CATEGORICAL: Rgb[] = [
  [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [237, 201, 72], [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172],
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const CATEGORY: Rgb[] = [[44, 160, 44], [255, 127, 14], [214, 39, 40]]; // easy, ambiguous, hard
// not reviewed, confirmed, relabeled (the `reviewed` marks 0, 1, 2)
const REVIEWED: Rgb[] = [[170, 170, 170], [31, 119, 180], [230, 85, 13]];
const MISSING: Rgb = [200, 200, 200];
// Mislabel score by rank: the top 1%, 5% and 20% of suspects, then the rest (see SCORE_BANDS).
// Two reds told the top bands apart by hue alone: now magenta, orange, pale yellow, then a quiet
// grey-blue, stepping in lightness (>= 2:1 between the top two, which survives colour-blind
// vision) and in hue; the top 1% keeps >= 3:1 on the light and the dark map (colors.test.ts).
const SCORE: Rgb[] = [[204, 0, 153], [240, 150, 0], [250, 215, 120], [150, 170, 190]];
/** Upper edges of the suspect bands, as shares of the scored points (most suspect first). */
export const SCORE_BANDS = [0.01, 0.05, 0.2, 1];
// Viridis-like stops for correctness 0 -> 1.
const RAMP: Rgb[] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
// On a dark background viridis' dark end (the hard-to-learn suspects) disappears: the same hues,
// purple -> blue -> teal -> green -> yellow, with the dark stops lifted to >= 3:1 against #111.
const RAMP_DARK: Rgb[] = [[160, 110, 230], [100, 140, 230], [33, 165, 160], [94, 201, 98], [253, 231, 37]];

export function ramp(t: number, dark = false): Rgb {
  if (!(t >= 0)) return MISSING;
  const stops = dark ? RAMP_DARK : RAMP;
  const v = Math.min(1, t) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(v));
  const f = v - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export const labelColor = (code: number): Rgb => (code >= config().no_label ? MISSING : CATEGORICAL[code % CATEGORICAL.length]);
const css = (c: Rgb) => `rgb(${Math.round(c[0])}, ${Math.round(c[1])}, ${Math.round(c[2])})`;

/** The correctness values the legend shows: with a few passes correctness takes only the values
 * k / passes (6 passes: 0, 0.17, …, 1), so those; a swatch for 0.25 would match no point. */
export function correctnessStops(passes: number): number[] {
  if (!Number.isInteger(passes) || passes < 1 || passes > 10) return [0, 0.25, 0.5, 0.75, 1];
  return Array.from({ length: passes + 1 }, (_, k) => k / passes);
}

export function legend(colorBy: string, labelNames: string[], categories: string[], dark = false, passes = 0): LegendEntry[] {
  switch (colorBy) {
    case "category":
      return categories.map((c, i) => ({ label: c, color: css(CATEGORY[i % 3]) }));
    case "label":
      return labelNames.map((l, i) => ({ label: l, color: css(labelColor(i)) }));
    case "suggested_label": // the grey points are those without a suggestion: say so
      return [...labelNames.map((l, i) => ({ label: l, color: css(labelColor(i)) })), { label: "no suggestion", color: css(MISSING) }];
    case "mislabel_score":
      return [
        { label: "top 1% suspects", color: css(SCORE[0]) },
        { label: "top 5%", color: css(SCORE[1]) },
        { label: "top 20%", color: css(SCORE[2]) },
        { label: "the rest", color: css(SCORE[3]) },
      ];
    case "reviewed":
      return [
        { label: "not reviewed", color: css(REVIEWED[0]) },
        { label: "confirmed", color: css(REVIEWED[1]) },
        { label: "relabeled", color: css(REVIEWED[2]) },
      ];
    default:
      // Two decimals, as the table's corr column shows them.
      return correctnessStops(passes).map((t) => ({ label: `correctness ${Number(t.toFixed(2))}`, color: css(ramp(t, dark)) }));
  }
}

/**
 * Each point's band of SCORE_BANDS by its rank in `order` (most suspect first); 255 for points
 * never seen in training (no score: NaN correctness), which `order` puts last.
 */
export function scoreBands(p: Points): Uint8Array {
  let scored = 0;
  for (let i = 0; i < p.n; i++) if (p.correctness[i] >= 0) scored++;
  const out = new Uint8Array(p.n).fill(255);
  let b = 0;
  for (let j = 0; j < Math.min(scored, p.order.length); j++) {
    while (b < SCORE_BANDS.length - 1 && j >= SCORE_BANDS[b] * scored) b++;
    out[p.order[j]] = b;
  }
  return out;
}

/**
 * RGBA per point. Points outside `visible` (a 0/1 mask, or null for all) and,
 * when something is selected, unselected points are drawn faint. `dark`: the map's
 * background is dark (see theme.ts), so correctness uses the lifted ramp.
 */
export function pointColors(
  p: Points, colorBy: string, visible: Uint8Array | null, selected: Uint8Array | null, out?: Uint8Array,
  dark = false,
): Uint8Array {
  const rgba = out && out.length === p.n * 4 ? out : new Uint8Array(p.n * 4);
  const lut: Rgb[] = [];
  for (let k = 0; k < 256; k++) lut.push(ramp(k / 255, dark));
  const band = colorBy === "mislabel_score" ? scoreBands(p) : null;
  for (let i = 0; i < p.n; i++) {
    let c: Rgb;
    switch (colorBy) {
      case "category":
        c = p.category[i] < 3 ? CATEGORY[p.category[i]] : MISSING;
        break;
      case "label":
        c = labelColor(p.labels[i]);
        break;
      case "suggested_label":
        c = labelColor(p.suggested[i] === p.labels[i] ? config().no_label : p.suggested[i]); // the shown suggestion: none once accepted
        break;
      case "reviewed":
        c = REVIEWED[Math.min(2, p.reviewed[i])];
        break;
      case "mislabel_score":
        c = band![i] < SCORE.length ? SCORE[band![i]] : MISSING;
        break;
      default: {
        const t = p.correctness[i];
        c = t >= 0 ? lut[Math.round(Math.min(1, t) * 255)] : MISSING;
      }
    }
    let a = 215;
    if (visible && !visible[i]) a = 25;
    else if (selected && !selected[i]) a = 70;
    const o = i * 4;
    rgba[o] = c[0];
    rgba[o + 1] = c[1];
    rgba[o + 2] = c[2];
    rgba[o + 3] = a;
  }
  return rgba;
}
