/**
 * The side of one view: the table of shown documents (most suspect first) with its title and
 * the note on a selection the filters narrow, the detail pane of the current document, the
 * confusion table (given × suggested; a clicked cell narrows the view to that pair), and the
 * review progress line. Reads the view's state (viewstate.ts); clicks go out through `SideHooks`.
 */
import { ConfusionTable, confusionCounts } from "./filters";
import { toggle } from "./lasso";
import { Note, selectionHiddenText } from "./notes";
import type { RowTexts } from "./paging";
import { DetailPane } from "./pane";
import { marks, shownSuggestions, suspectProgress } from "./review";
import { VirtualTable } from "./table";
import { h } from "./toolbar";
import type { ViewState } from "./viewstate";

/** Suspects the progress line counts when no top-k filter is set. */
const PROGRESS_K = 50;

const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");

export interface SideHooks {
  /** Shift+click on a row added it to the selection or took it out. */
  select(rows: Uint32Array): void;
  /** A row or a neighbour in the pane was clicked: it becomes the current document, the keys act on it. */
  open(row: number): void;
  /** The confusion pair changed: recompute what is shown. */
  recompute(): void;
  /** Whether the kernel keeps a request waiting (the pane then says the texts wait for it). */
  waiting(): boolean;
}

export class SidePanel {
  readonly table: VirtualTable;
  private title = h("div", "dmw-table-title");
  private selectionNote = new Note("dmw-selection-hidden");
  private pane: DetailPane;
  private confusion: ConfusionTable;

  constructor(side: HTMLElement, private state: ViewState, private texts: RowTexts, private progressLine: HTMLElement, private hooks: SideHooks) {
    const name = (code: number) => state.labelName(code);
    const markText = (mark: number) => (mark === marks().relabeled ? "✎" : mark === marks().confirmed ? "✓" : "");
    const p = () => state.points;
    this.table = new VirtualTable(side, {
      columns: [
        { key: "id", title: "id", width: "9em", get: (r) => texts.idOf(r, "…"), className: "dmw-c-id" },
        { key: "text", title: "text", width: "minmax(var(--dmw-text-min, 16em), 1fr)", get: (r) => texts.previewOf(r)?.text ?? "", className: "dmw-c-text" },
        { key: "label", title: "label", width: "5em", get: (r) => name(p().labels[r]), className: "dmw-c-label" },
        { key: "suggested", title: "suggested", width: "6.2em", get: (r) => state.suggestionName(r) },
        { key: "confidence", title: "conf", width: "3.4em", get: (r) => f2(p().y[r]) },
        { key: "variability", title: "var", width: "3.2em", get: (r) => f2(p().x[r]) },
        { key: "correctness", title: "corr", width: "3.4em", get: (r) => f2(p().correctness[r]) },
        { key: "reviewed", title: "✓", width: "1.6em", get: (r) => markText(p().reviewed[r]), className: "dmw-c-reviewed" },
      ],
      rowClass: (r) => (p().reviewed[r] === marks().relabeled ? "dmw-relabeled" : p().reviewed[r] === marks().confirmed ? "dmw-confirmed" : ""),
      onVisible: (rows) => texts.want(rows),
      onRowClick: (row, _position, event) => {
        state.ctl.current = row;
        if (event.shiftKey) hooks.select(toggle(state.sel.rows, row)); // as shift+click on its point
        hooks.open(row);
      },
    });
    side.insertBefore(this.title, this.table.el);
    side.insertBefore(this.selectionNote.el, this.table.el);
    this.pane = new DetailPane(side, (row) => texts.fetchDetail(row, true), (row) => hooks.open(row));
    this.confusion = new ConfusionTable((pair) => {
      state.pair = pair;
      hooks.recompute();
      this.scrollToCurrent();
    });
    side.appendChild(this.confusion.el);
  }

  /** A new list opens at its top, or where the current document is. */
  scrollToCurrent(): void {
    if (this.table.positionOf(this.state.ctl.current) < 0) this.table.scrollToTop();
  }

