// Teach mode: pick a label, then draw it again and again; each Save (or Enter) stores the drawing with that
// label and clears the pad. Everything used while drawing sits with the pad, on one screen of a phone too:
// the bar over it (what is taught, how many were saved, the previous and next label, how the glyph is
// written) and Save beside Undo and Clear; the labels to pick from are in the teach panel, which marks those
// the writer's memory already knows.
//
// Save never takes the focus away: it is only marked aria-disabled while it cannot save (no label, nothing
// on the pad, a save under way, or the service asked to wait, which it says beside Save).

import { bringIntoView, glyphButtons, glyphNode, radioKeys } from "./glyphs.js";
import { onLanguageChange, t, tn } from "./i18n.js";
import { showStrokeGuide } from "./strokeguide.js";

const MISSING_LISTED = 10; // labels the memory does not know, named before "and N more"

export class TeachController {
  /**
   * @param {{pad: import("./pad.js").DrawingPad, alphabet: object, saver: import("./saver.js").DrawingSaver,
   *   els: {panel, grid, bar, save, count, badge, previous, next, status, guide, replay, memory: HTMLElement}}} parts
   */
  constructor({ pad, alphabet, saver, els }) {
    this.pad = pad;
    this.alphabet = alphabet;
    this.saver = saver;
    this.els = els;
    this.active = false; // teach mode is shown (app.js says)
    this.label = null; // the label picked, or null
    this.saved = 0; // drawings saved with it since it was picked
    this.counts = null; // the writer's memory's drawings per label, as last heard
    this.buttons = glyphButtons(els.grid, alphabet, { testid: "teach-digit-", role: "radio", label: (label) => this.#name(label) });
    // A pick by pointer (a tap in a long table, far below the pad on a phone) brings the pad back into view;
    // one by the arrow keys (a click of detail 0) leaves the focus and the view where they are.
    this.buttons.forEach((b) => b.addEventListener("click", (e) => this.pick(Number(b.dataset.digit), { toPad: e.detail > 0 })));
    els.grid.addEventListener("keydown", (e) => radioKeys(e, this.buttons));
    els.panel.classList.toggle("long", Boolean(alphabet.rows));
    els.previous.addEventListener("click", () => this.label !== null && this.pick(alphabet.step(this.label, -1)));
    els.next.addEventListener("click", () => this.label !== null && this.pick(alphabet.step(this.label, 1)));
    els.replay.addEventListener("click", () => showStrokeGuide(els.guide, alphabet, this.label));
    els.save.addEventListener("click", () => this.save());
    saver.addEventListener("busychange", () => this.#updateSave());
    saver.addEventListener("wait", ({ detail }) => this.#waiting(detail.seconds));
    for (const type of ["strokeend", "change"]) pad.addEventListener(type, () => this.#updateSave());
    els.previous.parentElement.hidden = true;
    this.#updateCount();
    this.#updateBadge();
    this.#updateSave();
    onLanguageChange(() => this.#reword());
  }

  setActive(active) {
    this.active = active;
    this.els.bar.hidden = !active;
    this.els.save.hidden = !active;
    if (!active) this.els.status.hidden = true;
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

  pick(label, { toPad = false } = {}) {
    if (this.label !== label) this.saved = 0;
    this.label = label;
    this.buttons.forEach((b) => {
      const on = Number(b.dataset.digit) === label;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    });
    const { previous, next } = this.els;
    previous.parentElement.hidden = false; // shown once there is a label to step from
    previous.disabled = next.disabled = false;
    this.#sayLabel();
    this.#updateCount();
    this.#updateBadge();
    showStrokeGuide(this.els.guide, this.alphabet, label);
    this.#updateSave();
    if (toPad) bringIntoView(this.els.bar, "start");
  }

  /** The words for the label picked: Save this 5, and the previous and next labels' buttons. */
  #sayLabel() {
    const { save, previous, next } = this.els;
    const label = this.label;
    const words = document.createElement("span"); // one flex item: the button spaces its children apart
    words.append(...tn("teach.save_this", { glyph: glyphNode(this.alphabet, label) }));
    save.replaceChildren(words);
    previous.setAttribute("aria-label", t("teach.previous", { glyph: this.alphabet.glyph(this.alphabet.step(label, -1)) }));
    next.setAttribute("aria-label", t("teach.next", { glyph: this.alphabet.glyph(this.alphabet.step(label, 1)) }));
  }

  /** The page speaks another language: every word of teach mode, said again in it. */
  #reword() {
    this.buttons.forEach((b) => b.setAttribute("aria-label", this.#name(Number(b.dataset.digit))));
    if (this.counts) this.showTaught(this.counts);
    if (this.label !== null) {
      this.#sayLabel();
      showStrokeGuide(this.els.guide, this.alphabet, this.label);
    }
    this.#updateCount();
    this.#updateBadge();
    this.#waiting(this.saver.waiting);
  }

  save() {
    if (!this.#canSave()) return;
    const label = this.label;
    return this.saver.store(label, {
      onStored: () => {
        if (this.label === label) this.saved += 1;
        this.pad.clear();
        this.#updateCount(true);
      },
    });
  }

  /** The memory was forgotten: what was saved here no longer counts as the writer's. */
  forgotten() {
    this.saved = 0;
    this.#updateCount();
  }

  /** Marks each label the memory holds drawings of, and says which are missing (a memory that knows every
   * label counts for more in a digit's answer: models/prototypes.py, Sharpness). */
  showTaught(counts) {
    if (!Array.isArray(counts)) return;
    this.counts = counts;
    const memory = this.els.memory;
    this.buttons.forEach((b) => {
      const label = Number(b.dataset.digit);
      const n = counts[label] || 0;
      if (n > 0) b.dataset.taught = String(n);
      else delete b.dataset.taught;
      b.setAttribute("aria-label", n > 0 ? t("teach.radio_known", { name: this.#name(label), count: n }) : this.#name(label));
    });
    const total = this.buttons.length;
    const missing = this.buttons.map((b) => Number(b.dataset.digit)).filter((label) => !(counts[label] > 0));
    const known = total - missing.length;
    memory.hidden = known === 0;
    if (!known) return memory.replaceChildren();
    if (!missing.length) return memory.replaceChildren(...tn("teach.knows_all", { total }));
    const list = document.createElement("span");
    missing.slice(0, MISSING_LISTED).forEach((label, i) => list.append(...(i ? [t("common.list_separator")] : []), glyphNode(this.alphabet, label)));
    const named = missing.length > MISSING_LISTED
      ? tn("teach.and_more", { list, more: missing.length - MISSING_LISTED }) : [list];
    const all = document.createElement("span");
    all.append(...named);
    memory.replaceChildren(...tn("teach.knows_some", { known, total, missing: all }));
  }

  /** A glyph button's name: "Teach the digit 5", "Teach the character あ". */
  #name(label) {
    return t("teach.radio", { glyph: this.alphabet.glyph(label) });
  }

  #canSave() {
    return this.label !== null && !this.pad.isEmpty && !this.saver.blocked;
  }

  #updateCount(flash = false) {
    const count = this.els.count;
    count.hidden = this.label === null;
    count.textContent = t("teach.saved", { count: this.saved });
    count.dataset.count = String(this.saved);
    count.classList.toggle("zero", this.saved === 0);
    if (flash) {
      count.classList.remove("flash");
      void count.offsetWidth; // restart the animation
      count.classList.add("flash");
    }
  }

  #updateBadge() {
    const badge = this.els.badge;
    badge.classList.toggle("waiting", this.label === null);
    if (this.label === null) badge.replaceChildren(t("teach.start"));
    else badge.replaceChildren(...tn("teach.badge", { glyph: glyphNode(this.alphabet, this.label) }));
  }

  /** Saving must wait (the service's rate limit): said once, beside Save, until it may again. */
  #waiting(seconds) {
    const { status } = this.els;
    status.hidden = seconds === 0 || !this.active;
    status.textContent = seconds ? t("teach.too_fast", { seconds }) : "";
    this.#updateSave();
  }

  #updateSave() {
    const { save } = this.els;
    save.setAttribute("aria-disabled", String(!this.#canSave()));
    if (this.label === null) save.textContent = t("teach.save");
  }
}
