/**
 * The toolbar (colour, tools, actions, pass counter, training progress), the key legend,
 * the review progress line and the status line with self-clearing messages. DOM only:
 * the view's parts (widget.ts wires them) decide what the controls do.
 */
import type { EmbeddingView, MapViewName, Progress, ReviewSummary } from "./sync";
import type { Tool } from "./mapview";
import { config } from "./config";

/** Add a listener that the view's cleanup removes. */
export type Listen = (target: EventTarget, type: string, fn: (e: any) => void) => void;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

export const COLOR_CHOICES: Array<[string, string]> = [
  ["correctness", "colour: correctness"],
  ["category", "colour: category"],
  ["label", "colour: label"],
  ["suggested_label", "colour: suggested label"],
  ["reviewed", "colour: reviewed"],
  ["mislabel_score", "colour: mislabel score"],
];

/** The view switch's buttons: which axes the map draws. */
export const VIEW_CHOICES: Array<[MapViewName, string, string]> = [
  ["data_map", "Data map", "The data map: variability (x) against confidence (y), with the region guides"],
  ["embedding", "Embedding", "Where the model puts each example in its embedding space (a 2-D projection): clusters and the stray labels in them"],
];

/** Display name of a projection method, for the axis titles and the tooltip. */
export function methodName(method: string): string {
  return ({ umap: "UMAP", pacmap: "PaCMAP", tsne: "t-SNE", pca: "PCA" } as Record<string, string>)[method] ?? method;
}

/** The toggle between the two views of the same points. The embedding view is off (greyed, the
 *  tooltip saying why) when the map has no embeddings, never silently missing. */
export class ViewSwitch {
  readonly el = h("span", "dmw-group dmw-views");
  readonly buttons = new Map<MapViewName, HTMLButtonElement>();

  constructor() {
    this.el.setAttribute("role", "group");
    this.el.setAttribute("aria-label", "Map axes");
    for (const [view, text, tip] of VIEW_CHOICES) {
      const b = h("button", `dmw-view dmw-view-${view}`, text);
      b.title = tip;
      b.setAttribute("aria-pressed", "false");
      this.buttons.set(view, b);
      this.el.appendChild(b);
    }
  }

  /** Show `view` as pressed; the embedding button is enabled only when `info.method` is set. */
  render(view: MapViewName, info: EmbeddingView | undefined): void {
    const embedding = this.buttons.get("embedding")!;
    const method = info?.method || info?.pending || "";
    const available = !!method;
    embedding.disabled = !available;
    // A disabled button gets no hover in some browsers: the group carries the reason too.
    embedding.title = available
      ? `${VIEW_CHOICES[1][2]} (${methodName(method)})${info!.note ? `. ${info!.note}` : ""}`
      : info?.reason || "No embeddings: no embedding view.";
    this.el.title = available ? "" : embedding.title;
    for (const [v, b] of this.buttons) {
      const on = v === view;
      b.classList.toggle("dmw-active", on);
      b.setAttribute("aria-pressed", String(on));
    }
  }
}

/** Below this widget width (px) the toolbar is compact (Toolbar.setCompact): 78em at 12 px, where the layout stacks. */
export const COMPACT_TOOLBAR_WIDTH = 1100;

export class Toolbar {
  readonly el = h("div", "dmw-toolbar");
  readonly colorSelect = h("select", "dmw-color-by");
  readonly toolButtons = new Map<Tool, HTMLButtonElement>();
  readonly homeButton = h("button", "dmw-home", "Reset view");
  readonly clearButton = h("button", "dmw-clear", "Clear selection");
  readonly relabelSelect = h("select", "dmw-relabel-select");
  readonly relabelButton = h("button", "dmw-relabel", "Relabel");
  readonly reviewButton = h("button", "dmw-review", "Mark reviewed");
  readonly acceptButton = h("button", "dmw-accept", "Accept suggestions…");
  readonly undoButton = h("button", "dmw-undo", "Undo");
  readonly helpButton = h("button", "dmw-help-button", "?");
  readonly saveButton = h("button", "dmw-save-labels", "Save labels");
  readonly saveState = h("span", "dmw-save-state");
  readonly passes = h("span", "dmw-passes");
  readonly progress = h("span", "dmw-progress");
  readonly views = new ViewSwitch();

