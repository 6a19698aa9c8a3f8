import { describe, expect, it } from "vitest";
import { acceptUnlearnedText, acceptedText, hiddenCount, selectionHiddenText, unlearnedText } from "./notes";

describe("notes", () => {
  it("word a class the map never learned as Python does", () => {
    expect(unlearnedText([])).toBe("");
    expect(unlearnedText([{ label: "ABBR", code: 0, count: 11 }])).toBe(
      "The model never learned class ABBR (11 examples): its suspects mean the class is too small, not that the labels are wrong; suggestions for it are unreliable.",
    );
    expect(unlearnedText([{ label: "A", code: 0, count: 1 }, { label: "B", code: 1, count: 3 }])).toContain("classes A (1 example), B (3 examples): their suspects");
    expect(acceptUnlearnedText(0, 3, [{ label: "ABBR", code: 0, count: 11 }])).toBe("");
    expect(acceptUnlearnedText(1, 12, [{ label: "ABBR", code: 0, count: 11 }])).toBe("1 of the 12 changes moves a document out of ABBR, which the model never learned (unreliable suggestions)");
    expect(acceptUnlearnedText(5, 12, [{ label: "ABBR", code: 0, count: 11 }])).toBe("5 of the 12 changes move documents out of ABBR, which the model never learned (unreliable suggestions)");
    expect(acceptUnlearnedText(2, 2, [{ label: "ABBR", code: 0, count: 11 }])).toBe("all 2 changes move documents out of ABBR, which the model never learned (unreliable suggestions)");
  });

  it("say what a bulk accept changed and what the filters now hide", () => {
    expect(acceptedText(5, 0, true)).toBe("Changed 5 labels.");
    expect(acceptedText(1, 1, true)).toBe("Changed 1 label (1 now hidden by the label filter).");
    expect(acceptedText(3, 2, false)).toBe("Changed 3 labels (2 now hidden by the filters).");
    expect(hiddenCount([0, 1, 2], Uint8Array.of(1, 0, 0))).toBe(2);
    expect(hiddenCount([0, 1, 2], null)).toBe(0);
  });

  it("say how much of a selection the filters hide", () => {
    expect(selectionHiddenText(0, 0, "the filters")).toBe("");
    expect(selectionHiddenText(4, 4, "the filters")).toBe("");
    expect(selectionHiddenText(4, 1, "“q”")).toBe("3 of the 4 selected documents are hidden by “q”: the table and the buttons show and act on the other 1.");
    expect(selectionHiddenText(4, 0, "the filters")).toMatch(/^All 4 selected documents are hidden by the filters/);
  });
});
