// The Draw tab: live guesses as the drawing changes (debounced, the newest request winning, the feature
// maps alongside), the answer read-outs (results.js), Right / Wrong and the label picker (or, when the answer
// is "can't tell", one button to say what it is), saving a correction and following a queued drawing until
// the models have learned it. After a save the pad has the focus again and is brought back into view.

import { bringIntoView, glyphButtons, labelOf } from "./glyphs.js";
import { onLanguageChange, t, tn } from "./i18n.js";

export const DEBOUNCE_MS = 150;
const LEARN_POLL_MS = 1000; // how often to ask whether a queued drawing was learned
const LEARN_FOLLOW_MS = 120000; // and for how long
const CLEARED = ["saved", "thanks"]; // answer states that stay while the pad is empty

export class DrawController {
  /**
   * @param {object} parts
   * @param {import("./pad.js").DrawingPad} parts.pad
   * @param {object} parts.api
   * @param {object} parts.alphabet          alphabetOf(config)
   * @param {import("./saver.js").DrawingSaver} parts.saver
   * @param {import("./errors.js").ErrorBox} parts.errors
   * @param {import("./results.js").Results} parts.results
   * @param {import("./featuremaps.js").FeatureMaps} parts.featureMaps
   * @param {{right, wrong, wrongWords, question, status, picker, pickerGrid, notADigit: HTMLElement}} parts.els
   * @param {(drawings: number) => void} parts.onPersonalised  an answer says how many of the writer's drawings shaped it
   */
  constructor({ pad, api, alphabet, saver, errors, results, featureMaps, els, onPersonalised }) {
    this.pad = pad;
    this.api = api;
    this.alphabet = alphabet;
    this.saver = saver;
    this.errors = errors;
    this.results = results;
    this.featureMaps = featureMaps;
    this.els = els;
    this.onPersonalised = onPersonalised;
    this.active = true; // the Draw tab is shown (app.js says when it is not)
    // live guesses: a newer request always wins (counter) and older ones are aborted
    this.timer = 0;
    this.seq = 0;
    this.abort = null;
    this.#setPrediction(null); // {image, revision, response} for the drawing now on the pad, or null
    this.learning = null; // the token of the queued drawing being followed

    const pickerName = (label) => t("picker.i_drew", { named: alphabet.named(label) });
    this.pickerButtons = glyphButtons(els.pickerGrid, alphabet, { testid: "digit-", label: pickerName });
    this.pickerButtons.forEach((b) => b.addEventListener("click", () => this.save(Number(b.dataset.digit))));
    els.notADigit.addEventListener("click", () => this.notADigit());
    els.right.addEventListener("click", () => {
      const label = labelOf(this.prediction?.response?.answer);
      if (label !== null) this.save(label);
    });
    els.wrong.addEventListener("click", () => this.togglePicker());
    pad.addEventListener("strokestart", () => this.#strokeStarted());
    pad.addEventListener("strokeend", () => this.#drawingChanged());
    pad.addEventListener("change", () => this.#drawingChanged());
    saver.addEventListener("busychange", () => this.#updateButtons());
    saver.addEventListener("wait", ({ detail }) => this.#waiting(detail.seconds));
    onLanguageChange(() => {
      this.pickerButtons.forEach((b) => b.setAttribute("aria-label", pickerName(Number(b.dataset.digit))));
      this.#waiting(this.saver.waiting);
      this.#updateButtons();
    });
    this.#updateButtons();
  }

  /** The Draw tab is shown or not: guesses are asked for only while it is. */
  setActive(active) {
    const was = this.active;
    this.active = active;
    if (!active) this.#cancelLive();
    else if (!was && !this.pad.isEmpty && !this.prediction) this.#scheduleLive();
  }

  /** Escape closes the open picker, back to Wrong. True when the key was used. */
  keydown(event) {
    if (event.key !== "Escape" || this.els.picker.hidden) return false;
    this.togglePicker(false);
    this.els.wrong.focus();
    return true;
  }

  /** The writer's memory was forgotten: the answer on show was personalised by it, so ask again. */
  forgotten() {
    if (!this.prediction || !this.active) return;
    this.#setPrediction(null);
    this.#scheduleLive();
  }

  /** Opens (or closes) the picker; open, it is brought into view with its first glyph focused. */
  togglePicker(open = this.els.picker.hidden) {
    const { picker, wrong } = this.els;
    picker.hidden = !open;
    wrong.setAttribute("aria-expanded", String(open));
    if (!open) return;
    this.pickerButtons[0].focus({ preventScroll: true });
    bringIntoView(picker, picker.offsetHeight > window.innerHeight ? "start" : "nearest");
  }

  /** Saves the drawing on the pad as `label` (Right, or a glyph of the picker) and shows what was learned. */
  save(label) {
    const before = this.prediction?.revision === this.pad.revision ? this.prediction.response : null;
    return this.saver.store(label, {
      onStored: ({ image, response, train }) => {
        this.togglePicker(false);
        this.pad.clear();
        this.results.showLearned({ label, image, response, before, train });
        this.#backToThePad();
        if (train && response.queued) this.#followLearning({ label, image, response, before, train });
      },
    });
  }

  notADigit() {
    this.togglePicker(false);
    this.pad.clear();
    this.errors.hide();
    this.results.showThanks();
    this.#backToThePad();
  }

  /** The next drawing starts at the pad: it has the focus (the buttons pressed are gone) and is in view. */
  #backToThePad() {
    this.pad.canvas.focus({ preventScroll: true });
    bringIntoView(this.pad.canvas, "start");
  }

  /** The guess on show; the answer card says whether it is for the drawing now on the pad (data-current). */
  #setPrediction(prediction) {
    this.prediction = prediction;
    const current = prediction !== null && prediction.revision === this.pad.revision && !this.pad.isDrawing;
    this.results.els.answer.dataset.current = String(current);
  }

  #strokeStarted() {
    this.#cancelLive(); // answers still on their way describe a drawing that is changing now
    this.#setPrediction(null); // what is shown no longer describes the pad
    this.errors.hide(); // a changed drawing makes an old error moot: it is sent afresh
    this.results.hideLearned();
    if (CLEARED.includes(this.results.els.answer.dataset.state)) this.results.showEmpty();
    this.#updateButtons();
  }

  #drawingChanged() {
    this.#setPrediction(null);
    if (!this.saver.busy) this.errors.hide();
    if (this.pad.isEmpty) {
      this.#cancelLive();
      if (!CLEARED.includes(this.results.els.answer.dataset.state)) this.results.showEmpty();
      this.featureMaps.reset();
      this.togglePicker(false);
      this.errors.hide("predict");
    } else if (this.active) {
      this.#scheduleLive();
    }
    this.#updateButtons();
  }

  #cancelLive() {
    clearTimeout(this.timer);
    this.seq++;
    this.abort?.abort();
    this.featureMaps.cancel();
    this.results.setBusy(false);
  }

