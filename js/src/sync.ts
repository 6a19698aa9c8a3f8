/**
 * Everything that crosses the comm: the Model interface mirroring the Python
 * traits, the one name table (snake_case on the wire, camelCase here), the
 * binary codecs, an echo guard, debounced writes and request/response.
 */

import type { WireRowText } from "./rowtext";

/** Trait values exactly as anywidget hands them to us (buffers arrive as DataView). */
export type Buffer = DataView | ArrayBuffer | Uint8Array | null;

export interface WirePoints {
  n: number;
  x: Buffer;
  y: Buffer;
  correctness: Buffer;
  order: Buffer;
  suggested: Buffer;
  category: Buffer;
  /** The embeddings' 2-D projection; sent only for a map with embeddings. */
  projection_x?: Buffer;
  projection_y?: Buffer;
}

/** Which axes the map draws: the data map (variability × confidence) or the embeddings' projection. */
export type MapViewName = "data_map" | "embedding";

/** DataMapWidget.embedding_view: the projection's method ("" when there is none) and why there is none. */
export interface EmbeddingView {
  method: string;
  reason: string;
  /** e.g. that PCA stands in for t-SNE, and how to install it; "" when nothing to say. */
  note?: string;
  /** A big map without a projection yet: the method the "projection" request will use. */
  pending?: string;
}

export interface Filters {
  categories: string[];
  labels: string[];
  suspects_k: number;
  reviewed: "all" | "reviewed" | "unreviewed";
  search: string;
}

/** Training progress as DataMapWidget.progress carries it (keys absent while idle). */
export interface Progress {
  state: "idle" | "running" | "done" | "stopped" | "failed";
  epoch?: number;
  epochs?: number | null;
  step?: number;
  steps?: number | null;
  loss?: number | null;
  message?: string;
}

/** What the reviews amount to and where they are kept (DataMapWidget.review_summary). */
export interface ReviewSummary {
  changed: number;
  reviewed: number;
  /** The store written to; "" without one (the reviews live in the kernel only). */
  store: string;
  /** The file of the last "Save labels", and whether it still holds the labels shown. */
  exported: string;
  exported_current: boolean;
}

/** Every constant the browser needs, sent once by Python (datamap_widget.widget.browser_config): no copy here. */
export interface Config {
  no_label: number;
  marks: { unreviewed: number; confirmed: number; relabeled: number };
  empty_filters: Filters;
  reviewed_filters: Array<Filters["reviewed"]>;
  color_by: string[];
  map_views: MapViewName[];
  ended_states: string[];
  failed_state: string;
  preview_chars: number;
  max_page_rows: number;
  max_full_rows: number;
  max_text_chars: number;
  pane_neighbours: number;
  pane_classes: number;
  export_name: string;
}

/** Mirrors the synced traits of datamap_widget.widget.DataMapWidget. */
export interface ModelState {
  config: Config;
  points: WirePoints;
  labels: Buffer;
  reviewed: Buffer;
  selection: Buffer;
  /** The suspects' order after reviews re-ranked them (uint32 rows); empty: points.order. */
  order: Buffer;
  label_names: string[];
  categories: string[];
  thresholds: { confidence: number; variability: number };
  n_passes: number;
  color_by: string;
  filters: Filters;
  save_status: string;
  history_size: number;
  review_summary: ReviewSummary;
  has_text: boolean;
  live: boolean;
  progress: Progress;
  map_view: MapViewName;
  embedding_view: EmbeddingView;
  /** Every row's id and a short preview (see rowtext.ts). */
  row_text: WireRowText;
  /** Classes the map never learned (DataMapWidget.unlearned): their suggestions are unreliable. */
  unlearned: UnlearnedClass[];
}

/** One class the map never learned, as DataMapWidget.unlearned lists it. */
export interface UnlearnedClass {
  label: string;
  code: number;
  count: number;
}

type Callback = (...args: any[]) => void;