  constructor() {
    this.colorSelect.title = "Colour points by";
    for (const [v, t] of COLOR_CHOICES) {
      const o = h("option", "", t);
      o.value = v;
      this.colorSelect.appendChild(o);
    }
    const tools = h("span", "dmw-group");
    for (const [tool, text, tip] of [["lasso", "Lasso", "Drag a freeform lasso (shift adds)"], ["box", "Box", "Drag a box (shift adds)"], ["pan", "Pan", "Drag to pan; Ctrl + wheel zooms (a plain wheel too once the map is clicked)"]] as const) {
      const b = h("button", `dmw-tool dmw-tool-${tool}`, text);
      b.title = tip;
      this.toolButtons.set(tool, b);
      tools.appendChild(b);
    }
    this.relabelButton.title = "Relabel the selection, or the document shown when nothing is selected";
    this.reviewButton.title = "Confirm the label of the selection, or of the document shown";
    this.acceptButton.title = "Give the selection (or the document shown) its suggested labels; says how many change first";
    this.homeButton.title = "Back to the whole map (double-click on the map does the same)";
    this.clearButton.title = "Clear the selection (Escape): the table lists every document passing the filters again";
    this.relabelSelect.title = "The label Relabel gives (keys 1–9 relabel the document shown directly)";
    this.undoButton.title = "Undo the last action (u)";
    this.helpButton.title = "Keyboard help (?)";
    this.saveButton.title = "Write every document's current label (id, label, original_label, changed, reviewed) as CSV next to the notebook; says where";
    this.helpButton.type = "button";
    this.passes.title = "Training passes (epochs) behind the map";
    this.progress.style.display = "none";
    // Two groups, each kept whole on its line when it fits: what the map shows, and what the
    // reviewer does. At a narrow widget (setCompact) the labels shorten so each group fits one
    // row: the toolbar takes two rows at 900 px, not four.
    const view = h("div", "dmw-toolbar-group dmw-toolbar-view");
    view.append(this.views.el, this.colorSelect, tools, this.homeButton, this.clearButton);
    const act = h("div", "dmw-toolbar-group dmw-toolbar-act");
    act.append(this.relabelSelect, this.relabelButton, this.reviewButton, this.acceptButton, this.undoButton, h("span", "dmw-sep"),
      this.saveButton, this.saveState, this.progress, this.passes, this.helpButton);
    this.el.append(view, act);
    for (const b of this.shortLabels.keys()) b.dataset.long = b.textContent ?? "";
  }

  /** The buttons whose labels shorten in the compact toolbar, with the short label. */
  private get shortLabels(): Map<HTMLButtonElement, string> {
    return new Map([
      [this.homeButton, "Reset"], [this.clearButton, "Clear"], [this.reviewButton, "Reviewed"],
      [this.acceptButton, "Accept…"], [this.saveButton, "Save"],
    ]);
  }

  /** Short labels (and a save line that ellipsizes) for a narrow widget; the titles keep the whole story. */
  setCompact(on: boolean): void {
    if (this.el.classList.contains("dmw-compact") === on && this.compactSet) return;
    this.compactSet = true;
    this.el.classList.toggle("dmw-compact", on);
    for (const [b, short] of this.shortLabels) {
      b.dataset.long ??= b.textContent ?? "";
      b.textContent = on ? short : b.dataset.long;
      if (on) b.setAttribute("aria-label", b.dataset.long);
      else b.removeAttribute("aria-label");
    }
  }
  private compactSet = false;

  setTool(tool: Tool): void {
    for (const [t, b] of this.toolButtons) b.classList.toggle("dmw-active", t === tool);
  }

  setLabels(names: string[]): void {
    const keep = this.relabelSelect.value;
    this.relabelSelect.replaceChildren();
    names.forEach((n, i) => {
      const o = h("option", "", i < 9 ? `${i + 1}: ${n}` : n);
      o.value = n;
      this.relabelSelect.appendChild(o);
    });
    if (names.includes(keep)) this.relabelSelect.value = keep;
  }

  /** "epoch 3/6 · 40%" while a model trains; hidden when idle. */
  setProgress(p: Progress | undefined): void {
    const text = progressText(p);
    this.progress.textContent = text;
    this.progress.style.display = text ? "" : "none";
    this.progress.title = p?.message ?? "";
    this.progress.classList.toggle("dmw-error", p?.state === config().failed_state);
  }
}

