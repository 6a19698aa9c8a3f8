/**
 * The review controller: the one current document every key and button acts on, the queue
 * of actions sent to the kernel, and the optimistic state shown until the kernel answers.
 * Pure (no DOM): the view asks it what to show and tells it what the user did.
 *
 * Rules:
 * - `current` is a row index (a fixed example of the map), so it survives re-sorting,
 *   filtering and a new training pass; the pane, the table cursor and the highlighted point
 *   all show it.
 * - An action captures its rows when the key is pressed; the cursor moves on at once, so
 *   keys faster than the kernel each act on their own document, exactly once, in order.
 * - The screen changes at once (an overlay of labels and review marks); the kernel's answer
 *   drops the overlay (its trait update arrived first and holds the same values) or, on a
 *   failure, drops it and says the change was rolled back.
 */

import { config } from "./config";

/** Review marks as the `reviewed` trait carries them: {unreviewed, confirmed, relabeled} (from Python's config). */
export const marks = () => config().marks;
/** Code of "no suggestion" in the `suggested` column (the map offers no other label, or never saw the example). */
export const noLabel = () => config().no_label;

/**
 * The suggestion the screen shows for row `r`: the map's other label, or NO_LABEL where the map
 * offers none and where the current label already is it (accepted: nothing left to suggest).
 * The table, pane, tooltip, colours, confusion table and the `a` key all ask this, as Python's
 * `accept_suggestions` and `selected` do (one suggestion everywhere).
 */
export function shownSuggestion(suggested: Uint16Array, labels: Uint16Array, r: number): number {
  const none = noLabel();
  const s = suggested[r] ?? none;
  return s === labels[r] ? none : s;
}

/** `shownSuggestion` for every row. */
export function shownSuggestions(suggested: Uint16Array, labels: Uint16Array): Uint16Array {
  const out = new Uint16Array(suggested.length);
  const none = noLabel();
  for (let r = 0; r < suggested.length; r++) out[r] = suggested[r] === labels[r] ? none : suggested[r];
  return out;
}

export type Method = "relabel" | "confirm" | "accept_suggestions" | "undo";

export interface Action {
  method: Method;
  rows: Uint32Array;
  args?: Record<string, unknown>;
  /** What the screen shows until the kernel answers: row -> [label code, review mark]. */
  optimistic?: Array<[number, number, number]>;
  /** Words for messages, e.g. `relabel doc-7 to "pos"`. */
  describe?: string;
}

export type Send = (method: Method, args: Record<string, unknown>, rows: Uint32Array) => Promise<unknown>;

export interface Hooks {
  /** Something the view shows changed (overlay, queue). */
  onChange(): void;
  /** An action failed and its optimistic change was taken back. */
  onRollback(message: string): void;
  /** The kernel answered an action, `ms` after it was sent (`error` null when it was applied). */
  onSettled?(action: Action, ms: number, error: string | null): void;
}

/** The ordered rows of the table as the controller needs them. */
export interface RowList {
  readonly length: number;
  rowAt(position: number): number;
  positionOf(row: number): number;
}

interface Pending {
  seq: number;
  action: Action;
  sentAt: number;
}

export class ReviewController {
  /** The document shown in the pane, or -1. */
  current = -1;
  private overlay = new Map<number, { code: number; mark: number; seq: number }>();
  private pending: Pending[] = [];
  private seq = 0;

  constructor(private send: Send, private hooks: Hooks, private now: () => number = () => Date.now()) {}

  /** The row `step` places after `row` in `list` (-1 when there is none); a row not in the list starts at the top. */
  static neighbour(list: RowList, row: number, step: number): number {
    if (!list.length) return -1;
    const at = row >= 0 ? list.positionOf(row) : -1;
    if (at < 0) return list.rowAt(step > 0 ? 0 : list.length - 1);
    const next = at + step;
    return next >= 0 && next < list.length ? list.rowAt(next) : -1;
  }

  /** Move the current document along the list (j/k); stays put at either end. */
  move(list: RowList, step: number): number {
    const next = ReviewController.neighbour(list, this.current, step);
    if (next >= 0) this.current = next;
    return this.current;
  }

