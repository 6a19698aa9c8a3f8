/** Where the map's tooltip goes: beside the pointer, flipped to stay inside the plot. Pure. */

/** Gap between the pointer and the tooltip, in CSS pixels. */
export const TOOLTIP_GAP = 14;

/**
 * Top-left corner for a `w` x `h` tooltip about the pointer at (`x`, `y`), all in pixels of a
 * `width` x `height` plot: below-right of the pointer by default, left of it where it would
 * leave the right edge, above it where it would leave the bottom (the hard-to-learn corner,
 * where the suspects are), and clamped inside when the plot is smaller than the tooltip.
 */
export function placeTooltip(
  x: number, y: number, w: number, h: number, width: number, height: number, gap = TOOLTIP_GAP,
): [number, number] {
  let left = x + gap;
  if (left + w > width) left = x - gap - w;
  let top = y + gap;
  if (top + h > height) top = y - gap - h;
  left = Math.max(0, Math.min(left, width - w));
  top = Math.max(0, Math.min(top, height - h));
  return [left, top];
}
