// The pad's own tools: Undo (also Ctrl+Z) and Clear, usable while there is ink to take away and no save is
// under way, and the hint shown on an empty pad.

export class PadTools {
  /**
   * @param {{pad: import("./pad.js").DrawingPad, saver: import("./saver.js").DrawingSaver,
   *   undoButton: HTMLButtonElement, clearButton: HTMLButtonElement}} parts
   */
  constructor({ pad, saver, undoButton, clearButton }) {
    this.pad = pad;
    this.saver = saver;
    this.undoButton = undoButton;
    this.clearButton = clearButton;
    undoButton.addEventListener("click", () => pad.undo());
    clearButton.addEventListener("click", () => pad.clear());
    for (const type of ["strokestart", "strokeend", "change"]) pad.addEventListener(type, () => this.#update());
    saver.addEventListener("busychange", () => this.#update());
    this.#update();
  }

  /** Ctrl+Z (⌘Z) undoes the last stroke, unless a text field has the key. True when the key was used. */
  keydown(event) {
    const target = event.target;
    const typing = target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]");
    if (!(event.ctrlKey || event.metaKey) || event.shiftKey || event.key.toLowerCase() !== "z" || typing) return false;
    event.preventDefault();
    this.pad.undo();
    return true;
  }

  #update() {
    const empty = this.pad.isEmpty;
    this.pad.canvas.parentElement.classList.toggle("empty", empty);
    this.undoButton.disabled = empty || this.saver.busy;
    this.clearButton.disabled = empty || this.saver.busy;
  }
}