  /**
   * Send an action, showing its optimistic state at once. `advance` (a list) moves the
   * current document to the next row of the list first, as a reviewer working down it expects.
   * Resolves with the kernel's answer once it came (undefined after a failure: it never
   * rejects, failures roll back and are reported).
   */
  submit(action: Action, advance?: RowList): Promise<unknown> {
    const seq = ++this.seq;
    if (advance && action.rows.length === 1 && action.rows[0] === this.current) {
      const next = ReviewController.neighbour(advance, this.current, 1);
      if (next >= 0) this.current = next;
    }
    for (const [row, code, mark] of action.optimistic ?? []) this.overlay.set(row, { code, mark, seq });
    const entry: Pending = { seq, action, sentAt: this.now() };
    this.pending.push(entry);
    this.hooks.onChange();
    return this.send(action.method, action.args ?? {}, action.rows).then(
      (reply) => {
        this.settle(entry, null);
        return reply;
      },
      (err: unknown) => this.settle(entry, err instanceof Error ? err.message : String(err)),
    );
  }

  private settle(entry: Pending, error: string | null): void {
    this.pending = this.pending.filter((p) => p !== entry);
    for (const [row] of entry.action.optimistic ?? []) {
      if (this.overlay.get(row)?.seq === entry.seq) this.overlay.delete(row);
    }
    this.hooks.onSettled?.(entry.action, this.now() - entry.sentAt, error);
    if (error !== null) this.hooks.onRollback(`Could not ${entry.action.describe ?? entry.action.method}: ${error}. The change was rolled back.`);
    this.hooks.onChange();
  }

  /** Actions sent and not yet answered. */
  get queued(): number {
    return this.pending.length;
  }

  /** How long the oldest unanswered action has waited (ms), 0 when none. */
  waitingFor(): number {
    return this.pending.length ? this.now() - this.pending[0].sentAt : 0;
  }

  /** The label code the screen shows for `row`: the optimistic one while its action is in flight. */
  labelOf(row: number, labels: Uint16Array): number {
    return this.overlay.get(row)?.code ?? labels[row];
  }

  markOf(row: number, marks: Uint8Array): number {
    return this.overlay.get(row)?.mark ?? marks[row];
  }

  /** Copies of the label and mark columns with the optimistic changes applied (for colours and filters). */
  effective(labels: Uint16Array, marks: Uint8Array): { labels: Uint16Array; reviewed: Uint8Array } {
    if (!this.overlay.size) return { labels, reviewed: marks };
    const l = labels.slice();
    const m = marks.slice();
    for (const [row, o] of this.overlay) {
      if (row < l.length) {
        l[row] = o.code;
        m[row] = o.mark;
      }
    }
    return { labels: l, reviewed: m };
  }

  /** Optimistic state of a relabel of `rows` to `code`: relabeled unless the label stays. */
  static relabeling(rows: ArrayLike<number>, code: number, labels: Uint16Array, marks: Uint8Array): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    const { confirmed, relabeled } = config().marks;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      out.push([r, code, code !== labels[r] ? relabeled : Math.max(marks[r], confirmed)]);
    }
    return out;
  }

  static confirming(rows: ArrayLike<number>, labels: Uint16Array, marks: Uint8Array): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    const { confirmed } = config().marks;
    for (let i = 0; i < rows.length; i++) out.push([rows[i], labels[rows[i]], Math.max(marks[rows[i]], confirmed)]);
    return out;
  }
}

/**
 * "reviewed 25 of the top 50 suspects": of the `k` most suspect rows (by `order`, rows
 * without a score excluded by the caller), how many carry a review mark.
 */
export function suspectProgress(order: Uint32Array, marks: Uint8Array, k: number): { reviewed: number; of: number } {
  const of = Math.min(k, order.length);
  let reviewed = 0;
  for (let j = 0; j < of; j++) if (marks[order[j]]) reviewed++;
  return { reviewed, of };
}
