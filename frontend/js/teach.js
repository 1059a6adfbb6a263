// Teach mode: pick a label, then draw it again and again; each Save (or Enter) stores the drawing with that
// label and clears the pad. Says how many were saved, shows the label on the pad (the badge) and, for
// alphabets that have one, the stroke-order guide; marks the labels the writer's memory already knows.

import { glyphButtons, radioKeys } from "./glyphs.js";
import { glyphNode } from "./results.js";
import { showStrokeGuide } from "./strokeguide.js";

export class TeachController {
  /**
   * @param {{pad: import("./pad.js").DrawingPad, alphabet: object, saver: import("./saver.js").DrawingSaver,
   *   els: {panel, grid, save, count, badge, guide, replay, memory: HTMLElement}}} parts
   */
  constructor({ pad, alphabet, saver, els }) {
    this.pad = pad;
    this.alphabet = alphabet;
    this.saver = saver;
    this.els = els;
    this.active = false; // teach mode is shown (app.js says)
    this.label = null; // the label picked, or null
    this.saved = 0; // drawings saved with it since it was picked
    this.buttons = glyphButtons(els.grid, alphabet, { testid: "teach-digit-", role: "radio", label: (label) => this.#name(label) });
    this.buttons.forEach((b) => b.addEventListener("click", () => this.pick(Number(b.dataset.digit))));
    els.grid.addEventListener("keydown", (e) => radioKeys(e, this.buttons));
    els.panel.classList.toggle("long", Boolean(alphabet.rows));
    els.replay.addEventListener("click", () => showStrokeGuide(els.guide, alphabet, this.label));
    els.save.addEventListener("click", () => this.save());
    saver.addEventListener("busychange", () => this.#updateSave());
    this.#updateSave();
  }

  setActive(active) {
    this.active = active;
    this.#updateBadge();
  }

  /**
   * Enter saves, unless it is meant for another control. On a glyph of the teach picker it saves too: the
   * glyph is already chosen (radios choose with arrows or Space). True when the key was used.
   */
  keydown(event) {
    if (event.key !== "Enter" || event.repeat) return false;
    const target = event.target;
    const control = target instanceof HTMLElement ? target.closest("button, a, input, select, textarea, summary") : null;
    if (control && !this.buttons.includes(control)) return false;
    event.preventDefault();
    this.save();
    return true;
  }

  pick(label) {
    if (this.label !== label) this.saved = 0;
    this.label = label;
    this.buttons.forEach((b) => {
      const on = Number(b.dataset.digit) === label;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    });
    const words = document.createElement("span"); // one flex item: the button spaces its children apart
    words.append("Save this ", glyphNode(this.alphabet, label));
    this.els.save.replaceChildren(words);
    this.#updateCount();
    this.#updateBadge();
    showStrokeGuide(this.els.guide, this.alphabet, label);
    this.#updateSave();
  }

  save() {
    if (this.label === null || this.saver.busy) return;
    const label = this.label;
    return this.saver.store(label, {
      onStored: () => {
        if (this.label === label) this.saved += 1;
        this.pad.clear();
        this.#updateCount(true);
      },
    });
  }

  /** Marks each label the memory holds drawings of, and says which are missing (a memory that knows every
   * label counts for more in a digit's answer: models/prototypes.py, Sharpness). */
  showTaught(counts) {
    if (!Array.isArray(counts)) return;
    const { noun } = this.alphabet;
    const memory = this.els.memory;
    this.buttons.forEach((b) => {
      const label = Number(b.dataset.digit);
      const n = counts[label] || 0;
      if (n > 0) b.dataset.taught = String(n);
      else delete b.dataset.taught;
      b.setAttribute("aria-label", n > 0 ? `${this.#name(label)} (${n} in your memory)` : this.#name(label));
    });
    const total = this.buttons.length;
    const missing = this.buttons.map((b) => Number(b.dataset.digit)).filter((label) => !(counts[label] > 0));
    const known = total - missing.length;
    memory.hidden = known === 0;
    if (!known) return memory.replaceChildren();
    if (!missing.length) {
      return memory.replaceChildren(`Your memory knows all ${total} ${noun}s, marked with a dot.`);
    }
    const shown = missing.slice(0, 10);
    const list = [];
    shown.forEach((label, i) => list.push(...(i ? [", "] : []), glyphNode(this.alphabet, label)));
    if (missing.length > shown.length) list.push(` and ${missing.length - shown.length} more`);
    memory.replaceChildren(`Your memory knows ${known} of the ${total} ${noun}s (marked with a dot). Not yet: `, ...list, ".");
  }

  /** A glyph button's name: "Teach the digit 5", "Teach the character あ". */
  #name(label) {
    return `Teach the ${this.alphabet.noun} ${this.alphabet.glyph(label)}`;
  }

  #updateCount(flash = false) {
    const count = this.els.count;
    count.textContent = this.label === null ? `Pick a ${this.alphabet.noun} to start` : `${this.saved} saved`;
    count.dataset.count = String(this.saved);
    if (flash) {
      count.classList.remove("flash");
      void count.offsetWidth; // restart the animation
      count.classList.add("flash");
    }
  }

  #updateBadge() {
    const badge = this.els.badge;
    badge.hidden = !this.active || this.label === null;
    if (this.label === null) badge.replaceChildren();
    else badge.replaceChildren("Teaching: ", glyphNode(this.alphabet, this.label));
  }

  #updateSave() {
    this.els.save.disabled = this.label === null || this.saver.busy;
  }
}
