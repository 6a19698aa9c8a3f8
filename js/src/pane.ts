/**
 * The detail pane: the current document, what the reviewer needs to decide in one look
 * (labels, scores, the model's classes, the gold-label probability per pass as a
 * sparkline), its text, bounded unless the reviewer asks for all of it, and its nearest
 * neighbours in the model's embedding space with their current labels (a click on one makes it
 * the current document). Every string goes in as textContent; the sparkline is SVG built from
 * numbers only.
 */
import { marks } from "./review";

/** One document as the `document` request returns it. */
export interface DocDetail {
  row: number;
  id: string;
  text: string;
  truncated: boolean;
  length: number;
  score: number | null;
  gold_prob: Array<number | null>;
  /** The model's classes, most probable first: the top three of the mean over the passes
   * ("mean"), or, for a map without class probabilities, the gold label and the best other
   * class of the last pass (absent or "last pass"). */
  classes: Array<[string, number]>;
  classes_from?: "mean" | "last pass";
  /** The label the model was trained on (marked when it is among `classes`). */
  gold_label?: string;
  /** The nearest examples in embedding space; null when the map has no embeddings. */
  neighbors?: { items: Neighbour[]; summary: string } | null;
  /** How much of this text the model read (share of its tokens) and the long-text mode. */
  reading?: { share: number; mode: string; max_length?: number | null } | null;
  /** The text view's top classes (a bag of words that read every word, out of fold). */
  text_view?: Array<[string, number]>;
}

const READ_HOW: Record<string, string> = {
  head: "its beginning",
  head_tail: "its beginning and end",
  windows: "windows spread over it",
};

/** "The model read 34% of this text (its beginning and end)", or "" for a text read whole. */
export function readingLine(reading: DocDetail["reading"]): string {
  if (!reading || !(reading.share < 0.995)) return "";
  const how = READ_HOW[reading.mode] ?? reading.mode;
  return `The model read ${Math.round(reading.share * 100)}% of this text (${how}${reading.max_length ? `, ${reading.max_length} tokens at a time` : ""}).`;
}

/** One neighbour of the current document (label: its current label, relabels included). */
export interface Neighbour {
  row: number;
  id: string;
  label: string;
  text: string;
  similarity: number;
}

/** "6 of 8 neighbours are HUM": how many share the most common label (the first one seen on a tie). */
export function neighbourSummary(labels: string[]): string {
  if (!labels.length) return "no neighbours (no embedding)";
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let top = labels[0];
  for (const [l, c] of counts) if (c > counts.get(top)!) top = l;
  return `${counts.get(top)} of ${labels.length} ${labels.length === 1 ? "neighbour is" : "neighbours are"} ${top}`;
}

export interface PaneRow {
  row: number;
  label: string;
  suggested: string;
  confidence: number;
  variability: number;
  correctness: number;
  mark: number;
  hasText: boolean;
  /** What the table already loaded (a preview) while the full document is on its way. */
  preview?: { id: string; text: string };
  detail?: DocDetail;
  /** The neighbours to list, labels as the reviewer sees them now; absent without embeddings. */
  neighbours?: Neighbour[];
  /** The kernel is busy: say why the text is not there yet. */
  waiting: boolean;
  /** Set when a selection exists and this document is not in it: the hint to show. */
  outside?: string;
}

const SVG = "http://www.w3.org/2000/svg";
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "–");

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** "62%", "<1%" for a sliver above zero: the share a reviewer reads at a glance. */
export function percent(p: number): string {
  if (!Number.isFinite(p)) return "–";
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

/** The model's classes as text spans, the gold label marked (names are data: textContent only).
 * `goldProb`: the given label's mean probability over the passes (the map's confidence), added
 * after the top three when the given label is not among them, so the pane always shows it. */
export function classList(detail: Pick<DocDetail, "classes" | "classes_from" | "gold_label">, goldProb?: number): HTMLElement {
  const box = h("span", "dmw-detail-classes");
  if (detail.classes_from !== "mean") {
    box.textContent = `model, last pass: ${detail.classes.map(([n, p]) => `${n} ${p.toFixed(2)}`).join(" · ")}`;
    return box;
  }
  box.appendChild(h("span", "dmw-classes-label", "model, mean over passes: "));
  const classes = [...detail.classes];
  if (detail.gold_label !== undefined && goldProb !== undefined && Number.isFinite(goldProb) && !classes.some(([name]) => name === detail.gold_label)) {
    classes.push([detail.gold_label, goldProb]);
  }
  classes.forEach(([name, p], i) => {
    if (i) box.appendChild(document.createTextNode(" · "));
    const gold = name === detail.gold_label;
    const item = h("span", gold ? "dmw-class dmw-class-gold" : "dmw-class", `${name} ${percent(p)}`);
    if (gold) {
      item.title = "the label the model was trained on";
      item.appendChild(h("span", "dmw-class-gold-mark", " (given label)"));
    }
    box.appendChild(item);
  });
  return box;
}

/** Left of the sparkline: room for its "1" and "0" marks. */
const SPARK_GUTTER = 9;

/** A small line of p(gold) per pass (missing passes leave a gap) on a 0–1 scale marked at its
 * left, with faint lines at 0 and 1; its title lists the values. */
export function sparkline(values: Array<number | null>, width = 130, height = 26): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "dmw-spark");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const title = document.createElementNS(SVG, "title");
  title.textContent = `p(gold label) per pass: ${values.map((v) => (v == null ? "–" : v.toFixed(2))).join(", ")}`;
  svg.appendChild(title);
  const n = values.length;
  const left = SPARK_GUTTER + 3;
  const x = (i: number) => (n <= 1 ? (left + width) / 2 : left + (i * (width - 2 - left)) / (n - 1));
  const y = (v: number) => height - 4 - v * (height - 8);
  for (const v of [0, 1]) {
    const guide = document.createElementNS(SVG, "line");
    guide.setAttribute("x1", String(SPARK_GUTTER + 1));
    guide.setAttribute("x2", String(width));
    guide.setAttribute("y1", y(v).toFixed(1));
    guide.setAttribute("y2", y(v).toFixed(1));
    guide.setAttribute("class", "dmw-spark-guide");
    svg.appendChild(guide);
    const mark = document.createElementNS(SVG, "text");
    mark.setAttribute("x", String(SPARK_GUTTER - 1));
    mark.setAttribute("y", y(v).toFixed(1));
    mark.setAttribute("text-anchor", "end");
    mark.setAttribute("dominant-baseline", "middle");
    mark.setAttribute("class", "dmw-spark-axis");
    mark.setAttribute("font-size", "9");
    mark.textContent = String(v);
    svg.appendChild(mark);
  }
  let segment: string[] = [];
  const flush = () => {
    if (!segment.length) return;
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", segment.join(" "));
    line.setAttribute("class", "dmw-spark-line");
    svg.appendChild(line);
    segment = [];
  };
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) return flush();
    segment.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(i).toFixed(1));
    dot.setAttribute("cy", y(v).toFixed(1));
    dot.setAttribute("r", "1.6");
    dot.setAttribute("class", "dmw-spark-dot");
    svg.appendChild(dot);
  });
  flush();
  return svg;
}

