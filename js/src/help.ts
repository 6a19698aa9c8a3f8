/**
 * The first-step hint and the keyboard help overlay (opened with `?` or the toolbar's "?"
 * button, closed with Escape or its Close button). Label names are data: textContent only.
 */
import { h } from "./toolbar";

// The first key after running a cell goes to the notebook (its focus is on the cell), so the
// hint says to click into the widget before anything else.
const START_KEYS =
  "The table lists the most likely mislabeled documents first; press j/k to move, 1–9 to relabel, r to confirm, " +
  "a to accept the suggestion, u to undo, ? for help.";
export const START_HINT = `Start here: click the map or the table first (then the keys work). ${START_KEYS}`;
/** Once the reviewer clicked into the widget, "click first" is done: the hint keeps the rest. */
export const START_HINT_ENGAGED = `The keys work now. ${START_KEYS}`;

/** The keys, in the words the help overlay shows them: [keys, what they do]. */
export function helpKeys(names: string[]): Array<[string, string]> {
  const keys: Array<[string, string]> = [
    ["j / ↓", "next document in the table"],
    ["k / ↑", "previous document"],
  ];
  names.slice(0, 9).forEach((n, i) => keys.push([`${i + 1} ${n}`, `relabel the document shown as ${n}, then move on`]));
  if (names.length > 9) keys.push(["Relabel menu", `labels after the 9th (${names.length} in all)`]);
  keys.push(
    ["r / Enter", "confirm its label is right (mark reviewed), then move on"],
    ["a", "accept the suggested label, then move on"],
    ["u", "undo the last action"],
    ["click", "open a point or a row; shift+click adds it to the selection"],
    ["drag", "select with the lasso or box; the Relabel, Mark reviewed (Reviewed) and Accept suggestions (Accept…) buttons act on the selected rows the table lists"],
    ["Ctrl + wheel", "zoom the map (a plain wheel too once the map is clicked); double-click resets"],
    ["Escape", "close this help, leave the search box, or clear the selection"],
    ["?", "open this help"],
  );
  return keys;
}

/** The dismissable first-step hint; hidden for good once dismissed or once the reviewer acted. */
export class StartHint {
  readonly el = h("div", "dmw-start-hint");
  private readonly text = h("span", "", START_HINT);
  private dismissed = false;

  constructor() {
    const close = h("button", "dmw-start-hint-close", "Got it");
    close.type = "button";
    close.title = "Hide this hint (? opens the keyboard help at any time)";
    close.addEventListener("click", () => this.hide());
    this.el.append(this.text, document.createTextNode(" "), close);
  }

  /** The reviewer clicked into the widget: drop the advice to do so. */
  engage(): void {
    // The shorter text must not pull the map up under the reviewer's pointer: keep the height.
    if (this.el.offsetHeight) this.el.style.minHeight = `${this.el.offsetHeight}px`;
    this.text.textContent = START_HINT_ENGAGED;
  }

  hide(): void {
    this.dismissed = true;
    this.el.style.display = "none";
  }

  /** Called with the number of actions taken: the hint stays only until the first. */
  update(actions: number): void {
    if (actions > 0) this.hide();
    else if (!this.dismissed) this.el.style.display = "";
  }
}

/** The keyboard help overlay: a dialog inside the widget listing every key. */
export class HelpOverlay {
  readonly el = h("div", "dmw-help");
  private list = h("dl", "dmw-help-keys");
  readonly closeButton = h("button", "dmw-help-close", "Close");

  constructor(private onClose: () => void) {
    this.el.setAttribute("role", "dialog");
    this.el.setAttribute("aria-label", "Keyboard help");
    this.el.hidden = true;
    this.closeButton.type = "button";
    this.closeButton.title = "Close the help (Escape)";
    this.closeButton.addEventListener("click", () => this.close());
    this.el.append(h("div", "dmw-help-title", "Keys (when the widget has focus: click it first)"), this.list, this.closeButton);
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  show(names: string[]): void {
    this.list.replaceChildren();
    for (const [k, what] of helpKeys(names)) this.list.append(h("dt", "", k), h("dd", "", what));
    this.el.hidden = false;
    this.closeButton.focus({ preventScroll: true });
  }

  close(): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.onClose();
  }
}
