// The page's start and frame: loads the page's words (i18n/<lang>.json) and asks the service for its config
// (GET /api/config), builds every part once (the pad and its tools, saving, the Draw tab and its Number mode,
// teach mode, your handwriting, "How to read this", the stats), switches between the tabs (by click, by the
// arrow keys, by #draw, #number, #teach or #stats in the address) and between writing a digit and a number (the
// switch on the Draw tab, remembered in this browser), and hands the keys of the whole page to the part that
// owns them.
// Sets html[data-ready=true] once the page is ready.
//
// The parts do not reach into each other: each is given what it needs when it is built, and they hear of
// each other through events (the pad's, the saver's, the memory's) or the one callback wired here.

import { ActivationsView } from "./activations.js";
import { api } from "./api.js";
import { DEBOUNCE_MS, DrawController } from "./draw.js";
import { ErrorBox, showBootError } from "./errors.js";
import { Explainer } from "./explain.js";
import { FeatureMaps } from "./featuremaps.js";
import { alphabetOf, applyAlphabetWords } from "./glyphs.js";
import { loadMessages, preloadMessages, startLanguage } from "./i18n.js";
import { LanguagePicker } from "./language.js";
import { HandwritingMemory } from "./memory.js";
import { NumberController } from "./number.js";
import { DrawingPad } from "./pad.js";
import { PadTools } from "./padtools.js";
import { Results } from "./results.js";
import { DrawingSaver } from "./saver.js";
import { Stats } from "./stats.js";
import { TeachController } from "./teach.js";

const MODES = ["draw", "teach", "stats"];
const WRITE_KEY = "inkling.write"; // "digit" or "number": what the Draw tab was last used to write
const STATS_SETTLE_MS = 2500;

const $ = (selector) => document.querySelector(selector);
const byTestId = (id) => $(`[data-testid="${id}"]`);

/**
 * Starts the page: its words and its parts once the service has said what it serves, or why it could not start.
 * The language may depend on the alphabet (hiragana opens in Japanese: i18n.js startLanguage), so the words
 * are installed once the config is in; the likely catalogue is fetched meanwhile.
 */
export async function boot() {
  preloadMessages(startLanguage());
  const config = await api.config().then((value) => ({ value }), (reason) => ({ reason }));
  try {
    await loadMessages(startLanguage({ alphabetLanguage: config.value?.alphabet?.lang }));
  } catch {
    // Without its words the page cannot say anything but index.html's one English sentence.
    showBootError(byTestId("boot-error"), null);
    return;
  }
  if (config.reason) {
    showBootError(byTestId("boot-error"), config.reason);
    return;
  }
  new App(config.value);
  document.documentElement.dataset.ready = "true";
}