export class DetailPane {
  readonly el: HTMLElement;

  constructor(
    parent: HTMLElement,
    private onShowAll: (row: number) => void,
    private onNeighbour: (row: number) => void = () => {},
  ) {
    this.el = h("div", "dmw-detail");
    parent.appendChild(this.el);
  }

  render(doc: PaneRow | null): void {
    const el = this.el;
    el.replaceChildren();
    if (!doc) {
      el.appendChild(h("div", "dmw-hint", "Click a point or a row to read its document here; every key and button acts on it."));
      return;
    }
    const detail = doc.detail;
    const id = detail?.id ?? doc.preview?.id ?? "…";
    const head = h("div", "dmw-detail-head");
    head.appendChild(h("b", "dmw-detail-id", id));
    if (doc.mark === marks().relabeled) head.appendChild(h("span", "dmw-badge dmw-badge-relabeled", "relabeled"));
    else if (doc.mark === marks().confirmed) head.appendChild(h("span", "dmw-badge dmw-badge-confirmed", "confirmed"));
    const score = detail?.score;
    head.appendChild(
      h(
        "span",
        "dmw-detail-facts",
        ` label ${doc.label} · suggested ${doc.suggested} · conf ${f3(doc.confidence)} · var ${f3(doc.variability)} · corr ${f3(doc.correctness)}${score != null ? ` · score ${f3(score)}` : ""}`,
      ),
    );
    el.appendChild(head);
    if (doc.outside) el.appendChild(h("div", "dmw-outside-hint", doc.outside));
    if (detail) {
      const model = h("div", "dmw-detail-model");
      if (detail.classes.length) model.appendChild(classList(detail, doc.confidence));
      if (detail.gold_prob.length) {
        const n = detail.gold_prob.length;
        // One unit that wraps under the classes as a whole rather than squeezed beside them.
        const spark = h("span", "dmw-spark-box");
        spark.append(h("span", "dmw-spark-label", "p(given label) per pass"), sparkline(detail.gold_prob),
          h("span", "dmw-spark-passes", `${n} pass${n === 1 ? "" : "es"}`));
        model.append(spark);
      }
      el.appendChild(model);
      if (detail.text_view?.length) {
        el.appendChild(
          h("div", "dmw-detail-textview", `bag of words (never saw this label): ${detail.text_view.map(([n, p]) => `${n} ${p.toFixed(2)}`).join(" · ")}`),
        );
      }
      const read = readingLine(detail.reading);
      if (read) el.appendChild(h("div", "dmw-detail-reading", read));
    }
    if (!doc.hasText) {
      el.appendChild(h("div", "dmw-detail-text dmw-hint", "No text: pass data= (a DataFrame with a text column) to DataMapWidget."));
      return;
    }
    const text = detail?.text ?? doc.preview?.text;
    const body = h("div", "dmw-detail-text", text ?? (doc.waiting ? "waiting for the kernel (a cell is running)…" : "loading…"));
    el.appendChild(body);
    if (detail?.truncated) {
      const more = h("button", "dmw-show-all", `Show all ${detail.length.toLocaleString()} characters`);
      more.addEventListener("click", () => this.onShowAll(doc.row));
      el.appendChild(more);
    }
    if (doc.neighbours) el.appendChild(this.neighbourList(doc.neighbours));
  }

  private neighbourList(items: Neighbour[]): HTMLElement {
    const box = h("div", "dmw-neighbours");
    box.appendChild(h("div", "dmw-neighbours-summary", `Nearest in embedding space: ${neighbourSummary(items.map((n) => n.label))}`));
    for (const n of items) {
      const item = h("button", "dmw-neighbour");
      item.type = "button";
      item.dataset.row = String(n.row);
      item.title = `Open ${n.id}`;
      item.append(
        h("span", "dmw-neighbour-sim", n.similarity.toFixed(2)),
        h("span", "dmw-neighbour-label", n.label),
        h("span", "dmw-neighbour-id", n.id),
        h("span", "dmw-neighbour-text", n.text),
      );
      item.addEventListener("click", () => this.onNeighbour(n.row));
      box.appendChild(item);
    }
    return box;
  }
}
