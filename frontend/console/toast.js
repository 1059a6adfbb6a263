// The toast at the bottom: what the last decision did ("Accepted 1 drawing"), with an Undo for a short while.
// Its live region is always on the page (so every message is announced); the toast shows while it has words.

const SHOW_MS = 8000;

export class Toast {
  /** @param {HTMLElement} region  a role=status element holding the words and the Undo button */
  constructor(region) {
    this.region = region;
    this.words = region.querySelector("[data-role=toast-words]");
    this.undoButton = region.querySelector("[data-role=toast-undo]");
    this.closeButton = region.querySelector("[data-role=toast-close]");
    this.onUndo = null;
    this.timer = 0;
    this.undoButton.addEventListener("click", () => {
      const undo = this.onUndo;
      this.hide();
      undo?.();
    });
    this.closeButton.addEventListener("click", () => this.hide());
    // While the pointer or focus is on it, it stays.
    for (const type of ["pointerenter", "focusin"]) region.addEventListener(type, () => clearTimeout(this.timer));
    for (const type of ["pointerleave", "focusout"]) region.addEventListener(type, () => this.#later());
  }

  /** Shows `words` (text, or nodes) and, with `undo`, an Undo button that calls it. */
  show(words, { undo = null, error = false } = {}) {
    this.words.replaceChildren(...(Array.isArray(words) ? words : [words]));
    this.onUndo = undo;
    this.undoButton.hidden = !undo;
    this.region.classList.toggle("error", error);
    this.region.classList.add("shown");
    this.#later();
  }

  hide() {
    clearTimeout(this.timer);
    this.onUndo = null;
    this.region.classList.remove("shown");
    this.undoButton.hidden = true;
    this.words.replaceChildren();
  }

  #later() {
    clearTimeout(this.timer);
    if (this.region.classList.contains("shown")) this.timer = setTimeout(() => this.hide(), SHOW_MS);
  }
}
