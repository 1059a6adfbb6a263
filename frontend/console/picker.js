// The relabel picker: a dialog with every label of the alphabet and a field that narrows them as one types
// (a glyph, its reading in Latin letters — "ka" for か — or its label number). Enter takes the first match,
// the arrow keys move among the matches, Escape closes without a choice. For the digits 0-9 are keys of
// their own in the queue; this is how any alphabet is relabelled, however many labels it has.

import { glyphNode } from "../js/glyphs.js";
import { tn } from "../js/i18n.js";
import { readingOf, readingsOf } from "./readings.js";

export class LabelPicker {
  /**
   * @param {HTMLDialogElement} dialog  holds the title, an <input> (the combobox) and a listbox
   * @param {object} alphabet  glyphs.js's alphabetOf(config)
   */
  constructor(dialog, alphabet) {
    this.dialog = dialog;
    this.alphabet = alphabet;
    this.input = dialog.querySelector("input");
    this.list = dialog.querySelector("[role=listbox]");
    this.empty = dialog.querySelector("[data-role=picker-empty]");
    this.title = dialog.querySelector("[data-role=picker-title]");
    this.resolve = null;
    this.active = 0;
    this.options = alphabet.labels.map(({ label, glyph }) => {
      const option = document.createElement("li");
      option.role = "option";
      option.id = `pick-${label}`;
      option.dataset.label = String(label);
      option.append(glyphNode(alphabet, label, { class: "pick-glyph" }));
      const reading = readingOf(glyph);
      if (reading) {
        const small = document.createElement("small");
        small.textContent = reading;
        small.setAttribute("aria-hidden", "true");
        option.append(small);
      }
      option.addEventListener("click", () => this.#done(label));
      option.addEventListener("pointermove", () => this.#highlight(this.shown.indexOf(option)));
      return { label, glyph, keys: [glyph, String(label), ...readingsOf(glyph)], option };
    });
    this.list.append(...this.options.map((o) => o.option));
    this.shown = this.options.map((o) => o.option);
    this.input.addEventListener("input", () => this.#filter());
    this.input.addEventListener("keydown", (e) => this.#keys(e));
    dialog.addEventListener("close", () => this.#done(null));
    dialog.querySelector("[data-role=picker-cancel]").addEventListener("click", () => dialog.close());
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Opens the picker for `count` drawings; resolves with the label chosen, or null. */
  choose({ count = 1, current = null } = {}) {
    this.title.replaceChildren(...tn("console.picker.title", { count }));
    this.input.value = "";
    this.#filter(current);
    this.dialog.showModal();
    // With a keyboard, typing narrows at once; on a touch screen the on-screen keyboard would hide the labels.
    if (window.matchMedia("(pointer: coarse)").matches) this.dialog.focus();
    else this.input.focus();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  #filter(prefer = null) {
    const query = this.input.value.trim().toLowerCase();
    const scored = [];
    for (const entry of this.options) {
      let score = query ? Infinity : 0;
      for (const key of entry.keys) {
        if (key === query) score = Math.min(score, 0);
        else if (key.startsWith(query)) score = Math.min(score, 1);
      }
      entry.option.hidden = score === Infinity;
      if (score !== Infinity) scored.push([score, entry.option]);
    }
    // exact matches first (typing "ka" puts か before nothing else; "k" keeps the table's order)
    this.shown = scored.sort((a, b) => a[0] - b[0]).map(([, option]) => option);
    for (const [i, option] of this.shown.entries()) option.style.order = String(i);
    this.empty.hidden = this.shown.length > 0;
    const preferred = prefer === null ? -1 : this.shown.findIndex((o) => o.dataset.label === String(prefer));
    this.#highlight(preferred >= 0 ? preferred : 0);
  }

  #highlight(index) {
    if (index < 0) return;
    for (const option of this.options) option.option.setAttribute("aria-selected", "false");
    this.active = Math.min(index, this.shown.length - 1);
    const option = this.shown[this.active];
    if (!option) {
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    option.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  #keys(event) {
    const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
    const sideways = event.key === "ArrowLeft" || event.key === "ArrowRight";
    if (event.key in moves && (!sideways || !this.input.value)) { // left and right move the caret while there is text
      event.preventDefault();
      const n = this.shown.length;
      if (n) this.#highlight((this.active + moves[event.key] + n) % n);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const option = this.shown[this.active];
      if (option) this.#done(Number(option.dataset.label));
    }
  }

  #done(label) {
    const resolve = this.resolve;
    this.resolve = null;
    if (this.dialog.open) this.dialog.close();
    resolve?.(label);
  }
}