  renderConfusion(): void {
    const { points, pair } = this.state;
    const names = this.state.names();
    this.confusion.render(confusionCounts(points.labels, shownSuggestions(points.suggested, points.labels), names.length), names, pair);
  }

  /** Table rows: the shown rows (selection.ts), most suspect first. The cursor follows the
   * current document. */
  rebuild(): void {
    const { sel, points, pair } = this.state;
    const selection = sel.rows;
    const narrow = sel.narrowed;
    const rows = sel.tableRows(points.order, points.n);
    this.table.setRows(rows, this.state.ctl.current); // a re-ranked order keeps the current document where it is on screen
    this.syncCursor();
    const picked = selection.length.toLocaleString();
    const what = !selection.length
      ? `${rows.length.toLocaleString()} of ${points.n.toLocaleString()} shown`
      : narrow ? `${rows.length.toLocaleString()} of ${picked} selected match ${this.state.narrowedBy()}` : `${picked} selected`;
    const narrowed = pair && !selection.length ? ` · labelled ${this.state.labelName(pair.given)}, suggested ${this.state.labelName(pair.suggested)}` : "";
    this.title.textContent = `${what}${narrowed} · most suspect first`;
    this.selectionNote.show(narrow ? selectionHiddenText(selection.length, rows.length, this.state.narrowedBy()) : "");
    this.renderProgress();
  }

  private renderProgress(): void {
    const f = this.state.filters();
    const k = f.suspects_k > 0 ? f.suspects_k : PROGRESS_K;
    const p = suspectProgress(this.state.points.order, this.state.points.reviewed, k);
    this.progressLine.textContent = `reviewed ${p.reviewed.toLocaleString()} of the top ${p.of.toLocaleString()} suspects`;
  }

  /** The table cursor and the highlighted row show the current document. */
  syncCursor(): void {
    const r = this.state.ctl.current;
    const pos = r >= 0 ? this.table.positionOf(r) : -1;
    if (pos !== this.table.cursor) this.table.setCursor(pos);
    this.table.setHighlighted(r >= 0 ? [r] : []);
  }

  /** The pane shows the current document (or how to pick one). */
  renderDetail(): void {
    const { points, ctl } = this.state;
    const texts = this.texts;
    const r = ctl.current;
    const name = (code: number) => this.state.labelName(code);
    if (r < 0 || r >= points.n) return this.pane.render(null);
    this.pane.render({
      row: r,
      label: name(points.labels[r]),
      suggested: this.state.suggestionName(r),
      confidence: points.y[r],
      variability: points.x[r],
      correctness: points.correctness[r],
      mark: points.reviewed[r],
      hasText: this.state.hasText(),
      preview: texts.previewOf(r),
      detail: texts.detail(r),
      // Labels from the points as shown now (optimistic relabels included), not from the cached reply.
      neighbours: texts.detail(r)?.neighbors?.items.map((nb) => ({ ...nb, label: nb.row < points.n ? name(points.labels[nb.row]) : nb.label })),
      waiting: this.hooks.waiting(),
      outside: this.outsideHint(r),
    });
  }

  /** Keys act on the pane's document, buttons on the selection: say so when the two differ. With
   * nothing selected the buttons act on the pane's document too, even when the filters, the search
   * or a given × suggested pair hide it from the table: say that, as the table suggests otherwise. */
  private outsideHint(r: number): string | undefined {
    const { sel } = this.state;
    if (!sel.rows.length) {
      if (!sel.visible || sel.visible[r]) return undefined;
      const by = this.state.narrowedBy().startsWith("“") ? "the search" : "the filters";
      return `This document is hidden from the table by ${by}: keys and buttons act on it; select rows for the buttons to act on those.`;
    }
    if (sel.inTargets(r)) return undefined;
    const n = this.state.targetRows().length;
    const where = sel.narrowed ? `selected documents that match ${this.state.narrowedBy()}` : "selected";
    return `This document is not in the selection: keys act on it, buttons on the ${n.toLocaleString()} ${where}.`;
  }

  /** Redraw the visible rows (their texts arrived). */
  render(): void {
    this.table.render();
  }

  destroy(): void {
    this.table.destroy();
  }
}
