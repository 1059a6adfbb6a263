// Inkling's page: wires the pad, the live guesses, corrections, teach mode,
// the CNN's feature maps and the stats together. Plain ES modules, no build step.

import { api } from "./api.js";
import { DrawingPad } from "./pad.js";
import { Results, alphabetOf, glyphNode, labelOf } from "./results.js";
import { ActivationsView } from "./activations.js";
import { Stats } from "./stats.js";
import { renewWriterId } from "./writer.js";

const DEBOUNCE_MS = 150;
const LEARN_POLL_MS = 1000; // how often to ask whether a queued drawing was learned
const LEARN_FOLLOW_MS = 120000; // and for how long
const STATS_SETTLE_MS = 2500;
const MODES = ["draw", "teach", "stats"];

const $ = (selector, root = document) => root.querySelector(selector);
const byTestId = (id) => $(`[data-testid="${id}"]`);

/** Inline error under the pad, with a Retry that re-sends the failed request. */
class ErrorBox {
  constructor() {
    this.box = byTestId("error");
    this.message = byTestId("error-message");
    this.wait = byTestId("error-wait");
    this.retryButton = byTestId("retry");
    this.retry = null;
    this.kind = null;
    this.timer = 0;
    this.retryButton.addEventListener("click", () => {
      const retry = this.retry;
      this.hide();
      retry?.();
    });
  }

  show(error, { retry = null, kind = null } = {}) {
    clearInterval(this.timer);
    this.kind = kind;
    this.message.textContent = error.message || "Something went wrong.";
    const canRetry = Boolean(retry) && error.retryable !== false;
    this.retry = canRetry ? retry : null;
    this.retryButton.hidden = !canRetry;
    this.wait.textContent = "";
    this.wait.hidden = true;
    if (canRetry && Number.isFinite(error.retryAfter) && error.retryAfter > 0) {
      let left = error.retryAfter;
      const tick = () => {
        if (left > 0) {
          this.wait.textContent = `Please retry in ${left} second${left === 1 ? "" : "s"}.`;
          left -= 1;
        } else {
          this.wait.textContent = "You can retry now.";
          clearInterval(this.timer);
        }
      };
      this.wait.hidden = false;
      tick();
      this.timer = setInterval(tick, 1000);
    } else if (canRetry) {
      this.wait.hidden = false;
      this.wait.textContent = "Your drawing is still here — press Retry to send it again.";
    }
    this.box.hidden = false;
  }

  hide(kind = null) {
    if (kind && this.kind !== kind) return;
    clearInterval(this.timer);
    this.box.hidden = true;
    this.retry = null;
    this.kind = null;
  }
}

/**
 * One button per label of the alphabet, each showing its glyph; `data-digit` and the test id carry the
 * label index. The digits (and any alphabet without rows) flow in a grid; an alphabet with `rows` is laid
 * out as that table (a row per entry, a gap for each null), e.g. the kana table with its や and わ rows.
 */
function glyphButtons(container, alphabet, { testid, role = null, label }) {
  const buttons = [];
  const make = (entry) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.textContent = entry.glyph;
    button.dataset.digit = String(entry.label);
    button.dataset.testid = `${testid}${entry.label}`;
    button.setAttribute("aria-label", label(entry.label));
    if (alphabet.lang) button.lang = alphabet.lang;
    if (role) {
      button.setAttribute("role", role);
      button.setAttribute("aria-checked", "false");
      button.tabIndex = buttons.length === 0 ? 0 : -1;
    }
    buttons.push(button);
    return button;
  };
  if (alphabet.rows) {
    container.className = "glyph-table";
    container.style.setProperty("--columns", String(alphabet.columns));
    alphabet.rows.forEach((row, r) => {
      const line = document.createElement("div");
      line.className = "glyph-row";
      row.forEach((labelIndex, c) => {
        if (labelIndex === null || labelIndex === undefined) {
          const gap = document.createElement("span");
          gap.className = "glyph-gap";
          gap.setAttribute("aria-hidden", "true");
          line.append(gap);
          return;
        }
        const button = make({ label: labelIndex, glyph: alphabet.glyph(labelIndex) });
        button.dataset.row = String(r);
        button.dataset.col = String(c);
        line.append(button);
      });
      container.append(line);
    });
  } else {
    if (!alphabet.isDigits) container.classList.add("glyph-flow");
    for (const entry of alphabet.labels) container.append(make(entry));
  }
  return buttons;
}

