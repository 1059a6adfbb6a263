// The Number mode: several digits written in one go on a wider pad (GET /api/config's `pad`: its bitmap kept at
// the pad's width x height whatever its CSS size), read as they are written (POST /api/read a moment after each
// stroke ends, a newer request always winning) and shown one chip per character ("2 0 2 4"). A chip opens what
// it could be instead (its top-3, and every label of the alphabet as the Draw tab's picker offers them);
// Save sends the number as corrected (POST /api/numbers): the service stores each character as a labelled
// drawing of its own and the models learn from each, which the page then says.
//
// The keys it owns while shown: Ctrl+Z (undo a stroke), Escape (close a chip's choices), the arrow keys
// between the chips.

import { glyphButtons, labelOf } from "./glyphs.js";
import { onLanguageChange, percent, t, tn } from "./i18n.js";
import { DrawingPad } from "./pad.js";

export const READ_DEBOUNCE_MS = 250;
const SHOWN = { "-": "−" }; // the API's minus sign ("-") as a chip shows it

export class NumberController {
  /**
   * @param {object} parts
   * @param {object} parts.pad        GET /api/config's `pad`
   * @param {object} parts.api
   * @param {object} parts.alphabet   alphabetOf(config)
   * @param {import("./errors.js").ErrorBox} parts.errors  the Number mode's own error box
   * @param {object} parts.els        canvas, reading, chips, spoken, note, fix, fixTitle, fixTop3, fixOther,
   *                                  fixGrid, undo, clear, save, consent, saved
   */
  constructor({ pad, api, alphabet, errors, els }) {
    this.api = api;
    this.alphabet = alphabet;
    this.errors = errors;
    this.els = els;
    this.pad = new DrawingPad(els.canvas, pad);
    els.canvas.parentElement.style.setProperty("--pad-ratio", `${pad.width} / ${pad.height}`);
    els.canvas.parentElement.style.setProperty("--pad-width", `${pad.width}px`);
    this.active = false;
    this.timer = 0;
    this.seq = 0;
    this.abort = null;
    this.reading = null; // {revision, image, strokes, response}: the newest reading, for the pad as it was then
    this.fixes = new Map(); // a character's strokes (or box) -> the label the person gave it
    this.open = null; // the index of the chip whose choices are shown
    this.saving = false;

    this.gridButtons = glyphButtons(els.fixGrid, alphabet, {
      testid: "number-digit-", label: (label) => t("number.fix_choice", { named: alphabet.named(label) }),
    });
    this.gridButtons.forEach((b) => b.addEventListener("click", () => this.choose(Number(b.dataset.digit))));
    els.fixOther.addEventListener("click", () => this.#toggleGrid());
    els.undo.addEventListener("click", () => this.pad.undo());
    els.clear.addEventListener("click", () => this.pad.clear());
    els.save.addEventListener("click", () => this.save());
    els.chips.addEventListener("keydown", (e) => this.#chipKeys(e));
    this.pad.addEventListener("strokestart", () => this.#strokeStarted());
    this.pad.addEventListener("strokeend", () => this.#changed());
    this.pad.addEventListener("change", () => this.#changed());
    this.lastSaved = null; // what #showSaved showed last, to say it again in another language
    onLanguageChange(() => this.#reword());
    this.#render();
  }

  /** The page speaks another language: every word this mode wrote, said again in it (the focus stays put). */
  #reword() {
    const { alphabet } = this;
    for (const b of this.gridButtons) b.setAttribute("aria-label", t("number.fix_choice", { named: alphabet.named(Number(b.dataset.digit)) }));
    if (this.open !== null && this.reading) {
      const guesses = this.reading.response.characters[this.open]?.top3 || [];
      this.els.fixTitle.textContent = t("number.fix_title", { position: this.open + 1 });
      this.els.fixTop3.querySelectorAll("button").forEach((button, i) => {
        const guess = guesses[i];
        if (!guess) return;
        button.setAttribute("aria-label", t("number.fix_guess", { named: alphabet.named(labelOf(guess)), sure: percent(guess.p) }));
        const p = button.querySelector(".choice-p");
        if (p) p.textContent = percent(guess.p);
      });
    }
    if (this.lastSaved && !this.els.saved.hidden) this.#showSaved(...this.lastSaved);
    this.#render();
  }

  /** The Number mode is shown or not: the pad is read only while it is. */
  setActive(active) {
    this.active = active;
    if (!active) this.#cancel();
    else if (!this.pad.isEmpty && !this.#current()) this.#schedule();
  }

  /** Ctrl+Z undoes a stroke, Escape closes a chip's choices. True when the key was used. */
  keydown(event) {
    const target = event.target;
    const typing = target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]");
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z" && !typing) {
      event.preventDefault();
      this.pad.undo();
      return true;
    }
    if (event.key === "Escape" && this.open !== null) {
      const index = this.open;
      this.#closeFix();
      this.#chip(index)?.focus();
      return true;
    }
    return false;
  }

  /** The label the person gave the open chip's character (one of its top-3, or any from the grid). */
  choose(label) {
    if (this.open === null || !this.reading) return;
    const index = this.open;
    this.fixes.set(keyOf(this.reading.response.characters[index]), label);
    this.#closeFix();
    this.#render();
    this.#chip(index)?.focus();
  }

  /** Saves the number as read and corrected; the pad is cleared and what was learned is said. */
  async save() {
    if (!this.#ready()) return;
    const { image, strokes, response } = this.reading;
    const characters = response.characters.map((c, i) => ({
      ...(c.kind === "character" ? { label: this.#labelAt(i) } : { symbol: c.glyph }),
      ...(c.strokes?.length ? { strokes: c.strokes } : { box: c.box }),
    }));
    const train = this.els.consent.checked;
    const attempt = async () => {
      this.saving = true;
      this.#render();
      try {
        const saved = await this.api.saveNumber(image, strokes, characters, train);
        this.errors.hide();
        this.pad.clear();
        this.#showSaved(saved, train);
        this.pad.canvas.focus({ preventScroll: true });
      } catch (error) {
        this.errors.show(error, { kind: "save", retry: attempt });
      } finally {
        this.saving = false;
        this.#render();
      }
    };
    await attempt();
  }

  // --- reading ------------------------------------------------------------------------------

  #strokeStarted() {
    this.#cancel(); // a reading on its way describes a pad that is changing now
    this.els.saved.hidden = true;
    this.errors.hide("read");
    this.#closeFix();
    this.#render();
  }

  #changed() {
    if (this.pad.isEmpty) {
      this.#cancel();
      this.reading = null;
      this.fixes.clear();
      this.errors.hide("read");
    } else if (this.active) {
      this.#schedule();
    }
    this.#closeFix();
    this.#render();
  }

  #schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#read(), READ_DEBOUNCE_MS);
  }

  #cancel() {
    clearTimeout(this.timer);
    this.seq++;
    this.abort?.abort();
    this.els.chips.setAttribute("aria-busy", "false");
  }

  async #read() {
    if (this.pad.isEmpty || this.pad.isDrawing) return;
    const seq = ++this.seq;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const revision = this.pad.revision;
    this.els.chips.setAttribute("aria-busy", "true");
    try {
      const strokes = this.pad.toStrokes(); // null past what the service takes: the image is read alone
      const image = await this.pad.toPNG();
      const response = await this.api.read(image, strokes, abort.signal);
      if (seq !== this.seq) return; // the pad has changed since
      this.reading = { revision, image, strokes, response };
      const kept = new Set(response.characters.map(keyOf));
      for (const key of [...this.fixes.keys()]) if (!kept.has(key)) this.fixes.delete(key); // the strokes regrouped
      this.errors.hide("read");
    } catch (error) {
      if (error?.name === "AbortError" || seq !== this.seq) return;
      this.reading = null;
      this.errors.show(error, { kind: "read", retry: () => this.#schedule() });
    } finally {
      if (seq === this.seq) this.els.chips.setAttribute("aria-busy", "false");
      this.#render();
    }
  }

  /** The reading is of the pad as it is now. */
  #current() {
    return this.reading !== null && this.reading.revision === this.pad.revision && !this.pad.isDrawing;
  }

  #labelAt(index) {
    const c = this.reading.response.characters[index];
    const fixed = this.fixes.get(keyOf(c));
    return fixed ?? labelOf(c.answer);
  }

  /** Ready to save: the reading is the pad's, every character has a label, and no save is under way. */
  #ready() {
    if (!this.#current() || this.saving) return false;
    const characters = this.reading.response.characters;
    return characters.some((c) => c.kind === "character")
      && characters.every((c, i) => c.kind !== "character" || this.#labelAt(i) !== null);
  }

  // --- what is shown ------------------------------------------------------------------------

  #render() {
    const { reading, chips, spoken, note, save, undo, clear, saved } = this.els;
    const empty = this.pad.isEmpty;
    reading.hidden = empty && !saved.hidden; // "Saved, thanks" takes the reading's place until the next stroke
    this.pad.canvas.parentElement.classList.toggle("empty", empty);
    undo.disabled = empty || this.saving;
    clear.disabled = empty || this.saving;
    save.disabled = !this.#ready();
    const characters = this.reading && !empty ? this.reading.response.characters : [];
    chips.dataset.current = String(this.#current());
    chips.replaceChildren(...characters.map((c, i) => this.#makeChip(c, i, characters.length)));
    const text = characters.map((c, i) => this.#glyphAt(c, i)).join(" ");
    spoken.textContent = characters.length ? t("number.read_as", { text }) : "";
    let words;
    if (empty) words = t("number.idle");
    else if (!characters.length) words = t("number.reading");
    else if (characters.some((c, i) => c.kind === "character" && this.#labelAt(i) === null)) words = t("number.choose");
    else words = t("number.tap");
    note.textContent = words;
  }

  #glyphAt(c, index) {
    if (c.kind !== "character") return SHOWN[c.glyph] ?? c.glyph;
    const label = this.#labelAt(index);
    return label === null ? "?" : this.alphabet.glyph(label);
  }

  #makeChip(c, index, count) {
    const glyph = this.#glyphAt(c, index);
    if (c.kind !== "character") {
      const mark = document.createElement("span");
      mark.className = "chip symbol";
      mark.textContent = glyph;
      mark.setAttribute("role", "img");
      mark.setAttribute("aria-label", t(c.kind === "point" ? "number.point" : "number.minus"));
      return mark;
    }
    const label = this.#labelAt(index);
    const fixed = this.fixes.has(keyOf(c));
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = `chip${fixed ? " fixed" : ""}${label === null ? " unsure" : ""}`;
    chip.dataset.index = String(index);
    chip.dataset.testid = `chip-${index}`;
    chip.tabIndex = index === (this.open ?? firstCharacter(this.reading.response.characters)) ? 0 : -1;
    chip.setAttribute("aria-expanded", String(this.open === index));
    chip.setAttribute("aria-controls", "number-fix");
    const sure = fixed ? t("number.chip_fixed") : label === null ? t("number.chip_unsure")
      : t("common.percent_sure", { percent: percent(c.answer?.p) });
    chip.setAttribute("aria-label", t("number.chip_label", { position: index + 1, count, glyph, sure }));
    const big = document.createElement("span");
    big.className = "chip-glyph";
    big.textContent = glyph;
    big.setAttribute("aria-hidden", "true");
    chip.append(big);
    chip.addEventListener("click", () => (this.open === index ? this.#closeFix() : this.#openFix(index)));
    return chip;
  }

  #chip(index) {
    return this.els.chips.querySelector(`[data-index="${index}"]`);
  }

  /** The arrow keys, Home and End move between the chips (Enter or Space opens one). */
  #chipKeys(event) {
    const chips = [...this.els.chips.querySelectorAll("button.chip")];
    const at = chips.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: chips.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const chip = chips[Math.max(0, Math.min(chips.length - 1, next))];
    chips.forEach((c) => (c.tabIndex = c === chip ? 0 : -1));
    chip.focus();
  }

  #openFix(index) {
    const c = this.reading.response.characters[index];
    const { fix, fixTitle, fixTop3, fixOther, fixGrid } = this.els;
    this.open = index;
    const chosen = this.#labelAt(index);
    fixTitle.textContent = t("number.fix_title", { position: index + 1 });
    fixTop3.replaceChildren(...(c.top3 || []).map((guess) => {
      const label = labelOf(guess);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.dataset.digit = String(label);
      button.setAttribute("aria-pressed", String(label === chosen));
      button.setAttribute("aria-label", t("number.fix_guess", { named: this.alphabet.named(label), sure: percent(guess.p) }));
      const big = document.createElement("span");
      big.className = "choice-glyph";
      big.textContent = this.alphabet.glyph(label);
      const p = document.createElement("span");
      p.className = "choice-p";
      p.textContent = percent(guess.p);
      button.append(big, p);
      button.addEventListener("click", () => this.choose(label));
      return button;
    }));
    fixGrid.hidden = true;
    fixOther.setAttribute("aria-expanded", "false");
    for (const b of this.gridButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.digit) === chosen));
    fix.hidden = false;
    this.#render();
    (fixTop3.querySelector("button") || fixOther).focus({ preventScroll: true });
  }

  #toggleGrid() {
    const { fixGrid, fixOther } = this.els;
    fixGrid.hidden = !fixGrid.hidden;
    fixOther.setAttribute("aria-expanded", String(!fixGrid.hidden));
    if (!fixGrid.hidden) this.gridButtons[0].focus({ preventScroll: true });
  }

  #closeFix() {
    if (this.open === null) return;
    this.open = null;
    this.els.fix.hidden = true;
    this.els.fixGrid.hidden = true;
    this.#render();
  }

  /** "Saved, thanks": the number as saved, and each character as the drawing it was stored as. */
  #showSaved(saved, train) {
    this.lastSaved = [saved, train];
    const { saved: box } = this.els;
    const learned = saved.learned && Object.values(saved.learned).every((v) => v !== null);
    const count = saved.drawings.length;
    let note;
    if (!train) note = t("number.private", { count });
    else if (learned) note = t("number.learned", { count, version: Math.max(...Object.values(saved.learned)) });
    else note = t("number.queued", { count });
    const list = document.createElement("ul");
    list.className = "saved-digits";
    list.setAttribute("aria-label", t("number.saved_list"));
    for (const drawing of saved.drawings) {
      const item = document.createElement("li");
      const img = document.createElement("img");
      img.src = this.api.pngUrl(drawing);
      img.alt = t("number.saved_thumb", { glyph: drawing.glyph });
      img.width = img.height = 44;
      img.addEventListener("error", () => img.remove()); // one held for review is not shown: its glyph stays
      const glyph = document.createElement("span");
      glyph.textContent = drawing.glyph;
      glyph.setAttribute("aria-hidden", "true");
      item.append(img, glyph);
      list.append(item);
    }
    const headline = document.createElement("p");
    headline.className = "saved-headline";
    headline.append(...tn("number.saved", { text: saved.text }));
    const line = document.createElement("p");
    line.className = "saved-note";
    line.textContent = note;
    box.replaceChildren(headline, line, list);
    box.dataset.number = saved.id;
    box.hidden = false;
  }
}

/** What a character is known by across readings: its strokes (or, read from the image alone, its box). */
function keyOf(character) {
  return character.strokes?.length ? `s${character.strokes.join(",")}` : `b${(character.box || []).join(",")}`;
}

function firstCharacter(characters) {
  return Math.max(0, characters.findIndex((c) => c.kind === "character"));
}
