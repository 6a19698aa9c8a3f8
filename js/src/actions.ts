/**
 * The review actions of one view and what the status line says about them: relabel, confirm,
 * the bulk accept (a preview first: how many labels change, then "Apply"), undo, saving the
 * labels, the store's save state (with "Retry saving"), and a busy kernel holding actions back
 * (they are queued, nothing is lost). Actions go through the review controller (review.ts),
 * which shows them at once and rolls them back on a failure.
 */
import { NOTHING_CHOSEN } from "./keys";
import { acceptUnlearnedText, acceptedText, hiddenCount } from "./notes";
import type { RowTexts } from "./paging";
import { ReviewController, marks, noLabel, type Action, type RowList } from "./review";
import { decode, type Sync } from "./sync";
import { h, type Listen, type StatusLine, type Toolbar } from "./toolbar";
import type { ViewState } from "./viewstate";

const BUSY = "Waiting for the kernel: a cell is running.";

export interface ActionParts {
  state: ViewState;
  sync: Sync;
  /** The model's request client. */
  client: Sync;
  texts: RowTexts;
  status: StatusLine;
  toolbar: Toolbar;
  /** The table's rows: a key's action moves down them; undo shows the first of its rows they list. */
  list: RowList;
  /** After how long an unanswered request means "the kernel is busy" (ms). */
  busyAfterMs: number;
  listen: Listen;
}

export interface ActionHooks {
  /** Show the current document again (pane, cursor, markers). */
  showCurrent(): void;
  /** Make `row` the current document and show it. */
  focus(row: number): void;
  /** Redraw the detail pane (it says when its texts wait for a busy kernel). */
  renderDetail(): void;
}

export class ReviewActions {
  private retryButton = h("button", "dmw-retry", "Retry saving");
  /** An action was applied since "saved" was last said: say it once the store has it. */
  private lastActionDone = false;
  private busyTimer: ReturnType<typeof setInterval>;
  private state: ViewState;
  private status: StatusLine;

  constructor(private parts: ActionParts, private hooks: ActionHooks) {
    this.state = parts.state;
    this.status = parts.status;
    const { toolbar, listen, client, status } = parts;
    this.retryButton.title = "Write the pending actions to the store again";
    listen(this.retryButton, "click", () => {
      status.show("saving…", "sticky");
      client.request("retry_save", {}).then(() => this.showSaveStatus(), (err: Error) => status.show(`Retry failed: ${err.message}`, "error"));
    });
    listen(toolbar.relabelButton, "click", () => {
      const rows = this.targetsOrSay();
      if (rows.length) this.relabel(rows, toolbar.relabelSelect.value, false);
    });
    listen(toolbar.reviewButton, "click", () => {
      const rows = this.targetsOrSay();
      if (rows.length) this.confirm(rows, false);
    });
    listen(toolbar.acceptButton, "click", () => this.previewAccept());
    listen(toolbar.undoButton, "click", () => this.undo());
    listen(toolbar.saveButton, "click", () => this.saveLabels());
    // A cell running in the kernel holds every answer back: say so plainly, and that nothing is lost.
    this.busyTimer = setInterval(() => this.showBusy(), 250);
  }

  /** "doc-7" for one row, "12 documents" for more. */
  private what(rows: Uint32Array): string {
    return rows.length === 1 ? this.parts.texts.idOf(rows[0]) : `${rows.length.toLocaleString()} documents`;
  }

  /** The rows the buttons act on; when there are none, the status line says why. */
  private targetsOrSay(): Uint32Array {
    const rows = this.state.targetRows();
    if (!rows.length) this.status.show(this.state.sel.rows.length ? this.noneMatch() : NOTHING_CHOSEN, "error");
    return rows;
  }

  private noneMatch(): string {
    return `None of the ${this.state.sel.rows.length.toLocaleString()} selected documents match ${this.state.narrowedBy()}.`;
  }

  relabel(rows: Uint32Array, label: string, advance: boolean): void {
    const { points } = this.state;
    const code = this.state.names().indexOf(label);
    const what = this.what(rows);
    this.submit({ method: "relabel", rows, args: { label }, optimistic: ReviewController.relabeling(rows, code, points.labels, points.reviewed), describe: `relabel ${what} to “${label}”` }, advance, `Relabeled ${what} as “${label}” · u undoes`);
  }