/** Words of the page that name what is drawn: left as they are for the digits. */
function applyAlphabetWords(alphabet) {
  if (alphabet.isDigits) return;
  const noun = alphabet.noun;
  document.title = `Inkling — draw a ${noun}, watch it learn`;
  document.querySelector('meta[name="description"]')
    ?.setAttribute("content", `Draw a ${noun} (${alphabet.title}). Four small neural networks guess it, and learn from your corrections.`);
  for (const node of document.querySelectorAll("[data-other]")) node.textContent = node.dataset.other.replace("{noun}", noun);
  for (const node of document.querySelectorAll("[data-other-label]")) {
    node.setAttribute("aria-label", node.dataset.otherLabel.replace("{noun}", noun).replace("{title}", alphabet.title));
  }
  const title = byTestId("alphabet-title");
  if (title) {
    title.textContent = alphabet.title;
    title.hidden = false;
  }
  document.documentElement.dataset.alphabet = alphabet.name;
}

function showBootError(message) {
  const node = byTestId("boot-error");
  node.replaceChildren(document.createTextNode(`${message} `));
  const again = document.createElement("button");
  again.type = "button";
  again.className = "btn small";
  again.textContent = "Reload";
  again.addEventListener("click", () => location.reload());
  node.append(again);
  node.hidden = false;
}

async function boot() {
  let config;
  try {
    config = await api.config();
  } catch (error) {
    showBootError(`Inkling could not start: ${error.message}`);
    return;
  }
  new App(config);
  document.documentElement.dataset.ready = "true";
}

