/**
 * WebGL points for the map. The widget only talks to the `Scatter` interface,
 * so tests inject a fake (jsdom has no WebGL) and the real one stays small:
 * positions and colours live in GPU buffers; pan and zoom only change uniforms.
 */
import { backgroundOf } from "./theme";

/** Data rectangle currently shown: [x0, x1] x [y0, y1]. */
export interface View {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export interface Scatter {
  /** Upload positions in data coordinates (NaN points are not drawn). */
  setPositions(x: Float32Array, y: Float32Array): void;
  /** Upload 4 bytes (RGBA) per point. */
  setColors(rgba: Uint8Array): void;
  /** Rows drawn on top, larger and outlined. */
  setHighlighted(rows: Uint32Array): void;
  /** Canvas size in CSS pixels. */
  resize(width: number, height: number, dpr: number): void;
  /** Draw at `view`; `zoom` (1 = home view) grows points as the user zooms in. */
  draw(view: View, zoom?: number): void;
  destroy(): void;
}

/** Most selected points drawn with an outline (a software renderer would crawl over more). */
export const MAX_OUTLINED = 20000;

export type ScatterFactory = (canvas: HTMLCanvasElement) => Scatter | null;

const VERT = `
attribute float a_x;
attribute float a_y;
attribute vec4 a_color;
uniform vec4 u_view;      // x0, x1, y0, y1
uniform float u_size;
varying vec4 v_color;
void main() {
  vec2 p = vec2((a_x - u_view.x) / (u_view.y - u_view.x), (a_y - u_view.z) / (u_view.w - u_view.z));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
  if (a_x != a_x || a_y != a_y) gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
  gl_PointSize = u_size;
  v_color = a_color;
}`;

const FRAG = `
precision mediump float;
varying vec4 v_color;
uniform float u_ring;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r = dot(c, c);
  if (r > 1.0) discard;
  if (u_ring > 0.5 && r > 0.55) { gl_FragColor = vec4(0.05, 0.05, 0.05, 1.0); return; }
  gl_FragColor = vec4(v_color.rgb * v_color.a, v_color.a);
}`;

function compile(gl: WebGLRenderingContext, type: number, src: string): WebGLShader {
  const sh = gl.createShader(type)!;
  gl.shaderSource(sh, src);
  gl.compileShader(sh);
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(sh)}`);
  return sh;
}

/** The real renderer; null when the browser offers no WebGL (the widget then says so). */
export const createWebGLScatter: ScatterFactory = (canvas) => {
  let gl: WebGLRenderingContext | null = null;
  try {
    gl = (canvas.getContext("webgl", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: true }) ??
      canvas.getContext("experimental-webgl")) as WebGLRenderingContext | null;
  } catch {
    gl = null;
  }
  if (!gl) return null;
  const uintIndex = gl.getExtension("OES_element_index_uint");
  const prog = gl.createProgram()!;
  gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VERT));
  gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FRAG));
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`link: ${gl.getProgramInfoLog(prog)}`);
  const loc = {
    x: gl.getAttribLocation(prog, "a_x"),
    y: gl.getAttribLocation(prog, "a_y"),
    color: gl.getAttribLocation(prog, "a_color"),
    view: gl.getUniformLocation(prog, "u_view"),
    size: gl.getUniformLocation(prog, "u_size"),
    ring: gl.getUniformLocation(prog, "u_ring"),
  };
  const bx = gl.createBuffer();
  const by = gl.createBuffer();
  const bc = gl.createBuffer();
  const bi = gl.createBuffer();
  let n = 0;
  let nHighlighted = 0;
  let dpr = 1;
  const g = gl;

  const bindFloat = (buf: WebGLBuffer | null, at: number) => {
    g.bindBuffer(g.ARRAY_BUFFER, buf);
    g.enableVertexAttribArray(at);
    g.vertexAttribPointer(at, 1, g.FLOAT, false, 0, 0);
  };

  return {
    setPositions(x, y) {
      n = Math.min(x.length, y.length);
      g.bindBuffer(g.ARRAY_BUFFER, bx);
      g.bufferData(g.ARRAY_BUFFER, x, g.STATIC_DRAW);
      g.bindBuffer(g.ARRAY_BUFFER, by);
      g.bufferData(g.ARRAY_BUFFER, y, g.STATIC_DRAW);
    },
    setColors(rgba) {
      g.bindBuffer(g.ARRAY_BUFFER, bc);
      g.bufferData(g.ARRAY_BUFFER, rgba, g.DYNAMIC_DRAW);
    },
    setHighlighted(rows) {
      const use = uintIndex ? rows : Uint16Array.from(rows.filter((r) => r < 65536));
      nHighlighted = use.length;
      g.bindBuffer(g.ELEMENT_ARRAY_BUFFER, bi);
      g.bufferData(g.ELEMENT_ARRAY_BUFFER, use, g.DYNAMIC_DRAW);
    },
    resize(width, height, ratio) {
      dpr = ratio;
      canvas.width = Math.max(1, Math.round(width * ratio));
      canvas.height = Math.max(1, Math.round(height * ratio));
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    },
    draw(view, zoom = 1) {
      g.viewport(0, 0, canvas.width, canvas.height);
      // The map's CSS background (the host theme's, see widget.css), opaque so reads stay simple.
      const [br, bg, bb] = backgroundOf(canvas.parentElement);
      g.clearColor(br / 255, bg / 255, bb / 255, 1);
      g.clear(g.COLOR_BUFFER_BIT);
      if (n === 0) return;
      g.useProgram(prog);
      g.enable(g.BLEND);
      g.blendFunc(g.ONE, g.ONE_MINUS_SRC_ALPHA);
      bindFloat(bx, loc.x);
      bindFloat(by, loc.y);
      g.bindBuffer(g.ARRAY_BUFFER, bc);
      g.enableVertexAttribArray(loc.color);
      g.vertexAttribPointer(loc.color, 4, g.UNSIGNED_BYTE, true, 0, 0);
      g.uniform4f(loc.view, view.x0, view.x1, view.y0, view.y1);
      const base = pointSize(n, zoom);
      g.uniform1f(loc.size, base * dpr);
      g.uniform1f(loc.ring, 0);
      g.drawArrays(g.POINTS, 0, n);
      // Outlines help pick out a few points; for huge selections the dimmed rest already shows them.
      if (nHighlighted > 0 && nHighlighted <= MAX_OUTLINED) {
        g.uniform1f(loc.size, (base + 5) * dpr);
        g.uniform1f(loc.ring, 1);
        g.bindBuffer(g.ELEMENT_ARRAY_BUFFER, bi);
        g.drawElements(g.POINTS, nHighlighted, uintIndex ? g.UNSIGNED_INT : g.UNSIGNED_SHORT, 0);
      }
    },
    destroy() {
      for (const b of [bx, by, bc, bi]) g.deleteBuffer(b);
      g.deleteProgram(prog);
      g.getExtension("WEBGL_lose_context")?.loseContext();
    },
  };
};

/** Diameter of a point in CSS pixels for `n` points at `zoom` (home span / view span). Dense maps
 * start with small points (a software renderer pays per pixel); zooming in grows them. The map's
 * overlay draws the current document's ring outside this size. */
export function pointSize(n: number, zoom = 1): number {
  return (n > 500000 ? 1 : n > 200000 ? 2 : n > 20000 ? 3 : n > 2000 ? 5 : 7) * Math.min(4, Math.max(1, Math.sqrt(zoom)));
}

/** Zoom `view` by `factor` (<1 zooms in) about the data point (cx, cy). */
export function zoomView(view: View, factor: number, cx: number, cy: number): View {
  return {
    x0: cx + (view.x0 - cx) * factor,
    x1: cx + (view.x1 - cx) * factor,
    y0: cy + (view.y0 - cy) * factor,
    y1: cy + (view.y1 - cy) * factor,
  };
}

/** Shift `view` by (dx, dy) data units. */
export function panView(view: View, dx: number, dy: number): View {
  return { x0: view.x0 + dx, x1: view.x1 + dx, y0: view.y0 + dy, y1: view.y1 + dy };
}

/** A view holding every finite point of (x, y), with 5% margins (the embedding view's home). */
export function fitView(x: Float32Array, y: Float32Array): View {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const a = x[i], b = y[i];
    if (!(a === a && b === b)) continue; // NaN: no embedding, not drawn
    if (a < x0) x0 = a;
    if (a > x1) x1 = a;
    if (b < y0) y0 = b;
    if (b > y1) y1 = b;
  }
  if (!(x1 >= x0)) return { x0: -1, x1: 1, y0: -1, y1: 1 };
  const mx = Math.max((x1 - x0) * 0.05, 1e-6);
  const my = Math.max((y1 - y0) * 0.05, 1e-6);
  return { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my };
}

/** Initial view: variability from 0 to a bit past its max (at least 0.5), confidence 0..1, with margins. */
export function homeView(x: Float32Array): View {
  let xmax = 0.5;
  for (let i = 0; i < x.length; i++) if (x[i] > xmax) xmax = x[i];
  const mx = xmax * 0.04;
  return { x0: -mx, x1: xmax + mx, y0: -0.04, y1: 1.04 };
}
