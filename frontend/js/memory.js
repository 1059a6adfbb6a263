// "Your handwriting": what the service remembers of this writer (GET /api/me), said in its own card
// ("Personalised by 9 of your drawings") with the way to forget it. Forgetting asks first (a stray Space on
// the button does nothing worse than ask), then waits FORGET_WAIT_MS showing "Forgetting… Undo" before it
// sends DELETE /api/me, so Undo simply cancels; the page then takes a new writer id.
//
// Whoever listens hears "taught" with the memory's drawings per label (detail: counts) whenever they are
// known afresh, and "forgotten" once the memory is deleted and the page has a new writer id.

import { onLanguageChange, t } from "./i18n.js";
import { renewWriterId } from "./writer.js";

export const FORGET_WAIT_MS = 5000;

export class HandwritingMemory extends EventTarget {
  /**
   * @param {{api: object, saver: import("./saver.js").DrawingSaver, errors: import("./errors.js").ErrorBox,
   *   els: {box, note, forget, ask, askText, confirm, keep, wait, waitText, undo: HTMLElement}}} parts
   */
  constructor({ api, saver, errors, els }) {
    super();
    this.api = api;
    this.errors = errors;
    this.els = els;
    this.drawings = 0; // in the memory, as last heard
    this.state = "idle"; // idle | asking | waiting | forgetting
    this.timer = 0;
    els.forget.addEventListener("click", () => this.ask());
    els.keep.addEventListener("click", () => this.#settle({ focus: els.forget }));
    els.confirm.addEventListener("click", () => this.#startWaiting());
    els.undo.addEventListener("click", () => this.#settle({ focus: els.forget }));
    els.box.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.state === "asking") {
        e.stopPropagation();
        this.#settle({ focus: els.forget });
      }
    });
    // The person leaves while it waits: they asked to forget, so it is sent on the way out.
    window.addEventListener("pagehide", () => {
      if (this.state === "waiting") this.api.forgetMe({ keepalive: true }).catch(() => {});
    });
    saver.addEventListener("saved", ({ detail: { train, response } }) => {
      this.show(response.personalised_by);
      if (train) this.refresh(); // which labels the memory now knows
    });
    onLanguageChange(() => this.#reword());
  }

  /** The page speaks another language: the note and the question, said again in it (the countdown says itself). */
  #reword() {
    const { box, note, askText } = this.els;
    if (box.classList.contains("forgotten")) note.textContent = t("memory.forgotten");
    else if (this.drawings > 0) note.textContent = t("memory.personalised", { count: this.drawings });
    if (this.state === "asking") askText.textContent = t("memory.ask", { count: this.drawings });
  }

  /** "Personalised by N of your drawings", with the way to forget them; hidden while there are none. */
  show(drawings) {
    if (!Number.isFinite(drawings) || this.state !== "idle") return;
    const { box, note, forget } = this.els;
    if (drawings > 0) {
      this.drawings = drawings;
      note.textContent = t("memory.personalised", { count: drawings });
      forget.hidden = false;
      box.hidden = false;
      box.classList.remove("forgotten");
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

  /** Forget my handwriting: first the question, with Keep it focused (the safe answer). */
  ask() {
    if (this.state !== "idle") return;
    const { ask, askText, forget, keep } = this.els;
    this.state = "asking";
    askText.textContent = t("memory.ask", { count: this.drawings });
    forget.hidden = true;
    ask.hidden = false;
    keep.focus();
  }

  #startWaiting() {
    const { ask, wait, waitText, undo } = this.els;
    this.state = "waiting";
    ask.hidden = true;
    wait.hidden = false;
    const until = performance.now() + FORGET_WAIT_MS;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - performance.now()) / 1000));
      waitText.textContent = t("memory.forgetting", { seconds: left });
      if (left === 0) this.#forget();
    };
    tick();
    this.timer = setInterval(tick, 250);
    undo.focus();
  }

  /** Back to the note and its Forget button (Keep it, Undo, or a failed DELETE). */
  #settle({ focus = null } = {}) {
    clearInterval(this.timer);
    const { ask, wait, forget } = this.els;
    this.state = "idle";
    ask.hidden = wait.hidden = true;
    forget.hidden = false;
    focus?.focus();
  }

  async #forget() {
    clearInterval(this.timer);
    if (this.state !== "waiting") return;
    this.state = "forgetting";
    const { box, note, wait, forget } = this.els;
    const hadFocus = box.contains(document.activeElement);
    try {
      await this.api.forgetMe();
    } catch (error) {
      this.#settle();
      this.errors.show(error, {
        retry: () => {
          this.state = "waiting"; // asked and confirmed already: Retry sends it at once
          this.#forget();
        },
      });
      return;
    }
    renewWriterId();
    this.state = "idle";
    this.drawings = 0;
    this.#taught([]);
    wait.hidden = true;
    forget.hidden = true;
    box.classList.add("forgotten");
    note.textContent = t("memory.forgotten");
    if (hadFocus) {
      note.tabIndex = -1; // the button that had the focus is gone: the words that replace it have it
      note.focus();
    }
    this.dispatchEvent(new Event("forgotten"));
  }

  #taught(counts) {
    this.dispatchEvent(new CustomEvent("taught", { detail: { counts } }));
  }
}