class App {
  constructor(config) {
    this.config = config;
    this.alphabet = alphabetOf(config);
    applyAlphabetWords(this.alphabet);
    this.mode = "draw";
    this.errors = new ErrorBox();
    this.pad = new DrawingPad(byTestId("pad"), config.canvas);
    this.results = new Results(config, {
      answer: byTestId("answer"),
      cards: byTestId("models"),
      input28: byTestId("input28"),
      learned: byTestId("learned"),
      panel: $("#panel-draw"),
    });
    this.activations = new ActivationsView(byTestId("layers"));
    this.activationsStatus = byTestId("activations-status");
    this.stats = new Stats(byTestId("stats"), config);
    this.lastSaveAt = -Infinity;
    this.statsTimer = 0;

    this.consent = byTestId("train-consent");
    this.undoButton = byTestId("undo");
    this.clearButton = byTestId("clear");
    this.rightButton = byTestId("feedback-right");
    this.wrongButton = byTestId("feedback-wrong");
    this.picker = $("#picker");
    this.saving = false;

    // live guesses: a newer request always wins (counter) and older ones are aborted
    this.predictTimer = 0;
    this.predictSeq = 0;
    this.predictAbort = null;
    this.setPrediction(null); // {image, revision, response} for the drawing now on the pad, or null
    this.actTimer = 0;
    this.actSeq = 0;
    this.actAbort = null;

    const named = (label) => this.alphabet.named(label);
    this.pickerButtons = glyphButtons($("[data-role=picker-digits]"), this.alphabet, {
      testid: "digit-",
      label: (label) => `I drew ${named(label)}`,
    });
    this.pickerButtons.forEach((b) => b.addEventListener("click", () => this.save(Number(b.dataset.digit))));
    byTestId("not-digit").addEventListener("click", () => this.notADigit());
    this.rightButton.addEventListener("click", () => {
      const label = labelOf(this.prediction?.response?.answer);
      if (label !== null) this.save(label);
    });
    this.wrongButton.addEventListener("click", () => this.togglePicker());

    this.teachDigit = null;
    this.teachCount = 0;
    this.teachButtons = glyphButtons($("[data-role=teach-digits]"), this.alphabet, {
      testid: "teach-digit-",
      role: "radio",
      label: (label) => this.teachName(label),
    });
    this.teachButtons.forEach((b) => b.addEventListener("click", () => this.pickTeachDigit(Number(b.dataset.digit))));
    $("[data-role=teach-digits]").addEventListener("keydown", (e) => this.radioKeys(e, this.teachButtons));
    byTestId("teach").classList.toggle("long", Boolean(this.alphabet.rows));
    byTestId("stroke-guide-replay").addEventListener("click", () => this.showStrokeGuide());
    this.teachSave = byTestId("teach-save");
    this.teachSave.addEventListener("click", () => this.saveTeach());

    this.undoButton.addEventListener("click", () => this.pad.undo());
    this.clearButton.addEventListener("click", () => this.pad.clear());
    this.pad.addEventListener("strokestart", () => this.onStrokeStart());
    this.pad.addEventListener("strokeend", () => this.onDrawingChanged());
    this.pad.addEventListener("change", () => this.onDrawingChanged());
    byTestId("stats-refresh").addEventListener("click", () => this.refreshStats());

    this.memory = byTestId("memory");
    this.memoryNote = byTestId("memory-note");
    this.forgetButton = byTestId("forget");
    this.forgetButton.addEventListener("click", () => this.forget());
    this.teachMemory = byTestId("teach-memory");
    this.refreshMemory();

    this.tabs = [...document.querySelectorAll("[role=tab]")];
    this.tabs.forEach((tab) => {
      tab.addEventListener("click", () => this.setMode(tab.dataset.mode, { focus: false }));
    });
    $("[role=tablist]").addEventListener("keydown", (e) => this.tabKeys(e));
    document.addEventListener("keydown", (e) => this.globalKeys(e));
    window.addEventListener("hashchange", () => this.setMode(this.modeFromHash(), { updateHash: false }));

    this.setMode(this.modeFromHash(), { updateHash: false });
    this.updateButtons();
  }

  // ---- modes (tabs) -------------------------------------------------------

  modeFromHash() {
    const mode = location.hash.replace(/^#/, "");
    return MODES.includes(mode) ? mode : "draw";
  }

  setMode(mode, { updateHash = true, focus = false } = {}) {
    if (!MODES.includes(mode)) mode = "draw";
    const previous = this.mode;
    this.mode = mode;
    for (const tab of this.tabs) {
      const selected = tab.dataset.mode === mode;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focus) tab.focus();
    }
    document.body.dataset.mode = mode;
    $("#workspace").hidden = mode === "stats";
    $("#panel-draw").hidden = mode !== "draw";
    byTestId("activations").hidden = mode !== "draw";
    byTestId("teach").hidden = mode !== "teach";
    byTestId("stats").hidden = mode !== "stats";
    this.updateTeachBadge();
    if (updateHash && location.hash !== `#${mode}`) history.replaceState(null, "", `#${mode}`);
    if (mode !== "draw") this.cancelLive();
    if (mode === "draw" && previous !== "draw" && !this.pad.isEmpty && !this.prediction) this.scheduleLive();
    if (mode === "stats") this.refreshStats();
  }

