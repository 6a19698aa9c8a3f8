import { describe, expect, it, vi } from "vitest";
import { FakeModel, makeState } from "./fake-model";
import { Sync, decode, decodePoints, encode } from "./sync";

describe("sync", () => {
  it("decodes point columns from buffers, also when unaligned", () => {
    const model = new FakeModel(makeState(5));
    const p = decodePoints(model);
    expect(p.n).toBe(5);
    expect([...p.order]).toEqual([0, 1, 2, 3, 4]);
    expect(p.y[4]).toBe(1);
    const raw = new Uint8Array(9);
    new DataView(raw.buffer).setUint32(1, 7, true);
    new DataView(raw.buffer).setUint32(5, 9, true);
    expect([...decode(new DataView(raw.buffer, 1, 8), Uint32Array)]).toEqual([7, 9]);
  });

  it("coalesces debounced writes into one save and ignores the echo of its own write", () => {
    vi.useFakeTimers();
    const model = new FakeModel(makeState(3));
    const sync = new Sync(model);
    let calls = 0;
    sync.on("filters", () => calls++);
    const f = model.get("filters");
    sync.write("filters", { ...f, search: "a" }, 250);
    sync.write("filters", { ...f, search: "ab" }, 250);
    expect(model.get("filters").search).toBe("ab"); // set locally at once
    expect(model.saved.length).toBe(0);
    vi.advanceTimersByTime(300);
    expect(model.saved.length).toBe(1);
    expect(calls).toBe(0); // our own writes are not re-applied
    model.pythonSets("filters", { ...f, search: "from python" });
    expect(calls).toBe(1);
    sync.dispose();
    vi.useRealTimers();
  });

  it("matches responses to requests by id and rejects errors and timeouts", async () => {
    const model = new FakeModel(makeState(3));
    model.kernel = (method, args) => {
      if (method === "boom") throw new Error("bad label");
      return [{ echo: args.v }, [Uint32Array.of(1, 2)]];
    };
    const sync = new Sync(model);
    const [res, bufs] = await sync.request("ok", { v: 42 });
    expect(res.echo).toBe(42);
    expect([...decode(bufs[0], Uint32Array)]).toEqual([1, 2]);
    await expect(sync.request("boom")).rejects.toThrow("bad label");
    model.send = () => {}; // a kernel that never answers
    await expect(sync.request("slow", {}, [], 20)).rejects.toThrow("did not answer");
    sync.dispose();
  });

  it("translates TS names to wire names in one table", () => {
    const model = new FakeModel(makeState(3));
    const sync = new Sync(model);
    expect(sync.get("labelNames")).toEqual(["neg", "pos"]);
    expect(sync.get("nPasses")).toBe(3);
    sync.write("colorBy", "label");
    expect(model.get("color_by")).toBe("label");
    expect(model.saved).toEqual([{ color_by: "label" }]);
    sync.dispose();
  });

  it("encodes typed arrays as DataViews over the same bytes", () => {
    const a = Uint32Array.of(3, 4);
    const dv = encode(a);
    expect(dv.byteLength).toBe(8);
    expect(dv.getUint32(4, true)).toBe(4);
  });
});
