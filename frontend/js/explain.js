// "How to read this": a dialog that says what the answer, "% sure", the four models, their versions and the
// memory's card mean, in the page's own words (index.html holds it, worded from the catalogue). Any button
// with data-explain opens it, at the part it names (data-explain="sure" opens at "What % sure means"); it
// closes with Close, Escape or a click beside it, and gives the focus back to the button that opened it.

export class Explainer {
  /** @param {HTMLDialogElement} dialog */
  constructor(dialog) {
    this.dialog = dialog;
    this.opener = null;
    document.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest("[data-explain]") : null;
      if (button) this.open(button.dataset.explain, button);
    });
    dialog.querySelector("[data-testid=explain-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop, beside the dialog's content
    });
    dialog.addEventListener("close", () => {
      const opener = this.opener;
      this.opener = null;
      if (opener?.isConnected && !opener.hidden) opener.focus();
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Opens at `part` (a data-part of the dialog's sections; "top" or none: the beginning). */
  open(part = "top", opener = document.activeElement) {
    this.opener = opener;
    if (!this.dialog.open) this.dialog.showModal();
    const heading = this.dialog.querySelector(`[data-part="${CSS.escape(part || "top")}"] h3`);
    const body = this.dialog.querySelector(".explain-body");
    if (heading) {
      heading.focus({ preventScroll: true });
      body.scrollTop = heading.offsetTop - 8; // the body is the headings' offset parent (position: relative)
    } else {
      body.scrollTop = 0;
      this.dialog.querySelector("[data-testid=explain-close]").focus();
    }
  }
}