/** "3 labels changed · not saved", or where they are kept: the line beside Save labels. */
export function saveStateText(s: ReviewSummary, saveStatus: string): { text: string; title: string } {
  const n = `${s.changed.toLocaleString()} label${s.changed === 1 ? "" : "s"} changed`;
  if (s.store) {
    const ok = saveStatus === "" || saveStatus === "saved";
    return {
      text: `${n} · ${ok ? "saved" : "not yet saved"} to ${s.store}`,
      title: ok ? `Every action is written to the store ${s.store} as it happens.` : `Pending: ${saveStatus}`,
    };
  }
  const kernelOnly = "Without a store the reviews live only in this kernel: a restart loses them. Save labels writes them to a file; DataMapWidget(..., store=Store(...)) keeps every action.";
  // The file's name, not its whole path, so the line fits the compact toolbar; the path is in the title.
  const file = s.exported.split(/[\\/]/).pop() ?? s.exported;
  if (s.exported && s.exported_current) return { text: `${n} · saved to ${file}`, title: `Saved to ${s.exported}. ${kernelOnly}` };
  if (s.exported) return { text: `${n} · not saved`, title: `Changed since the last Save labels (${s.exported}). ${kernelOnly}` };
  return { text: `${n} · not saved`, title: kernelOnly };
}

export function progressText(p: Progress | undefined): string {
  if (!p || !p.state || p.state === "idle") return "";
  const epoch = p.epoch ? `epoch ${p.epoch}${p.epochs ? `/${p.epochs}` : ""}` : "";
  const share = p.steps ? `${Math.round((100 * (p.step ?? 0)) / p.steps)}%` : "";
  if (p.state === "running") return [epoch || "training", share].filter(Boolean).join(" · ");
  const word = { done: "training done", stopped: "training stopped", failed: "training failed" }[p.state];
  return [word, epoch].filter(Boolean).join(" · ");
}

/** The key → action legend, one line under the toolbar. */
export function keyLegend(names: string[]): string {
  const keys = names.slice(0, 9).map((n, i) => `${i + 1} ${n}`);
  return `keys: ${keys.join(" · ")}${names.length > 9 ? ` (labels after the 9th: the Relabel menu)` : ""} · a accept suggestion · r confirm · u undo · j/k next/previous · click opens, shift+click selects · ? help`;
}

type Kind = "info" | "error" | "sticky";

/**
 * One status line. Information clears itself after a few seconds, errors after longer;
 * "sticky" messages (unsaved work, a busy kernel) stay until replaced or cleared.
 */
export class StatusLine {
  readonly el = h("div", "dmw-status");
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private infoMs = 4000, private errorMs = 9000) {
    // A question (sticky, with buttons) is answered from the keyboard too: Escape dismisses it.
    this.el.addEventListener("keydown", (e: KeyboardEvent) => {
      if (e.key === "Escape" && this.kind === "sticky") {
        e.stopPropagation();
        this.clear();
      }
    });
  }

  show(text: string, kind: Kind = "info", ...extra: HTMLElement[]): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    // Nothing to say leaves the element empty: it then takes no room (widget.css, .dmw-status:empty).
    if (!text && !extra.length) return this.clear();
    this.el.replaceChildren(document.createTextNode(text), ...extra.flatMap((e) => [document.createTextNode(" "), e]));
    this.el.classList.toggle("dmw-error", kind === "error");
    this.el.dataset.kind = kind;
    if (kind !== "sticky" && text) this.timer = setTimeout(() => this.clear(), kind === "error" ? this.errorMs : this.infoMs);
    if (kind === "sticky" && extra.length) {
      // A question the user must answer (e.g. "Apply (12)") is brought into view (the toolbar
      // may have scrolled off) and its first button focused.
      this.el.scrollIntoView?.({ block: "nearest" });
      extra[0].focus({ preventScroll: true });
    }
  }

  get text(): string {
    return this.el.textContent ?? "";
  }

  get kind(): string {
    return this.el.dataset.kind ?? "";
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.el.replaceChildren();
    this.el.classList.remove("dmw-error");
    this.el.dataset.kind = "";
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
