/**
 * The host's theme, read from CSS: widget.css maps JupyterLab's `--jp-*` and VS Code's
 * `--vscode-*` variables (with fallbacks) onto the widget's own `--dmw-*` ones; the canvases
 * (WebGL points, 2D axes) cannot use CSS, so they read those here, and redraw on a theme switch.
 */

export type Rgba = [number, number, number, number];

/** A CSS colour as the browser computed it ("rgb(…)", "rgba(…)", "#rrggbb"), or null. */
export function parseColor(text: string): Rgba | null {
  const s = text.trim();
  let m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(s);
  if (m) {
    const a = m[4] === undefined ? 1 : m[4].endsWith("%") ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return [+m[1], +m[2], +m[3], a];
  }
  // Chromium writes color-mix() results (the tinted rows) as color(srgb r g b [/ a]), 0..1.
  m = /^color\(srgb\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.e-]+)(?:\s*\/\s*([\d.]+))?\s*\)$/.exec(s);
  if (m) return [+m[1] * 255, +m[2] * 255, +m[3] * 255, m[4] === undefined ? 1 : +m[4]];
  m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(s);
  if (m) {
    const h = m[1].length === 3 ? m[1].replace(/./g, (c) => c + c) : m[1];
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16), 1];
  }
  return null;
}

/** WCAG relative luminance of an opaque colour, 0 (black) to 1 (white). */
export function luminance([r, g, b]: Rgba): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** The first opaque-ish background at or above `el` (white when nothing paints one). */
export function backgroundOf(el: Element | null): Rgba {
  for (let e = el; e; e = e.parentElement) {
    const c = parseColor(getComputedStyle(e).backgroundColor || "");
    if (c && c[3] > 0.5) return c;
  }
  return [255, 255, 255, 1];
}

/** Whether the widget sits on a dark background (point colours then use the lifted ramp). */
export const isDark = (el: Element | null): boolean => luminance(backgroundOf(el)) < 0.2;

/** A `--dmw-*` colour of `el`, as a string the 2D canvas accepts, or `fallback`. */
export function cssColor(el: Element, name: string, fallback: string): string {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * Calls `cb` when the host switches theme: JupyterLab sets `data-jp-theme-*` on <body>,
 * VS Code a `vscode-dark`/`vscode-light` class; a system switch shows in prefers-color-scheme.
 * Returns the unsubscribe.
 */
export function onThemeChange(cb: () => void): () => void {
  const observer = typeof MutationObserver === "function" ? new MutationObserver(() => cb()) : null;
  for (const target of [document.documentElement, document.body]) {
    if (target && observer) {
      observer.observe(target, { attributes: true, attributeFilter: ["class", "style", "data-jp-theme-name", "data-jp-theme-light", "data-vscode-theme-kind"] });
    }
  }
  const media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  media?.addEventListener?.("change", cb);
  return () => {
    observer?.disconnect();
    media?.removeEventListener?.("change", cb);
  };
}
