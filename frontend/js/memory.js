// "Your handwriting": what the service remembers of this writer (GET /api/me), said on the pad's card
// ("Personalised by N of your drawings") with the way to forget it. Whoever listens hears "taught" with the
// memory's drawings per label (detail: counts) whenever they are known afresh, and "forgotten" once the
// memory is deleted and the page has a new writer id.

import { renewWriterId } from "./writer.js";

export class HandwritingMemory extends EventTarget {
  /**
   * @param {{api: object, saver: import("./saver.js").DrawingSaver, errors: import("./errors.js").ErrorBox,
   *   els: {box: HTMLElement, note: HTMLElement, forget: HTMLButtonElement}}} parts
   */
  constructor({ api, saver, errors, els }) {
    super();
    this.api = api;
    this.errors = errors;
    this.els = els;
    els.forget.addEventListener("click", () => this.forget());
    saver.addEventListener("saved", ({ detail: { train, response } }) => {
      this.show(response.personalised_by);
      if (train) this.refresh(); // which labels the memory now knows
    });
  }

  /** "Personalised by N of your drawings", with the way to forget them; hidden while there are none. */
  show(drawings) {
    if (!Number.isFinite(drawings)) return;
    const { box, note, forget } = this.els;
    if (drawings > 0) {
      note.textContent = `Personalised by ${drawings} of your drawing${drawings === 1 ? "" : "s"}`;
      forget.hidden = false;
      box.hidden = false;
    } else if (!forget.hidden) {
      box.hidden = true;
    }
  }

  /** Asks what the service remembers of this writer: the note, and which labels the memory knows. */
  refresh() {
    this.api
      .me()
      .then((me) => {
        this.show(me.drawings);
        this.#taught(me.counts);
      })
      .catch(() => {}); // without it, the next answer tells
  }

  async forget() {
    const { note, forget } = this.els;
    forget.disabled = true;
    try {
      await this.api.forgetMe();
      renewWriterId();
      this.#taught([]);
      note.textContent = "Forgotten. Answers are no longer personalised.";
      forget.hidden = true;
      this.dispatchEvent(new Event("forgotten"));
    } catch (error) {
      this.errors.show(error, { retry: () => this.forget() });
    } finally {
      forget.disabled = false;
    }
  }

  #taught(counts) {
    this.dispatchEvent(new CustomEvent("taught", { detail: { counts } }));
  }
}
