/**
 * The controls of one view drawn from the traits: the toolbar's colouring, labels, pass counter,
 * training progress, undo button and save state, the key legend, the note on classes the map
 * never learned, the filter bar, and the map's colour legend and region thresholds. Drawing
 * only: what the controls do is wired by widget.ts and the parts it builds.
 */
import { legend } from "./colors";
import type { FilterBar } from "./filters";
import type { StartHint } from "./help";
import type { MapView } from "./mapview";
import { Note, unlearnedText } from "./notes";
import type { Sync } from "./sync";
import { isDark } from "./theme";
import { h, keyLegend, saveStateText, type Toolbar } from "./toolbar";
import type { ViewState } from "./viewstate";

export interface ControlParts {
  state: ViewState;
  sync: Sync;
  toolbar: Toolbar;
  filterBar: FilterBar;
  startHint: StartHint;
  /** The map: its thresholds, and its background for the legend's colours. */
  map: MapView;
}

export class Controls {
  /** The colour legend, inside the map pane. */
  readonly legend = h("div", "dmw-legend");
  readonly keysLine = h("div", "dmw-keys");
  readonly unlearnedNote = new Note("dmw-unlearned-note");

  constructor(private parts: ControlParts) {}

  /** Everything drawn from the labels, the categories and the filters (and what follows them). */
  render(): void {
    const { state, sync, toolbar, filterBar } = this.parts;
    const names = state.names();
    toolbar.colorSelect.value = state.colorBy();
    toolbar.setLabels(names);
    this.keysLine.textContent = keyLegend(names);
    this.unlearnedNote.show(unlearnedText(sync.get("unlearned") ?? []));
    filterBar.render(state.filters(), sync.get("categories") ?? [], names);
    this.renderLegend();
    this.renderPasses();
    this.renderSaveState();
  }

  /** How many changes the review holds and whether the file has them. */
  renderSaveState(): void {
    const { sync, toolbar } = this.parts;
    const summary = sync.get("reviewSummary");
    if (!summary) return;
    const { text, title } = saveStateText(summary, sync.get("saveStatus") ?? "");
    toolbar.saveState.textContent = text;
    toolbar.saveState.title = title;
  }

  renderLegend(): void {
    const { state, sync, map } = this.parts;
    this.legend.replaceChildren();
    for (const e of legend(state.colorBy(), state.names(), sync.get("categories") ?? [], isDark(map.el), sync.get("nPasses") ?? 0)) {
      const item = h("div", "dmw-legend-item");
      const sw = h("span", "dmw-swatch");
      sw.style.background = e.color;
      item.append(sw, document.createTextNode(e.label));
      this.legend.appendChild(item);
    }
  }

  /** The pass counter, the thresholds, the training progress, the undo button and the start hint. */
  renderPasses(): void {
    const { state, sync, toolbar, map, startHint } = this.parts;
    const n = sync.get("nPasses") ?? 0;
    toolbar.passes.textContent = `${sync.get("live") ? "live · " : ""}${n} pass${n === 1 ? "" : "es"}`;
    const th = sync.get("thresholds");
    if (th) map.thresholds = { confidence: th.confidence, variability: th.variability };
    toolbar.undoButton.disabled = (sync.get("historySize") ?? 0) === 0 && !state.ctl.queued;
    startHint.update(sync.get("historySize") ?? 0);
    toolbar.setProgress(sync.get("progress"));
  }
}