  confirm(rows: Uint32Array, advance: boolean): void {
    const { points } = this.state;
    const what = this.what(rows);
    this.submit({ method: "confirm", rows, optimistic: ReviewController.confirming(rows, points.labels, points.reviewed), describe: `mark ${what} reviewed` }, advance, `Confirmed ${what} · u undoes`);
  }

  /** Send a review action; once the kernel took it, say `done` (a key press otherwise changes only a mark). */
  private submit(action: Action, advance = false, done = ""): void {
    const status = this.status;
    void this.state.ctl.submit(action, advance ? this.parts.list : undefined).then((reply) => {
      // undefined: it failed and was rolled back (that message stands); a question or an error stays too.
      if (done && reply !== undefined && status.kind !== "sticky" && status.kind !== "error") status.show(done, "info");
    });
  }

  /** Undo the last action, then show the document it was about (the pane, cursor and point move there). */
  undo(): void {
    const { status } = this;
    const ctl = this.state.ctl;
    // A line about the action being undone ("Changed 3 labels …") would be wrong once it is
    // undone; a question or a busy kernel (sticky) still stands.
    if (status.kind === "info") status.clear();
    void ctl.submit({ method: "undo", rows: new Uint32Array(0), describe: "undo" }).then((reply) => {
      const buffers = (reply as [unknown, DataView[]] | undefined)?.[1];
      const rows = buffers?.length ? decode(buffers[0], Uint32Array) : new Uint32Array(0);
      if (rows.length && status.kind !== "sticky") status.show(`Undid the last action on ${this.what(rows)}.`, "info");
      if (!rows.length || rows.includes(ctl.current)) return this.hooks.showCurrent();
      // Of several rows (a bulk action), the first the table lists, else the first one.
      let best = -1;
      let bestPos = Infinity;
      for (const r of rows) {
        const pos = this.parts.list.positionOf(r);
        if (pos >= 0 && pos < bestPos) [best, bestPos] = [r, pos];
      }
      this.hooks.focus(best >= 0 ? best : rows[0]);
    });
  }

  /** Bulk accept: first say how many labels change, then apply exactly those on "Apply". A person's
   * decisions (confirmed or relabeled) are kept unless "Include the N reviewed" is pressed. */
  previewAccept(): void {
    const { state, status, parts } = this;
    const rows = this.targetsOrSay().slice();
    if (!rows.length) return;
    parts.client
      .request("accept_preview", {}, [rows])
      .then(([res]) => {
        const what = this.what(rows);
        const kept = res.reviewed ?? 0;
        const none = res.no_suggestion ?? 0;
        const noneText = none ? `${none.toLocaleString()} ha${none === 1 ? "s" : "ve"} no suggestion` : "";
        const keptText = `${kept.toLocaleString()} already reviewed by a person ${kept === 1 ? "keeps its" : "keep their"} label`;
        if (!res.change && !kept) {
          return status.show(`No label would change: ${rows.length === 1 ? `${what} has` : `the ${what} have`} no suggestion to accept.`, "info");
        }
        const accept = (includeReviewed: boolean) => {
          status.clear();
          const optimistic: Array<[number, number, number]> = [];
          for (const r of rows) {
            const s = state.suggestionOf(r);
            if (s !== noLabel() && (includeReviewed || !state.points.reviewed[r])) optimistic.push([r, s, marks().relabeled]);
          }
          const args = includeReviewed ? { include_reviewed: true } : {};
          void state.ctl.submit({ method: "accept_suggestions", rows, args, optimistic, describe: `accept the suggestions for ${this.what(rows)}` }).then((reply) => {
            const changed = (reply as [{ changed?: number }, unknown] | undefined)?.[0]?.changed;
            if (typeof changed === "number") status.show(acceptedText(changed, hiddenCount(optimistic.map(([r]) => r), state.sel.visible), state.filters().labels.length > 0), "info");
          });
        };
        const buttons: HTMLElement[] = [];
        if (res.change) {
          const apply = h("button", "dmw-accept-apply", `Apply (${res.change})`);
          apply.title = "Apply exactly these changes, keeping what a person decided (undo takes them back in one step)";
          apply.addEventListener("click", () => accept(false));
          buttons.push(apply);
        }
        if (kept) {
          const include = h("button", "dmw-accept-include", `Include the ${kept.toLocaleString()} reviewed (${(res.change + kept).toLocaleString()})`);
          include.title = "Also overwrite what a person confirmed or relabeled with the model's suggestion";
          include.addEventListener("click", () => accept(true));
          buttons.push(include);
        }
        const cancel = h("button", "dmw-accept-cancel", "Cancel");
        cancel.title = "Change nothing (Escape)";
        cancel.addEventListener("click", () => status.clear());
        buttons.push(cancel);
        const sentence = [`Accept suggestions for ${what}: ${res.change.toLocaleString()} label${res.change === 1 ? "" : "s"} will change`];
        if (kept) sentence.push(keptText);
        if (noneText) sentence.push(noneText);
        const unlearnedPart = acceptUnlearnedText(res.unlearned ?? 0, res.change, parts.sync.get("unlearned") ?? []);
        if (unlearnedPart) sentence.push(unlearnedPart);
        status.show(`${sentence.join(", ")}.`, "sticky", ...buttons);
      })
      .catch((err: Error) => status.show(`Could not preview: ${err.message}`, "error"));
  }

