/**
 * The sizing of one view: the map pane takes the width widget.css's layout leaves it (stacked:
 * the full width; side by side: what the table's minimum width leaves), and the toolbar turns
 * compact in a narrow widget. Measured now, on every resize and before each frame of the map.
 */
import type { MapView } from "./mapview";
import { COMPACT_TOOLBAR_WIDTH, type Toolbar } from "./toolbar";

export interface LayoutParts {
  root: HTMLElement;
  main: HTMLElement;
  side: HTMLElement;
  mapPane: HTMLElement;
  map: MapView;
  toolbar: Toolbar;
}

/** Keep the map sized to the widget; returns the cleanup. */
export function watchLayout({ root, main, side, mapPane, map, toolbar }: LayoutParts): () => void {
  const fit = () => {
    const width = root.clientWidth || 1000;
    // widget.css decides the layout (a container query): stacked, the map takes the full width;
    // side by side, it leaves the table its minimum width.
    const stacked = getComputedStyle(main).flexDirection === "column";
    const sideMin = parseFloat(getComputedStyle(side).minWidth) || 0;
    const w = stacked
      ? Math.max(240, Math.min(720, width))
      : Math.max(320, Math.min(720, Math.round(width * 0.48), width - 8 - sideMin));
    map.resize(w, 460, window.devicePixelRatio || 1);
    toolbar.setCompact(width < COMPACT_TOOLBAR_WIDTH);
    if (mapPane.style.width !== `${w}px`) mapPane.style.width = `${w}px`;
  };
  let ro: ResizeObserver | undefined;
  if (typeof ResizeObserver === "function") {
    ro = new ResizeObserver(() => fit());
    ro.observe(root);
  }
  fit();
  map.beforeDraw = fit; // the view may not be attached yet: measure again when the frame draws
  return () => ro?.disconnect();
}
