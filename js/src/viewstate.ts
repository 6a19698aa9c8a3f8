/**
 * What one view shows, read by all its parts (map, side panel, controls, actions): the points
 * as the kernel last sent them and as the screen shows them (with the review controller's
 * optimistic changes), the selection and what narrows it (filters, search hits, the confusion
 * pair), and the names rows are shown by. No DOM: the parts draw it, widget.ts changes it.
 */
import { config } from "./config";
import { emptyFilters, visibleMask, withPair, type LabelPair } from "./filters";
import { ReviewController, noLabel, shownSuggestion } from "./review";
import { Selection } from "./selection";
import type { Filters, Points, Sync } from "./sync";

export class ViewState {
  /** The points as the kernel last said. */
  base: Points;
  /** What the screen shows: `base` with the optimistic changes of actions in flight. */
  points: Points;
  readonly sel = new Selection();
  /** 1 for a row the search matched (null: no search). */
  searchHits: Uint8Array | null = null;
  /** The query `searchHits` answers. */
  lastQuery = "";
  /** The confusion table's pair narrowing the table and the map (UI-only state). */
  pair: LabelPair | null = null;

  constructor(private sync: Sync, points: Points, readonly ctl: ReviewController) {
    this.base = points;
    this.points = points;
  }

  /** New points from the kernel; true when they are another set of examples (another row count):
   * the search hits and the current document, rows of the old set, are dropped. */
  load(points: Points): boolean {
    const otherRows = points.n !== this.base.n;
    this.base = points;
    this.showOverlay();
    if (otherRows) {
      this.searchHits = null;
      this.ctl.current = -1;
    }
    return otherRows;
  }

  /** `base` changed or the controller's overlay did: show base with the optimistic changes. */
  showOverlay(): void {
    const eff = this.ctl.effective(this.base.labels, this.base.reviewed);
    this.points = { ...this.base, labels: eff.labels, reviewed: eff.reviewed };
  }

  names(): string[] {
    return this.sync.get("labelNames") ?? [];
  }

  labelName(code: number): string {
    return this.names()[code] ?? "?";
  }

  /** The suggestion shown for row `r` (a label code; noLabel() for none, never the label itself). */
  suggestionOf(r: number): number {
    return shownSuggestion(this.points.suggested, this.points.labels, r);
  }

  /** The suggestion's name ("—": none). */
  suggestionName(r: number): string {
    return this.suggestionOf(r) === noLabel() ? "—" : this.labelName(this.suggestionOf(r));
  }

  filters(): Filters {
    return { ...emptyFilters(), ...(this.sync.get("filters") ?? {}) };
  }

  /** Whether the map has document texts (the pane says so when not). */
  hasText(): boolean {
    return !!this.sync.get("hasText");
  }

  colorBy(): string {
    return this.sync.get("colorBy") ?? config().color_by[0];
  }

  /** Recompute which rows pass the filters, the search and the pair. */
  computeVisible(): void {
    const p = this.points;
    this.sel.visible = withPair(visibleMask(p, this.filters(), this.sync.get("categories") ?? [], this.names(), this.searchHits), p, this.pair);
  }

  /** What narrows a selection, in words: "“query”" for a search alone, else "the filters". */
  narrowedBy(): string {
    const f = this.filters();
    const other = f.categories.length > 0 || f.labels.length > 0 || f.suspects_k > 0 || f.reviewed !== emptyFilters().reviewed || this.pair !== null;
    return this.lastQuery && !other ? `“${this.lastQuery}”` : "the filters";
  }

  /** Buttons act on the selection narrowed by the filters, exactly as the table lists it, or on
   * the current document when nothing is selected. */
  targetRows(): Uint32Array {
    return this.sel.targets(this.ctl.current, this.points.n);
  }
}