  /** "Save labels": write the labels file. */
  private saveLabels(): void {
    const status = this.status;
    status.show("writing the labels…", "sticky");
    this.parts.client
      .request("save_labels", {})
      .then(([res]) => status.show(`Saved ${res.rows.toLocaleString()} labels (${res.changed.toLocaleString()} changed) to ${res.path}`, "info"))
      .catch((err: Error) => status.show(`Could not save the labels: ${err.message}`, "error"));
  }

  /** The kernel applied an action (its labels or marks arrived): "saved" may be said once the store has it. */
  applied(): void {
    this.lastActionDone = true;
  }

  /** The store's state in the status line: a failure stays with "Retry saving"; "saved" after an action. */
  showSaveStatus(): void {
    const status = this.status;
    const s = this.parts.sync.get("saveStatus") ?? "";
    if (this.state.ctl.queued || (this.showingBusy() && this.kernelBusy())) return; // the busy line says more
    if (s !== "" && s !== "saved") return status.show(s, "sticky", this.retryButton);
    if (status.kind === "sticky") status.clear(); // "saving…" or "kernel busy" are over
    if (s === "saved" && this.lastActionDone) status.show("saved", "info");
    this.lastActionDone = false;
  }

  /** Whether the kernel keeps an action or a text request waiting longer than `busyAfterMs`. */
  kernelBusy(): boolean {
    const busyAfter = this.parts.busyAfterMs;
    return this.state.ctl.waitingFor() > busyAfter || this.parts.texts.waitingFor() > busyAfter;
  }

  private showingBusy(): boolean {
    return this.status.kind === "sticky" && this.status.text.startsWith(BUSY);
  }

  /** While the kernel keeps a request waiting, the status line says so, and how many actions wait with it. */
  showBusy(): void {
    const { status } = this;
    const ctl = this.state.ctl;
    if (this.kernelBusy()) {
      const n = ctl.queued;
      const msg = n
        ? `${BUSY} ${n.toLocaleString()} action${n === 1 ? "" : "s"} queued; ${n === 1 ? "it applies" : "they apply"} when it finishes.`
        : `${BUSY} Texts load when it finishes.`;
      // A question (e.g. the bulk accept's) stays until answered; any other message gives way.
      if (status.text !== msg && !(status.kind === "sticky" && status.el.querySelector("button") && !this.showingBusy())) status.show(msg, "sticky");
      if (ctl.current >= 0 && !this.parts.texts.detail(ctl.current)) this.hooks.renderDetail();
    } else if (this.showingBusy()) {
      status.clear();
      this.showSaveStatus();
    }
  }

  /** The optimistic overlay or the queue changed: the save state, or the busy line at once when an
   * action waits on a kernel known to be busy. */
  reviewChanged(): void {
    if (!this.state.ctl.queued) this.showSaveStatus();
    else this.showBusy();
  }

  dispose(): void {
    clearInterval(this.busyTimer);
  }
}
