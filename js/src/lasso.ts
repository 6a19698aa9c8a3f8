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
