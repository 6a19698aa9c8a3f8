/**
 * The review keys of one view: j/k or the arrows move the current document, 1–9 relabel it,
 * r/Enter confirm it, a accepts its suggestion, u undoes, ? shows the keys, Escape clears the
 * selection (or leaves the search box, or closes the help). Keys typed into a form control are
 * the control's; keys with Ctrl/Meta/Alt are the host's.
 */
export interface KeyTarget {
  /** The current document (-1: none). */
  current(): number;
  move(step: number): void;
  labelNames(): string[];
  /** The suggestion shown for a row as a label name, or null when there is none. */
  suggestion(row: number): string | null;
  idOf(row: number): string;
  relabel(row: number, label: string): void;
  confirm(row: number): void;
  undo(): void;
  clearSelection(): void;
  error(message: string): void;
  help: { readonly open: boolean; show(): void; close(): void };
  searchInput: HTMLElement;
  /** Give the keys back to the widget (focus its root). */
  refocus(): void;
}

export const NOTHING_CHOSEN = "Nothing to act on: click a row or a point, or select points (lasso, box).";

/** Handle one keydown on the widget's root; it is consumed (default prevented) when it was a review key. */
export function onKey(e: KeyboardEvent, to: KeyTarget): void {
  const t = e.target as HTMLElement;
  if (to.help.open && e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation();
    return to.help.close();
  }
  if (t === to.searchInput && e.key === "Escape") {
    // Leave the box (keeping the query, which Chromium would clear) and give the keys back.
    e.preventDefault();
    e.stopPropagation();
    to.refocus();
    return;
  }
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key;
  if (t?.tagName === "BUTTON" && (key === "Enter" || key === " ")) return; // the button's own click
  const current = to.current();
  const names = to.labelNames();
  if (key === "j" || key === "ArrowDown" || key === "k" || key === "ArrowUp") {
    to.move(key === "j" || key === "ArrowDown" ? 1 : -1);
  } else if (/^[1-9]$/.test(key)) {
    const code = Number(key) - 1;
    if (code >= names.length) to.error(`There is no label ${key}: labels are 1–${names.length}.`);
    else if (current < 0) to.error(NOTHING_CHOSEN);
    else to.relabel(current, names[code]);
  } else if (key === "r" || key === "Enter") {
    if (current < 0) to.error(NOTHING_CHOSEN);
    else to.confirm(current);
  } else if (key === "a") {
    const suggestion = current >= 0 ? to.suggestion(current) : null;
    if (current < 0) to.error(NOTHING_CHOSEN);
    else if (suggestion === null) to.error(`${to.idOf(current)}: no suggestion for this document.`);
    else to.relabel(current, suggestion);
  } else if (key === "u") {
    to.undo();
  } else if (key === "?") {
    to.help.show();
  } else if (key === "Escape") {
    to.clearSelection();
  } else return;
  e.preventDefault();
  e.stopPropagation();
}
