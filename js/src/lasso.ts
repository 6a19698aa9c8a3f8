/**
 * Pure geometry for selection: which points lie inside a lasso polygon, a box,
 * or nearest a cursor. Coordinates are data coordinates; NaN points never match.
 */

export type Polygon = ReadonlyArray<readonly [number, number]>;

/** Even-odd rule; points on an edge may fall either way. */
export function pointInPolygon(px: number, py: number, poly: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Row indices (ascending) of points inside `poly`; a bbox pre-check and flat arrays keep 1M points fast. */
export function indicesInPolygon(xs: ArrayLike<number>, ys: ArrayLike<number>, poly: Polygon): Uint32Array {
  const k = poly.length;
  if (k < 3) return new Uint32Array(0);
  const px = new Float64Array(k);
  const py = new Float64Array(k);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < k; i++) {
    const [x, y] = poly[i];
    px[i] = x;
    py[i] = y;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const n = Math.min(xs.length, ys.length);
  const out = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!(x >= x0 && x <= x1 && y >= y0 && y <= y1)) continue;
    let inside = false;
    for (let a = 0, b = k - 1; a < k; b = a++) {
      const ya = py[a];
      const yb = py[b];
      if (ya > y !== yb > y && x < ((px[b] - px[a]) * (y - ya)) / (yb - ya) + px[a]) inside = !inside;
    }
    if (inside) out[m++] = i;
  }
  return out.slice(0, m);
}

/** Row indices of points inside the axis-aligned box spanned by two corners. */
export function indicesInBox(xs: ArrayLike<number>, ys: ArrayLike<number>, ax: number, ay: number, bx: number, by: number): Uint32Array {
  const x0 = Math.min(ax, bx), x1 = Math.max(ax, bx), y0 = Math.min(ay, by), y1 = Math.max(ay, by);
  const n = Math.min(xs.length, ys.length);
  const out = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out[m++] = i;
  }
  return out.slice(0, m);
}

/**
 * The point nearest (px, py) within `radius`, distances measured after scaling
 * x by `sx` and y by `sy` (data units -> pixels). -1 when none is that close.
 */
export function nearestPoint(
  xs: ArrayLike<number>, ys: ArrayLike<number>, px: number, py: number, sx: number, sy: number, radius: number,
): number {
  let best = -1;
  let bestD = radius * radius;
  const rx = radius / Math.abs(sx);
  const ry = radius / Math.abs(sy);
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const dxd = xs[i] - px;
    if (dxd > rx || dxd < -rx) continue;
    const dyd = ys[i] - py;
    if (dyd > ry || dyd < -ry) continue;
    const dx = dxd * sx;
    const dy = dyd * sy;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Union of two sorted index sets (for shift-adding to a selection). */
export function union(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length || j < b.length) {
    let v: number;
    if (j >= b.length || (i < a.length && a[i] < b[j])) v = a[i++];
    else if (i >= a.length || b[j] < a[i]) v = b[j++];
    else {
      v = a[i++];
      j++;
    }
    out[k++] = v;
  }
  return out.slice(0, k);
}

/** Toggle one index in a sorted set. */
export function toggle(a: Uint32Array, v: number): Uint32Array {
  const at = a.indexOf(v);
  if (at >= 0) return Uint32Array.from([...a.subarray(0, at), ...a.subarray(at + 1)]);
  return union(a, Uint32Array.of(v));
}

/**
 * A uniform grid over the points for hover and click lookups: built in O(n) once
 * per data update, then a lookup visits only the cells under the cursor's radius.
 */
export class PointGrid {
  private readonly size: number;
  private x0 = 0;
  private y0 = 0;
  private cw = 1;
  private ch = 1;
  private start: Uint32Array;
  private items: Uint32Array;

  constructor(private xs: Float32Array, private ys: Float32Array, size = 256) {
    this.size = size;
    const n = Math.min(xs.length, ys.length);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = xs[i], y = ys[i];
      if (!(x === x && y === y)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    if (!(x1 >= x0)) x0 = x1 = y0 = y1 = 0;
    this.x0 = x0;
    this.y0 = y0;
    this.cw = (x1 - x0) / size || 1;
    this.ch = (y1 - y0) / size || 1;
    const cells = size * size;
    const counts = new Uint32Array(cells + 1);
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = this.cell(xs[i], ys[i]);
      cellOf[i] = c;
      if (c >= 0) counts[c + 1]++;
    }
    for (let c = 0; c < cells; c++) counts[c + 1] += counts[c];
    this.start = counts.slice();
    this.items = new Uint32Array(counts[cells]);
    const fill = counts.subarray(0, cells).slice();
    for (let i = 0; i < n; i++) if (cellOf[i] >= 0) this.items[fill[cellOf[i]]++] = i;
  }

  private cell(x: number, y: number): number {
    if (!(x === x && y === y)) return -1;
    const cx = Math.min(this.size - 1, Math.max(0, Math.floor((x - this.x0) / this.cw)));
    const cy = Math.min(this.size - 1, Math.max(0, Math.floor((y - this.y0) / this.ch)));
    return cy * this.size + cx;
  }

  /** Same contract as nearestPoint: the closest point within `radius` pixels, else -1. */
  nearest(px: number, py: number, sx: number, sy: number, radius: number): number {
    const rx = radius / Math.abs(sx);
    const ry = radius / Math.abs(sy);
    const cx0 = Math.max(0, Math.floor((px - rx - this.x0) / this.cw));
    const cx1 = Math.min(this.size - 1, Math.floor((px + rx - this.x0) / this.cw));
    const cy0 = Math.max(0, Math.floor((py - ry - this.y0) / this.ch));
    const cy1 = Math.min(this.size - 1, Math.floor((py + ry - this.y0) / this.ch));
    if (cx0 > cx1 || cy0 > cy1) return -1;
    // A radius spanning most of the grid: a plain scan is as quick.
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > (this.size * this.size) / 4) {
      return nearestPoint(this.xs, this.ys, px, py, sx, sy, radius);
    }
    let best = -1;
    let bestD = radius * radius;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * this.size + cx;
        for (let k = this.start[c]; k < this.start[c + 1]; k++) {
          const i = this.items[k];
          const dx = (this.xs[i] - px) * sx;
          const dy = (this.ys[i] - py) * sy;
          const d = dx * dx + dy * dy;
          if (d < bestD || (d === bestD && i > best)) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}
