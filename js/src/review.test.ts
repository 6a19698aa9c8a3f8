import { describe, expect, it } from "vitest";
import { ReviewController, marks, suspectProgress, type RowList } from "./review";

const list = (rows: number[]): RowList => ({ length: rows.length, rowAt: (p) => rows[p] ?? -1, positionOf: (r) => rows.indexOf(r) });

/** A kernel whose answers the test releases one by one. */
function kernel() {
  const calls: Array<{ method: string; rows: number[]; args: Record<string, unknown>; answer: (err?: string) => void }> = [];
  const send = (method: string, args: Record<string, unknown>, rows: Uint32Array) =>
    new Promise<unknown>((resolve, reject) => calls.push({ method, args, rows: [...rows], answer: (err) => (err ? reject(new Error(err)) : resolve({})) }));
  return { calls, send };
}

const { confirmed: CONFIRMED, relabeled: RELABELED } = marks(); // what Python sends in the config trait

describe("ReviewController", () => {
  it("moves the current document along the list and starts at the top when it is not in it", () => {
    const ctl = new ReviewController(async () => ({}), { onChange() {}, onRollback() {} });
    const rows = list([5, 2, 9]);
    expect(ctl.move(rows, 1)).toBe(5);
    expect(ctl.move(rows, 1)).toBe(2);
    expect(ctl.move(rows, 1)).toBe(9);
    expect(ctl.move(rows, 1)).toBe(9); // stays at the end
    ctl.current = 42; // filtered out of the list
    expect(ctl.move(rows, -1)).toBe(9);
    expect(ReviewController.neighbour(list([]), 3, 1)).toBe(-1);
  });

  it("keys faster than the kernel act on their own documents, once each, in order", async () => {
    const k = kernel();
    const ctl = new ReviewController(k.send, { onChange() {}, onRollback() {} });
    const rows = list([7, 3, 8, 1, 4, 6]);
    ctl.current = 7;
    const labels = new Uint16Array(10);
    const marks = new Uint8Array(10);
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      const r = ctl.current;
      done.push(ctl.submit({ method: "relabel", rows: Uint32Array.of(r), args: { label: "pos" }, optimistic: ReviewController.relabeling([r], 1, labels, marks) }, rows));
    }
    expect(k.calls.map((c) => c.rows[0])).toEqual([7, 3, 8, 1, 4]);
    expect(ctl.current).toBe(6);
    expect(ctl.queued).toBe(5);
    const eff = ctl.effective(labels, marks);
    expect([7, 3, 8, 1, 4].map((r) => [eff.labels[r], eff.reviewed[r]])).toEqual(Array(5).fill([1, RELABELED]));
    expect(eff.labels[6]).toBe(0);
    k.calls.forEach((c) => c.answer());
    await Promise.all(done);
    expect(ctl.queued).toBe(0);
    expect(ctl.effective(labels, marks).labels).toBe(labels); // the overlay is gone: the kernel's traits speak
  });

  it("rolls back a failed action visibly and keeps a later action's overlay on the same row", async () => {
    const k = kernel();
    const rolled: string[] = [];
    let changes = 0;
    const ctl = new ReviewController(k.send, { onChange: () => changes++, onRollback: (m) => rolled.push(m) });
    const labels = Uint16Array.of(0, 0);
    const marks = new Uint8Array(2);
    const first = ctl.submit({ method: "relabel", rows: Uint32Array.of(0), optimistic: [[0, 1, RELABELED]], describe: "relabel doc-0 to “pos”" });
    const second = ctl.submit({ method: "confirm", rows: Uint32Array.of(0), optimistic: [[0, 1, CONFIRMED]] });
    k.calls[0].answer("ValueError: label 'pos' is unknown");
    await first;
    expect(rolled).toEqual(["Could not relabel doc-0 to “pos”: ValueError: label 'pos' is unknown. The change was rolled back."]);
    expect(ctl.markOf(0, marks)).toBe(CONFIRMED); // the second action still shows until answered
    k.calls[1].answer("boom");
    await second;
    expect(ctl.labelOf(0, labels)).toBe(0);
    expect(ctl.markOf(0, marks)).toBe(0);
    expect(changes).toBeGreaterThanOrEqual(4);
  });

  it("says how long the oldest action has waited", async () => {
    let now = 1000;
    const k = kernel();
    const ctl = new ReviewController(k.send, { onChange() {}, onRollback() {} }, () => now);
    expect(ctl.waitingFor()).toBe(0);
    void ctl.submit({ method: "undo", rows: new Uint32Array(0) });
    now = 4000;
    expect(ctl.waitingFor()).toBe(3000);
  });

  it("optimistic marks: a relabel to the same label confirms, a confirmation keeps 'relabeled'", () => {
    const labels = Uint16Array.of(0, 1);
    const marks = Uint8Array.of(0, RELABELED);
    expect(ReviewController.relabeling([0, 1], 1, labels, marks)).toEqual([[0, 1, RELABELED], [1, 1, RELABELED]]);
    expect(ReviewController.relabeling([0], 0, labels, new Uint8Array(2))).toEqual([[0, 0, CONFIRMED]]);
    expect(ReviewController.confirming([0, 1], labels, marks)).toEqual([[0, 0, CONFIRMED], [1, 1, RELABELED]]);
  });

  it("counts reviewed rows among the top k suspects", () => {
    const order = Uint32Array.of(3, 1, 0, 2);
    const marks = Uint8Array.of(0, 1, 0, 2);
    expect(suspectProgress(order, marks, 2)).toEqual({ reviewed: 2, of: 2 });
    expect(suspectProgress(order, marks, 50)).toEqual({ reviewed: 2, of: 4 });
  });
});