  #scheduleLive() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#predict(), DEBOUNCE_MS);
    this.featureMaps.schedule();
  }

  async #predict() {
    if (this.pad.isEmpty) return;
    const seq = ++this.seq;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const revision = this.pad.revision;
    this.results.setBusy(true);
    try {
      const image = await this.pad.toPNG();
      const response = await this.api.predict(image, abort.signal);
      if (seq !== this.seq) return; // a newer drawing has been sent since
      this.#setPrediction({ image, revision, response });
      this.results.showPrediction(response);
      this.onPersonalised(response.answer?.personalised_by);
      this.errors.hide("predict");
    } catch (error) {
      if (error?.name === "AbortError" || seq !== this.seq) return;
      this.errors.show(error, { kind: "predict", retry: () => this.#scheduleLive() });
    } finally {
      if (seq === this.seq) this.results.setBusy(false);
      this.#updateButtons();
    }
  }

  /** Saving must wait (the service's rate limit): said once, by the buttons, until it may again. */
  #waiting(seconds) {
    const { status } = this.els;
    status.hidden = seconds === 0;
    status.textContent = seconds ? t("feedback.too_fast", { seconds }) : "";
  }

  #updateButtons() {
    const { right, wrong, wrongWords, question, picker } = this.els;
    const blocked = this.saver.blocked;
    const empty = this.pad.isEmpty;
    const response = this.prediction?.response;
    const label = labelOf(response?.answer);
    const hasAnswer = label !== null;
    const cantTell = Boolean(response) && !hasAnswer; // shown for the drawing on the pad: "can't tell"
    right.hidden = cantTell;
    right.disabled = !hasAnswer || blocked;
    if (hasAnswer) right.setAttribute("aria-label", t("feedback.right_label", { named: this.alphabet.named(label) }));
    else right.removeAttribute("aria-label");
    wrong.disabled = empty || blocked;
    wrongWords.textContent = t(cantTell ? "feedback.choose" : "feedback.wrong");
    wrong.classList.toggle("choosing", cantTell);
    if (hasAnswer) question.replaceChildren(...tn("feedback.question", { named: this.alphabet.namedNode(label) }));
    else if (cantTell) question.textContent = t(response.answer?.why === "several" ? "feedback.question_several" : "feedback.question_cant_tell");
    else question.textContent = t(empty ? "feedback.question_idle" : "feedback.question_waiting");
    for (const b of this.pickerButtons) b.disabled = blocked;
    if (empty && !picker.hidden) this.togglePicker(false);
  }

  /**
   * The learner is behind (or the queue is down): the drawing is stored and queued. Ask every
   * LEARN_POLL_MS whether a version has learned it; then show before -> after as if we had waited.
   */
  async #followLearning({ label, image, response, before, train }) {
    const token = (this.learning = {});
    for (let waited = 0; waited < LEARN_FOLLOW_MS; waited += LEARN_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, LEARN_POLL_MS));
      if (this.learning !== token) return; // another drawing was saved meanwhile
      try {
        const info = await this.api.drawing(response.id);
        if (!info.learned || Object.values(info.learned).some((v) => v === null)) continue;
        const after = await this.api.predict(image);
        if (this.learning !== token) return;
        const learned = { ...response, trained: true, queued: false, learned: info.learned, versions: after.versions, after };
        this.results.showLearned({ label, image, response: learned, before, train });
        return;
      } catch {
        // a passing network or server error: ask again next time
      }
    }
  }
}
