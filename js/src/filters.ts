/**
 * The filter bar (regions, labels, "possibly mislabeled: top k", reviewed state, search, the
 * review progress line) and the pure rule of which rows pass the filters.
 */
import type { Filters, Points } from "./sync";
import { h } from "./toolbar";
import { config } from "./config";

/** The filters with nothing chosen (every point shows), as Python defines them. */
export const emptyFilters = (): Filters => structuredClone(config().empty_filters);
/** The reviewed filter's values, as Python names them: [every row, reviewed ones, unreviewed ones]. */
const reviewedValues = () => {
  const [all, reviewed, unreviewed] = config().reviewed_filters;
  return { all, reviewed, unreviewed };
};

/** Which rows pass the filters (null = all), on what the screen shows (optimistic marks included). */
export function visibleMask(points: Points, f: Filters, categories: string[], names: string[], searchHits: Uint8Array | null): Uint8Array | null {
  const cats = new Set(f.categories);
  const labs = new Set(f.labels);
  const useCat = cats.size > 0;
  const useLab = labs.size > 0;
  const catCodes = categories.map((c) => cats.has(c));
  const labCodes = names.map((l) => labs.has(l));
  const rev = f.reviewed;
  const values = reviewedValues();
  const k = f.suspects_k > 0 ? f.suspects_k : 0;
  if (!useCat && !useLab && rev === values.all && !k && !searchHits) return null;
  const mask = new Uint8Array(points.n);
  for (let i = 0; i < points.n; i++) {
    let ok = 1;
    if (useCat && !catCodes[points.category[i]]) ok = 0;
    else if (useLab && !labCodes[points.labels[i]]) ok = 0;
    else if (rev === values.reviewed && !points.reviewed[i]) ok = 0;
    else if (rev === values.unreviewed && points.reviewed[i]) ok = 0;
    else if (searchHits && !searchHits[i]) ok = 0;
    mask[i] = ok;
  }
  if (k) {
    // Top k suspects not yet reviewed (as DataMap.suspects), walking the score order.
    const top = new Uint8Array(points.n);
    let taken = 0;
    for (let j = 0; j < points.order.length && taken < k; j++) {
      const r = points.order[j];
      if (points.reviewed[r]) continue;
      top[r] = 1;
      taken++;
    }
    for (let i = 0; i < points.n; i++) mask[i] &= top[i];
  }
  return mask;
}

export interface FilterHandlers {
  /** A filter changed: write it (after `delayMs` of quiet) and redraw. */
  change(patch: Partial<Filters>, delayMs?: number): void;
  /** The search box changed. */
  search(query: string): void;
  current(): Filters;
}

export class FilterBar {
  readonly el = h("div", "dmw-filters");
  readonly progress = h("span", "dmw-review-progress");
  private catBox = h("span", "dmw-group dmw-filter-categories");
  private labelBox = h("span", "dmw-group dmw-filter-labels");
  private suspectsCheck = h("input", "dmw-suspects");
  private suspectsK = h("input", "dmw-suspects-k");
  private reviewedSelect = h("select", "dmw-filter-reviewed");
  readonly searchInput = h("input", "dmw-search");

  constructor(private on: FilterHandlers, listen: (t: EventTarget, type: string, fn: (e: any) => void) => void) {
    this.suspectsCheck.type = "checkbox";
    this.suspectsK.type = "number";
    this.suspectsK.min = "1";
    this.suspectsK.value = "50";
    const suspectsLabel = h("label", "dmw-group");
    suspectsLabel.title =
      "Show only the k documents with the highest mislabel score (most likely mislabeled) not reviewed yet; " +
      "a reviewed one makes room for the next";
    suspectsLabel.append(this.suspectsCheck, document.createTextNode(" possibly mislabeled: top "), this.suspectsK);
    this.reviewedSelect.title = "Show documents by review state (reviewed: confirmed or relabeled)";
    this.catBox.title = "Show only these regions of the map (none ticked: all)";
    this.labelBox.title = "Show only documents with these current labels (none ticked: all)";
    this.progress.title = "How many of the top suspects (the top k, or 50) are reviewed";
    const values = reviewedValues();
    for (const [v, t] of [[values.all, "reviewed or not"], [values.unreviewed, "not reviewed"], [values.reviewed, "reviewed"]]) {
      const o = h("option", "", t);
      o.value = v;
      this.reviewedSelect.appendChild(o);
    }
    this.searchInput.type = "search";
    this.searchInput.placeholder = "search text or id";
    this.searchInput.title = "Show documents whose text or id contains this; Escape leaves the box (the keys work again)";
    this.el.append(this.catBox, this.labelBox, suspectsLabel, this.reviewedSelect, this.searchInput, this.progress);

    const k = () => Math.max(1, Number(this.suspectsK.value) || 50);
    listen(this.suspectsCheck, "change", () => on.change({ suspects_k: this.suspectsCheck.checked ? k() : 0 }));
    listen(this.suspectsK, "input", () => {
      if (this.suspectsCheck.checked) on.change({ suspects_k: Math.max(1, Number(this.suspectsK.value) || 1) }, 250);
    });
    listen(this.reviewedSelect, "change", () => on.change({ reviewed: this.reviewedSelect.value as Filters["reviewed"] }));
    listen(this.searchInput, "input", () => on.search(this.searchInput.value));
  }

