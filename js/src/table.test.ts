import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VirtualTable } from "./table";

describe("VirtualTable", () => {
  let el: HTMLElement;
  beforeEach(() => {
    el = document.createElement("div");
    document.body.appendChild(el);
  });
  afterEach(() => el.remove());

  const make = () =>
    new VirtualTable(el, { rowHeight: 10, columns: [{ key: "row", title: "row", width: "1fr", get: (r) => `row ${r}` }] });
  const identity = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
  /** Row 10 moved five places down: rows 50..54 were re-ranked above it. */
  const reranked = () => {
    const rows = [...identity(100)].filter((r) => r < 50 || r > 54);
    rows.splice(10, 0, 50, 51, 52, 53, 54);
    return Uint32Array.from(rows);
  };
  const cursorRow = (t: VirtualTable) => t.rowAt(t.cursor);
  const shownCursor = () => el.querySelector<HTMLElement>(".dmw-row.dmw-cursor")?.dataset.row;

  it("keeps the anchored row under the cursor and at its place on screen when the order changes", () => {
    const t = make();
    t.setRows(identity(100));
    t.body.scrollTop = 60; // rows 6.. in view: row 10 is 40 px below the top
    t.setCursor(10);
    expect(cursorRow(t)).toBe(10);
    t.setRows(reranked(), 10);
    expect(t.positionOf(10)).toBe(15);
    expect(cursorRow(t)).toBe(10);
    expect(shownCursor()).toBe("10");
    expect(15 * 10 - t.body.scrollTop).toBe(40); // still 40 px below the top of the view
  });

  it("without an anchor, or with one scrolled out of view, the view does not move", () => {
    const t = make();
    t.setRows(identity(100));
    t.body.scrollTop = 60;
    t.setRows(reranked());
    expect(t.body.scrollTop).toBe(60);
    t.setRows(identity(100));
    t.body.scrollTop = 600; // row 10 far above the view: the reader is elsewhere
    t.setRows(reranked(), 10);
    expect(t.body.scrollTop).toBe(600);
  });
});