/** The slice of anywidget's AnyModel we use; a fake in tests implements the same. */
export interface Model<S = ModelState> {
  get<K extends keyof S>(key: K): S[K];
  set<K extends keyof S>(key: K, value: S[K]): void;
  save_changes(): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

/** Wire trait name -> name used in the TS code. The only place the two spellings meet. */
export const TRAITS = {
  config: "config",
  points: "points",
  labels: "labels",
  reviewed: "reviewed",
  selection: "selection",
  order: "order",
  label_names: "labelNames",
  categories: "categories",
  thresholds: "thresholds",
  n_passes: "nPasses",
  color_by: "colorBy",
  filters: "filters",
  save_status: "saveStatus",
  history_size: "historySize",
  review_summary: "reviewSummary",
  has_text: "hasText",
  live: "live",
  progress: "progress",
  map_view: "mapView",
  embedding_view: "embeddingView",
  row_text: "rowText",
  unlearned: "unlearned",
} as const satisfies Record<keyof ModelState, string>;

export type WireName = keyof typeof TRAITS;
export type LocalName = (typeof TRAITS)[WireName];
/** The traits under their TS names, e.g. State["labelNames"] is ModelState["label_names"]. */
export type State = { [K in WireName as (typeof TRAITS)[K]]: ModelState[K] };
const WIRE = Object.fromEntries(Object.entries(TRAITS).map(([wire, local]) => [local, wire])) as Record<LocalName, WireName>;
/** TS name -> wire name. */
export const wireName = (name: LocalName): WireName => WIRE[name];

/** Decoded point columns; indices into these arrays are the "rows" used everywhere. */
export interface Points {
  n: number;
  x: Float32Array;
  y: Float32Array;
  correctness: Float32Array;
  order: Uint32Array;
  suggested: Uint16Array;
  category: Uint8Array;
  labels: Uint16Array;
  reviewed: Uint8Array;
  /** The embedding view's positions, or null when the map has none (no embeddings). */
  px: Float32Array | null;
  py: Float32Array | null;
}

type TypedArrayCtor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** View a trait buffer as a typed array without copying when it is aligned. */
export function decode<T>(buf: Buffer | undefined, Ctor: TypedArrayCtor<T>): T {
  if (!buf) return new Ctor(new ArrayBuffer(0), 0, 0);
  let ab: ArrayBuffer;
  let offset = 0;
  let bytes: number;
  if (buf instanceof ArrayBuffer) {
    ab = buf;
    bytes = buf.byteLength;
  } else {
    ab = buf.buffer as ArrayBuffer;
    offset = buf.byteOffset;
    bytes = buf.byteLength;
  }
  const size = Ctor.BYTES_PER_ELEMENT;
  if (offset % size !== 0) {
    const copy = new Uint8Array(bytes);
    copy.set(new Uint8Array(ab, offset, bytes));
    return new Ctor(copy.buffer, 0, Math.floor(bytes / size));
  }
  return new Ctor(ab, offset, Math.floor(bytes / size));
}

/** Typed array -> a DataView the model can hold and ipywidgets sends as a binary buffer. */
export function encode(arr: ArrayBufferView): DataView {
  return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
}

export function decodePoints(model: Model): Points {
  const p = model.get("points") ?? ({ n: 0 } as WirePoints);
  const n = p.n ?? 0;
  const fit = <T extends { length: number }>(arr: T, make: () => T): T => (arr.length === n ? arr : make());
  const px = p.projection_x ? decode(p.projection_x, Float32Array) : null;
  const py = p.projection_y ? decode(p.projection_y, Float32Array) : null;
  const projected = px !== null && py !== null && px.length === n && py.length === n;
  return {
    n,
    x: fit(decode(p.x, Float32Array), () => new Float32Array(n)),
    y: fit(decode(p.y, Float32Array), () => new Float32Array(n)),
    correctness: fit(decode(p.correctness, Float32Array), () => new Float32Array(n)),
    order: reranked(decode(model.get("order"), Uint32Array), n) ?? fit(decode(p.order, Uint32Array), () => Uint32Array.from({ length: n }, (_, i) => i)),
    suggested: fit(decode(p.suggested, Uint16Array), () => new Uint16Array(n)),
    category: fit(decode(p.category, Uint8Array), () => new Uint8Array(n)),
    labels: fit(decode(model.get("labels"), Uint16Array), () => new Uint16Array(n)),
    reviewed: fit(decode(model.get("reviewed"), Uint8Array), () => new Uint8Array(n)),
    px: projected ? px : null,
    py: projected ? py : null,
  };
}

/** The `order` trait when it holds one row per point (the kernel re-ranked from reviews), else null. */
function reranked(order: Uint32Array, n: number): Uint32Array | null {
  return order.length === n && n > 0 ? order : null;
}

export function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  const ua = decode(a ?? null, Uint8Array);
  const ub = decode(b ?? null, Uint8Array);
  if (ua.length !== ub.length) return false;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/**
 * Subscriptions and writes for one view. Writes are debounced and coalesced;
 * a change event that only echoes what this view wrote is not re-applied.
 */
export class Sync {
  private handlers: Array<[string, Callback]> = [];
  private timers = new Map<WireName, { timer: ReturnType<typeof setTimeout>; flush: () => void }>();
  private written = new Map<WireName, unknown>();
  private pending = new Map<string, { resolve: (v: [any, DataView[]]) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> | undefined }>();
  private counter = 0;
  private onMsg: Callback;

