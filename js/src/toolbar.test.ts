import { describe, expect, it } from "vitest";
import { COLOR_CHOICES, StatusLine, VIEW_CHOICES, keyLegend, progressText } from "./toolbar";
import { legend } from "./colors";
import { config } from "./config";

describe("toolbar parts", () => {
  it("messages clear themselves; sticky ones stay", async () => {
    const status = new StatusLine(10, 20);
    status.show("3 documents match");
    expect(status.text).toBe("3 documents match");
    await new Promise((r) => setTimeout(r, 15));
    expect(status.text).toBe("");
    status.show("There is no label 7", "error");
    await new Promise((r) => setTimeout(r, 12));
    expect(status.text).toBe("There is no label 7");
    await new Promise((r) => setTimeout(r, 15));
    expect(status.text).toBe("");
    status.show("2 actions not saved", "sticky");
    await new Promise((r) => setTimeout(r, 30));
    expect(status.text).toBe("2 actions not saved");
    status.dispose();
  });

  it("writes progress as a reviewer reads it", () => {
    expect(progressText({ state: "idle" })).toBe("");
    expect(progressText({ state: "running", epoch: 3, epochs: 6, step: 2, steps: 5 })).toBe("epoch 3/6 · 40%");
    expect(progressText({ state: "running", epoch: 1, epochs: null })).toBe("epoch 1");
    expect(progressText({ state: "failed", epoch: 2, epochs: 6 })).toBe("training failed · epoch 2/6");
  });

  it("lists the keys of the first nine labels", () => {
    expect(keyLegend(["neg", "pos"])).toBe("keys: 1 neg · 2 pos · a accept suggestion · r confirm · u undo · j/k next/previous · click opens, shift+click selects · ? help");
    expect(keyLegend(Array.from({ length: 12 }, (_, i) => `c${i}`))).toContain("9 c8 (labels after the 9th: the Relabel menu)");
  });
  it("a question is brought into view with its first button focused, and Escape dismisses it", () => {
    const status = new StatusLine();
    document.body.append(status.el);
    const apply = document.createElement("button");
    const cancel = document.createElement("button");
    let scrolled = 0;
    status.el.scrollIntoView = () => { scrolled += 1; };
    status.show("Accept suggestions for 12 documents: 12 labels will change.", "sticky", apply, cancel);
    expect(scrolled).toBe(1);
    expect(document.activeElement).toBe(apply);
    apply.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(status.text).toBe("");
    status.show("3 documents match");
    expect(scrolled).toBe(1); // plain messages do not move the page
    status.el.remove();
  });
});


describe("the toolbar at a narrow widget (reviewer finding 9)", () => {
  it("groups its controls in two and shortens the long labels, the whole words kept for screen readers", async () => {
    const { Toolbar } = await import("./toolbar");
    const t = new Toolbar();
    expect([...t.el.children].map((c) => c.className)).toEqual(["dmw-toolbar-group dmw-toolbar-view", "dmw-toolbar-group dmw-toolbar-act"]);
    t.setCompact(true);
    expect(t.el.classList.contains("dmw-compact")).toBe(true);
    expect([t.homeButton, t.clearButton, t.reviewButton, t.acceptButton, t.saveButton].map((b) => b.textContent)).toEqual(["Reset", "Clear", "Reviewed", "Accept…", "Save"]);
    expect(t.acceptButton.getAttribute("aria-label")).toBe("Accept suggestions…");
    t.setCompact(false);
    expect(t.acceptButton.textContent).toBe("Accept suggestions…");
    expect(t.acceptButton.hasAttribute("aria-label")).toBe(false);
  });

  it("an empty status message leaves the line empty, so it takes no room", async () => {
    const { StatusLine } = await import("./toolbar");
    const s = new StatusLine();
    s.show("hello");
    expect(s.el.childNodes.length).toBe(1);
    s.show("");
    expect(s.el.childNodes.length).toBe(0);
    s.dispose();
  });
});

describe("the toolbar's choices are Python's", () => {
  // Display words live here; the names themselves are Python's (browser_config), and a name
  // added or renamed there must reach the menus, so the two lists are compared, not copied.
  it("offers exactly the colourings and views the config names, in its order", () => {
    expect(COLOR_CHOICES.map(([name]) => name)).toEqual(config().color_by);
    expect(VIEW_CHOICES.map(([name]) => name)).toEqual(config().map_views);
  });

  it("every colouring but the default has a legend of its own", () => {
    const fallback = JSON.stringify(legend("no such colouring", ["a", "b"], ["easy", "ambiguous", "hard"]));
    for (const name of config().color_by.filter((n) => n !== "correctness")) {
      expect(JSON.stringify(legend(name, ["a", "b"], ["easy", "ambiguous", "hard"])), name).not.toBe(fallback);
    }
  });
});