  /** Show `f` in the controls (a change from Python or another view). */
  render(f: Filters, categories: string[], names: string[]): void {
    this.chips(this.catBox, categories, f.categories, "categories");
    this.chips(this.labelBox, names, f.labels, "labels");
    this.suspectsCheck.checked = f.suspects_k > 0;
    if (f.suspects_k > 0) this.suspectsK.value = String(f.suspects_k);
    this.reviewedSelect.value = f.reviewed;
    if (this.searchInput.value !== f.search) this.searchInput.value = f.search;
  }

  private chips(box: HTMLElement, values: string[], chosen: string[], key: "categories" | "labels"): void {
    box.replaceChildren();
    if (values.length > 12) {
      // Many labels: a compact multi-select instead of a wall of checkboxes.
      const sel = h("select", `dmw-multi dmw-multi-${key}`);
      sel.multiple = true;
      sel.size = 3;
      sel.title = `Filter by ${key} (ctrl/shift-click for several; none = all)`;
      for (const v of values) {
        const o = h("option", "", v);
        o.value = v;
        o.selected = chosen.includes(v);
        sel.appendChild(o);
      }
      sel.addEventListener("change", () => this.on.change({ [key]: [...sel.selectedOptions].map((o) => o.value) } as Partial<Filters>));
      box.appendChild(sel);
      return;
    }
    for (const v of values) {
      const lab = h("label", "dmw-chip");
      const cb = h("input");
      cb.type = "checkbox";
      cb.value = v;
      cb.checked = chosen.includes(v);
      cb.addEventListener("change", () => {
        const cur = new Set(this.on.current()[key]);
        if (cb.checked) cur.add(v);
        else cur.delete(v);
        this.on.change({ [key]: values.filter((x) => cur.has(x)) } as Partial<Filters>);
      });
      lab.append(cb, document.createTextNode(` ${v}`));
      box.appendChild(lab);
    }
  }
}

/** A given × suggested label pair (label codes) the table is narrowed to, as a confusion cell. */
export type LabelPair = { given: number; suggested: number };

/**
 * Given × suggested counts, row-major `[given * nLabels + suggested]`, on the labels the screen
 * shows (relabels included). Points without a suggestion (never seen in training) count nowhere.
 */
export function confusionCounts(labels: Uint16Array, suggested: Uint16Array, nLabels: number): Uint32Array {
  const counts = new Uint32Array(nLabels * nLabels);
  const n = Math.min(labels.length, suggested.length);
  for (let i = 0; i < n; i++) {
    const g = labels[i];
    const s = suggested[i];
    if (g < nLabels && s < nLabels) counts[g * nLabels + s]++;
  }
  return counts;
}

/** `mask` (null = every row) narrowed to the rows of exactly `pair` (null = no narrowing). */
export function withPair(mask: Uint8Array | null, points: Points, pair: LabelPair | null): Uint8Array | null {
  if (!pair) return mask;
  const out = new Uint8Array(points.n);
  for (let i = 0; i < points.n; i++) {
    out[i] = (!mask || mask[i]) && points.labels[i] === pair.given && points.suggested[i] === pair.suggested ? 1 : 0;
  }
  return out;
}

/**
 * The confusion table: given labels as rows, suggested labels as columns, counts in cells (only
 * labels that occur, so a large label set stays small). A click on a cell narrows the table and
 * the map to that pair; a second click on it lifts that. The diagonal holds no count: a
 * suggestion is always another label, so it reads "—", greyed, "no other label suggested".
 */
export class ConfusionTable {
  readonly el = h("div", "dmw-confusion");

  constructor(private onPick: (pair: LabelPair | null) => void) {}

  render(counts: Uint32Array, names: string[], pair: LabelPair | null): void {
    const n = names.length;
    const rowUsed: number[] = [];
    const colUsed: number[] = [];
    for (let g = 0; g < n; g++) for (let s = 0; s < n; s++) if (counts[g * n + s]) {
      if (!rowUsed.includes(g)) rowUsed.push(g);
      if (!colUsed.includes(s)) colUsed.push(s);
    }
    rowUsed.sort((a, b) => a - b);
    colUsed.sort((a, b) => a - b);
    const table = h("table", "dmw-confusion-table");
    const head = h("tr");
    head.appendChild(h("th", "", "given \\ suggested"));
    for (const s of colUsed) head.appendChild(h("th", "", names[s]));
    table.appendChild(head);
    for (const g of rowUsed) {
      const tr = h("tr");
      tr.appendChild(h("th", "", names[g]));
      for (const s of colUsed) {
        if (g === s) {
          // Not agreement: a suggestion is always another label, so documents whose label the
          // map backs are counted in no cell. Said in the cell, greyed, so nobody reads it as a count.
          const td = h("td", "dmw-confusion-diagonal", "—");
          td.title = `${names[g]}: no other label suggested (documents the map agrees with are not counted in this table)`;
          tr.appendChild(td);
          continue;
        }
        const td = h("td");
        const count = counts[g * n + s];
        if (count) {
          const b = h("button", "dmw-confusion-cell", count.toLocaleString());
          b.type = "button";
          b.dataset.given = String(g);
          b.dataset.suggested = String(s);
          const active = !!pair && pair.given === g && pair.suggested === s;
          if (active) b.classList.add("dmw-active");
          b.title = `${count.toLocaleString()} labelled ${names[g]}, suggested ${names[s]}`;
          b.addEventListener("click", () => this.onPick(active ? null : { given: g, suggested: s }));
          td.appendChild(b);
        }
        tr.appendChild(td);
      }
      table.appendChild(tr);
    }
    const title = h("div", "dmw-confusion-title",
      "Given label (rows) × suggested label (columns): click a count to show that pair. The diagonal (—) means no other label suggested, not agreement.");
    this.el.replaceChildren(title, table);
  }
}