  constructor(private model: Model) {
    this.onMsg = (msg: any, buffers?: DataView[]) => this.receive(msg, buffers ?? []);
    model.on("msg:custom", this.onMsg);
  }

  /** Current value of a trait, by its TS name. */
  get<K extends LocalName>(local: K): State[K] {
    return this.model.get(WIRE[local]) as unknown as State[K];
  }

  /** Requests sent and not answered yet. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Call `fn` when the trait changes, unless the change is the echo of our own write. */
  on(local: LocalName, fn: () => void): void {
    const name = WIRE[local];
    const cb = () => {
      if (this.written.has(name)) {
        const mine = this.written.get(name);
        const now = this.model.get(name as keyof ModelState);
        if (mine === now || (isBuffer(mine) && isBuffer(now) && sameBytes(mine as Buffer, now as Buffer))) return;
      }
      this.written.delete(name);
      fn();
    };
    this.model.on(`change:${name}`, cb);
    this.handlers.push([`change:${name}`, cb]);
  }

  /** Set a trait locally at once; send it to Python after `delayMs` of quiet (coalescing bursts). */
  write<K extends LocalName>(local: K, value: State[K], delayMs = 0): void {
    const name = WIRE[local];
    this.written.set(name, value);
    this.model.set(name, value as unknown as ModelState[typeof name]);
    const old = this.timers.get(name);
    if (old !== undefined) clearTimeout(old.timer);
    const flush = () => {
      this.timers.delete(name);
      this.model.save_changes();
    };
    if (delayMs <= 0) flush();
    else this.timers.set(name, { timer: setTimeout(flush, delayMs), flush });
  }

  /**
   * Ask Python for something; resolves with (result, buffers) or rejects with its error.
   * By default it waits as long as the kernel needs: a kernel running a cell answers
   * widget messages only when the cell ends, and an action sent meanwhile is still applied
   * then, so timing it out would misreport it. `timeoutMs` > 0 gives up after that long.
   */
  request(method: string, args: Record<string, unknown> = {}, buffers: ArrayBufferView[] = [], timeoutMs = 0): Promise<[any, DataView[]]> {
    const id = `r${++this.counter}-${Date.now().toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the kernel did not answer "${method}" within ${timeoutMs / 1000} s`));
      }, timeoutMs) : undefined;
      this.pending.set(id, { resolve, reject, timer });
      this.model.send({ kind: "dmw:request", id, method, args }, undefined, buffers);
    });
  }

  private receive(msg: any, buffers: DataView[]): void {
    if (!msg || msg.kind !== "dmw:response") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve([msg.result, buffers]);
    else p.reject(new Error(String(msg.error)));
  }

  /** Flush pending writes, drop listeners and fail open requests; the view is going away. */
  dispose(): void {
    for (const [event, cb] of this.handlers) this.model.off(event, cb);
    this.handlers = [];
    this.model.off("msg:custom", this.onMsg);
    for (const t of [...this.timers.values()]) {
      clearTimeout(t.timer);
      t.flush();
    }
    this.timers.clear();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the view was closed"));
    }
    this.pending.clear();
  }
}

function isBuffer(v: unknown): boolean {
  return v instanceof DataView || v instanceof ArrayBuffer || v instanceof Uint8Array;
}
