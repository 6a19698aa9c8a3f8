/** A stand-in for anywidget's model in vitest: traits in a map, events, and a scripted kernel. */
import type { Model, ModelState } from "./sync";
// What Python sends in the config trait; tests/test_widget_bundle.py keeps this file equal to browser_config().
import browserConfig from "./browser-config.json";
import { encodeRowText } from "./rowtext";

type Cb = (...args: any[]) => void;

export interface Sent {
  content: any;
  buffers: ArrayBufferView[];
}

export class FakeModel implements Model {
  state: ModelState;
  saved: Array<Partial<ModelState>> = [];
  sent: Sent[] = [];
  private dirty: Partial<ModelState> = {};
  private listeners = new Map<string, Set<Cb>>();
  /** While true, answers wait in `held` (a kernel busy running a cell) until `release()`. */
  hold = false;
  held: Array<() => void> = [];
  /** Answers requests like the Python side would; set by tests. */
  kernel: (method: string, args: any, buffers: ArrayBufferView[]) => [any, ArrayBufferView[]] = () => [{}, []];

  constructor(state: ModelState) {
    this.state = state;
  }

  get<K extends keyof ModelState>(key: K): ModelState[K] {
    return this.state[key];
  }

  set<K extends keyof ModelState>(key: K, value: ModelState[K]): void {
    this.state[key] = value;
    this.dirty[key] = value;
    this.emit(`change:${String(key)}`);
  }

  save_changes(): void {
    this.saved.push(this.dirty);
    this.dirty = {};
  }

  on(event: string, cb: Cb): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Cb | null): void {
    if (!event) return this.listeners.clear();
    if (!cb) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(cb);
  }

  listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  emit(event: string, ...args: any[]): void {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }

  /** Python changing a trait: set it and fire its change event. */
  pythonSets<K extends keyof ModelState>(key: K, value: ModelState[K]): void {
    this.state[key] = value;
    this.emit(`change:${String(key)}`);
  }

  send(content: any, _callbacks?: unknown, buffers: any[] = []): void {
    this.sent.push({ content, buffers });
    if (content?.kind === "dmw:request") {
      let reply: any;
      let out: ArrayBufferView[] = [];
      try {
        const [result, bufs] = this.kernel(content.method, content.args, buffers);
        reply = { kind: "dmw:response", id: content.id, ok: true, result };
        out = bufs;
      } catch (err) {
        reply = { kind: "dmw:response", id: content.id, ok: false, error: String(err) };
      }
      const views = out.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
      const answer = () => this.emit("msg:custom", reply, views);
      if (this.hold) this.held.push(answer);
      else queueMicrotask(answer);
    }
  }

  /** The kernel is free again: answer everything held, in order. */
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }

  requests(method: string): Sent[] {
    return this.sent.filter((s) => s.content?.kind === "dmw:request" && s.content.method === method);
  }
}

const dv = (a: ArrayBufferView) => new DataView(a.buffer, a.byteOffset, a.byteLength);

/** `state` with an embedding projection: row i at (10 + i, -i) for i < n/2 (one cluster), else (-10 - i, i). */
export function withProjection(state: ModelState, method = "umap"): ModelState {
  const n = state.points.n;
  const px = new Float32Array(n);
  const py = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const left = i >= n / 2;
    px[i] = left ? -10 - i : 10 + i;
    py[i] = left ? i : -i;
  }
  return { ...state, points: { ...state.points, projection_x: dv(px), projection_y: dv(py) }, embedding_view: { method, reason: "" } };
}

/** A model with n points laid out on a diagonal; row i has score n - i (row 0 most suspect). */
export function makeState(n: number, labelNames = ["neg", "pos"]): ModelState {
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const corr = new Float32Array(n);
  const order = new Uint32Array(n);
  const suggested = new Uint16Array(n);
  const category = new Uint8Array(n);
  const labels = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = (0.4 * i) / Math.max(1, n - 1);
    y[i] = i / Math.max(1, n - 1);
    corr[i] = y[i];
    order[i] = i;
    labels[i] = i % labelNames.length;
    suggested[i] = (i + 1) % labelNames.length;
    category[i] = i % 3;
  }
  return {
    config: structuredClone(browserConfig) as ModelState["config"],
    points: { n, x: dv(x), y: dv(y), correctness: dv(corr), order: dv(order), suggested: dv(suggested), category: dv(category) },
    labels: dv(labels),
    reviewed: dv(new Uint8Array(n)),
    selection: dv(new Uint32Array(0)),
    order: dv(new Uint32Array(0)),
    label_names: labelNames,
    categories: ["easy-to-learn", "ambiguous", "hard-to-learn"],
    thresholds: { confidence: 0.5, variability: 0.2 },
    n_passes: 3,
    color_by: "correctness",
    filters: { categories: [], labels: [], suspects_k: 0, reviewed: "all", search: "" },
    save_status: "",
    history_size: 0,
    review_summary: { changed: 0, reviewed: 0, store: "", exported: "", exported_current: false },
    has_text: true,
    live: false,
    progress: { state: "idle" },
    map_view: "data_map",
    embedding_view: { method: "", reason: "This map has no embeddings, so there is no embedding view.", note: "" },
    // No ids or previews (n 0): the view asks for them a page at a time; withRowText sends them.
    row_text: encodeRowText([], null),
    unlearned: [],
  };
}

/** `state` with every row's id "doc-i" and, unless `previews` is false, its preview "text of i" in `row_text`. */
export function withRowText(state: ModelState, previews = true): ModelState {
  const n = state.points.n;
  const ids = Array.from({ length: n }, (_, i) => `doc-${i}`);
  const texts = previews ? Array.from({ length: n }, (_, i) => `text of ${i}`) : null;
  return { ...state, row_text: encodeRowText(ids, texts) };
}
