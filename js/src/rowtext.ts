/**
 * Every row's id and a short preview of its text, as the `row_text` trait carries them
 * (datamap_widget/row_text.py): UTF-8 bytes laid end to end with uint32 byte offsets. Decoded
 * a row at a time when asked, so a million ids cost no more than their bytes until shown.
 * Ids and texts are untrusted: callers put them in the DOM with textContent only.
 */
import { decode, type Buffer } from "./sync";

export interface WireRowText {
  n: number;
  id_offsets: Buffer;
  ids: Buffer;
  preview_offsets: Buffer;
  previews: Buffer;
  /** 0 when the previews were left out (no texts, or too many rows): they come a page at a time. */
  preview_chars: number;
}

const utf8 = new TextDecoder();

export class RowText {
  readonly n: number;
  /** Whether every row's preview is here (no page request is needed for the table's text). */
  readonly hasPreviews: boolean;
  private idOffsets: Uint32Array;
  private idBytes: Uint8Array;
  private previewOffsets: Uint32Array;
  private previewBytes: Uint8Array;

  /** `value` as the trait holds it; `n` the rows of the points shown (a value for other rows is ignored). */
  constructor(value: WireRowText | undefined | null, n: number) {
    const idOffsets = decode(value?.id_offsets, Uint32Array);
    const previewOffsets = decode(value?.preview_offsets, Uint32Array);
    const usable = !!value && value.n === n && idOffsets.length === n + 1;
    this.n = usable ? n : 0;
    this.idOffsets = usable ? idOffsets : new Uint32Array(0);
    this.idBytes = usable ? decode(value!.ids, Uint8Array) : new Uint8Array(0);
    this.hasPreviews = usable && value!.preview_chars > 0 && previewOffsets.length === n + 1;
    this.previewOffsets = this.hasPreviews ? previewOffsets : new Uint32Array(0);
    this.previewBytes = this.hasPreviews ? decode(value!.previews, Uint8Array) : new Uint8Array(0);
  }

  /** Row `r`'s id, or undefined when the trait does not hold it. */
  id(r: number): string | undefined {
    if (!(r >= 0 && r < this.n)) return undefined;
    return utf8.decode(this.idBytes.subarray(this.idOffsets[r], this.idOffsets[r + 1]));
  }

  /** Row `r`'s text cut to a preview ("…" where cut), or undefined when the trait does not hold it. */
  preview(r: number): string | undefined {
    if (!this.hasPreviews || !(r >= 0 && r < this.n)) return undefined;
    return utf8.decode(this.previewBytes.subarray(this.previewOffsets[r], this.previewOffsets[r + 1]));
  }
}

/** The `row_text` value for `ids` and `texts` (null: ids only), as Python encodes it; for tests. */
export function encodeRowText(ids: string[], texts: string[] | null, previewChars = 140): WireRowText {
  const enc = new TextEncoder();
  const pack = (strings: string[]): [DataView, DataView] => {
    const parts = strings.map((s) => enc.encode(s));
    const offsets = new Uint32Array(parts.length + 1);
    parts.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
    const bytes = new Uint8Array(offsets[parts.length]);
    parts.forEach((p, i) => bytes.set(p, offsets[i]));
    return [new DataView(offsets.buffer), new DataView(bytes.buffer)];
  };
  const [id_offsets, idBytes] = pack(ids);
  const empty = new DataView(new ArrayBuffer(0));
  if (!texts) return { n: ids.length, id_offsets, ids: idBytes, preview_offsets: empty, previews: empty, preview_chars: 0 };
  const cut = texts.map((t) => (t.length <= previewChars ? t : `${t.slice(0, previewChars)}…`));
  const [preview_offsets, previews] = pack(cut);
  return { n: ids.length, id_offsets, ids: idBytes, preview_offsets, previews, preview_chars: previewChars };
}
