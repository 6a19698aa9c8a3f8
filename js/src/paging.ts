/**
 * What the browser knows of each row's text, kept as long as the model lives (anywidget's
 * `initialize`), so every view of the widget and every re-render share it: every row's id and
 * preview from the `row_text` trait, pages of previews asked for while rows come into view (only
 * for what row_text lacks), the detail pane's documents, and when each request to the kernel was
 * sent (the busy signal). A row is one fixed example of the map, so texts survive re-sorting and
 * new passes; only the documents' training histories go stale with a pass.
 */
import { config } from "./config";
import type { DocDetail } from "./pane";
import { RowText } from "./rowtext";
import type { Sync } from "./sync";

export interface Preview {
  id: string;
  text: string;
}

/** The view-independent side of the comm: one request client per model. */
export type Requests = Pick<Sync, "request" | "get">;

/** Rows a page asks for at once: the table's view and margin fit; below Python's max_page_rows. */
const PAGE_ROWS = 200;
/** Fetched previews kept before the cache starts over (a long scroll through a huge map). */
const MAX_CACHED = 50_000;

export class RowTexts {
  private previews = new Map<number, Preview>();
  private details = new Map<number, DocDetail>();
  private detailWanted = new Set<number>();
  private wanted = new Set<number>();
  private inFlight = new Set<number>();
  private pageTimer: ReturnType<typeof setTimeout> | undefined;
  private rowText: RowText;
  private n: number;
  /** Requests waiting on the kernel: when each was sent (one entry per request). */
  private asking = new Map<symbol, number>();
  private listeners = new Set<(event: { error?: string }) => void>();

  constructor(private client: Requests, n: number, public pageDelayMs = 30) {
    this.n = n;
    this.rowText = new RowText(client.get("rowText"), n);
  }

  /** Tell `fn` when texts arrived (`{}`) or a request for them failed (`{error}`); returns the unsubscribe. */
  subscribe(fn: (event: { error?: string }) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(event: { error?: string }): void {
    for (const fn of [...this.listeners]) fn(event);
  }

  /** New points: another row count drops everything cached; a new pass only the documents' histories. */
  setRows(n: number): void {
    if (n !== this.n) {
      this.previews.clear();
      this.wanted.clear();
    }
    this.details.clear();
    this.n = n;
    this.rowText = new RowText(this.client.get("rowText"), n);
  }

  /** The row_text trait changed. */
  reloadRowText(): void {
    this.rowText = new RowText(this.client.get("rowText"), this.n);
  }

  /** A request to the kernel, remembered while it waits (see waitingFor). */
  ask(method: string, args: Record<string, unknown>, buffers: ArrayBufferView[] = []): Promise<[any, DataView[]]> {
    const key = Symbol(method);
    this.asking.set(key, Date.now());
    return this.client.request(method, args, buffers).finally(() => this.asking.delete(key));
  }

  /** How long the oldest request for texts has waited (ms), 0 when none. */
  waitingFor(): number {
    const now = Date.now();
    let most = 0;
    for (const at of this.asking.values()) most = Math.max(most, now - at);
    return most;
  }

  /** Row `r`'s id and preview: fetched by a page, else from row_text; undefined while either is unknown. */
  previewOf(r: number): Preview | undefined {
    const fetched = this.previews.get(r);
    if (fetched) return fetched;
    const id = this.rowText.id(r);
    const text = this.client.get("hasText") ? this.rowText.preview(r) : "";
    return id !== undefined && text !== undefined ? { id, text } : undefined;
  }

  idOf(r: number, unknown = `row ${r}`): string {
    return this.previews.get(r)?.id ?? this.rowText.id(r) ?? this.details.get(r)?.id ?? unknown;
  }

  detail(r: number): DocDetail | undefined {
    return this.details.get(r);
  }

  /** Rows that came into view: ask for the previews not known yet, a page at a time. */
  want(rows: number[]): void {
    for (const r of rows) if (!this.previewOf(r) && !this.inFlight.has(r)) this.wanted.add(r);
    if (!this.wanted.size || this.pageTimer !== undefined) return;
    this.pageTimer = setTimeout(() => this.fetchPage(), this.pageDelayMs);
  }

  private fetchPage(): void {
    this.pageTimer = undefined;
    const size = Math.min(PAGE_ROWS, config().max_page_rows);
    const all = [...this.wanted];
    const rows = Uint32Array.from(all.slice(0, size));
    this.wanted = new Set(all.slice(size));
    if (!rows.length) return;
    for (const r of rows) this.inFlight.add(r);
    this.ask("page", { full: false }, [rows])
      .then(([res]) => {
        if (this.previews.size > MAX_CACHED) this.previews.clear();
        res.rows.forEach((r: number, i: number) => this.previews.set(r, { id: res.ids[i], text: res.texts[i] }));
        this.emit({});
      })
      .catch((err: Error) => this.emit({ error: `Could not load texts: ${err.message}` }))
      .finally(() => {
        for (const r of rows) this.inFlight.delete(r);
        if (this.wanted.size) this.want([]);
      });
  }

  /** The pane's document: bounded text, the per-pass gold probability, the model's classes; `all` for the whole text. */
  fetchDetail(r: number, all = false): void {
    if (r < 0 || this.detailWanted.has(r)) return;
    this.detailWanted.add(r);
    this.ask("document", { row: r, all })
      .then(([res]) => {
        this.details.set(r, res as DocDetail);
        const text = this.previews.get(r)?.text ?? res.text.slice(0, config().preview_chars);
        this.previews.set(r, { id: res.id, text });
        this.emit({});
      })
      .catch((err: Error) => this.emit({ error: `Could not load the document: ${err.message}` }))
      .finally(() => this.detailWanted.delete(r));
  }

  dispose(): void {
    if (this.pageTimer !== undefined) clearTimeout(this.pageTimer);
    this.listeners.clear();
  }
}
