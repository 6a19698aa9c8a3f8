/**
 * The selection (rows picked with the lasso, box or shift+click) and what the table, the map
 * and the buttons call "shown": the rows passing the filters (search and confusion pair
 * included), and of those only the selected ones when there is a selection. The map draws the
 * rest dimmed; the table lists exactly these; buttons act on them. Pure (no DOM).
 */
export class Selection {
  /** Selected rows, in the order they were picked. */
  rows: Uint32Array = new Uint32Array(0);
  /** 1 for a selected row (null: nothing selected). */
  mask: Uint8Array | null = null;
  /** 1 for a row passing the filters (null: every row passes). */
  visible: Uint8Array | null = null;

  /** Select `rows` of a map with `n` rows. */
  set(rows: Uint32Array, n: number): void {
    this.rows = rows;
    this.mask = null;
    if (rows.length) {
      this.mask = new Uint8Array(n);
      for (const r of rows) if (r < n) this.mask[r] = 1;
    }
  }

  /** Whether the filters narrow a selection (a selection and some filter at once). */
  get narrowed(): boolean {
    return this.rows.length > 0 && this.visible !== null;
  }

  /** Whether row `r` is one the buttons act on (selected and passing the filters). */
  inTargets(r: number): boolean {
    return !!this.mask?.[r] && (!this.visible || !!this.visible[r]);
  }

  /** Buttons act on the selection narrowed by the filters, exactly as the table lists it, or on
   * `current` when nothing is selected. */
  targets(current: number, n: number): Uint32Array {
    if (this.narrowed) return this.rows.filter((r) => r < n && !!this.visible![r]);
    if (this.rows.length) return this.rows;
    return current >= 0 ? Uint32Array.of(current) : new Uint32Array(0);
  }

  /** The table's rows: the shown rows in `order` (most suspect first). */
  tableRows(order: Uint32Array, n: number): Uint32Array {
    const mask = this.rows.length ? this.mask : this.visible;
    const narrow = this.narrowed ? this.visible : null;
    const out = new Uint32Array(mask ? this.rows.length || n : n);
    let m = 0;
    for (let j = 0; j < order.length; j++) {
      const r = order[j];
      if ((!mask || mask[r]) && (!narrow || narrow[r])) out[m++] = r;
    }
    return out.subarray(0, m);
  }
}
