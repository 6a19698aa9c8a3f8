/**
 * Notes the view shows about what the reviewer is looking at, and the words of its messages
 * after and before an action: a class the map never learned (its suspects and suggestions
 * mislead), a selection partly hidden by the filters, and how many labels a bulk accept
 * changed and how many of those the filters now hide. Texts only: names are data, set as
 * textContent.
 */
import type { UnlearnedClass } from "./sync";
import { h } from "./toolbar";

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

/** The warning for classes the map never learned, in the words Python's metrics.unlearned_message uses. */
export function unlearnedText(classes: UnlearnedClass[]): string {
  if (!classes.length) return "";
  const one = classes.length === 1;
  const listed = classes.map((c) => `${c.label} (${plural(c.count, "example")})`).join(", ");
  return `The model never learned class${one ? "" : "es"} ${listed}: ${one ? "its" : "their"} suspects mean the class is too small, ` +
    `not that the labels are wrong; suggestions for ${one ? "it" : "them"} are unreliable.`;
}

/** The bulk accept preview's part on moves out of an unlearned class; "" when there are none. */
export function acceptUnlearnedText(moves: number, changes: number, classes: UnlearnedClass[]): string {
  if (!moves || !classes.length) return "";
  const names = classes.map((c) => c.label).join(", ");
  // Said of the changes, not of the sentence's last count ("7 have no suggestion, 5 of them…" misled).
  const which = moves === changes ? (changes === 1 ? "the change moves a document" : `all ${changes.toLocaleString()} changes move documents`)
    : `${moves.toLocaleString()} of the ${changes.toLocaleString()} changes ${moves === 1 ? "moves a document" : "move documents"}`;
  return `${which} out of ${names}, which the model never learned (unreliable suggestions)`;
}

/** "Changed 3 labels (2 now hidden by the label filter)": what a bulk accept did, in the status line. */
export function acceptedText(changed: number, hidden: number, byLabelFilter: boolean): string {
  const by = byLabelFilter ? "the label filter" : "the filters";
  return `Changed ${plural(changed, "label")}${hidden ? ` (${hidden.toLocaleString()} now hidden by ${by})` : ""}.`;
}

/** How many of `rows` a 0/1 `visible` mask (null: every row) leaves out. */
export function hiddenCount(rows: ArrayLike<number>, visible: Uint8Array | null): number {
  if (!visible) return 0;
  let n = 0;
  for (let i = 0; i < rows.length; i++) if (!visible[rows[i]]) n++;
  return n;
}

/** Said where the table is when the filters hide some or all of the selected documents; "" when none is hidden. */
export function selectionHiddenText(selected: number, listed: number, by: string): string {
  const hidden = selected - listed;
  if (!selected || hidden <= 0) return "";
  if (!listed) return `All ${selected.toLocaleString()} selected documents are hidden by ${by}: the table is empty and the buttons act on none. Clear the filter to see them.`;
  return `${hidden.toLocaleString()} of the ${selected.toLocaleString()} selected documents ${hidden === 1 ? "is" : "are"} hidden by ${by}: ` +
    `the table and the buttons show and act on the other ${listed.toLocaleString()}.`;
}

/** A note line: hidden when it has nothing to say. */
export class Note {
  readonly el: HTMLElement;

  constructor(className: string) {
    this.el = h("div", `dmw-note ${className}`);
    this.el.hidden = true;
  }

  show(text: string): void {
    if (this.el.textContent !== text) this.el.textContent = text;
    this.el.hidden = !text;
  }
}
