import { describe, expect, it } from "vitest";
import { classList, DetailPane, percent } from "./pane";

const INJECTION = "<img src=x onerror=alert(1)>";

function pane() {
  const parent = document.createElement("div");
  return new DetailPane(parent, () => {});
}

const row = (detail: any) => ({
  row: 0, label: "neg", suggested: "pos", confidence: 0.3, variability: 0.1, correctness: 0.2, mark: 0,
  hasText: true, waiting: false, detail: { row: 0, id: "d0", text: "t", truncated: false, length: 1, score: 0.5, gold_prob: [0.3], ...detail },
});

describe("detail pane: the model's classes", () => {
  it("shows the top three classes of the mean over passes as percentages, the given label marked", () => {
    const p = pane();
    p.render(row({ classes: [["pos", 0.62], ["neg", 0.301], ["neutral", 0.004]], classes_from: "mean", gold_label: "neg" }));
    const box = p.el.querySelector(".dmw-detail-classes")!;
    expect(box.textContent).toBe("model, mean over passes: pos 62% · neg 30% (given label) · neutral <1%");
    const items = [...box.querySelectorAll(".dmw-class")];
    expect(items.map((i) => i.classList.contains("dmw-class-gold"))).toEqual([false, true, false]);
  });

  it("always shows the given label's probability, after the top three when it is not among them (reviewer finding 8)", () => {
    const box = classList({ classes: [["a", 0.5], ["b", 0.3], ["c", 0.1]], classes_from: "mean", gold_label: "z" });
    expect(box.querySelectorAll(".dmw-class-gold").length).toBe(0); // no probability to show: nothing marked
    const p = pane();
    p.render({ ...row({ classes: [["a", 0.5], ["b", 0.3], ["c", 0.1]], classes_from: "mean", gold_label: "z" }), confidence: 0.03 });
    const shown = p.el.querySelector(".dmw-detail-classes")!;
    expect(shown.textContent).toBe("model, mean over passes: a 50% · b 30% · c 10% · z 3% (given label)");
    expect(shown.querySelectorAll(".dmw-class-gold").length).toBe(1);
  });

  it("the per-pass sparkline has a 0–1 scale and says how many passes (reviewer finding 8)", () => {
    const p = pane();
    p.render(row({ classes: [["neg", 0.3]], classes_from: "mean", gold_label: "neg", gold_prob: [0.1, null, 0.5, 0.9] }));
    const svg = p.el.querySelector("svg.dmw-spark")!;
    expect([...svg.querySelectorAll("text.dmw-spark-axis")].map((t) => t.textContent)).toEqual(["0", "1"]);
    expect(svg.querySelectorAll("line.dmw-spark-guide").length).toBe(2);
    expect(p.el.querySelector(".dmw-spark-passes")!.textContent).toBe("4 passes");
    // The 1 mark sits above the 0 mark, each at its guide line.
    const [zero, one] = [...svg.querySelectorAll("text.dmw-spark-axis")].map((t) => Number(t.getAttribute("y")));
    expect(one).toBeLessThan(zero);
  });

  it("falls back to the last pass's gold and best other class for a map without class probabilities", () => {
    const p = pane();
    p.render(row({ classes: [["pos", 0.7], ["neg", 0.2]] })); // an older kernel: no classes_from
    expect(p.el.querySelector(".dmw-detail-classes")!.textContent).toBe("model, last pass: pos 0.70 · neg 0.20");
    p.render(row({ classes: [["pos", 0.7], ["neg", 0.2]], classes_from: "last pass", gold_label: "neg" }));
    expect(p.el.querySelector(".dmw-detail-classes")!.textContent).toBe("model, last pass: pos 0.70 · neg 0.20");
  });

  it("renders label names as text, never as HTML", () => {
    const p = pane();
    p.render(row({ classes: [[INJECTION, 0.9], ["neg", 0.1]], classes_from: "mean", gold_label: INJECTION }));
    expect(p.el.querySelector("img")).toBeNull();
    expect(p.el.querySelector(".dmw-class-gold")!.textContent).toBe(`${INJECTION} 90% (given label)`);
  });

  it("percent rounds to whole percents", () => {
    expect([percent(0.625), percent(0), percent(1), percent(0.001), percent(NaN)]).toEqual(["63%", "0%", "100%", "<1%", "–"]);
  });
});

describe("detail pane: what the model read", () => {
  it("says how much of a long text the model read and how, and nothing for a text read whole", () => {
    const p = pane();
    p.render(row({ classes: [], reading: { share: 0.34, mode: "head_tail", max_length: 128 } }));
    expect(p.el.querySelector(".dmw-detail-reading")!.textContent).toBe(
      "The model read 34% of this text (its beginning and end, 128 tokens at a time).",
    );
    p.render(row({ classes: [], reading: { share: 1, mode: "head_tail", max_length: 128 } }));
    expect(p.el.querySelector(".dmw-detail-reading")).toBeNull();
  });

  it("shows the bag of words' classes as text, names included", () => {
    const p = pane();
    p.render(row({ classes: [], text_view: [[INJECTION, 0.81], ["neg", 0.19]] }));
    const line = p.el.querySelector(".dmw-detail-textview")!;
    expect(line.textContent).toBe(`bag of words (never saw this label): ${INJECTION} 0.81 · neg 0.19`);
    expect(line.querySelector("img")).toBeNull();
  });
});