  tabKeys(event) {
    const index = this.tabs.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % this.tabs.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + this.tabs.length) % this.tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.tabs.length - 1;
    if (next === null) return;
    event.preventDefault();
    this.setMode(this.tabs[next].dataset.mode, { focus: true });
  }

  radioKeys(event, buttons) {
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    let next = buttons[(index + step + buttons.length) % buttons.length];
    const here = buttons[index].dataset;
    if (here.row !== undefined && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      // In a table, up and down keep to the column: the nearest row above or below with a glyph there.
      const row = Number(here.row);
      const column = buttons.filter((b) => b.dataset.col === here.col);
      const below = column.filter((b) => (step > 0 ? Number(b.dataset.row) > row : Number(b.dataset.row) < row));
      if (below.length) next = step > 0 ? below[0] : below[below.length - 1];
    }
    next.focus();
    next.click();
  }

  globalKeys(event) {
    const target = event.target;
    const typing = target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]");
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z" && !typing && this.mode !== "stats") {
      event.preventDefault();
      this.pad.undo();
      return;
    }
    if (event.key === "Escape" && !this.picker.hidden) {
      this.togglePicker(false);
      this.wrongButton.focus();
      return;
    }
    if (event.key === "Enter" && this.mode === "teach" && !event.repeat) {
      // Enter saves, unless it is meant for another control. On a digit of the teach picker it
      // saves too: the digit is already chosen (radios choose with arrows or Space).
      const control = target instanceof HTMLElement ? target.closest("button, a, input, select, textarea, summary") : null;
      if (!control || this.teachButtons.includes(control)) {
        event.preventDefault();
        this.saveTeach();
      }
    }
  }

  // ---- drawing and live guesses ------------------------------------------

  onStrokeStart() {
    this.cancelLive(); // answers still on their way describe a drawing that is changing now
    this.setPrediction(null); // what is shown no longer describes the pad
    this.errors.hide(); // a changed drawing makes an old error moot: it is sent afresh
    this.results.hideLearned();
    if (this.results.els.answer.dataset.state === "saved" || this.results.els.answer.dataset.state === "thanks") this.results.showEmpty();
    this.updateButtons();
  }

  onDrawingChanged() {
    this.setPrediction(null);
    if (!this.saving) this.errors.hide();
    if (this.pad.isEmpty) {
      this.cancelLive();
      if (!["saved", "thanks"].includes(this.results.els.answer.dataset.state)) this.results.showEmpty();
      this.activations.clear();
      this.activationsStatus.hidden = false;
      this.activationsStatus.textContent = "Draw something to see the feature maps.";
      this.togglePicker(false);
      this.errors.hide("predict");
    } else if (this.mode === "draw") {
      this.scheduleLive();
    }
    this.updateButtons();
  }

  /** The guess on show, and on the answer card whether it is for the drawing now on the pad (data-current). */
  setPrediction(prediction) {
    this.prediction = prediction;
    const current = prediction !== null && prediction.revision === this.pad.revision && !this.pad.isDrawing;
    this.results.els.answer.dataset.current = String(current);
  }

  cancelLive() {
    clearTimeout(this.predictTimer);
    clearTimeout(this.actTimer);
    this.predictSeq++;
    this.actSeq++;
    this.predictAbort?.abort();
    this.actAbort?.abort();
    this.results.setBusy(false);
  }

  scheduleLive() {
    clearTimeout(this.predictTimer);
    clearTimeout(this.actTimer);
    this.predictTimer = setTimeout(() => this.predict(), DEBOUNCE_MS);
    this.actTimer = setTimeout(() => this.loadActivations(), DEBOUNCE_MS);
  }

  async predict() {
    if (this.pad.isEmpty) return;
    const seq = ++this.predictSeq;
    this.predictAbort?.abort();
    const abort = (this.predictAbort = new AbortController());
    const revision = this.pad.revision;
    this.results.setBusy(true);
    try {
      const image = await this.pad.toPNG();
      const response = await api.predict(image, abort.signal);
      if (seq !== this.predictSeq) return; // a newer drawing has been sent since
      this.setPrediction({ image, revision, response });
      this.results.showPrediction(response);
      this.showMemory(response.answer?.personalised_by);
      this.errors.hide("predict");
    } catch (error) {
      if (error?.name === "AbortError" || seq !== this.predictSeq) return;
      this.errors.show(error, { kind: "predict", retry: () => this.scheduleLive() });
    } finally {
      if (seq === this.predictSeq) this.results.setBusy(false);
      this.updateButtons();
    }
  }

  async loadActivations() {
    if (this.pad.isEmpty) return;
    const seq = ++this.actSeq;
    this.actAbort?.abort();
    const abort = (this.actAbort = new AbortController());
    try {
      const response = await api.activations(await this.pad.toPNG(), abort.signal);
      if (seq !== this.actSeq) return;
      this.activations.render(response);
      this.activationsStatus.hidden = true;
    } catch (error) {
      if (error?.name === "AbortError" || seq !== this.actSeq) return;
      this.activationsStatus.hidden = false;
      this.activationsStatus.textContent = `Couldn't load the feature maps: ${error.message}`;
    }
  }

  updateButtons() {
    const empty = this.pad.isEmpty;
    this.pad.canvas.parentElement.classList.toggle("empty", empty);
    this.undoButton.disabled = empty || this.saving;
    this.clearButton.disabled = empty || this.saving;
    const label = labelOf(this.prediction?.response?.answer);
    const hasAnswer = label !== null;
    const named = hasAnswer ? this.alphabet.named(label) : "";
    this.rightButton.disabled = !hasAnswer || this.saving;
    this.rightButton.setAttribute("aria-label", hasAnswer ? `Right, it is ${named}` : "Right");
    this.wrongButton.disabled = empty || this.saving;
    const question = $("#feedback-question");
    if (hasAnswer && !this.alphabet.isDigits) question.replaceChildren("Is it ", glyphNode(this.alphabet, label), "?");
    else question.textContent = hasAnswer ? `Is it ${named}?` : empty ? "Did I get it right?" : "What is it?";
    for (const b of this.pickerButtons) b.disabled = this.saving;
    this.teachSave.disabled = this.teachDigit === null || this.saving;
    if (empty && !this.picker.hidden) this.togglePicker(false);
  }

  togglePicker(open = this.picker.hidden) {
    this.picker.hidden = !open;
    this.wrongButton.setAttribute("aria-expanded", String(open));
    if (open) this.pickerButtons[0].focus();
  }

  // ---- saving -------------------------------------------------------------

  /** POST the drawing now on the pad with `label`; onStored runs once it is stored (after any retries). */
  async store(label, { onStored }) {
    if (this.saving) return;
    this.saving = true; // from the click on: a second click must not send the drawing twice
    const before = this.prediction?.revision === this.pad.revision ? this.prediction.response : null;
    const train = this.consent.checked;
    const image = await this.pad.toPNG();
    const attempt = async () => {
      this.saving = true;
      this.updateButtons();
      document.body.classList.add("saving");
      try {
        const response = await api.saveDrawing(image, label, train);
        this.errors.hide();
        this.showMemory(response.personalised_by);
        if (train) this.refreshMemory(); // which labels the memory now knows
        onStored({ image, label, train, response, before });
        this.lastSaveAt = performance.now();
        if (this.mode === "stats") this.refreshStats();
      } catch (error) {
        this.errors.show(error, { kind: "save", retry: attempt });
      } finally {
        this.saving = false;
        document.body.classList.remove("saving");
        this.updateButtons();
      }
    };
    await attempt();
  }

  save(label) {
    return this.store(label, {
      onStored: ({ image, response, before, train }) => {
        this.togglePicker(false);
        this.pad.clear();
        this.results.showLearned({ label, image, response, before, train });
        this.rightButton.blur();
        if (train && response.queued) this.followLearning({ label, image, response, before, train });
      },
    });
  }

  /**
   * The learner is behind (or the queue is down): the drawing is stored and queued. Ask every
   * LEARN_POLL_MS whether a version has learned it; then show before -> after as if we had waited.
   */
  async followLearning({ label, image, response, before, train }) {
    const token = (this.learningToken = {});
    for (let waited = 0; waited < LEARN_FOLLOW_MS; waited += LEARN_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, LEARN_POLL_MS));
      if (this.learningToken !== token) return; // another drawing was saved meanwhile
      try {
        const info = await api.drawing(response.id);
        if (!info.learned || Object.values(info.learned).some((v) => v === null)) continue;
        const after = await api.predict(image);
        if (this.learningToken !== token) return;
        const learned = { ...response, trained: true, queued: false, learned: info.learned, versions: after.versions, after };
        this.results.showLearned({ label, image, response: learned, before, train });
        return;
      } catch {
        // a passing network or server error: ask again next time
      }
    }
  }

  notADigit() {
    this.togglePicker(false);
    this.pad.clear();
    this.errors.hide();
    this.results.showThanks("Thanks for telling me!");
    this.wrongButton.focus();
  }

  // ---- your handwriting ---------------------------------------------------

  /** "Personalised by N of your drawings", with the way to forget them; hidden while there are none. */
  showMemory(drawings) {
    if (!Number.isFinite(drawings)) return;
    if (drawings > 0) {
      this.memoryNote.textContent = `Personalised by ${drawings} of your drawing${drawings === 1 ? "" : "s"}`;
      this.forgetButton.hidden = false;
      this.memory.hidden = false;
    } else if (!this.forgetButton.hidden) {
      this.memory.hidden = true;
    }
  }

  /** What the service remembers of this writer: the note, and which labels teach mode marks as known. */
  refreshMemory() {
    api
      .me()
      .then((me) => {
        this.showMemory(me.drawings);
        this.showTaught(me.counts);
      })
      .catch(() => {}); // without it, the next answer tells
  }

  teachName(label) {
    return `Teach the ${this.alphabet.noun} ${this.alphabet.glyph(label)}`;
  }

  /** Marks each label the memory holds drawings of, and says which are missing (a memory that knows every
   * label counts for more in a digit's answer: models/prototypes.py, Sharpness). */
  showTaught(counts) {
    if (!Array.isArray(counts)) return;
    const { noun } = this.alphabet;
    this.teachButtons.forEach((b) => {
      const label = Number(b.dataset.digit);
      const n = counts[label] || 0;
      if (n > 0) b.dataset.taught = String(n);
      else delete b.dataset.taught;
      b.setAttribute("aria-label", n > 0 ? `${this.teachName(label)} (${n} in your memory)` : this.teachName(label));
    });
    const total = this.teachButtons.length;
    const missing = this.teachButtons.map((b) => Number(b.dataset.digit)).filter((label) => !(counts[label] > 0));
    const known = total - missing.length;
    this.teachMemory.hidden = known === 0;
    if (!known) return this.teachMemory.replaceChildren();
    if (!missing.length) {
      return this.teachMemory.replaceChildren(`Your memory knows all ${total} ${noun}s, marked with a dot.`);
    }
    const shown = missing.slice(0, 10);
    const list = [];
    shown.forEach((label, i) => list.push(...(i ? [", "] : []), glyphNode(this.alphabet, label)));
    if (missing.length > shown.length) list.push(` and ${missing.length - shown.length} more`);
    this.teachMemory.replaceChildren(`Your memory knows ${known} of the ${total} ${noun}s (marked with a dot). Not yet: `, ...list, ".");
  }

  async forget() {
    this.forgetButton.disabled = true;
    try {
      await api.forgetMe();
      renewWriterId();
      this.showTaught([]);
      this.memoryNote.textContent = "Forgotten. Answers are no longer personalised.";
      this.forgetButton.hidden = true;
      if (this.prediction && this.mode === "draw") {
        this.setPrediction(null); // the answer on show was personalised: ask again
        this.scheduleLive();
      }
    } catch (error) {
      this.errors.show(error, { retry: () => this.forget() });
    } finally {
      this.forgetButton.disabled = false;
    }
  }

  // ---- teach mode ---------------------------------------------------------

  pickTeachDigit(digit) {
    if (this.teachDigit !== digit) this.teachCount = 0;
    this.teachDigit = digit;
    this.teachButtons.forEach((b) => {
      const on = Number(b.dataset.digit) === digit;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    });
    const words = document.createElement("span"); // one flex item: the button spaces its children apart
    words.append("Save this ", glyphNode(this.alphabet, digit));
    this.teachSave.replaceChildren(words);
    this.updateTeachCount();
    this.updateTeachBadge();
    this.showStrokeGuide();
    this.updateButtons();
  }

  /** How the picked glyph is written (alphabets whose file has "strokes"): each stroke drawn in turn, numbered. */
  showStrokeGuide() {
    const figure = byTestId("stroke-guide");
    const guide = this.alphabet.strokes;
    const paths = guide && this.teachDigit !== null ? guide.paths[this.teachDigit] : null;
    figure.hidden = !paths;
    if (!paths) return;
    const glyph = this.alphabet.glyph(this.teachDigit);
    const strokes = paths.length === 1 ? "1 stroke" : `${paths.length} strokes`;
    const svg = figure.querySelector("svg");
    svg.setAttribute("viewBox", `-6 -6 ${guide.box + 12} ${guide.box + 12}`); // room for the numbers at the edges
    svg.setAttribute("aria-label", `How to write ${glyph}: ${strokes}, in the order numbered`);
    const node = (name, attributes, text) => {
      const element = document.createElementNS("http://www.w3.org/2000/svg", name);
      for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
      if (text) element.textContent = text;
      return element;
    };
    const ghosts = paths.map((d) => node("path", { d, class: "ghost" }));
    const drawn = paths.map((d, i) => {
      const path = node("path", { d, class: "drawn", pathLength: "1" });
      path.style.setProperty("--i", String(i));
      return path;
    });
    const numbers = paths.map((d, i) => {
      const [, x, y] = d.match(/^[Mm]\s*(-?[\d.]+)[\s,]*(-?[\d.]+)/) || [];
      return node("text", { x: String(Number(x) - 3), y: String(Number(y) - 3), class: "number" }, String(i + 1));
    });
    svg.replaceChildren(...ghosts, ...drawn, ...numbers);
    const words = figure.querySelector("[data-role=stroke-guide-words]");
    words.replaceChildren(glyphNode(this.alphabet, this.teachDigit), ` is written in ${strokes}`);
  }

  updateTeachCount(flash = false) {
    const count = byTestId("teach-count");
    count.textContent = this.teachDigit === null ? `Pick a ${this.alphabet.noun} to start` : `${this.teachCount} saved`;
    count.dataset.count = String(this.teachCount);
    if (flash) {
      count.classList.remove("flash");
      void count.offsetWidth; // restart the animation
      count.classList.add("flash");
    }
  }

  updateTeachBadge() {
    const badge = byTestId("teach-badge");
    badge.hidden = this.mode !== "teach" || this.teachDigit === null;
    if (this.teachDigit === null) badge.replaceChildren();
    else badge.replaceChildren("Teaching: ", glyphNode(this.alphabet, this.teachDigit));
  }

  saveTeach() {
    if (this.teachDigit === null || this.saving) return;
    const digit = this.teachDigit;
    return this.store(digit, {
      onStored: () => {
        if (this.teachDigit === digit) this.teachCount += 1;
        this.pad.clear();
        this.updateTeachCount(true);
      },
    });
  }

  // ---- stats --------------------------------------------------------------

  refreshStats() {
    // The server caches its stats for a moment (STATS_SETTLE_MS); right after a save, look again once it has passed.
    clearTimeout(this.statsTimer);
    const age = performance.now() - this.lastSaveAt;
    if (age < STATS_SETTLE_MS) {
      this.statsTimer = setTimeout(() => this.mode === "stats" && this.stats.refresh(), STATS_SETTLE_MS - age);
    }
    return this.stats.refresh();
  }
}

boot();
