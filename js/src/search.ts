/**
 * The search of one view: the kernel finds the rows matching the query; those narrow the table
 * and the map (ViewState.searchHits). An answer to an older query than the last is dropped.
 */
import type { RowTexts } from "./paging";
import { decode } from "./sync";
import type { StatusLine } from "./toolbar";
import type { ViewState } from "./viewstate";

export class Search {
  private token = 0;

  /** `onHits`: the hits changed (or were dropped with an empty query); redraw what they narrow. */
  constructor(private state: ViewState, private texts: RowTexts, private status: StatusLine, private onHits: () => void) {}

  run(query: string): void {
    const { state, status } = this;
    const token = ++this.token;
    state.lastQuery = query;
    if (!query) {
      state.searchHits = null;
      this.onHits();
      return;
    }
    this.texts.ask("search", { query })
      .then(([res, buffers]) => {
        if (token !== this.token) return;
        const hits = decode(buffers[0], Uint32Array);
        const n = state.points.n;
        state.searchHits = new Uint8Array(n);
        for (const r of hits) if (r < n) state.searchHits[r] = 1;
        this.onHits();
        status.show(`${res.count.toLocaleString()} ${res.count === 1 ? "document matches" : "documents match"} “${query}”`, "info");
      })
      .catch((err: Error) => status.show(`Search failed: ${err.message}`, "error"));
  }
}
