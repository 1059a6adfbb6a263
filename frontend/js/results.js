// The "Draw" panel's read-outs: the big answer (or "can't tell", and why, with the best guess beside it),
// four model cards with their top-3 and a fifth with what the writer's own memory votes, the 28x28 image the
// models saw, and what changed after a drawing was saved.

import { alphabetOf, glyphNode, labelOf } from "./glyphs.js";
import { has, onLanguageChange, percent, t, tn } from "./i18n.js";

export { alphabetOf, glyphNode, labelOf } from "./glyphs.js"; // where the other parts have always found them

const ONLINE_SUFFIX = "_online";

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

/** A model's title in the page's language (models.titles.<name>), else as GET /api/config gives it. */
export function modelTitle(config, name) {
  return has(`models.titles.${name}`) ? t(`models.titles.${name}`) : config.titles?.[name] || name;
}

/** An ordered list of guesses drawn as labelled bars; `data-digit` is each guess's label index. */
export function guessList(guesses, { highlight = null, compact = false, alphabet = alphabetOf() } = {}) {
  const list = h("ol", { class: compact ? "top3 compact" : "top3" });
  for (const guess of guesses || []) {
    const label = labelOf(guess);
    const glyph = guess.glyph ?? alphabet.glyph(label);
    const p = guess.p;
    const item = h(
      "li",
      { class: `guess${label === highlight ? " hit" : ""}`, dataset: { digit: String(label) }, "aria-label": t("models.guess", { glyph, percent: percent(p) }) },
      h("span", { class: "g-digit", lang: alphabet.lang, "aria-hidden": "true", text: glyph }),
      h("span", { class: "g-bar", "aria-hidden": "true" }, h("span", { class: "g-fill", style: `width:${Math.max(0, Math.min(1, p)) * 100}%` })),
      h("span", { class: "g-p", "aria-hidden": "true", text: percent(p) }),
    );
    list.append(item);
  }
  return list;
}

/** How sure, and how many models agree, as the answer's line says it: "3 of 4 models agree · 92% sure". */
function sureWords(answer, total) {
  const parts = [];
  if (Number.isFinite(answer.agree)) parts.push(t("answer.agree_line", { agree: answer.agree, total }));
  if (Number.isFinite(answer.p)) parts.push(t("common.percent_sure", { percent: percent(answer.p) }));
  return parts;
}

export class Results {
  /**
   * @param {object} config  GET /api/config
   * @param {object} els     answer, cards, input28, seen, learned elements (and the Draw panel)
   */
  constructor(config, els) {
    this.config = config;
    this.alphabet = alphabetOf(config);
    this.els = els;
    this.said = els.answer.querySelector(".answer-said");
    this.explain = els.answer.querySelector(".answer-explain");
    this.cards = new Map();
    for (const name of config.models) {
      const version = h("span", { class: "version" });
      const body = h("div", { class: "card-body" });
      const heading = h("h4");
      const card = h(
        "article",
        { class: `model-card ${name.endsWith(ONLINE_SUFFIX) ? "online" : "original"}`, "data-testid": `model-${name}` },
        h("header", {}, heading, version),
        body,
      );
      els.cards.append(card);
      this.cards.set(name, { card, heading, body, version, name });
    }
    // The fifth card: what the writer's own memory votes (the label of their drawings nearest this one).
    this.vote = h("span", { class: "memory-vote" });
    this.memoryHeading = h("h4");
    this.memoryLine = h("p", { class: "memory-line" });
    this.memoryCard = h(
      "article",
      { class: "model-card memory-card", "data-testid": "model-memory", hidden: true },
      h("header", {}, this.memoryHeading),
      this.memoryLine,
    );
    els.cards.append(this.memoryCard);
    this.ctx28 = els.input28.getContext("2d");
    this.redo = null; // shows the answer and cards on show again (in another language)
    this.redoLearned = null; // and what was learned, while it is shown
    this.#nameCards();
    this.showEmpty();
    onLanguageChange(() => this.#reword());
  }

  title(name) {
    return modelTitle(this.config, name);
  }

  /** The cards' names: each model's title, and the memory's card. */
  #nameCards() {
    for (const { card, heading, name } of this.cards.values()) {
      const title = this.title(name);
      card.setAttribute("aria-label", title);
      heading.textContent = title;
    }
    this.memoryCard.setAttribute("aria-label", t("models.memory_title"));
    this.memoryHeading.textContent = t("models.memory_title");
    this.memoryLine.replaceChildren(...tn("models.memory_line", { vote: this.vote }));
  }