class App {
  constructor(config) {
    const alphabet = alphabetOf(config);
    applyAlphabetWords(alphabet);
    new LanguagePicker(byTestId("language"));
    this.mode = "draw";
    const errors = new ErrorBox(byTestId("error"));
    const pad = new DrawingPad(byTestId("pad"), config.canvas);
    const results = new Results(config, {
      answer: byTestId("answer"),
      cards: byTestId("models"),
      input28: byTestId("input28"),
      seen: byTestId("seen"),
      learned: byTestId("learned"),
      panel: $("#panel-draw"),
    });
    const featureMaps = new FeatureMaps({
      pad, api, view: new ActivationsView(byTestId("layers")), status: byTestId("activations-status"), debounceMs: DEBOUNCE_MS,
    });
    this.explainer = new Explainer(byTestId("explain"));
    this.stats = new Stats(byTestId("stats"), config);
    this.lastSaveAt = -Infinity;
    this.statsTimer = 0;

    const saver = new DrawingSaver({ pad, api, consent: byTestId("train-consent"), errors });
    this.padTools = new PadTools({ pad, saver, undoButton: byTestId("undo"), clearButton: byTestId("clear") });
    const memory = new HandwritingMemory({
      api, saver, errors,
      els: {
        box: byTestId("memory"), note: byTestId("memory-note"), forget: byTestId("forget"),
        ask: byTestId("forget-ask"), askText: $("#memory-ask-text"), confirm: byTestId("forget-confirm"), keep: byTestId("forget-keep"),
        wait: byTestId("forget-wait"), waitText: $(".memory-wait-text"), undo: byTestId("forget-undo"),
      },
    });
    this.draw = new DrawController({
      pad, api, alphabet, saver, errors, results, featureMaps,
      els: {
        right: byTestId("feedback-right"),
        wrong: byTestId("feedback-wrong"),
        wrongWords: $("[data-role=wrong-words]"),
        question: $("#feedback-question"),
        status: byTestId("feedback-status"),
        picker: $("#picker"),
        pickerGrid: $("[data-role=picker-digits]"),
        notADigit: byTestId("not-digit"),
      },
      onPersonalised: (drawings) => memory.show(drawings),
    });
    this.teach = new TeachController({
      pad, alphabet, saver,
      els: {
        panel: byTestId("teach"),
        grid: $("[data-role=teach-digits]"),
        bar: byTestId("teach-bar"),
        save: byTestId("teach-save"),
        count: byTestId("teach-count"),
        badge: byTestId("teach-badge"),
        previous: byTestId("teach-previous"),
        next: byTestId("teach-next"),
        status: byTestId("save-status"),
        guide: byTestId("stroke-guide"),
        replay: byTestId("stroke-guide-replay"),
        memory: byTestId("teach-memory"),
      },
    });
    memory.addEventListener("taught", ({ detail }) => this.teach.showTaught(detail.counts));
    memory.addEventListener("forgotten", () => {
      this.draw.forgotten();
      this.teach.forgotten();
    });
    saver.addEventListener("saved", () => {
      this.lastSaveAt = performance.now();
      if (this.mode === "stats") this.refreshStats();
    });
    byTestId("stats-refresh").addEventListener("click", () => this.refreshStats());
    memory.refresh();

    // Number mode, where the deployment has a number pad and the alphabet is the digits (the reader's
    // thresholds were measured on digits only: docs/numbers.md).
    this.switcher = byTestId("write-switch"); // a wide screen's; a phone's sit in the pads' rows of tools
    this.switches = [...document.querySelectorAll(".write-switch")];
    this.number = config.pad && alphabet.isDigits ? new NumberController({
      pad: config.pad, api, alphabet, errors: new ErrorBox(byTestId("number-error")),
      els: {
        canvas: byTestId("number-pad"), reading: byTestId("reading"), chips: byTestId("chips"), spoken: byTestId("reading-spoken"),
        note: byTestId("reading-note"), fix: byTestId("number-fix"), fixTitle: $("#number-fix-title"),
        fixTop3: $("[data-role=fix-top3]"), fixOther: byTestId("fix-other"), fixGrid: $("[data-role=fix-grid]"),
        undo: byTestId("number-undo"), clear: byTestId("number-clear"), save: byTestId("number-save"),
        consent: byTestId("number-consent"), saved: byTestId("number-saved"),
      },
    }) : null;
    this.write = this.number && remembered() === "number" ? "number" : "digit";
    document.body.classList.toggle("numbers", Boolean(this.number));
    for (const tools of this.switches.filter((s) => s !== this.switcher)) tools.hidden = !this.number;
    for (const button of document.querySelectorAll(".write-switch [data-write]")) {
      button.addEventListener("click", () => {
        this.setWrite(button.dataset.write);
        // On a phone the switch pressed may now be in the pad just hidden: the one shown takes the focus.
        if (!shown(button)) this.#shownSwitch()?.querySelector(`[data-write=${button.dataset.write}]`)?.focus();
      });
    }

    this.tabs = [...document.querySelectorAll("[role=tab]")];
    this.tabs.forEach((tab) => tab.addEventListener("click", () => this.setMode(tab.dataset.mode, { focus: false })));
    $("[role=tablist]").addEventListener("keydown", (e) => this.#tabKeys(e));
    document.addEventListener("keydown", (e) => this.#keydown(e));
    window.addEventListener("hashchange", () => this.setMode(this.#modeFromHash(), { updateHash: false }));
    this.setMode(this.#modeFromHash(), { updateHash: false });
  }

  /** Writes a digit or a number on the Draw tab (and remembers which). */
  setWrite(write) {
    this.write = write === "number" && this.number ? "number" : "digit";
    try {
      localStorage.setItem(WRITE_KEY, this.write);
    } catch {
      /* storage blocked: remembered for this page only */
    }
    this.setMode("draw");
  }

  setMode(mode, { updateHash = true, focus = false } = {}) {
    if (mode === "number") {
      if (this.number) this.write = "number";
      mode = "draw";
    }
    if (!MODES.includes(mode)) mode = "draw";
    this.mode = mode;
    const number = mode === "draw" && this.write === "number";
    for (const tab of this.tabs) {
      const selected = tab.dataset.mode === mode;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focus) tab.focus();
    }
    document.body.dataset.mode = mode;
    document.body.dataset.write = this.write;
    this.switcher.hidden = mode !== "draw" || !this.number;
    for (const button of document.querySelectorAll(".write-switch [data-write]")) {
      button.setAttribute("aria-pressed", String(button.dataset.write === this.write));
    }
    $("#workspace").hidden = mode === "stats" || number;
    $("#panel-draw").hidden = mode !== "draw";
    $("#panel-number").hidden = !number;
    byTestId("activations").hidden = mode !== "draw" || number;
    byTestId("teach").hidden = mode !== "teach";
    byTestId("stats").hidden = mode !== "stats";
    this.teach.setActive(mode === "teach");
    const hash = number ? "#number" : `#${mode}`;
    if (updateHash && location.hash !== hash) history.replaceState(null, "", hash);
    this.draw.setActive(mode === "draw" && !number);
    this.number?.setActive(number);
    if (mode === "stats") this.refreshStats();
  }

  refreshStats() {
    // The server caches its stats for a moment (STATS_SETTLE_MS); right after a save, look again once it has passed.
    clearTimeout(this.statsTimer);
    const age = performance.now() - this.lastSaveAt;
    if (age < STATS_SETTLE_MS) {
      this.statsTimer = setTimeout(() => this.mode === "stats" && this.stats.refresh(), STATS_SETTLE_MS - age);
    }
    return this.stats.refresh();
  }

  #shownSwitch() {
    return this.switches.find(shown);
  }

  #modeFromHash() {
    const mode = location.hash.replace(/^#/, "");
    if (mode === "number") return mode;
    if (mode === "draw") this.write = "digit";
    return MODES.includes(mode) ? mode : "draw";
  }

  /** The keys of the whole page, each to its owner: Ctrl+Z to the pad wherever it is shown, Escape to the
   * picker whenever it is open, Enter to teach mode. While "How to read this" is open, its own keys only. */
  #keydown(event) {
    if (this.explainer.isOpen) return;
    if (this.mode === "draw" && this.write === "number") {
      this.number.keydown(event);
      return;
    }
    if (this.mode !== "stats" && this.padTools.keydown(event)) return;
    if (this.draw.keydown(event)) return;
    if (this.mode === "teach") this.teach.keydown(event);
  }

  /** Arrow keys, Home and End move between the tabs (and show the tab moved to). */
  #tabKeys(event) {
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
}

/** What the Draw tab was last used to write in this browser ("digit" or "number"). */
function remembered() {
  try {
    return localStorage.getItem(WRITE_KEY);
  } catch {
    return null;
  }
}

/** Whether an element is laid out on the page (not inside anything hidden). */
function shown(element) {
  return element.getClientRects().length > 0;
}
