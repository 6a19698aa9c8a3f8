/**
 * A virtualized document table: only the rows in view (plus a margin) exist in
 * the DOM, and every cell is filled with textContent, never HTML.
 */

export interface Column {
  key: string;
  title: string;
  /** CSS width, e.g. "6em" or "1fr". */
  width: string;
  /** Text of the cell for a row index; "" while it is loading. */
  get: (row: number) => string;
  className?: string;
}

export interface TableOptions {
  columns: Column[];
  rowHeight?: number;
  /** Called with row indices that came into view (the widget fetches their texts). */
  onVisible?: (rows: number[]) => void;
  onRowClick?: (row: number, position: number, event: MouseEvent) => void;
  /** Extra classes of a row's element (e.g. how it was reviewed); "" for none. */
  rowClass?: (row: number) => string;
}

export class VirtualTable {
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  private spacer: HTMLElement;
  private pool: HTMLElement[] = [];
  private rows: Uint32Array = new Uint32Array(0);
  private rowHeight: number;
  private cursorPos = -1;
  private highlighted = new Set<number>();
  private template: string;
  private raf = 0;
  private onScroll = () => this.schedule();

  constructor(parent: HTMLElement, private opts: TableOptions) {
    this.rowHeight = opts.rowHeight ?? 26;
    this.template = opts.columns.map((c) => c.width).join(" ");
    this.el = document.createElement("div");
    this.el.className = "dmw-table";
    const header = document.createElement("div");
    header.className = "dmw-row dmw-header";
    header.style.gridTemplateColumns = this.template;
    for (const c of opts.columns) {
      const cell = document.createElement("div");
      cell.className = `dmw-cell ${c.className ?? ""}`;
      cell.textContent = c.title;
      header.appendChild(cell);
    }
    this.body = document.createElement("div");
    this.body.className = "dmw-table-body";
    this.body.tabIndex = 0;
    this.spacer = document.createElement("div");
    this.spacer.className = "dmw-spacer";
    this.body.appendChild(this.spacer);
    this.el.append(header, this.body);
    parent.appendChild(this.el);
    this.body.addEventListener("scroll", this.onScroll);
  }

  get length(): number {
    return this.rows.length;
  }

  rowAt(position: number): number {
    return position >= 0 && position < this.rows.length ? this.rows[position] : -1;
  }

  positionOf(row: number): number {
    return this.rows.indexOf(row);
  }

  /**
   * Show `rows`. With `anchor` (a row, e.g. the current document) on screen before and in
   * `rows` after, the view scrolls by as much as that row moved, so it stays where the reader
   * saw it when the order changes (a re-ranking), and the cursor stays on it.
   */
  setRows(rows: Uint32Array, anchor = -1): void {
    const before = anchor >= 0 ? this.rows.indexOf(anchor) : -1;
    const onScreen = before >= 0 && this.inView(before);
    const cursorOnAnchor = before >= 0 && this.cursorPos === before;
    this.rows = rows;
    this.spacer.style.height = `${rows.length * this.rowHeight}px`;
    const after = before >= 0 ? rows.indexOf(anchor) : -1;
    if (after >= 0) {
      if (onScreen && after !== before) this.body.scrollTop = Math.max(0, this.body.scrollTop + (after - before) * this.rowHeight);
      if (cursorOnAnchor) this.cursorPos = after;
    }
    if (this.cursorPos >= rows.length) this.cursorPos = rows.length - 1;
    this.render();
  }

  /** Whether the row at `position` is (at least partly) inside the scrolled view. */
  private inView(position: number): boolean {
    const h = this.body.clientHeight || this.rowHeight * 20;
    const top = position * this.rowHeight;
    return top + this.rowHeight > this.body.scrollTop && top < this.body.scrollTop + h;
  }

  get cursor(): number {
    return this.cursorPos;
  }

  /** Move the cursor to a position and scroll it into view. */
  setCursor(position: number): void {
    this.cursorPos = Math.max(-1, Math.min(this.rows.length - 1, position));
    if (this.cursorPos >= 0) {
      const top = this.cursorPos * this.rowHeight;
      const h = this.body.clientHeight || this.rowHeight * 10;
      if (top < this.body.scrollTop) this.body.scrollTop = top;
      else if (top + this.rowHeight > this.body.scrollTop + h) this.body.scrollTop = top + this.rowHeight - h;
    }
    this.render();
  }

  /** Scroll back to the first row (a new list of rows starts at its top). */
  scrollToTop(): void {
    this.body.scrollTop = 0;
    this.render();
  }

  setHighlighted(rows: Iterable<number>): void {
    this.highlighted = new Set(rows);
    this.render();
  }

  private schedule(): void {
    if (this.raf) return;
    const run = () => {
      this.raf = 0;
      this.render();
    };
    this.raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : (setTimeout(run, 16) as unknown as number);
  }

  /** Draw the rows in view; cheap enough to call after every data change. */
  render(): void {
    const h = this.body.clientHeight || this.rowHeight * 20;
    const first = Math.max(0, Math.floor(this.body.scrollTop / this.rowHeight) - 5);
    const last = Math.min(this.rows.length, Math.ceil((this.body.scrollTop + h) / this.rowHeight) + 5);
    const need = Math.max(0, last - first);
    while (this.pool.length < need) this.pool.push(this.makeRow());
    const visible: number[] = [];
    for (let k = 0; k < this.pool.length; k++) {
      const el = this.pool[k];
      const pos = first + k;
      if (k >= need) {
        el.style.display = "none";
        continue;
      }
      const row = this.rows[pos];
      visible.push(row);
      el.style.display = "";
      el.style.transform = `translateY(${pos * this.rowHeight}px)`;
      el.dataset.row = String(row);
      el.dataset.pos = String(pos);
      el.classList.toggle("dmw-cursor", pos === this.cursorPos);
      el.classList.toggle("dmw-highlight", this.highlighted.has(row));
      if (this.opts.rowClass) {
        const extra = this.opts.rowClass(row);
        if (el.dataset.extra !== extra) {
          for (const c of (el.dataset.extra ?? "").split(" ")) if (c) el.classList.remove(c);
          for (const c of extra.split(" ")) if (c) el.classList.add(c);
          el.dataset.extra = extra;
        }
      }
      const cells = el.children;
      for (let c = 0; c < this.opts.columns.length; c++) {
        const text = this.opts.columns[c].get(row);
        const cell = cells[c] as HTMLElement;
        if (cell.textContent !== text) cell.textContent = text;
      }
    }
    if (visible.length && this.opts.onVisible) this.opts.onVisible(visible);
  }

  private makeRow(): HTMLElement {
    const el = document.createElement("div");
    el.className = "dmw-row";
    el.style.gridTemplateColumns = this.template;
    el.style.height = `${this.rowHeight}px`;
    for (const c of this.opts.columns) {
      const cell = document.createElement("div");
      cell.className = `dmw-cell ${c.className ?? ""}`;
      el.appendChild(cell);
    }
    el.addEventListener("click", (ev) => {
      const row = Number(el.dataset.row);
      const pos = Number(el.dataset.pos);
      this.cursorPos = pos;
      this.opts.onRowClick?.(row, pos, ev);
      this.render();
    });
    this.body.appendChild(el);
    return el;
  }

  destroy(): void {
    this.body.removeEventListener("scroll", this.onScroll);
    if (this.raf) (typeof cancelAnimationFrame === "function" ? cancelAnimationFrame : clearTimeout)(this.raf as any);
    this.el.remove();
  }
}