  /** The page speaks another language: everything on show, said again in it. */
  #reword() {
    const learned = this.redoLearned;
    this.#nameCards();
    this.redo?.();
    learned?.();
  }

  setBusy(busy) {
    this.els.answer.classList.toggle("busy", busy);
    this.said.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /**
   * The big answer: `big` in the tile, a headline and a line under it (each a string or a list of strings and
   * nodes), the state (empty, answer, unsure, saved, thanks) and, for "can't tell", why; `explain` names the
   * part of "How to read this" its button opens, or null for no button.
   */
  #answer({ big, headline, sub = null, state, label = null, why = null, explain = null }) {
    const { answer } = this.els;
    answer.dataset.state = state;
    if (this.els.panel) this.els.panel.dataset.state = state;
    if (label === null) delete answer.dataset.digit;
    else answer.dataset.digit = String(label);
    if (why) answer.dataset.why = why;
    else delete answer.dataset.why;
    const lang = label === null ? null : this.alphabet.lang;
    const list = (value) => (Array.isArray(value) ? value : [value]);
    this.said.replaceChildren(
      h("div", { class: "answer-digit", lang, "aria-hidden": "true", text: big }),
      h("div", { class: "answer-text" },
        h("p", { class: "headline" }, ...list(headline)),
        sub ? h("p", { class: "sub" }, ...list(sub)) : null),
    );
    this.explain.hidden = !explain;
    if (explain) {
      this.explain.dataset.explain = explain;
      this.explain.textContent = t(explain === "sure" ? "answer.explain_sure" : "answer.explain_cant_tell");
    }
  }

  /** Nothing drawn: an invitation, and cards that say what each model is rather than bars that look like loading. */
  showEmpty(message = t("answer.idle")) {
    this.redo = () => this.showEmpty();
    this.#answer({ big: "✎", headline: message, sub: t("answer.idle_sub"), state: "empty" });
    for (const { body, version, name } of this.cards.values()) {
      body.replaceChildren(h("p", { class: "about muted", text: t(`models.about.${name}`) }));
      version.textContent = "";
      version.removeAttribute("title");
    }
    this.memoryCard.hidden = true;
    this.ctx28.fillStyle = "#000";
    this.ctx28.fillRect(0, 0, 28, 28);
    this.els.seen.hidden = true;
  }

  showThanks(message = t("answer.thanks"), sub = t("answer.thanks_sub")) {
    this.showEmpty();
    this.redo = () => this.showThanks();
    this.#answer({ big: "♡", headline: message, sub, state: "thanks" });
  }

  /** Render a POST /api/predict response: the answer or "can't tell", the cards, the memory's vote, what was seen. */
  showPrediction(response) {
    this.redo = () => this.showPrediction(response);
    const { answer = {} } = response;
    const a = this.alphabet;
    const total = this.config.models.length;
    const label = labelOf(answer);
    if (label !== null) {
      const parts = sureWords(answer, total);
      if (answer.personalised_by > 0) parts.push(t("answer.personalised"));
      this.#answer({
        big: answer.glyph ?? a.glyph(label), headline: tn("answer.its", { named: a.namedNode(label) }),
        sub: parts.join(t("common.separator")), state: "answer", label, explain: "sure",
      });
    } else {
      const why = answer.why || "unsure";
      const best = labelOf(answer.best);
      const guess = best === null ? [] : tn("answer.best_guess", {
        named: a.namedNode(best),
        sure: t("common.percent_sure", { percent: percent(answer.best.p ?? answer.p) }),
        agree: t("answer.agree", { agree: answer.agree, total }),
      });
      // "% sure" is how sure among the alphabet's labels: beside "not a character" it would read as sure it is one.
      const nearest = best === null ? [] : tn("answer.nearest", { named: a.namedNode(best) });
      const said = {
        not_a_character: { headline: t("answer.cant_tell"), sub: [t("answer.not_a_character"), " ", ...nearest] },
        several: { headline: t("answer.several"), sub: t("answer.several_sub") },
        unsure: { headline: t("answer.unsure"), sub: [t("answer.unsure_sub"), " ", ...guess] },
      }[why] || { headline: t("answer.unsure"), sub: guess };
      this.#answer({ big: "?", ...said, state: "unsure", why, explain: "cant-tell" });
    }
    const versions = response.versions || {};
    for (const [name, { body, version }] of this.cards) {
      const guesses = response.models?.[name];
      body.replaceChildren(guesses ? guessList(guesses, { highlight: label, alphabet: a }) : h("p", { class: "muted", text: t("models.no_answer") }));
      const v = versions[name];
      version.textContent = v !== undefined ? t("models.version", { version: String(v) }) : "";
      if (v !== undefined) version.title = t("models.version_title", { version: String(v) });
    }
    const vote = labelOf(answer.memory);
    this.memoryCard.hidden = vote === null;
    if (vote !== null) {
      this.vote.replaceChildren(glyphNode(a, vote));
      this.memoryCard.classList.toggle("agrees", vote === label);
    }
    this.drawInput28(response.input28);
  }

  /** The 28x28 image the models saw, as they see it: ink bright on black, like MNIST. */
  drawInput28(rows) {
    if (!Array.isArray(rows) || rows.length === 0) return;
    const size = rows.length;
    const image = this.ctx28.createImageData(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = Math.round(Math.max(0, Math.min(1, rows[y][x] ?? 0)) * 255);
        const i = (y * size + x) * 4;
        image.data[i] = image.data[i + 1] = image.data[i + 2] = v;
        image.data[i + 3] = 255;
      }
    }
    if (this.els.input28.width !== size) this.els.input28.width = this.els.input28.height = size;
    this.ctx28.putImageData(image, 0, 0);
    this.els.seen.hidden = false;
  }

  /**
   * After POST /api/drawings: show the saved drawing, the version bump of each online model,
   * and its top-3 for the same drawing before -> after.
   */
  showLearned({ label, image, response, before, train }) {
    this.redoLearned = () => this.showLearned({ label, image, response, before, train });
    const { learned } = this.els;
    const a = this.alphabet;
    const beforeVersions = before?.versions || {};
    const afterModels = response.after?.models || {};
    const beforeModels = before?.models || {};
    const onlineNames = this.config.models.filter((n) => n.endsWith(ONLINE_SUFFIX));
    const guesses = (models, name) =>
      models[name] ? guessList(models[name], { highlight: label, compact: true, alphabet: a }) : h("p", { class: "muted", text: t("learned.none") });
    const rows = [];
    if (response.trained) {
      for (const name of onlineNames) {
        const from = beforeVersions[name];
        const to = response.versions?.[name];
        const versionText = from !== undefined && to !== undefined ? t("learned.versions", { from: String(from), to: String(to) })
          : to !== undefined ? t("learned.now", { to: String(to) }) : "";
        rows.push(
          h("div", { class: "learn-row", "data-testid": `learned-${name}` },
            h("p", { class: "learn-title" }, h("strong", { text: this.title(name) }), " ", h("span", { class: "version-change", text: versionText })),
            h("div", { class: "before-after" },
              h("div", { class: "ba before" }, h("span", { class: "ba-label", text: t("learned.before") }), guesses(beforeModels, name)),
              h("span", { class: "ba-arrow", "aria-hidden": "true", text: "→" }),
              h("div", { class: "ba after" }, h("span", { class: "ba-label", text: t("learned.after") }), guesses(afterModels, name)),
            )),
        );
      }
    }
    let note;
    if (response.trained) note = t("learned.stepped");
    else if (!train) note = t("learned.private");
    else if (response.queued) note = t("learned.queued");
    else note = t(response.detail ? "learned.thanks" : "learned.not_trained"); // the server's detail: "Thanks, saved."
    const glyph = a.glyph(label);
    learned.replaceChildren(
      h("div", { class: "learn-head" },
        h("img", { class: "thumb", src: image, alt: t("learned.thumb", { glyph }), width: 56, height: 56 }),
        h("div", {},
          h("p", { class: "learn-headline" }, ...tn(response.trained ? "learned.from_your" : "learned.stored_your", { glyph: glyphNode(a, label) })),
          h("p", { class: "learn-note", text: note, ...(response.queued && train ? { "data-testid": "learning" } : {}) }))),
      ...rows,
    );
    learned.hidden = false;
    this.#answer({ big: "✓", headline: tn("answer.saved", { glyph: glyphNode(a, label) }), sub: t("answer.saved_sub"), state: "saved" });
    this.memoryCard.hidden = true;
  }

  hideLearned() {
    this.redoLearned = null;
    this.els.learned.hidden = true;
    this.els.learned.replaceChildren();
  }
}
